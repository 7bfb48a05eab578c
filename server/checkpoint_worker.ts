/**
 * Entry point of the WAL checkpoint worker that server/checkpoint.ts starts (never imported by
 * other modules): its own `node:sqlite` connection to the server's database runs a PASSIVE
 * checkpoint every `spacingMs`, so the copying and the two `fsync`s of a checkpoint happen on
 * this thread instead of the event loop. A PASSIVE checkpoint takes no writer lock: the server
 * keeps committing while it runs. Loading this module only installs the message handler.
 * @module
 */

import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { FromWorker, ToWorker, WorkerError } from "./checkpoint.ts";

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
  postMessage(m: FromWorker): void;
};

let db: DatabaseSync | undefined;
let checkpoint: StatementSync | undefined;
let timer: ReturnType<typeof setTimeout> | undefined;
let last = { log: -1, checkpointed: -1 };

/** Checkpoint passes per tick at most. */
const PASSES = 4;

/** WAL frames from which a tick checkpoints again until the WAL can start over. */
const RESTART_PAGES = 1024;

/** What a database error carries across the thread boundary. */
function describe(e: unknown): WorkerError {
  const err = e as { code?: unknown; errcode?: unknown };
  return {
    message: e instanceof Error ? e.message : String(e),
    code: typeof err?.code === "string" ? err.code : undefined,
    errcode: typeof err?.errcode === "number" ? err.errcode : undefined,
  };
}

/**
 * One checkpoint; once the WAL holds {@linkcode RESTART_PAGES} or more, again while commits
 * landed during the previous pass (each pass copies only what came since), at most
 * {@linkcode PASSES} times: a pass that finds nothing new leaves the WAL fully copied, so SQLite
 * starts it over at the next write. (Every pass syncs the WAL, so the extra passes wait until
 * the WAL is worth starting over.) Returns whether the WAL held that many: then the next tick
 * comes sooner.
 */
function tick(): boolean {
  const t0 = performance.now();
  let r: Record<string, unknown>;
  let passes = 0;
  let log = -1;
  let large = false;
  try {
    for (;;) {
      r = checkpoint!.get() as Record<string, unknown>;
      passes++;
      if (passes === 1) large = (r.log as number) >= RESTART_PAGES;
      if ((r.log as number) < RESTART_PAGES || r.log === log) break;
      if (passes === PASSES || r.busy === 1) break;
      log = r.log as number;
    }
  } catch (e) {
    scope.postMessage({ t: "error", error: describe(e) });
    return false;
  }
  log = r.log as number;
  const checkpointed = r.checkpointed as number;
  // Nothing new since the last one (an idle server): nothing to report.
  if (log === last.log && checkpointed === last.checkpointed) return large;
  last = { log, checkpointed };
  const ms = performance.now() - t0;
  scope.postMessage({ t: "checkpoint", busy: r.busy === 1, log, checkpointed, passes, ms });
  return large;
}

/** Ticks every `spacingMs`, or every `busyMs` while the WAL fills quickly. */
function every(spacingMs: number, busyMs: number, wait: number): void {
  timer = setTimeout(() => every(spacingMs, busyMs, tick() ? busyMs : spacingMs), wait);
}

scope.onmessage = (e) => {
  const m = e.data;
  if (m.t === "start") {
    try {
      db = new DatabaseSync(m.path);
      checkpoint = db.prepare("PRAGMA wal_checkpoint(PASSIVE)");
    } catch (e) {
      scope.postMessage({ t: "failed", error: describe(e) });
      return;
    }
    every(m.spacingMs, m.busySpacingMs, m.spacingMs);
    scope.postMessage({ t: "ready" });
  } else if (m.t === "stop") {
    clearTimeout(timer);
    try {
      db?.close();
    } catch {
      // the server checkpoints and closes its own connection next
    }
    const stopped = new Int32Array(m.stopped);
    Atomics.store(stopped, 0, 1);
    Atomics.notify(stopped, 0);
  }
};
