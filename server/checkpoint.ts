/**
 * WAL checkpoints off the event loop: a worker (server/checkpoint_worker.ts) with its own
 * connection to the database runs a PASSIVE checkpoint every {@linkcode CHECKPOINT_SPACING_MS}
 * (half of that while the WAL fills quickly) while the server's connection has
 * `wal_autocheckpoint = 0`. Its bounds:
 *
 * - A PASSIVE checkpoint never blocks the writer, so commits landing while it runs stay in the
 *   WAL, and SQLite only starts the WAL over when a write begins after a complete checkpoint:
 *   once the WAL holds 1,024 pages, the worker checkpoints again at once while commits landed
 *   during its previous pass (a few passes at most). When a checkpoint still reports
 *   {@linkcode WAL_BOUND_PAGES} frames or more, the server's own connection checkpoints at once,
 *   between two commits (one stall, as before, but only then): the next write then starts the
 *   WAL over.
 * - A worker that fails to start or stops with an error is reported (as a `StorageError` by
 *   the caller) and the server's connection goes back to SQLite's checkpoint every 1,000
 *   pages. A failed checkpoint is reported and tried again at the next tick.
 * - {@linkcode Checkpointer.stop} lets the worker close its connection (waiting at most
 *   {@linkcode STOP_WAIT_MS}), then terminates it.
 * @module
 */

import type { DatabaseSync } from "node:sqlite";

/** Time between two checkpoints of the worker, in ms. */
export const CHECKPOINT_SPACING_MS = 1000;

/**
 * While the WAL fills quickly (a checkpoint found 1,024 pages or more), the next checkpoint comes
 * after the spacing divided by this.
 */
export const BUSY_SPACING_DIVISOR = 2;

/** WAL frames (pages) from which the server's connection checkpoints itself. */
export const WAL_BOUND_PAGES = 4096;

/** Longest wait in {@linkcode Checkpointer.stop} for the worker to close its connection, ms. */
export const STOP_WAIT_MS = 5000;

/** A database error as it crosses the thread boundary (the fields `toStorageError` reads). */
export interface WorkerError {
  message: string;
  code?: string;
  errcode?: number;
}

/** Messages to the worker. */
export type ToWorker =
  | { t: "start"; path: string; spacingMs: number; busySpacingMs: number }
  | { t: "stop"; stopped: SharedArrayBuffer };

/** Messages from the worker. */
export type FromWorker =
  | { t: "ready" }
  | { t: "failed"; error: WorkerError }
  | { t: "error"; error: WorkerError }
  | {
    t: "checkpoint";
    busy: boolean;
    log: number;
    checkpointed: number;
    passes: number;
    ms: number;
  };

/** One checkpoint as reported to {@linkcode CheckpointerOptions.onCheckpoint}. */
export interface CheckpointReport {
  /** `"worker"`, or `"server"` when the server's connection checkpointed past the bound. */
  by: "worker" | "server";
  /** Frames in the WAL when it ran. */
  log: number;
  /** Frames copied into the database file (all of them when it completed). */
  checkpointed: number;
  /** Checkpoints run one after the other (see server/checkpoint_worker.ts). */
  passes: number;
  /** How long it took on its thread, ms. */
  ms: number;
}

/** Options of {@linkcode Checkpointer}. */
export interface CheckpointerOptions {
  /** Told of every failure: the database's error (to map with `toStorageError`), or an Error. */
  onError: (e: unknown) => void;
  /** Told of every checkpoint that copied something or found the WAL changed. */
  onCheckpoint?: (r: CheckpointReport) => void;
  /** Default {@linkcode CHECKPOINT_SPACING_MS}. */
  spacingMs?: number;
  /** Default {@linkcode WAL_BOUND_PAGES}. */
  boundPages?: number;
}

/** The worker that checkpoints one database's WAL; see the module doc. */
export class Checkpointer {
  readonly #db: DatabaseSync;
  readonly #worker: Worker;
  readonly #o: CheckpointerOptions;
  readonly #bound: number;
  #state: "running" | "failed" | "stopped" = "running";

