/**
 * Group commit of the store: the appends of one turn are one transaction, their callbacks run
 * after it commits, in order; duplicates are answered with the original; a failed batch fails
 * exactly its own appends.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { type AppendResult, BATCH_MAX, Store } from "../../server/store.ts";
import type { ProtocolError } from "../../shared/errors.ts";

const ALICE = "SHA256:alice0000000000000000000000000000000000000";
const BOB = "SHA256:bob000000000000000000000000000000000000000";

function say(room: string, text: string, id = "", senderFp = ALICE) {
  return { room, ts: 1000, from: "alice", text, me: false, id, senderFp };
}

/** A store whose commits wait in `commits` until the test runs them. */
function manual(path = ":memory:", historyKept?: number) {
  const commits: (() => void)[] = [];
  const store = Store.open(path, { schedule: (c) => commits.push(c), historyKept });
  const results: AppendResult[] = [];
  const append = (m: ReturnType<typeof say>) => store.append(m, (r) => results.push(r));
  return { store, commits, results, append };
}

async function withDir(body: (path: string) => void | Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "chat_store_batch_" });
  try {
    await body(`${dir}/db.sqlite`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function seqs(results: AppendResult[]): (string | number)[] {
  return results.map((r) =>
    r.ok
      ? (r.duplicate ? `dup ${r.message.seq}` : r.message.seq)
      : `error ${(r.error as ProtocolError).code} ${(r.error.cause as Error).message}`
  );
}

Deno.test("store batch: one commit per turn, callbacks after it in append order, rooms apart", () => {
  const { store, commits, results, append } = manual();
  try {
    append(say("#a", "a1", "i1"));
    append(say("#b", "b1", "i2"));
    append(say("#a", "a2", "i3"));
    append(say("#a", "a3", ""));
    assert.equal(commits.length, 1, "one commit scheduled for the turn");
    assert.equal(results.length, 0, "nothing answered before the commit");
    assert.equal(store.lastSeq("#a"), 0, "nothing stored before the commit");
    commits.shift()!();
    assert.deepEqual(seqs(results), [1, 1, 2, 3]);
    assert.deepEqual(store.recent("#a", 10).map((m) => m.text), ["a1", "a2", "a3"]);
    assert.deepEqual(results.map((r) => r.ok && r.message.text), ["a1", "b1", "a2", "a3"]);
    assert.equal(store.lastSeq("#a"), 3);
    assert.equal(store.lastSeq("#b"), 1);
    // The next turn continues the sequence and schedules one new commit.
    append(say("#a", "a4"));
    assert.equal(commits.length, 1);
    commits.shift()!();
    assert.deepEqual(seqs(results.slice(4)), [4]);
  } finally {
    store.close();
  }
});

Deno.test("store batch: a repeated id in the same batch or an earlier one gets the original", () => {
  const { store, commits, results, append } = manual();
  try {
    append(say("#a", "first", "x"));
    commits.shift()!();
    append(say("#a", "again", "x")); // committed earlier
    append(say("#a", "new", "y"));
    append(say("#a", "new again", "y")); // earlier in this batch
    append(say("#a", "bob's", "y", BOB)); // another identity: another message
    commits.shift()!();
    assert.deepEqual(seqs(results), [1, "dup 1", 2, "dup 2", 3]);
    const dup = results[3];
    assert.ok(dup.ok && dup.message.text === "new", "the original text comes back");
    assert.equal(store.lastSeq("#a"), 3, "duplicates use no seq");
    assert.deepEqual(store.recent("#a", 10).map((m) => m.text), ["first", "new", "bob's"]);
  } finally {
    store.close();
  }
});

Deno.test("store batch: appendMessage commits pending appends first, keeping their order", () => {
  const { store, commits, results, append } = manual();
  try {
    append(say("#a", "queued"));
    const m = store.appendMessage(say("#a", "direct"));
    assert.equal(m.seq, 2);
    assert.deepEqual(seqs(results), [1]);
    commits.shift()!(); // the scheduled commit finds nothing left to do
    assert.equal(results.length, 1);
    assert.equal(store.lastSeq("#a"), 2);
  } finally {
    store.close();
  }
});

Deno.test("store batch: BATCH_MAX waiting appends commit at once", () => {
  const { store, commits, results, append } = manual();
  try {
    for (let i = 0; i < BATCH_MAX - 1; i++) append(say("#a", `m${i}`));
    assert.equal(results.length, 0);
    append(say("#a", "last"));
    assert.equal(results.length, BATCH_MAX);
    assert.equal(store.lastSeq("#a"), BATCH_MAX);
    commits.shift()!();
    assert.equal(results.length, BATCH_MAX);
  } finally {
    store.close();
  }
});

Deno.test("store batch: a storage error fails exactly its batch; the next batch is stored", async () => {
  await withDir((path) => {
    const { store, commits, results, append } = manual(path);
    try {
      append(say("#a", "before"));
      commits.shift()!();
      // A real failure inside SQLite, caused from another connection to the same file.
      const other = new DatabaseSync(path);
      other.exec(
        "CREATE TRIGGER fail BEFORE INSERT ON messages WHEN NEW.text = 'boom' " +
          "BEGIN SELECT RAISE(ABORT, 'disk on fire'); END",
      );
      append(say("#a", "ok in a bad batch", "k1"));
      append(say("#a", "boom", "k2"));
      append(say("#b", "also in it", "k3"));
      commits.shift()!();
      assert.deepEqual(seqs(results), [
        1,
        "error internal disk on fire",
        "error internal disk on fire",
        "error internal disk on fire",
      ]);
      assert.equal(store.lastSeq("#a"), 1, "nothing of the batch is stored");
      assert.equal(store.lastSeq("#b"), 0);
      assert.equal(store.findById(ALICE, "k1"), undefined);
      other.exec("DROP TRIGGER fail");
      other.close();
      // The failed ids are free again; seqs continue without a gap.
      append(say("#a", "ok in a bad batch", "k1"));
      append(say("#b", "after"));
      commits.shift()!();
      assert.deepEqual(seqs(results.slice(4)), [2, 1]);
      assert.throws(() => store.appendMessage({ ...say("#a", "x"), ts: NaN }), TypeError);
      assert.throws(() => store.append(say("#a", "x"), undefined as never), TypeError);
    } finally {
      store.close();
    }
  });
});

Deno.test("store batch: pending appends are committed by close", async () => {
  await withDir((path) => {
    const { store, results, append } = manual(path);
    append(say("#a", "last words", "z"));
    store.close();
    assert.deepEqual(seqs(results), [1]);
    const again = Store.open(path);
    try {
      assert.equal(again.findById(ALICE, "z")?.text, "last words");
    } finally {
      again.close();
    }
  });
});

Deno.test("store batch: a room's seq is not rewritten per batch, yet survives a crash and pruning", async () => {
  await withDir((path) => {
    const store = Store.open(path, { historyTotal: 4 });
    const crashed = () => Store.open(path, { historyTotal: 4 }); // the first never closes
    try {
      for (let i = 1; i <= 3; i++) store.appendMessage(say("#a", `a${i}`));
      const raw = new DatabaseSync(path);
      const row = raw.prepare("SELECT last_seq FROM rooms WHERE room = '#a'").get();
      raw.close();
      assert.equal(row?.last_seq, 1, "the row is written once, with the room's first message");
      let other = crashed();
      assert.equal(other.lastSeq("#a"), 3, "the newest kept message carries the seq");
      other.close();
      // #b pushes the older #z out of the total bound: #z's seq is written before it goes.
      for (let i = 1; i <= 2; i++) store.appendMessage({ ...say("#z", `z${i}`), ts: 1 });
      store.appendMessage(say("#b", "b1"));
      assert.deepEqual(store.recent("#z", 10), []);
      other = crashed();
      assert.equal(other.lastSeq("#z"), 2);
      assert.equal(other.lastSeq("#b"), 1);
      other.close();
      assert.equal(store.appendMessage(say("#z", "z3")).seq, 3);
      assert.equal(store.appendMessage(say("#a", "a4")).seq, 4);
    } finally {
      store.close();
    }
  });
});

Deno.test("store batch: under load a commit waits for the coalescing window; close commits it", async () => {
  const store = Store.open(":memory:", { commitWindowMs: 1000 });
  const results: AppendResult[] = [];
  const turn = () => new Promise((r) => setTimeout(r, 0));
  try {
    store.append(say("#a", "alone"), (r) => results.push(r));
    await turn();
    assert.deepEqual(seqs(results), [1], "after a quiet spell: committed at the end of the turn");
    store.append(say("#a", "soon after 1"), (r) => results.push(r));
    await turn();
    store.append(say("#a", "soon after 2"), (r) => results.push(r));
    await turn();
    assert.deepEqual(seqs(results), [1], "within the window: waiting");
    store.close(); // commits what waits and cancels the timer (the sanitizer checks)
    assert.deepEqual(seqs(results), [1, 2, 3]);
  } finally {
    store.close();
  }
  const quick = Store.open(":memory:", { commitWindowMs: 20 });
  try {
    quick.append(say("#a", "one"), (r) => results.push(r));
    quick.append(say("#a", "two"), (r) => results.push(r));
    await turn();
    quick.append(say("#a", "three"), (r) => results.push(r));
    for (let i = 0; i < 500 && results.length < 6; i++) await turn();
    assert.deepEqual(seqs(results.slice(3)), [1, 2, 3], "the window's timer commits by itself");
    assert.throws(() => Store.open(":memory:", { commitWindowMs: 1001 }), RangeError);
    assert.throws(() => Store.open(":memory:", { commitWindowMs: -1 }), RangeError);
  } finally {
    quick.close();
  }
});

Deno.test("store batch: rooms' seqs are written before the seq cache is emptied", async () => {
  await withDir((path) => {
    const store = Store.open(path, { schedule: (c) => c() });
    try {
      for (let i = 1; i <= 3; i++) store.appendMessage({ ...say("#r0", `m${i}`), ts: 1 });
      // More rooms than the cache holds (4,096): #r0's entry is dropped along the way.
      for (let i = 1; i <= 4200; i++) store.append(say(`#r${i}`, "x"), () => {});
      assert.equal(store.pruneOldest(3), 3, "#r0's three messages, the oldest, are gone");
      const other = Store.open(path); // as after a crash: the first store never closed
      try {
        assert.equal(other.lastSeq("#r0"), 3);
      } finally {
        other.close();
      }
    } finally {
      store.close();
    }
  });
});
