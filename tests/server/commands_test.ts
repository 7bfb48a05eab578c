import { FakePeer, type Json } from "../support/fake_peer.ts";
import { utf8Length } from "../../shared/encoding.ts";
import assert from "node:assert/strict";
import fc from "fast-check";
import { DEFAULT_LIMITS } from "../../shared/limits.ts";
import type { AuthMessage } from "../../shared/messages.ts";
import { Blacklist } from "../../shared/names.ts";
import { Hub, type HubOptions } from "../../server/hub.ts";
import { COMMANDS, HELP_WIDTH } from "../../server/commands.ts";
import { usage } from "../../server/commands/common.ts";
import { parseBanTarget } from "../../server/commands/moderation.ts";
import { formatDuration, parseDuration } from "../../server/duration.ts";
import { formatIpPrefix, ipMatches, parseIpPrefix } from "../../server/ip_prefix.ts";
import { Store } from "../../server/store.ts";

const fp = (c: string) => "SHA256:" + c.repeat(43);
const mid = (n: number) => btoa(String(n).padStart(16, "0"));
const OP = "A"; // in admins

interface World {
  hub: Hub;
  store: Store;
  clock: { t: number };
  motd: { text: string };
}

function world(): World {
  const clock = { t: 1_700_000_000_000 };
  const motd = { text: "" };
  const store = Store.open(":memory:", { now: () => clock.t, schedule: (commit) => commit() });
  const opts: HubOptions = {
    store,
    limits: { ...DEFAULT_LIMITS, textBytes: 64 },
    now: () => clock.t,
    serverName: "testnet",
    version: "0.1.0",
    motd: () => motd.text,
    hostFingerprint: fp("H"),
    admins: new Set([fp(OP)]),
    blacklist: () => Blacklist.parse("evil*\n"),
    startedAt: clock.t - 3_723_000,
    connectionCount: () => 7,
  };
  return { hub: new Hub(opts), store, clock, motd };
}

function withWorld(fn: (w: World) => void): () => void {
  return () => {
    const w = world();
    try {
      fn(w);
    } finally {
      w.store.close();
    }
  };
}

let nextId = 1;
function connect(
  w: World,
  name: string,
  who: string,
  rooms = ["#lobby"],
  extra: { ip?: string; kem?: boolean } = {},
): FakePeer {
  const p = new FakePeer(
    nextId++,
    fp(who),
    extra.ip,
    extra.kem ? "kem-" + who : undefined,
    extra.kem ? "ksig-" + who : undefined,
  );
  const a: AuthMessage = { t: "auth", name, sig_pub: "x", proof: "p", client: "t/0", rooms };
  assert.equal(w.hub.authenticate(p, a), "ok");
  p.take();
  return p;
}

let n = 1000;
/** Runs a command and returns the last message the caller received (reply or error). */
function run(w: World, p: FakePeer, name: string, ...args: string[]): Json {
  const id = mid(++n);
  w.hub.handle(p.id, { t: "cmd", id, name, args });
  const got = p.take();
  const last = got[got.length - 1];
  assert.equal(last.id, id);
  return last;
}

