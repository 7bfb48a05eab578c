/**
 * WAL checkpoints in a worker (server/checkpoint.ts) on real database files: the worker copies
 * the WAL into the database while the store stays open, the server's connection catches up when
 * the WAL passes the bound (and SQLite then starts the WAL over), a worker that cannot start
 * hands checkpoints back to the server's connection, and closing leaves no WAL behind.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { Checkpointer, type CheckpointReport } from "../../server/checkpoint.ts";
import { Store } from "../../server/store.ts";

async function until(pred: () => boolean, what: string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const autocheckpoint = (db: DatabaseSync) =>
  (db.prepare("PRAGMA wal_autocheckpoint").get() as { wal_autocheckpoint: number })
    .wal_autocheckpoint;

const size = (path: string) => {
  try {
    return Deno.statSync(path).size;
  } catch {
    return -1;
  }
};

Deno.test("checkpoint worker: the WAL reaches the database file while the store stays open", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-ckpt-" });
  const path = `${dir}/chat.db`;
  const reports: CheckpointReport[] = [];
  const errors: unknown[] = [];
  const store = Store.open(path, {
    checkpoints: "worker",
    onCheckpoint: (r) => reports.push(r),
    onError: (e) => errors.push(e),
    schedule: (commit) => commit(),
  });
  try {
    const before = size(path);
    for (let i = 0; i < 200; i++) {
      store.appendMessage({
        room: `#r${i % 7}`,
        ts: i,
        from: "alice",
        text: `message ${i} ` + "x".repeat(200),
        me: false,
        id: `id-${i}`,
        senderFp: "fp",
      });
    }
    await until(
      () => reports.some((r) => r.by === "worker" && r.checkpointed > 0),
      "a checkpoint by the worker",
    );
    const done = reports.find((r) => r.checkpointed > 0)!;
    assert.equal(done.checkpointed, done.log, "a PASSIVE checkpoint of an idle WAL completes");
    assert.ok(size(path) > before, `database file grew: ${before} → ${size(path)}`);
    assert.deepEqual(errors, []);
  } finally {
    store.close();
  }
  assert.equal(size(`${path}-wal`), -1, "no WAL left after close");
  assert.equal(size(`${path}-shm`), -1, "no shared-memory index left after close");
  const again = Store.open(path);
  try {
    assert.equal(again.lastSeq("#r0"), 29);
    assert.equal(again.recent("#r6", 1000).length, 28);
  } finally {
    again.close();
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("checkpoint worker: past the bound the server's connection checkpoints and the WAL starts over", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-ckpt-" });
  const path = `${dir}/x.db`;
  const db = new DatabaseSync(path);
  db.exec("PRAGMA journal_mode = WAL; CREATE TABLE t (v TEXT)");
  const reports: CheckpointReport[] = [];
  const errors: unknown[] = [];
  const ckpt = new Checkpointer(db, path, {
    spacingMs: 5,
    boundPages: 50,
    onCheckpoint: (r) => reports.push(r),
    onError: (e) => errors.push(e),
  });
  try {
    assert.equal(ckpt.running, true);
    assert.equal(autocheckpoint(db), 0);
    // One transaction of about 100 pages: the worker's next checkpoint finds the WAL past 50.
    const insert = db.prepare("INSERT INTO t (v) VALUES (?)");
    db.exec("BEGIN");
    for (let i = 0; i < 100; i++) insert.run("y".repeat(4000));
    db.exec("COMMIT");
    await until(() => reports.some((r) => r.by === "server"), "the server's own checkpoint");
    const first = reports.find((r) => r.by === "worker")!;
    assert.ok(first.log >= 100, `the worker saw ${first.log} frames`);
    const own = reports.find((r) => r.by === "server")!;
    assert.equal(own.checkpointed, own.log, "the server's checkpoint completed");
    // The next write starts the WAL over: the worker then reports a short WAL.
    reports.length = 0;
    insert.run("z");
    await until(() => reports.some((r) => r.by === "worker"), "a checkpoint after the write");
    assert.ok(reports[0].log <= 2, `WAL started over: ${JSON.stringify(reports[0])}`);
    assert.deepEqual(errors, []);
  } finally {
    ckpt.stop();
    ckpt.stop(); // a second stop does nothing
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("checkpoint worker: a worker that cannot open the database hands checkpoints back", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-ckpt-" });
  const db = new DatabaseSync(`${dir}/x.db`);
  db.exec("PRAGMA journal_mode = WAL");
  const errors: unknown[] = [];
  const ckpt = new Checkpointer(db, `${dir}/missing/x.db`, { onError: (e) => errors.push(e) });
  try {
    await until(() => errors.length > 0, "the worker's failure");
    assert.equal(ckpt.running, false);
    const e = errors[0] as Error & { code?: string };
    assert.match(e.message, /^WAL checkpoint cannot start: /);
    assert.equal(e.code, "ERR_SQLITE_ERROR");
    assert.equal(autocheckpoint(db), 1000);
    assert.equal(errors.length, 1);
  } finally {
    ckpt.stop();
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("checkpoint worker: bad options are refused before a worker starts", () => {
  const db = new DatabaseSync(":memory:");
  try {
    const onError = () => {};
    assert.throws(() => new Checkpointer(db, "x", { onError, spacingMs: 0 }), RangeError);
    assert.throws(() => new Checkpointer(db, "x", { onError, boundPages: 1.5 }), RangeError);
    assert.throws(
      () => Store.open(":memory:", { checkpoints: "thread" as "worker" }),
      RangeError,
    );
  } finally {
    db.close();
  }
});
