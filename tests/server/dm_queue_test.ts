/**
 * The offline queue in the hub over a real (in-memory) store: a DM to an owned name nobody is
 * connected under is queued and acknowledged as `queued`; a session that sends `dm_ack` gets the
 * queue in order with the original times, a window at a time, and acknowledged envelopes are
 * deleted (others' acknowledgements delete nothing); the bounds give their exact errors; expiry
 * drops and tells the connected sender; `/keys` answers for an offline owner; the schema
 * migrates from version 3.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { FakePeer } from "../support/fake_peer.ts";
import { DEFAULT_LIMITS, type Limits } from "../../shared/limits.ts";
import type { AuthMessage } from "../../shared/messages.ts";
import { Blacklist } from "../../shared/names.ts";
import { Hub } from "../../server/hub.ts";
import { DM_QUEUE_WINDOW } from "../../server/dm.ts";
import { Charges } from "../../server/charge.ts";
import { parseClientMessage } from "../../shared/messages.ts";
import { ProtocolError } from "../../shared/errors.ts";
import { SCHEMA_VERSION, Store } from "../../server/store.ts";

const fp = (c: string) => "SHA256:" + c.repeat(43);
const mid = (n: number) => btoa(String(n).padStart(16, "0"));
const DAY = 86_400_000;

function world(limits: Partial<Limits> = {}) {
  const clock = { t: 1_700_000_000_000 };
  const store = Store.open(":memory:", { now: () => clock.t, schedule: (c) => c() });
  const hub = new Hub({
    store,
    now: () => clock.t,
    serverName: "test",
    version: "0.1.0",
    motd: () => "",
    hostFingerprint: fp("H"),
    admins: new Set(),
    blacklist: () => Blacklist.empty(),
    startedAt: clock.t,
    connectionCount: () => 0,
    limits: { ...DEFAULT_LIMITS, ...limits },
  });
  return { hub, store, clock };
}

let nextId = 1;
function connect(w: ReturnType<typeof world>, name: string, who: string): FakePeer {
  const p = new FakePeer(nextId++, fp(who), "192.0.2.1", "kem-" + who, "ksig-" + who);
  const a: AuthMessage = { t: "auth", name, sig_pub: "x", proof: "p", client: "t/0", rooms: [] };
  assert.equal(w.hub.authenticate(p, a), "ok");
  p.take();
  return p;
}

/** What `p` received besides presence events. */
function got(p: FakePeer) {
  return p.take().filter((m) => m.t !== "event");
}

function dm(w: ReturnType<typeof world>, from: FakePeer, to: string, n: number, env = "AAAA") {
  from.take();
  w.hub.handle(from.id, { t: "dm", id: mid(n), to, envelope: env });
  return from.take();
}