function expectError(w: World, p: FakePeer, code: string, name: string, ...args: string[]) {
  const r = run(w, p, name, ...args);
  assert.equal(r.t, "error", `${name} ${args.join(" ")}: ${JSON.stringify(r)}`);
  assert.equal(r.code, code, `${name} ${args.join(" ")}`);
  return r;
}

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
  "operator commands: not_permitted for everyone else, allowed for --admin and /op",
  withWorld((w) => {
    const a = connect(w, "alice", "C");
    const root = connect(w, "boss", OP);
    const ops = COMMANDS.filter((c) => c.op).map((c) => c.name);
    assert.deepEqual(ops, [
      "ban",
      "unban",
      "bans",
      "mute",
      "unmute",
      "motd",
      "op",
      "deop",
    ]);
    for (const name of [...ops, "kick"]) {
      const e = expectError(w, a, "not_permitted", name, "bob");
      assert.match(e.message, /operators only/);
    }
    assert.equal(run(w, root, "bans").t, "reply");
    assert.match(run(w, root, "op", "alice").text, /alice .* is now an operator/);
    assert.equal(w.store.isOp(fp("C")), true);
    assert.equal(run(w, a, "bans").t, "reply");
    assert.match(run(w, a, "deop", "alice").text, /no longer an operator/);
    expectError(w, a, "not_permitted", "bans");
    expectError(w, root, "not_permitted", "deop", "boss"); // --admin cannot be removed
    expectError(w, root, "no_such_user", "op", "nobody");
    assert.match(run(w, root, "op", "ALICE").text, /operator/);
    assert.equal(w.store.isOp(fp("C")), true);
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
      const id = mid(++n);
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

Deno.test(
  "kick: kick event, leave 'kicked by X', then close 'kicked'",
  withWorld((w) => {
    const root = connect(w, "boss", OP);
    const a = connect(w, "alice", "C");
    const b = connect(w, "bob", "B");
    root.take();
    a.take();
    run(w, root, "kick", "bob", "too", "loud");
    assert.equal(b.closed, "kicked");
    assert.deepEqual(a.take().map((m) => [m.kind, m.name, m.by, m.reason]), [
      ["kick", "bob", "boss", "too loud"],
      ["leave", "bob", undefined, "kicked by boss"],
    ]);
    expectError(w, root, "no_such_user", "kick", "bob");
    // kicked user may come back
    connect(w, "bob", "B");
  }),
);

Deno.test(
  "ban: by name, fingerprint and IP prefix; kicks live matches; enforced at auth; unban; expiry",
  withWorld((w) => {
    const root = connect(w, "boss", OP);
    const a = connect(w, "alice", "C", ["#lobby"], { ip: "10.1.2.3" });
    const b = connect(w, "bob", "B", ["#lobby"], { ip: "10.9.9.9" });
    const c = connect(w, "carol", "D", ["#lobby"], { ip: "192.0.2.7" });
    root.take();
    const r = run(w, root, "ban", "10.1.2.3/8", "2h", "flooding");
    assert.deepEqual(r.data, {
      target: "10.0.0.0/8",
      kind: "ip",
      by: "boss",
      reason: "flooding",
      created: w.clock.t,
      expires: w.clock.t + 7_200_000,
    });
    assert.match(r.text, /2 connections closed/);
    assert.equal(a.closed, "banned");
    assert.equal(b.closed, "banned");
    assert.equal(c.closed, undefined);
    const seen = c.take().map((m) => [m.kind, m.name, m.reason]);
    assert.deepEqual(seen, [
      ["ban", "alice", "flooding"],
      ["leave", "alice", "banned"],
      ["ban", "bob", "flooding"],
      ["leave", "bob", "banned"],
    ]);
    assert.equal(w.hub.isIpBanned("10.200.0.1"), true);
    const again = new FakePeer(501, fp("C"), "10.1.2.3");
    w.hub.authenticate(again, {
      t: "auth",
      name: "alice",
      sig_pub: "",
      proof: "",
      client: "",
      rooms: [],
    });
    assert.equal(again.take()[0].code, "banned");

    w.clock.t += 1;
    run(w, root, "ban", "Carol"); // owned by D: bans the identity
    run(w, root, "ban", "Nobody"); // owned by nobody: bans the name
    w.clock.t += 1;
    assert.equal(c.closed, "banned");
    run(w, root, "ban", fp("E"), "spam", "bot");
    const list = run(w, root, "bans");
    assert.deepEqual(list.data.map((x: Json) => [x.target, x.kind, x.expires === null]), [
      ["10.0.0.0/8", "ip", false],
      [fp("D"), "fingerprint", true],
      ["nobody", "name", true],
      [fp("E"), "fingerprint", true],
    ]);
    assert.equal(list.data[3].reason, "spam bot");
    expectError(w, root, "bad_args", "ban", "!!");
    expectError(w, root, "no_such_ban", "unban", "bob");
    assert.equal(run(w, root, "unban", "CAROL").text, `Unbanned ${fp("D")}.`);
    assert.match(run(w, root, "unban", "nobody").text, /Unbanned nobody/);
    connect(w, "carol", "D");
    // the IP ban expires after 2h
    w.clock.t += 7_200_001;
    assert.equal(w.hub.isIpBanned("10.1.2.3"), false);
    connect(w, "alice", "C", ["#lobby"], { ip: "10.1.2.3" });
  }),
);

Deno.test(
  "mute and unmute: by identity, event mute, say refused until unmuted",
  withWorld((w) => {
    const root = connect(w, "boss", OP);
    const a = connect(w, "alice", "C");
    root.take();
    run(w, root, "mute", "ALICE");
    assert.deepEqual(a.take().map((m) => [m.kind, m.name, m.by]), [["mute", "alice", "boss"]]);
    w.hub.handle(a.id, { t: "say", id: mid(1), room: "#lobby", text: "hi" });
    assert.equal(a.take()[0].code, "muted");
    assert.match(run(w, root, "unmute", "alice").text, /Unmuted alice/);
    assert.match(run(w, root, "unmute", "alice").text, /was not muted/);
    w.hub.handle(a.id, { t: "say", id: mid(2), room: "#lobby", text: "hi" });
    assert.equal(a.take()[0].t, "msg");
    expectError(w, root, "no_such_user", "mute", "ghost");
  }),
);

Deno.test(
  "motd: show, set (in memory, sent on connect), clear",
  withWorld((w) => {
    const root = connect(w, "boss", OP);
    w.motd.text = "from config";
    assert.equal(run(w, root, "motd").text, "from config");
    run(w, root, "motd", "new", "rules");
    assert.equal(run(w, root, "motd").text, "new rules");
    const p = new FakePeer(700, fp("C"));
    w.hub.authenticate(p, {
      t: "auth",
      name: "alice",
      sig_pub: "",
      proof: "",
      client: "",
      rooms: [],
    });
    const got = p.take();
    assert.equal(got[0].server.motd, "new rules");
    assert.deepEqual(got[got.length - 1], {
      t: "event",
      ts: w.clock.t,
      kind: "motd",
      text: "new rules",
    });
    run(w, root, "motd", "-");
    assert.match(run(w, root, "motd").text, /No message of the day/);
  }),
);

Deno.test("parseIpPrefix / formatIpPrefix / ipMatches", () => {
  const canon = (s: string) => {
    const p = parseIpPrefix(s);
    return p === undefined ? undefined : formatIpPrefix(p);
  };
  assert.equal(canon("10.1.2.3"), "10.1.2.3");
  assert.equal(canon("10.1.2.3/8"), "10.0.0.0/8");
  assert.equal(canon("10.1.2.3/32"), "10.1.2.3");
  assert.equal(canon("2001:DB8:0:0:0:0:0:1"), "2001:db8::1");
  assert.equal(canon("2001:db8::1/32"), "2001:db8::/32");
  assert.equal(canon("::"), "::");
  assert.equal(canon("::ffff:192.0.2.1"), "192.0.2.1");
  assert.equal(canon("[fe80::1%eth0]"), "fe80::1");
  assert.equal(canon("1:0:0:2:0:0:0:3"), "1:0:0:2::3");
  for (
    const bad of [
      "256.1.1.1",
      "1.2.3",
      "10.0.0.0/33",
      "::1/129",
      "1::2::3",
      "1:2:3:4:5:6:7:8:9",
      "bob",
      "",
    ]
  ) {
    assert.equal(parseIpPrefix(bad), undefined, bad);
  }
  assert.equal(ipMatches("10.0.0.1", "10.0.0.0/8"), true);
  assert.equal(ipMatches("11.0.0.1", "10.0.0.0/8"), false);
  assert.equal(ipMatches("192.0.2.5", "192.0.2.5"), true);
  assert.equal(ipMatches("192.0.2.6", "192.0.2.5"), false);
  assert.equal(ipMatches("::ffff:10.2.3.4", "10.0.0.0/8"), true);
  assert.equal(ipMatches("2001:db8::5", "10.0.0.0/8"), false);
  assert.equal(ipMatches("anything", "0.0.0.0/0"), false);
  assert.equal(ipMatches("8.8.8.8", "0.0.0.0/0"), true);
});

Deno.test("parseIpPrefix: formatting round-trips for any IPv6 address", () => {
  fc.assert(
    fc.property(fc.ipV6(), (ip) => {
      const p = parseIpPrefix(ip);
      assert.ok(p !== undefined, ip);
      const q = parseIpPrefix(formatIpPrefix(p));
      assert.deepEqual(q, p);
    }),
  );
});

Deno.test("parseBanTarget, parseDuration, formatDuration", () => {
  assert.deepEqual(parseBanTarget("Bob"), { target: "bob", kind: "name" });
  assert.deepEqual(parseBanTarget(fp("Z")), { target: fp("Z"), kind: "fingerprint" });
  assert.deepEqual(parseBanTarget("10.0.0.7/8"), { target: "10.0.0.0/8", kind: "ip" });
  assert.equal(parseBanTarget("SHA256:short"), undefined);
  assert.equal(parseBanTarget("a"), undefined);
  assert.equal(parseDuration("10m"), 600_000);
  assert.equal(parseDuration("2h"), 7_200_000);
  assert.equal(parseDuration("7d"), 604_800_000);
  assert.equal(parseDuration("30s"), 30_000);
  for (const bad of ["0m", "10", "m", "1y", "-1h", "1.5h"]) {
    assert.equal(parseDuration(bad), undefined);
  }
  assert.equal(formatDuration(0), "0s");
  assert.equal(formatDuration(3_723_000), "1h 2m");
  assert.equal(formatDuration(90_061_000), "1d 1h");
});

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
