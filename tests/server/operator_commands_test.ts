/** Operator commands: permissions, kick, ban, mute and MOTD, and their argument parsers. */

import assert from "node:assert/strict";
import { fp, mid } from "../support/hub_world.ts";
import { connect, expectError, OP, run, withWorld } from "../support/command_world.ts";
import { FakePeer, type Json } from "../support/fake_peer.ts";
import fc from "fast-check";
import { COMMANDS } from "../../server/commands.ts";
import { parseBanTarget } from "../../server/commands/moderation.ts";
import { formatDuration, parseDuration } from "../../server/duration.ts";
import { formatIpPrefix, ipMatches, parseIpPrefix } from "../../server/ip_prefix.ts";

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