Deno.test("dm queue: queued for an offline owner, delivered in order with original times, acked", () => {
  const w = world();
  try {
    const bob = connect(w, "bob", "B");
    w.hub.disconnect(bob.id, "quit");
    const alice = connect(w, "alice", "A");
    const times: number[] = [];
    for (let i = 1; i <= DM_QUEUE_WINDOW + 4; i++) {
      times.push(w.clock.t);
      assert.deepEqual(dm(w, alice, "BOB", i, `AAA${String.fromCharCode(64 + i)}`), [
        { t: "ack", id: mid(i), queued: true },
      ]);
      w.clock.t += 1000;
    }
    // A repeated id is acknowledged again and stored once.
    assert.deepEqual(dm(w, alice, "bob", 1), [{ t: "ack", id: mid(1), queued: true }]);
    assert.equal(w.store.dmQueue.total, DM_QUEUE_WINDOW + 4);

    // /keys answers for the offline owner with the keys it logged in with.
    w.hub.handle(alice.id, { t: "cmd", id: mid(99), name: "keys", args: ["bob"] });
    const [keys] = alice.take();
    assert.equal(keys.data.fingerprint, fp("B"));
    assert.equal(keys.data.kem_pub, "kem-B");
    assert.equal(keys.data.kem_sig, "ksig-B");

    const bob2 = connect(w, "bob", "B");
    assert.deepEqual(got(bob2), [], "nothing before the session asks with dm_ack");
    w.hub.handle(bob2.id, { t: "dm_ack", q: [] });
    const first = got(bob2);
    assert.equal(first.length, DM_QUEUE_WINDOW, "one window at a time");
    first.forEach((m, i) => {
      assert.equal(m.t, "dm");
      assert.equal(m.id, mid(i + 1));
      assert.equal(m.from, "alice");
      assert.equal(m.ts, times[i], "the time it was queued");
      assert.equal(m.envelope, `AAA${String.fromCharCode(65 + i)}`);
    });
    // Another identity's acknowledgement deletes nothing.
    const mallory = connect(w, "mallory", "M");
    w.hub.handle(mallory.id, { t: "dm_ack", q: first.map((m) => m.q) });
    assert.equal(w.store.dmQueue.total, DM_QUEUE_WINDOW + 4);
    // Acknowledging two makes room for two more.
    w.hub.handle(bob2.id, { t: "dm_ack", q: [first[0].q, first[1].q] });
    assert.deepEqual(got(bob2).map((m) => m.id), [
      mid(DM_QUEUE_WINDOW + 1),
      mid(DM_QUEUE_WINDOW + 2),
    ]);
    assert.equal(w.store.dmQueue.total, DM_QUEUE_WINDOW + 2);
    // Not acknowledged: delivered again to the next session, from the first unacknowledged.
    w.hub.disconnect(bob2.id, "quit");
    const bob3 = connect(w, "bob", "B");
    w.hub.handle(bob3.id, { t: "dm_ack", q: [] });
    const again = got(bob3);
    assert.equal(again[0].id, mid(3));
    w.hub.handle(bob3.id, { t: "dm_ack", q: again.map((m) => m.q) });
    const rest = got(bob3);
    assert.deepEqual(rest.map((m) => m.id), [mid(DM_QUEUE_WINDOW + 3), mid(DM_QUEUE_WINDOW + 4)]);
    w.hub.handle(bob3.id, { t: "dm_ack", q: rest.map((m) => m.q) });
    assert.deepEqual(got(bob3), []);
    assert.equal(w.store.dmQueue.total, 0);
    // Connected now: a new DM is relayed, not queued.
    assert.deepEqual(dm(w, alice, "bob", 50), [{ t: "ack", id: mid(50) }]);
    assert.equal(got(bob3)[0].q, undefined);
  } finally {
    w.store.close();
  }
});

Deno.test("dm queue: the owner connected under another name reads it at once", () => {
  const w = world();
  try {
    const bob = connect(w, "bob", "B");
    w.hub.handle(bob.id, { t: "cmd", id: mid(1), name: "nick", args: ["robert"] });
    bob.take();
    const alice = connect(w, "alice", "A");
    assert.deepEqual(dm(w, alice, "bob", 2), [{ t: "ack", id: mid(2) }]);
    assert.equal(got(bob)[0].id, mid(2));
    assert.equal(w.store.dmQueue.total, 0);
  } finally {
    w.store.close();
  }
});

Deno.test("dm queue: per-sender, per-recipient and total bounds give their exact errors", () => {
  const w = world({ dmQueuePerSender: 2, dmQueuePerRecipient: 3, dmQueueTotal: 4 });
  try {
    for (const [name, who] of [["bob", "B"], ["carol", "C"]]) {
      w.hub.disconnect(connect(w, name, who).id, "quit");
    }
    const alice = connect(w, "alice", "A");
    const dave = connect(w, "dave", "D");
    assert.equal(dm(w, alice, "bob", 1)[0].queued, true);
    assert.equal(dm(w, alice, "bob", 2)[0].queued, true);
    assert.deepEqual(dm(w, alice, "bob", 3), [{
      t: "error",
      id: mid(3),
      code: "dm_queue_full",
      message: "You already have 2 private messages waiting for bob, the most the server keeps " +
        "from one sender; your message was not sent.",
    }]);
    assert.equal(dm(w, dave, "bob", 4)[0].queued, true);
    assert.deepEqual(dm(w, dave, "bob", 5), [{
      t: "error",
      id: mid(5),
      code: "dm_queue_full",
      message: "bob already has 3 private messages waiting, the most the server keeps; your " +
        "message was not sent.",
    }]);
    assert.equal(dm(w, dave, "carol", 6)[0].queued, true);
    assert.deepEqual(dm(w, alice, "carol", 7), [{
      t: "error",
      id: mid(7),
      code: "dm_queue_full",
      message: "The server keeps at most 4 private messages for users who are not connected, " +
        "and that many are waiting; your message to carol was not sent.",
    }]);
    assert.equal(w.store.dmQueue.total, 4);
  } finally {
    w.store.close();
  }
});

