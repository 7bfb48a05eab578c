/** The hub's sessions: authentication, names, bans, resume, disconnection and shutdown. */

import assert from "node:assert/strict";
import { FakePeer } from "../support/fake_peer.ts";
import { DEFAULT_LIMITS } from "../../shared/limits.ts";
import { MAX_SESSIONS_PER_IDENTITY } from "../../server/hub.ts";
import { Store } from "../../server/store.ts";
import { auth, connect, fp, mid, peerId, say, world } from "../support/hub_world.ts";

Deno.test("authenticate: welcome, history (replay), join event, MOTD, in that order", () => {
  const w = world({ motd: () => "be nice" });
  try {
    const bob = connect(w, "bob", "B");
    for (let i = 1; i <= 3; i++) say(w, bob, `m${i}`, i);
    bob.take();
    const alice = new FakePeer(99, fp("C"));
    assert.equal(w.hub.authenticate(alice, auth("Alice", ["#lobby", "#dev", "bad room"])), "ok");
    const got = alice.take();
    assert.deepEqual(got.map((m) => m.t + (m.kind ?? "")), [
      "welcome",
      "msg",
      "msg",
      "msg",
      "eventjoin",
      "eventjoin",
      "eventmotd",
    ]);
    const welcome = got[0];
    assert.equal(welcome.name, "Alice");
    assert.equal(welcome.fingerprint, fp("C"));
    assert.deepEqual(welcome.server, { name: "test", version: "0.1.0", motd: "be nice" });
    assert.equal(welcome.limits.textBytes, 2048);
    assert.deepEqual(welcome.rooms, [
      { name: "#lobby", topic: "", members: 2 },
      { name: "#dev", topic: "", members: 1 },
    ]);
    assert.deepEqual(got.slice(1, 4).map((m) => [m.text, m.seq, m.replay, m.from]), [
      ["m1", 1, true, "bob"],
      ["m2", 2, true, "bob"],
      ["m3", 3, true, "bob"],
    ]);
    assert.deepEqual(got[4], {
      t: "event",
      ts: w.clock.t,
      kind: "join",
      name: "Alice",
      room: "#lobby",
    });
    assert.equal(got[5].room, "#dev");
    assert.equal(got[6].text, "be nice");
    // bob sees the join in #lobby only
    assert.deepEqual(bob.take().map((m) => [m.kind, m.room, m.name]), [[
      "join",
      "#lobby",
      "Alice",
    ]]);
    // the name is stored before welcome
    assert.equal(w.store.ownerOf("alice")?.fingerprint, fp("C"));
  } finally {
    w.store.close();
  }
});

Deno.test("authenticate: no rooms given means #lobby; no MOTD event when MOTD is empty", () => {
  const w = world();
  try {
    const p = new FakePeer(1, fp("B"));
    assert.equal(w.hub.authenticate(p, auth("bob", [])), "ok");
    const got = p.take();
    assert.deepEqual(got.map((m) => m.kind ?? m.t), ["welcome", "join"]);
    assert.equal(got[1].room, "#lobby");
  } finally {
    w.store.close();
  }
});

Deno.test("authenticate: name_invalid and name_reserved are retryable, with reasons", () => {
  const w = world();
  try {
    const p = new FakePeer(1, fp("B"));
    for (
      const [name, code] of [
        ["x", "name_invalid"],
        ["9lives", "name_invalid"],
        ["a b", "name_invalid"],
        ["Admin", "name_reserved"],
        ["evilbob", "name_reserved"], // blacklist pattern
      ]
    ) {
      assert.equal(w.hub.authenticate(p, auth(name)), "retry", name);
      const [e] = p.take();
      assert.equal(e.t, "error");
      assert.equal(e.code, code, name);
      assert.equal(e.retry, true);
      assert.ok(e.message.length > 10);
    }
    assert.equal(w.hub.authenticate(p, auth("bob")), "ok");
  } finally {
    w.store.close();
  }
});

