/**
 * The database upkeep with an injected clock: daily quotas roll over at the UTC day, a name's
 * use is written at most once a day, and expiry skips names in use and live rooms, keeps rooms
 * with history, removes expired bans and old counters.
 */
import assert from "node:assert/strict";
import { Store } from "../../server/store.ts";
import { DAY_MS } from "../../server/upkeep.ts";

const FP = "SHA256:alice";

function store(clock: { t: number }): Store {
  return Store.open(":memory:", { now: () => clock.t, schedule: (commit) => commit() });
}

Deno.test("upkeep: quotas count per identity and UTC day", () => {
  const clock = { t: 10 * DAY_MS + 1000 };
  const s = store(clock);
  try {
    const u = s.upkeep;
    assert.deepEqual([1, 2, 3].map(() => u.charge(FP, "room", 2)), [true, true, false]);
    assert.equal(u.charge(FP, "topic", 2), true, "kinds are counted apart");
    assert.equal(u.charge("SHA256:bob", "room", 2), true, "identities are counted apart");
    clock.t = 11 * DAY_MS; // the next UTC day
    assert.equal(u.charge(FP, "room", 2), true);
    assert.equal(u.charge(FP, "room", 0), false, "a limit of 0 allows nothing");
  } finally {
    s.close();
  }
});

Deno.test("upkeep: expiry spares names in use, live rooms and rooms with history", () => {
  const clock = { t: 1000 * DAY_MS };
  const s = store(clock);
  try {
    for (const n of ["old", "busy", "fresh"]) s.claimName(n, n, FP);
    s.setTopic("#empty", "t", "old");
    s.setTopic("#live", "t", "old");
    s.setTopic("#talk", "t", "old");
    s.append(
      { room: "#talk", ts: 1, from: "old", text: "hi", me: false, id: "", senderFp: FP },
      () => {},
    );
    s.addBan({
      target: "SHA256:x",
      kind: "fingerprint",
      by: "c",
      reason: "",
      created: 0,
      expires: clock.t + DAY_MS,
    });
    clock.t += 10 * DAY_MS;
    s.upkeep.touchName("fresh");
    const out = s.upkeep.expire({
      nameUnusedMs: 5 * DAY_MS,
      roomIdleMs: 5 * DAY_MS,
      nameInUse: (key) => key === "busy",
      liveRoom: (room) => room === "#live",
    });
    assert.deepEqual(out, { names: ["old"], rooms: ["#empty"], bans: 1 });
    assert.equal(s.ownerOf("old"), undefined);
    assert.equal(s.ownerOf("busy")?.fingerprint, FP);
    assert.equal(s.topic("#empty"), "", "the cached topic went with the room");
    assert.equal(s.topic("#talk"), "t");
    assert.equal(s.upkeep.roomExists("#live"), true);
    assert.deepEqual(s.bans(), []);
  } finally {
    s.close();
  }
});

Deno.test("upkeep: a name's use is written once a day; a recent lastUsed skips the write", () => {
  const clock = { t: 100 * DAY_MS };
  const s = store(clock);
  try {
    s.claimName("alice", "alice", FP);
    assert.equal(s.ownerOf("alice")?.lastUsed, clock.t);
    clock.t += DAY_MS / 2;
    s.upkeep.touchName("alice", s.ownerOf("alice")!.lastUsed);
    assert.equal(s.ownerOf("alice")?.lastUsed, 100 * DAY_MS, "used within the day: not written");
    s.upkeep.touchName("alice");
    assert.equal(s.ownerOf("alice")?.lastUsed, 100 * DAY_MS, "the statement's own check agrees");
    clock.t += DAY_MS;
    s.upkeep.touchName("alice", s.ownerOf("alice")!.lastUsed);
    assert.equal(s.ownerOf("alice")?.lastUsed, clock.t, "a day later: written");
  } finally {
    s.close();
  }
});
