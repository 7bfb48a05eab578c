import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { type Ban, SCHEMA_VERSION, Store } from "../../server/store.ts";
import { ProtocolError } from "../../shared/errors.ts";

const ALICE = "SHA256:alice0000000000000000000000000000000000000";
const BOB = "SHA256:bob000000000000000000000000000000000000000";

/** Runs `body` with a fresh temp dir holding `db.sqlite`, removed afterwards. */
async function withDir(body: (path: string, dir: string) => void | Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "chat_store_" });
  try {
    await body(`${dir}/db.sqlite`, dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function say(room: string, text: string, id = "", senderFp = ALICE, ts = 1000) {
  return { room, ts, from: "alice", text, me: false, id, senderFp };
}

Deno.test("store: first identity claims a name; same identity owns it; another is refused", () => {
  const s = Store.open(":memory:", { now: () => 42 });
  try {
    assert.equal(s.ownerOf("alice"), undefined);
    assert.equal(s.claimName("alice", "Alice", ALICE), "claimed");
    assert.equal(s.claimName("alice", "alice", ALICE), "owned_by_you");
    assert.equal(s.claimName("alice", "ALICE", BOB), "owned_by_other");
    const owner = s.ownerOf("alice");
    assert.deepEqual(owner, { name: "Alice", fingerprint: ALICE, created: 42, lastUsed: 42 });
    assert.equal(Object.getPrototypeOf(owner), Object.prototype);
  } finally {
    s.close();
  }
});

Deno.test("store: only the owner can release a name", () => {
  const s = Store.open(":memory:");
  try {
    s.claimName("alice", "alice", ALICE);
    assert.equal(s.releaseName("alice", BOB), false);
    assert.equal(s.ownerOf("alice")?.fingerprint, ALICE);
    assert.equal(s.releaseName("alice", ALICE), true);
    assert.equal(s.ownerOf("alice"), undefined);
    assert.equal(s.releaseName("alice", ALICE), false);
    assert.equal(s.claimName("alice", "alice", BOB), "claimed");
  } finally {
    s.close();
  }
});

Deno.test("store: names, seq, bans, topics and ops survive close and reopen", async () => {
  await withDir((path) => {
    const a = Store.open(path);
    a.claimName("alice", "Alice", ALICE);
    a.appendMessage(say("#lobby", "one", "id1"));
    a.appendMessage(say("#lobby", "two", "id2"));
    a.appendMessage(say("#dev", "three", "id3"));
    a.setTopic("#lobby", "welcome", "alice");
    a.addBan({
      target: "mallory",
      kind: "name",
      by: "alice",
      reason: "spam",
      created: 5,
      expires: null,
    });
    a.addOp(ALICE);
    a.close();
    a.close(); // idempotent

    const b = Store.open(path);
    try {
      assert.equal(b.claimName("alice", "alice", BOB), "owned_by_other");
      assert.equal(b.claimName("alice", "alice", ALICE), "owned_by_you");
      assert.equal(b.lastSeq("#lobby"), 2);
      assert.equal(b.lastSeq("#dev"), 1);
      assert.equal(b.lastSeq("#nowhere"), 0);
      assert.equal(b.appendMessage(say("#lobby", "four", "id4")).seq, 3);
      assert.deepEqual(b.recent("#lobby", 10).map((m) => m.text), ["one", "two", "four"]);
      assert.equal(b.topic("#lobby"), "welcome");
      assert.equal(b.topic("#dev"), "");
      assert.deepEqual(b.bans(), [
        { target: "mallory", kind: "name", by: "alice", reason: "spam", created: 5, expires: null },
      ]);
      assert.equal(b.isOp(ALICE), true);
      assert.equal(b.isOp(BOB), false);
    } finally {
      b.close();
    }
  });
});

Deno.test("store: the database is in WAL mode, schema versioned, created with mode 0600", async () => {
  await withDir(async (path) => {
    const s = Store.open(path);
    s.close();
    const db = new DatabaseSync(path);
    try {
      assert.equal(
        (db.prepare("PRAGMA journal_mode").get() as { journal_mode: string })
          .journal_mode,
        "wal",
      );
      assert.equal(
        (db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version,
        SCHEMA_VERSION,
      );
    } finally {
      db.close();
    }
    if (Deno.build.os !== "windows") assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    // close() checkpointed the WAL: nothing is left outside the main file
    const wal = await Deno.stat(`${path}-wal`).then((st) => st.size, () => 0);
    assert.equal(wal, 0);
  });
});

Deno.test("store: a claim is committed before claimName returns", async () => {
  await withDir((path) => {
    const s = Store.open(path);
    try {
      assert.equal(s.claimName("alice", "alice", ALICE), "claimed");
      const other = new DatabaseSync(path);
      try {
        const row = other.prepare("SELECT fingerprint FROM names WHERE key = ?").get("alice");
        assert.equal((row as { fingerprint: string } | undefined)?.fingerprint, ALICE);
      } finally {
        other.close();
      }
    } finally {
      s.close();
    }
  });
});

Deno.test("store: refuses a database from a newer schema version", async () => {
  await withDir((path) => {
    const db = new DatabaseSync(path);
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    assert.throws(() => Store.open(path), RangeError);
  });
});

Deno.test("store: seq stays monotonic across pruning and reopen; history is bounded", async () => {
  await withDir((path) => {
    const a = Store.open(path, { historyKept: 3 });
    for (let i = 1; i <= 7; i++) assert.equal(a.appendMessage(say("#lobby", `m${i}`)).seq, i);
    assert.deepEqual(a.recent("#lobby", 100).map((m) => m.seq), [5, 6, 7]);
    a.close();
    const b = Store.open(path, { historyKept: 3 });
    try {
      assert.equal(b.lastSeq("#lobby"), 7);
      assert.equal(b.appendMessage(say("#lobby", "m8")).seq, 8);
      assert.deepEqual(b.recent("#lobby", 100).map((m) => m.seq), [6, 7, 8]);
      assert.deepEqual(b.after("#lobby", 0, 100).map((m) => m.seq), [6, 7, 8]);
    } finally {
      b.close();
    }
  });
});

Deno.test("store: recent and after respect their bounds and order", () => {
  const s = Store.open(":memory:");
  try {
    for (let i = 1; i <= 5; i++) s.appendMessage(say("#lobby", `m${i}`, `id${i}`));
    s.appendMessage(say("#dev", "other"));
    assert.deepEqual(s.recent("#lobby", 2).map((m) => m.text), ["m4", "m5"]);
    assert.deepEqual(s.recent("#lobby", 0), []);
    assert.deepEqual(s.recent("#empty", 5), []);
    assert.deepEqual(s.after("#lobby", 2, 2).map((m) => m.seq), [3, 4]);
    assert.deepEqual(s.after("#lobby", 5, 10), []);
    assert.deepEqual(s.after("#lobby", 4, 10), [
      { room: "#lobby", seq: 5, ts: 1000, from: "alice", text: "m5", me: false, id: "id5" },
    ]);
    assert.throws(() => s.recent("#lobby", -1), RangeError);
    assert.throws(() => s.after("#lobby", 0, 1.5), RangeError);
  } finally {
    s.close();
  }
});

Deno.test("store: appendMessage stores me, ts and returns plain objects", () => {
  const s = Store.open(":memory:");
  try {
    const m = s.appendMessage({
      room: "#r",
      ts: 123,
      from: "bob",
      text: "waves",
      me: true,
      id: "x",
      senderFp: BOB,
    });
    assert.deepEqual(m, {
      room: "#r",
      seq: 1,
      ts: 123,
      from: "bob",
      text: "waves",
      me: true,
      id: "x",
    });
    const [r] = s.recent("#r", 1);
    assert.deepEqual(r, m);
    assert.equal(Object.getPrototypeOf(r), Object.prototype);
  } finally {
    s.close();
  }
});

Deno.test("store: findById finds a resent message across reopen; duplicates are refused", async () => {
  await withDir((path) => {
    const a = Store.open(path);
    const orig = a.appendMessage(say("#lobby", "hello", "abc"));
    a.close();
    const b = Store.open(path);
    try {
      assert.deepEqual(b.findById(ALICE, "abc"), orig);
      assert.equal(b.findById(BOB, "abc"), undefined);
      assert.equal(b.findById(ALICE, "abd"), undefined);
      assert.throws(
        () => b.appendMessage(say("#lobby", "hello again", "abc")),
        (e) => e instanceof ProtocolError && e.code === "duplicate_id",
      );
      assert.equal(b.lastSeq("#lobby"), 1); // the refused append used no seq
      // the same id from another identity is a different message
      assert.equal(b.appendMessage(say("#lobby", "bob's", "abc", BOB)).seq, 2);
      // messages without an id are never deduplicated
      b.appendMessage(say("#lobby", "n1", ""));
      b.appendMessage(say("#lobby", "n2", ""));
      assert.equal(b.findById(ALICE, ""), undefined);
      assert.equal(b.lastSeq("#lobby"), 4);
    } finally {
      b.close();
    }
  });
});

Deno.test("store: ids are forgotten together with their pruned messages", () => {
  const s = Store.open(":memory:", { historyKept: 2 });
  try {
    s.appendMessage(say("#lobby", "m1", "id1"));
    s.appendMessage(say("#lobby", "m2", "id2"));
    assert.equal(s.findById(ALICE, "id1")?.seq, 1);
    s.appendMessage(say("#lobby", "m3", "id3"));
    assert.equal(s.findById(ALICE, "id1"), undefined);
    assert.equal(s.findById(ALICE, "id2")?.seq, 2);
  } finally {
    s.close();
  }
});

Deno.test("store: the id lookup uses the index", async () => {
  await withDir((path) => {
    Store.open(path).close();
    const db = new DatabaseSync(path);
    try {
      const plan = db.prepare(
        "EXPLAIN QUERY PLAN SELECT * FROM messages WHERE sender_fp = ? AND id = ? AND id <> ''",
      ).all("a", "b") as { detail: string }[];
      assert.match(plan.map((p) => p.detail).join(";"), /USING INDEX messages_by_id/);
    } finally {
      db.close();
    }
  });
});

Deno.test("store: bans replace by target, expire by the injected clock, and can be removed", () => {
  let now = 1000;
  const s = Store.open(":memory:", { now: () => now });
  try {
    const temp: Ban = {
      target: "1.2.3.4",
      kind: "ip",
      by: "op",
      reason: "flood",
      created: 1000,
      expires: 2000,
    };
    const perm: Ban = {
      target: ALICE,
      kind: "fingerprint",
      by: "op",
      reason: "x",
      created: 1001,
      expires: null,
    };
    s.addBan(temp);
    s.addBan(perm);
    assert.deepEqual(s.bans(), [temp, perm]);
    now = 1999;
    assert.deepEqual(s.bans(), [temp, perm]);
    now = 2000;
    assert.deepEqual(s.bans(), [perm]);
    s.addBan({ ...temp, created: 2000, expires: 5000 });
    assert.deepEqual(s.bans(), [perm, { ...temp, created: 2000, expires: 5000 }]);
    assert.equal(s.removeBan("1.2.3.4"), true);
    assert.equal(s.removeBan("1.2.3.4"), false);
    assert.deepEqual(s.bans(), [perm]);
    assert.throws(() => s.addBan({ ...perm, kind: "host" as Ban["kind"] }), TypeError);
  } finally {
    s.close();
  }
});

Deno.test("store: ops are added idempotently and removed", () => {
  const s = Store.open(":memory:");
  try {
    assert.equal(s.isOp(ALICE), false);
    s.addOp(ALICE);
    s.addOp(ALICE);
    assert.equal(s.isOp(ALICE), true);
    assert.equal(s.removeOp(ALICE), true);
    assert.equal(s.removeOp(ALICE), false);
    assert.equal(s.isOp(ALICE), false);
  } finally {
    s.close();
  }
});

Deno.test("store: wrong input types are TypeErrors, bad options RangeErrors", () => {
  assert.throws(() => Store.open(":memory:", { historyKept: 0 }), RangeError);
  assert.throws(() => Store.open(":memory:", { historyKept: 2.5 }), RangeError);
  const s = Store.open(":memory:");
  try {
    const bad = (v: unknown) => v as string;
    assert.throws(() => s.claimName(bad(1), "a", ALICE), TypeError);
    assert.throws(() => s.appendMessage({ ...say("#r", "t"), me: bad("yes") as never }), TypeError);
    assert.throws(() => s.appendMessage({ ...say("#r", "t"), ts: NaN }), TypeError);
    assert.throws(
      () => s.appendMessage({ ...say("#r", "t"), senderFp: bad(undefined) }),
      TypeError,
    );
    assert.throws(() => s.topic(bad(null)), TypeError);
    assert.equal(s.lastSeq("#r"), 0);
  } finally {
    s.close();
  }
});

Deno.test("store: SQL metacharacters in values are stored verbatim", () => {
  const s = Store.open(":memory:");
  try {
    const evil = "'); DROP TABLE messages; --";
    s.setTopic("#r", evil, evil);
    assert.equal(s.topic("#r"), evil);
    assert.equal(s.appendMessage(say("#r", evil, evil)).text, evil);
    assert.equal(s.findById(ALICE, evil)?.text, evil);
  } finally {
    s.close();
  }
});

Deno.test("store: historyTotal bounds all rooms together, oldest pruned first, across reopen", async () => {
  await withDir((path) => {
    let t = 1000;
    const put = (s: Store, room: string) =>
      s.appendMessage({
        room,
        ts: t++,
        from: "a",
        text: `${room} ${t}`,
        me: false,
        id: "",
        senderFp: "fp",
      });
    let s = Store.open(path, { historyKept: 100, historyTotal: 5 });
    for (let i = 0; i < 4; i++) put(s, "#a");
    for (let i = 0; i < 3; i++) put(s, "#b");
    // 7 appended, 5 kept: the two oldest (#a seq 1 and 2) went first
    assert.deepEqual(s.recent("#a", 10).map((m) => m.seq), [3, 4]);
    assert.deepEqual(s.recent("#b", 10).map((m) => m.seq), [1, 2, 3]);
    s.close();
    s = Store.open(path, { historyKept: 100, historyTotal: 5 });
    const m = put(s, "#b");
    assert.equal(m.seq, 4, "seq continues");
    assert.deepEqual(s.recent("#a", 10).map((x) => x.seq), [4]);
    assert.equal(s.recent("#a", 10).length + s.recent("#b", 10).length, 5);
    assert.throws(() => Store.open(":memory:", { historyTotal: 0 }), RangeError);
    s.close();
  });
});