  /**
   * Switches `db` (the server's connection to the file `path`, in WAL mode) to
   * `wal_autocheckpoint = 0` and starts the worker. Throws RangeError for a bad option.
   */
  constructor(db: DatabaseSync, path: string, o: CheckpointerOptions) {
    const spacingMs = o.spacingMs ?? CHECKPOINT_SPACING_MS;
    if (!Number.isSafeInteger(spacingMs) || spacingMs < 1) {
      throw new RangeError("spacingMs must be an integer >= 1");
    }
    this.#bound = o.boundPages ?? WAL_BOUND_PAGES;
    if (!Number.isSafeInteger(this.#bound) || this.#bound < 1) {
      throw new RangeError("boundPages must be an integer >= 1");
    }
    this.#db = db;
    this.#o = o;
    db.exec("PRAGMA wal_autocheckpoint = 0");
    this.#worker = new Worker(new URL("./checkpoint_worker.ts", import.meta.url).href, {
      type: "module",
    });
    this.#worker.onmessage = (e: MessageEvent<FromWorker>) => this.#onMessage(e.data);
    this.#worker.onerror = (e) => {
      e.preventDefault();
      this.#failed(new Error(`WAL checkpoint worker: ${e.message}`));
    };
    this.#worker.onmessageerror = () =>
      this.#failed(new Error("WAL checkpoint worker: bad message"));
    const busySpacingMs = Math.max(1, Math.floor(spacingMs / BUSY_SPACING_DIVISOR));
    this.#post({ t: "start", path, spacingMs, busySpacingMs });
  }

  /** True while the worker checkpoints (not after a failure or {@linkcode stop}). */
  get running(): boolean {
    return this.#state === "running";
  }

  /**
   * Lets the worker close its connection (waiting at most {@linkcode STOP_WAIT_MS}: a checkpoint
   * in progress finishes first), then terminates it. Call before closing `db`; calling it again
   * does nothing.
   */
  stop(): void {
    if (this.#state !== "running") {
      this.#state = "stopped";
      return;
    }
    this.#state = "stopped";
    const stopped = new SharedArrayBuffer(4);
    this.#post({ t: "stop", stopped });
    Atomics.wait(new Int32Array(stopped), 0, 0, STOP_WAIT_MS);
    this.#worker.terminate();
  }

  #post(m: ToWorker): void {
    this.#worker.postMessage(m);
  }

  #onMessage(m: FromWorker): void {
    if (this.#state !== "running") return;
    if (m.t === "failed") this.#failed(toError(m.error, "cannot start"));
    else if (m.t === "error") this.#o.onError(toError(m.error, "failed"));
    else if (m.t === "checkpoint") {
      const { log, checkpointed, passes, ms } = m;
      this.#o.onCheckpoint?.({ by: "worker", log, checkpointed, passes, ms });
      if (log >= this.#bound) this.#catchUp();
    }
  }

  /**
   * The WAL passed the bound (commits kept landing during the worker's checkpoints, so SQLite
   * never started it over): checkpoint on the server's connection, between two commits.
   */
  #catchUp(): void {
    const t0 = performance.now();
    try {
      const r = this.#db.prepare("PRAGMA wal_checkpoint(PASSIVE)").get() as Record<
        string,
        number
      >;
      this.#o.onCheckpoint?.({
        by: "server",
        log: r.log,
        checkpointed: r.checkpointed,
        passes: 1,
        ms: performance.now() - t0,
      });
    } catch (e) {
      this.#o.onError(e);
    }
  }

  /** Reports `e`, stops the worker and hands checkpoints back to the server's connection. */
  #failed(e: unknown): void {
    if (this.#state !== "running") return;
    this.#state = "failed";
    this.#worker.terminate();
    this.#o.onError(e);
    try {
      this.#db.exec("PRAGMA wal_autocheckpoint = 1000");
    } catch (e) {
      this.#o.onError(e);
    }
  }
}

/** An Error with the fields of the database error `w` (so `toStorageError` maps it). */
function toError(w: WorkerError, what: string): Error {
  const e = new Error(`WAL checkpoint ${what}: ${w.message}`) as Error & WorkerError;
  if (w.code !== undefined) e.code = w.code;
  if (w.errcode !== undefined) e.errcode = w.errcode;
  return e;
}