Deno.test("authenticate: name_taken by a live other identity, name_owned after it left", () => {
  const w = world();
  try {
    const bob = connect(w, "bob", "B");
    const mallory = new FakePeer(50, fp("M"));
    assert.equal(w.hub.authenticate(mallory, auth("BOB")), "retry");
    assert.deepEqual(mallory.take()[0].code, "name_taken");
    w.hub.disconnect(bob.id, "quit");
    assert.equal(w.hub.authenticate(mallory, auth("Bob")), "retry");
    const [e] = mallory.take();
    assert.equal(e.code, "name_owned");
    assert.equal(e.retry, true);
    assert.equal(w.hub.authenticate(mallory, auth("mallory")), "ok");
  } finally {
    w.store.close();
  }
});

Deno.test("authenticate: name ownership survives a new hub on the same database", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const w1 = world({}, Store.open(`${dir}/db`));
    connect(w1, "alice", "C");
    w1.store.close();
    const w2 = world({}, Store.open(`${dir}/db`));
    try {
      const m = new FakePeer(1, fp("M"));
      assert.equal(w2.hub.authenticate(m, auth("alice")), "retry");
      assert.equal(m.take()[0].code, "name_owned");
      const a = new FakePeer(2, fp("C"));
      assert.equal(w2.hub.authenticate(a, auth("alice")), "ok");
    } finally {
      w2.store.close();
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("authenticate: bans by name, fingerprint and IP prefix are fatal", () => {
  const w = world();
  try {
    const ban = (target: string, kind: "name" | "fingerprint" | "ip") =>
      w.store.addBan({ target, kind, by: "op", reason: "spam", created: 0, expires: null });
    ban("carol", "name");
    ban(fp("F"), "fingerprint");
    ban("10.0.0.0/8", "ip");
    ban("2001:db8::/32", "ip");
    const cases: [string, string, string][] = [
      ["Carol", "D", "192.0.2.9"],
      ["dave", "F", "192.0.2.9"],
      ["erin", "E", "10.200.3.4"],
      ["erin", "E", "2001:db8:1::5"],
      ["erin", "E", "::ffff:10.1.1.1"],
    ];
    for (const [name, who, ip] of cases) {
      const p = new FakePeer(peerId(), fp(who), ip);
      assert.equal(w.hub.authenticate(p, auth(name)), "fatal", `${name} ${ip}`);
      const [e] = p.take();
      assert.equal(e.code, "banned");
      assert.equal(e.retry, false);
      assert.match(e.message, /spam/);
    }
    // just outside the prefixes
    const ok = new FakePeer(peerId(), fp("E"), "11.0.0.1");
    assert.equal(w.hub.authenticate(ok, auth("erin")), "ok");
    assert.equal(w.hub.isIpBanned("10.255.255.255"), true);
    assert.equal(w.hub.isIpBanned("11.0.0.0"), false);
    assert.equal(w.hub.isIpBanned("2001:db9::1"), false);
  } finally {
    w.store.close();
  }
});

Deno.test("authenticate: same identity and name twice: both stay and receive, presence once", () => {
  const w = world();
  try {
    const bob = connect(w, "bob", "B");
    const first = connect(w, "alice", "C", ["#lobby", "#dev"]);
    const dev = connect(w, "dave", "D", ["#dev"]);
    bob.take();
    dev.take();
    first.take();
    const second = new FakePeer(77, fp("C"));
    assert.equal(w.hub.authenticate(second, auth("alice", ["#lobby"])), "ok");
    assert.equal(first.closed, undefined);
    const welcome = second.take();
    assert.equal(welcome[0].t, "welcome");
    assert.equal(welcome[0].rooms[0].members, 2, "alice is counted once");
    assert.deepEqual(bob.take(), [], "no second join");
    // Both sessions receive room lines.
    say(w, bob, "hi", 1);
    assert.equal(first.take()[0].text, "hi");
    assert.equal(second.take()[0].text, "hi");
    bob.take();
    // The first session leaving #lobby is not a leave: alice is still there.
    w.hub.disconnect(first.id, "connection lost");
    assert.deepEqual(bob.take(), []);
    assert.deepEqual(dev.take().map((m) => [m.kind, m.name, m.reason]), [
      ["leave", "alice", "connection lost"],
    ]);
    // The last one is.
    w.hub.disconnect(second.id, "connection lost");
    assert.deepEqual(bob.take().map((m) => [m.kind, m.name, m.reason]), [
      ["leave", "alice", "connection lost"],
    ]);
  } finally {
    w.store.close();
  }
});

Deno.test("authenticate: resume replays exactly the messages after seq", () => {
  const w = world({ limits: { resumeMax: 3 } });
  try {
    const bob = connect(w, "bob", "B");
    for (let i = 1; i <= 8; i++) say(w, bob, `m${i}`, i);
    const a = new FakePeer(5, fp("C"));
    assert.equal(w.hub.authenticate(a, auth("alice", ["#lobby"], { "#lobby": 4 })), "ok");
    const msgs = a.take().filter((m) => m.t === "msg");
    assert.deepEqual(msgs.map((m) => [m.seq, m.replay]), [[5, true], [6, true], [7, true]]);
    const b = new FakePeer(6, fp("D"));
    assert.equal(w.hub.authenticate(b, auth("dave", ["#lobby"], { "#lobby": 8 })), "ok");
    assert.deepEqual(b.take().filter((m) => m.t === "msg"), []);
  } finally {
    w.store.close();
  }
});

Deno.test("disconnect: leave with the reason to each room, once; empty rooms forgotten", () => {
  const w = world();
  try {
    const a = connect(w, "alice", "C", ["#lobby", "#dev"]);
    const b = connect(w, "bob", "B", ["#lobby"]);
    a.take();
    void b;
    w.hub.disconnect(a.id, "connection lost");
    w.hub.disconnect(a.id, "quit");
    assert.deepEqual(b.take(), [
      {
        t: "event",
        ts: w.clock.t,
        kind: "leave",
        name: "alice",
        reason: "connection lost",
        room: "#lobby",
      },
    ]);
    assert.deepEqual(a.take(), []);
    assert.match(w.hub.consoleLine("/rooms"), /^1 room:\n#lobby \(1 member\)$/);
    assert.equal(w.log.filter((e) => e.kind === "leave").length, 2);
    // an unauthenticated peer is ignored
    w.hub.disconnect(12345, "quit");
  } finally {
    w.store.close();
  }
});

Deno.test("shutdown: every peer closed with reason shutdown, no leave events", () => {
  const w = world();
  try {
    const a = connect(w, "alice", "C");
    const b = connect(w, "bob", "B");
    a.take();
    w.hub.shutdown();
    assert.equal(a.closed, "shutdown");
    assert.equal(b.closed, "shutdown");
    assert.deepEqual(a.take(), []);
  } finally {
    w.store.close();
  }
});

Deno.test("names: an identity owns at most namesPerIdentity names (auth and /nick)", () => {
  const w = world({ limits: { ...DEFAULT_LIMITS, namesPerIdentity: 2 } });
  try {
    const p = connect(w, "first", "N");
    w.hub.handle(p.id, { t: "cmd", id: mid(1), name: "nick", args: ["second"] });
    assert.equal(p.take().at(-1)?.t, "reply");
    w.hub.handle(p.id, { t: "cmd", id: mid(2), name: "nick", args: ["third"] });
    const err = p.take().at(-1);
    assert.equal(err?.code, "name_limit");
    assert.equal(w.store.ownerOf("third"), undefined, "nothing claimed");
    // names already owned stay usable
    w.hub.handle(p.id, { t: "cmd", id: mid(3), name: "nick", args: ["first"] });
    assert.equal(p.take().at(-1)?.t, "reply");
    w.hub.disconnect(p.id, "quit");
    const again = new FakePeer(peerId(), fp("N"));
    assert.equal(w.hub.authenticate(again, auth("fourth")), "retry");
    const e = again.take()[0];
    assert.deepEqual([e.code, e.retry], ["name_limit", true]);
    assert.equal(w.hub.authenticate(again, auth("second")), "ok");
  } finally {
    w.store.close();
  }
});

Deno.test("authenticate: an identity has at most MAX_SESSIONS_PER_IDENTITY sessions", () => {
  const w = world();
  try {
    for (let i = 0; i < MAX_SESSIONS_PER_IDENTITY; i++) connect(w, "alice", "C");
    const extra = new FakePeer(peerId(), fp("C"));
    assert.equal(w.hub.authenticate(extra, auth("alice")), "fatal");
    const [e] = extra.take();
    assert.deepEqual([e.t, e.code, e.retry], ["error", "too_many_sessions", false]);
    // Another identity is not affected.
    connect(w, "bob", "B");
  } finally {
    w.store.close();
  }
});