Deno.test("dm queue: expired envelopes are dropped and the connected sender is told", () => {
  const w = world({ dmQueueDays: 30 });
  try {
    w.hub.disconnect(connect(w, "bob", "B").id, "quit");
    const alice = connect(w, "alice", "A");
    dm(w, alice, "bob", 1);
    w.clock.t += 10 * DAY;
    dm(w, alice, "bob", 2);
    w.clock.t += 20 * DAY + 1;
    assert.equal(w.hub.expireQueuedDms(), 1);
    assert.deepEqual(alice.take(), [{
      t: "error",
      id: mid(1),
      code: "dm_expired",
      message: "Your private message to bob of 2023-11-14 22:13 UTC was not delivered: bob did " +
        "not connect within 30 days, and it was deleted.",
    }]);
    assert.equal(w.store.dmQueue.total, 1);
  } finally {
    w.store.close();
  }
});

Deno.test("dm queue: a version 3 database migrates to the queue and keeps its data", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-dmq-" });
  try {
    const path = `${dir}/chat.db`;
    const db = new DatabaseSync(path);
    // The version 3 schema as the previous release wrote it.
    const v3 = new URL("./fixtures/schema_v3.sql", import.meta.url);
    db.exec(await Deno.readTextFile(v3));
    db.prepare("INSERT INTO names VALUES ('bob', 'bob', ?, 1, 1)").run(fp("B"));
    db.close();
    const s = Store.open(path);
    try {
      assert.equal(s.ownerOf("bob")?.fingerprint, fp("B"));
      s.dmQueue.saveKeys({ fingerprint: fp("B"), sigPub: "s", kemPub: "k", kemSig: "g" }, 5);
      const q = s.dmQueue.push({
        recipient: fp("B"),
        sender: fp("A"),
        from: "alice",
        to: "bob",
        id: mid(1),
        ts: 5,
        envelope: "AAAA",
      }, DEFAULT_LIMITS);
      assert.equal(q.n, 1);
    } finally {
      s.close();
    }
    const again = Store.open(path);
    try {
      assert.equal(again.dmQueue.total, 1, "queued envelopes survive a reopen");
      assert.equal(again.dmQueue.keysOf(fp("B"))?.kemPub, "k");
    } finally {
      again.close();
    }
    const check = new DatabaseSync(path);
    try {
      const v = check.prepare("PRAGMA user_version").get() as { user_version: number };
      assert.equal(v.user_version, SCHEMA_VERSION);
    } finally {
      check.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dm_ack: parsed strictly; charged to the automatic bucket, never a strike", () => {
  assert.deepEqual(parseClientMessage('{"t":"dm_ack","q":[]}'), { t: "dm_ack", q: [] });
  assert.deepEqual(parseClientMessage('{"t":"dm_ack","q":[1,2]}'), { t: "dm_ack", q: [1, 2] });
  const bad = [
    '{"t":"dm_ack"}',
    '{"t":"dm_ack","q":[0]}',
    '{"t":"dm_ack","q":[1.5]}',
    '{"t":"dm_ack","q":["1"]}',
    '{"t":"dm_ack","q":[1],"id":"x"}',
    JSON.stringify({ t: "dm_ack", q: Array.from({ length: 65 }, (_, i) => i + 1) }),
  ];
  for (const b of bad) {
    assert.throws(() => parseClientMessage(b), (e) => e instanceof ProtocolError, b);
  }
  const clock = { t: 0 };
  const c = new Charges({ ...DEFAULT_LIMITS, autoBurst: 2, rateStrikes: 1 }, () => clock.t);
  assert.equal(c.request({ t: "dm_ack" }), "ok");
  assert.equal(c.request({ t: "dm_ack" }), "ok");
  assert.equal(c.request({ t: "dm_ack" }), "auto_limited", "refused, not a strike");
  assert.equal(c.request({ t: "dm" }), "ok", "the user's own budget is untouched");
});

Deno.test("dm queue: identity keys are written when new, changed or forgotten", () => {
  const w = world();
  const q = w.store.dmQueue!;
  const keys = { fingerprint: fp("K"), sigPub: "s", kemPub: "k1", kemSig: "g1" };
  const t0 = w.clock.t;
  q.saveKeys(keys, t0);
  assert.equal(q.keysOf(fp("K"))?.kemPub, "k1");
  q.saveKeys({ ...keys, kemPub: "k2", kemSig: "g2" }, t0 + 1); // changed: written
  assert.equal(q.keysOf(fp("K"))?.kemPub, "k2");
  // The identity owns no name: its keys are forgotten; the same keys again are written again.
  assert.equal(q.forgetOrphanKeys(), 1);
  assert.equal(q.keysOf(fp("K")), undefined);
  q.saveKeys({ ...keys, kemPub: "k2", kemSig: "g2" }, t0 + 2);
  assert.equal(q.keysOf(fp("K"))?.kemSig, "g2");
});
