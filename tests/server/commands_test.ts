/** The command table as users meet it: help, dispatch, names, rooms, history, keys, service. */

import assert from "node:assert/strict";
import { fp, mid } from "../support/hub_world.ts";
import { commandId, connect, expectError, OP, run, withWorld } from "../support/command_world.ts";
import { FakePeer, type Json } from "../support/fake_peer.ts";
import { utf8Length } from "../../shared/encoding.ts";
import fc from "fast-check";
import { COMMANDS, HELP_WIDTH } from "../../server/commands.ts";
import { usage } from "../../server/commands/common.ts";

Deno.test(
  "help: lists every command of the table with its usage and help",
  withWorld((w) => {
    const a = connect(w, "alice", "C");
    const r = run(w, a, "help");
    assert.equal(r.t, "reply");
    const flat = r.text.replace(/\s+/g, " ");
    for (const c of COMMANDS) {
      assert.ok(r.text.includes(usage(c)), c.name);
      assert.ok(flat.includes(c.help), c.name);
    }
    assert.deepEqual(r.data.map((d: Json) => d.name), COMMANDS.map((c) => c.name));
    const one = run(w, a, "help", "/kick");
    assert.match(one.text, /^\/kick \[#room\] NAME \[reason\] — Disconnect a user \(operators\)/);
    expectError(w, a, "unknown_command", "help", "frobnicate");
    // the console's help is the same table plus its own lines
    const text = w.hub.consoleLine("/help");
    for (const c of COMMANDS) assert.ok(text.includes(usage(c)), c.name);
    assert.match(text, /\/say #room text/);
    assert.match(text, /\/stats/);
  }),
);

Deno.test(
  "help, bans, whois and rooms texts: no line past 76 columns, no stray colon, durations only",
  withWorld((w) => {
    const a = connect(w, "alice", "C");
    const root = connect(w, "boss", OP);
    const help: string = run(w, a, "help").text;
    for (const line of help.split("\n")) {
      assert.ok(line.length <= HELP_WIDTH, `too wide (${line.length}): ${line}`);
    }
    // a wrapped help text continues at the help column, never mid-word
    assert.match(
      help,
      /^ {2}\/ban NAME\|SHA256:fp\|IP\[\/prefix\] \[duration\] \[reason\]\n {24}\S/m,
    );
    assert.equal(run(w, root, "bans").text, "No bans.");
    w.clock.t += 3_000;
    const whois: string = run(w, a, "whois", "alice").text;
    assert.match(whois, /^ {2}connected: 3s ago$/m);
    assert.doesNotMatch(whois, /\d{4}-\d\d-\d\dT/);
    assert.match(run(w, a, "help", "rooms").text, /member counts and topics \(when set\)/);
  }),
);

Deno.test(
  "dispatch: unknown_command, bad_args with usage, names case-insensitive",
  withWorld((w) => {
    const a = connect(w, "alice", "C");
    expectError(w, a, "unknown_command", "frobnicate");
    expectError(w, a, "unknown_command", "me", "waves"); // /me is a say with me:true
    const e = expectError(w, a, "bad_args", "nick");
    assert.equal(e.message, "usage: /nick NEW | release NAME");
    expectError(w, a, "bad_args", "nick", "a", "b");
    expectError(w, a, "bad_args", "service", "x");
    assert.equal(run(w, a, "WHO").t, "reply");
  }),
);

Deno.test(
  "nick: same rules as auth, announced once as nick {name, old} to those sharing a room",
  withWorld((w) => {
    const a = connect(w, "alice", "C", ["#lobby", "#dev"]);
    const b = connect(w, "bob", "B", ["#lobby"]);
    connect(w, "carol", "D", ["#x"]);
    a.take();
    expectError(w, a, "name_invalid", "nick", "1abc");
    expectError(w, a, "name_reserved", "nick", "Root");
    expectError(w, a, "name_reserved", "nick", "evilAlice");
    expectError(w, a, "name_taken", "nick", "BOB");
    w.store.claimName("dave", "dave", fp("E"));
    expectError(w, a, "name_owned", "nick", "dave");
    assert.deepEqual(b.take(), []);

    a.take();
    const r = run(w, a, "nick", "Alicia");
    assert.deepEqual(r.data, { name: "Alicia", old: "alice" });
    assert.deepEqual(b.take(), [
      { t: "event", ts: w.clock.t, kind: "nick", name: "Alicia", old: "alice" },
    ]);
    assert.equal(w.store.ownerOf("alicia")?.fingerprint, fp("C"));
    // the old name stays owned; the new one is found; a case change is allowed
    assert.equal(run(w, b, "whois", "alicia").data.name, "Alicia");
    expectError(w, b, "no_such_user", "whois", "alice");
    assert.equal(run(w, a, "nick", "ALICIA").t, "reply");
    assert.equal(b.take()[0].old, "Alicia");
    // others may not take the old name: owned
    const m = new FakePeer(900, fp("M"));
    w.hub.authenticate(m, {
      t: "auth",
      name: "alice",
      sig_pub: "",
      proof: "",
      client: "",
      rooms: [],
    });
    assert.equal(m.take()[0].code, "name_owned");
  }),
);

Deno.test(
  "who, whois, rooms",
  withWorld((w) => {
    const a = connect(w, "alice", "C", ["#lobby", "#dev"]);
    const b = connect(w, "bob", "B");
    w.clock.t += 65_000;
    run(w, b, "away", "lunch");
    const whois = run(w, b, "whois", "ALICE");
    assert.deepEqual(whois.data, {
      name: "alice",
      fingerprint: fp("C"),
      rooms: ["#lobby", "#dev"],
      idle: 65_000,
      since: w.clock.t - 65_000,
    });
    assert.match(whois.text, /idle: 1m 5s/);
    const who = run(w, a, "who");
    assert.deepEqual(who.data, [{ name: "alice" }, { name: "bob", away: "lunch" }]);
    assert.match(who.text, /^2 users online: alice, bob \(away: lunch\)$/);
    assert.deepEqual(run(w, a, "who", "#dev").data, [{ name: "alice" }]);
    expectError(w, a, "no_such_room", "who", "#nowhere");
    expectError(w, a, "bad_args", "who", "lobby");

    expectError(w, b, "no_such_user", "whois", "zed");

    w.store.setTopic("#dev", "building things", "alice");
    const rooms = run(w, a, "rooms");
    assert.deepEqual(rooms.data, [
      { name: "#dev", topic: "building things", members: 1 },
      { name: "#lobby", topic: "", members: 2 },
    ]);
  }),
);

Deno.test(
  "join and leave: history then join event; leave reason; not_in_room; bad room",
  withWorld((w) => {
    const a = connect(w, "alice", "C");
    const b = connect(w, "bob", "B", ["#dev"]);
    w.hub.handle(b.id, { t: "say", id: mid(1), room: "#dev", text: "earlier", me: false });
    b.take();
    const r = run(w, a, "join", "#dev");
    assert.deepEqual(r.data, { name: "#dev", topic: "", members: 2 });
    // a.take() consumed history + join before the reply; check via a fresh join
    const r2 = run(w, a, "join", "#dev");
    assert.match(r2.text, /already in #dev/);
    assert.deepEqual(b.take().map((m) => [m.kind, m.name]), [["join", "alice"]]);
    expectError(w, a, "bad_args", "join", "#Bad Room");
    expectError(w, a, "bad_args", "join", "dev");

    const c = connect(w, "carol", "D");
    c.lines = [];
    w.hub.handle(c.id, { t: "cmd", id: mid(5), name: "join", args: ["#dev"] });
    const got = c.take();
    assert.deepEqual(got.map((m) => m.t + (m.replay ? "/replay" : "") + (m.kind ?? "")), [
      "msg/replay",
      "eventjoin",
      "reply",
    ]);

    expectError(w, a, "bad_args", "leave"); // in two rooms: must say which
    expectError(w, a, "not_in_room", "leave", "#nowhere");
    b.take();
    run(w, a, "leave", "#dev");
    assert.deepEqual(b.take().map((m) => [m.kind, m.name, m.reason]), [["leave", "alice", "left"]]);
    run(w, a, "leave"); // only #lobby left
    assert.deepEqual(run(w, a, "who", "#lobby").data, [{ name: "carol" }]);
    assert.deepEqual(run(w, a, "who").data.map((u: Json) => u.name), ["alice", "bob", "carol"]);
  }),
);

Deno.test(
  "topic: query and set (event topic with by); membership; too_long",
  withWorld((w) => {
    const a = connect(w, "alice", "C");
    const b = connect(w, "bob", "B");
    a.take();
    assert.match(run(w, a, "topic").text, /#lobby has no topic/);
    run(w, a, "topic", "welcome", "all");
    assert.deepEqual(b.take(), [
      {
        t: "event",
        ts: w.clock.t,
        kind: "topic",
        by: "alice",
        text: "welcome all",
        room: "#lobby",
      },
    ]);
    assert.equal(w.store.topic("#lobby"), "welcome all");
    assert.deepEqual(run(w, b, "topic", "#lobby").data, { room: "#lobby", topic: "welcome all" });
    expectError(w, a, "not_in_room", "topic", "#dev", "hi");
    expectError(w, a, "too_long", "topic", "x".repeat(65));
    assert.equal(run(w, a, "topic", "x".repeat(64)).t, "reply");
    assert.match(w.hub.consoleLine("/topic #dev set by console"), /Topic of #dev set/);
    assert.equal(w.store.topic("#dev"), "set by console");
  }),
);

Deno.test(
  "away and back: events in each room",
  withWorld((w) => {
    const a = connect(w, "alice", "C");
    const b = connect(w, "bob", "B");
    a.take();
    run(w, a, "away");
    run(w, a, "away", "in", "a", "meeting");
    run(w, a, "back");
    assert.match(run(w, a, "back").text, /not away/);
    assert.deepEqual(b.take().map((m) => [m.kind, m.name, m.text]), [
      ["away", "alice", "away"],
      ["away", "alice", "in a meeting"],
      ["back", "alice", undefined],
    ]);
  }),
);

Deno.test(
  "history: default 50, max historyMax, replay-marked msg objects",
  withWorld((w) => {
    const a = connect(w, "alice", "C");
    for (let i = 1; i <= 520; i++) {
      w.hub.handle(a.id, { t: "say", id: mid(i), room: "#lobby", text: `m${i}`, me: false });
    }
    a.take();
    const history = (...args: string[]) => {
      const id = commandId();
      w.hub.handle(a.id, { t: "cmd", id, name: "history", args });
      const got = a.take();
      assert.equal(got[got.length - 1].t, "reply");
      assert.equal(got[got.length - 1].id, id);
      return got.slice(0, -1);
    };
    const d = history();
    assert.equal(d.length, 50);
    assert.deepEqual(d[49], {
      t: "msg",
      room: "#lobby",
      seq: 520,
      ts: w.clock.t,
      from: "alice",
      text: "m520",
      id: mid(520),
      replay: true,
    });
    assert.equal(d[0].seq, 471);
    assert.equal(history("3").length, 3);
    assert.equal(history("#lobby", "1000").length, 500);
    // Older pages: the last N below a seq.
    const page = history("#lobby", "10", "100");
    assert.deepEqual(page.map((m) => m.seq), Array.from({ length: 10 }, (_, i) => 90 + i));
    assert.deepEqual(history("#lobby", "10", "4").map((m) => m.seq), [1, 2, 3]);
    assert.equal(history("#lobby", "10", "1").length, 0);
    assert.equal(history("#lobby", "5", "999999").at(-1)?.seq, 520);
    expectError(w, a, "bad_args", "history", "#lobby", "5", "0");
    expectError(w, a, "bad_args", "history", "#lobby", "5", "x");
    expectError(w, a, "bad_args", "history", "#lobby", "5", "6", "7");
    expectError(w, a, "bad_args", "history", "0");
    expectError(w, a, "bad_args", "history", "-3");
    expectError(w, a, "bad_args", "history", "lots");
    expectError(w, a, "not_in_room", "history", "#dev");
  }),
);

Deno.test(
  "keys: key data of a connected user; no_kem_key; no_such_user",
  withWorld((w) => {
    const a = connect(w, "alice", "C");
    const b = connect(w, "bob", "B", ["#lobby"], { kem: true });
    void b;
    assert.deepEqual(run(w, a, "keys", "Bob").data, {
      name: "bob",
      fingerprint: fp("B"),
      sig_pub: "sig-BB",
      kem_pub: "kem-B",
      kem_sig: "ksig-B",
    });
    expectError(w, b, "no_kem_key", "keys", "alice");
    expectError(w, a, "no_such_user", "keys", "zed");
  }),
);

Deno.test(
  "service: name, version, uptime, users, rooms, host key, limits, cipher suite",
  withWorld((w) => {
    const a = connect(w, "alice", "C");
    const r = run(w, a, "service");
    assert.match(r.text, /testnet \(chat 0\.1\.0\)/);
    assert.match(r.text, /Uptime: 1h 2m/);
    assert.match(r.text, /Users online: 1 \(7 connections\)/);
    assert.match(r.text, new RegExp(`Host key: ${fp("H").replace(/\+/g, "\\+")}`));
    assert.match(
      r.text,
      /chat\/1: X25519, Ed25519, HKDF-SHA-256, AES-256-GCM; DMs RSA-OAEP-3072 \+ AES-256-GCM/,
    );
    assert.equal(r.data.limits.textBytes, 64);
    assert.equal(r.data.users, 1);
    assert.equal(r.data.rooms, 1);
  }),
);

Deno.test("utf8Length equals the encoder's length for any string", () => {
  const enc = new TextEncoder();
  fc.assert(
    fc.property(fc.string({ unit: "binary" }), (s) => utf8Length(s) === enc.encode(s).length),
  );
  fc.assert(
    fc.property(
      fc.string({
        unit: fc.integer({ min: 0xd700, max: 0xe000 }).map((c) => String.fromCharCode(c)),
      }),
      (s) => utf8Length(s) === enc.encode(s).length,
    ),
  );
});
