/**
 * The server's embedded database (`node:sqlite`, WAL mode, synchronous API): opening and
 * closing it, room topics, and one façade over its parts — room history and the group commit
 * (server/store_messages.ts), names (server/store_names.ts), bans and operators
 * (server/store_moderation.ts), quotas and expiry, private-room members and the DM queue. Every
 * method runs synchronously so the hub can call it in line.
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import { DEFAULT_LIMITS } from "../shared/limits.ts";
import { migrate } from "./schema.ts";
import { Upkeep } from "./upkeep.ts";
import { RoomMembers } from "./room_members.ts";
import { DmQueue } from "./dm_queue.ts";
import {
  execGuarded,
  guardStatement,
  type Statement,
  StorageError,
  toStorageError,
} from "./storage_error.ts";
import {
  type AppendResult,
  MessageLog,
  type NewMessage,
  type StoredMessage,
} from "./store_messages.ts";
import { type NameOwner, Names } from "./store_names.ts";
import { type Ban, Moderation } from "./store_moderation.ts";
import { type Row, str } from "./store_rows.ts";
import { Checkpointer, type CheckpointReport } from "./checkpoint.ts";

export { SCHEMA_VERSION } from "./schema.ts";
export { StorageError, toStorageError } from "./storage_error.ts";
export {
  type AppendResult,
  BATCH_MAX,
  type NewMessage,
  type StoredMessage,
} from "./store_messages.ts";
export type { NameOwner } from "./store_names.ts";
export type { Ban } from "./store_moderation.ts";

/** Options of {@linkcode Store.open}. */
export interface StoreOptions {
  /** Messages kept per room (older ones are pruned); an integer ≥ 1. Default 10,000. */
  historyKept?: number;
  /** Messages kept in all rooms together (the oldest anywhere are pruned). Default 500,000. */
  historyTotal?: number;
  /**
   * Largest database file in bytes (SQLite's `max_page_count`); a write beyond it fails with
   * `storage_full`. Default: no cap.
   */
  maxBytes?: number;
  /** Clock in milliseconds since the epoch, for ban expiry and claim times. Default `Date.now`. */
  now?: () => number;
  /** Told of every {@linkcode StorageError} before it is thrown (for the operator's warning). */
  onError?: (e: StorageError) => void;
  /**
   * Runs the commit of a batch of {@linkcode Store.append} calls later, once, instead of the
   * coalescing window. Tests may pass `(commit) => commit()` to commit each append at once.
   */
  schedule?: (commit: () => void) => void;
  /**
   * The group commit's coalescing window in ms, 0…1000 (see `MessageLogOptions.commitWindowMs`):
   * under load, commits come at most once per window. Default {@linkcode COMMIT_WINDOW_MS}.
   */
  commitWindowMs?: number;
  /**
   * Who checkpoints the WAL into the database file: `"connection"` (default), SQLite on this
   * connection after the commit that brings the WAL to 1,000 pages (a stall of the event loop);
   * `"worker"`, a worker with its own connection, off the event loop (server/checkpoint.ts).
   * Ignored for `":memory:"`.
   */
  checkpoints?: "connection" | "worker";
  /**
   * With `checkpoints: "worker"`: told of a failed checkpoint or a failed worker (no request
   * failed; the checkpoint is tried again). Default: `onError`.
   */
  onCheckpointError?: (e: StorageError) => void;
  /** With `checkpoints: "worker"`: told of each checkpoint (tests and measurements). */
  onCheckpoint?: (r: CheckpointReport) => void;
}

/**
 * Default coalescing window of the group commit, in ms: a message waits at most this long for
 * others to share its transaction and its records, and only when the previous commit was less
 * than this long ago (docs/benchmarks.md, "Message hot path").
 */
export const COMMIT_WINDOW_MS: number = DEFAULT_LIMITS.commitWindowMs;

/** Topics cached in memory at most (the cache is emptied when full). */
const TOPIC_CACHE = 4096;

/** Creates `path` with mode 0600 when it does not exist yet (the WAL files inherit the mode). */
function createPrivate(path: string): void {
  if (path === ":memory:" || path === "") return;
  try {
    Deno.openSync(path, { write: true, createNew: true, mode: 0o600 }).close();
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
  }
}

/** The server's database. Open with {@linkcode Store.open}; close with {@linkcode Store.close}. */
export class Store {
  readonly #db: DatabaseSync;
  readonly #now: () => number;
  readonly #onError: (e: StorageError) => void;
  readonly #log: MessageLog;
  readonly #names: Names;
  readonly #mod: Moderation;
  readonly #q: { setTopic: Statement; topic: Statement };
  readonly #topics = new Map<string, string>(); // bounded by TOPIC_CACHE
  #checkpointer: Checkpointer | undefined;
  /** Quotas and expiry on this database (see server/upkeep.ts). */
  readonly upkeep: Upkeep;
  /** Room kinds and the members of private rooms (see server/room_members.ts). */
  readonly members: RoomMembers;
  /** Private messages waiting for offline recipients, and identities' keys (server/dm_queue.ts). */
  readonly dmQueue: DmQueue;

  private constructor(
    db: DatabaseSync,
    kept: number,
    total: number,
    now: () => number,
    onError: (e: StorageError) => void,
    schedule: ((commit: () => void) => void) | undefined,
    commitWindowMs: number,
  ) {
    this.#db = db;
    this.#now = now;
    this.#onError = onError;
    const fail = (e: unknown) => this.#fail(e);
    this.#log = new MessageLog(db, { kept, total, fail, schedule, commitWindowMs });
    this.#names = new Names(db, now, fail);
    this.#mod = new Moderation(db, now, fail);
    this.upkeep = new Upkeep(db, {
      now,
      fail,
      removed: (rooms, bans) => {
        for (const room of rooms) this.#topics.delete(room);
        this.#log.forget(rooms);
        if (bans > 0) this.#mod.dropCache();
      },
    });
    this.dmQueue = new DmQueue(db, fail);
    this.members = new RoomMembers(db, now, fail);
    const p = (sql: string) => guardStatement(db.prepare(sql), fail);
    this.#q = {
      setTopic: p(
        "INSERT INTO rooms (room, topic, topic_by, updated) VALUES (?, ?, ?, ?) " +
          "ON CONFLICT (room) DO UPDATE SET topic = excluded.topic, " +
          "topic_by = excluded.topic_by, updated = excluded.updated",
      ),
      topic: p("SELECT topic FROM rooms WHERE room = ?"),
    };
  }

  /**
   * Opens (creating if needed, mode 0600) the database at `path`, or an in-memory one for
   * `":memory:"`; switches on WAL with `synchronous = NORMAL`: a commit survives a crash or kill
   * of the process as soon as the call returns (only an operating-system crash or power loss can
   * roll back the last commits), without an fsync per message, and creates or checks the schema.
   * Throws RangeError for a bad `historyKept` / `historyTotal` / `commitWindowMs` or a database
   * written by a newer schema version.
   */
  static open(path: string, options: StoreOptions = {}): Store {
    str(path, "path");
    const kept = options.historyKept ?? 10_000;
    if (typeof kept !== "number") throw new TypeError("historyKept must be a number");
    if (!Number.isSafeInteger(kept) || kept < 1) {
      throw new RangeError("historyKept must be an integer >= 1");
    }
    const total = options.historyTotal ?? 500_000;
    if (!Number.isSafeInteger(total) || total < 1) {
      throw new RangeError("historyTotal must be an integer >= 1");
    }
    const now = options.now ?? Date.now;
    if (typeof now !== "function") throw new TypeError("now must be a function");
    const onError = options.onError ?? (() => {});
    const schedule = options.schedule;
    if (schedule !== undefined && typeof schedule !== "function") {
      throw new TypeError("schedule must be a function");
    }
    const commitWindowMs = options.commitWindowMs ?? COMMIT_WINDOW_MS;
    if (typeof commitWindowMs !== "number") throw new TypeError("commitWindowMs must be a number");
    if (!(commitWindowMs >= 0 && commitWindowMs <= 1000)) {
      throw new RangeError("commitWindowMs must be between 0 and 1000");
    }
    createPrivate(path);
    const db = new DatabaseSync(path);
    try {
      db.exec("PRAGMA journal_mode = WAL");
      db.exec("PRAGMA synchronous = NORMAL");
      db.exec("PRAGMA busy_timeout = 5000");
      migrate(db, now());
      if (options.maxBytes !== undefined) {
        if (!Number.isSafeInteger(options.maxBytes) || options.maxBytes < 1) {
          throw new RangeError("maxBytes must be a positive integer");
        }
        const page = (db.prepare("PRAGMA page_size").get() as Row).page_size as number;
        const pages = Math.max(1, Math.floor(options.maxBytes / page));
        db.exec(`PRAGMA max_page_count = ${pages}`);
      }
      // Without the worker, a checkpoint (two fsyncs, on the event loop) once the WAL holds
      // SQLite's 1,000 pages: every 4,096 pages made each one a longer stall and doubled the p99
      // latency of a paced room (docs/benchmarks.md, "Checkpoint size and latency"); the WAL
      // file is cut back to 16 MiB when it starts over.
      db.exec("PRAGMA wal_autocheckpoint = 1000");
      db.exec("PRAGMA journal_size_limit = 16777216");
      const store = new Store(db, kept, total, now, onError, schedule, commitWindowMs);
      const checkpoints = options.checkpoints ?? "connection";
      if (checkpoints !== "connection" && checkpoints !== "worker") {
        throw new RangeError('checkpoints must be "connection" or "worker"');
      }
      if (checkpoints === "worker" && path !== ":memory:" && path !== "") {
        store.#checkpointer = new Checkpointer(db, path, {
          onError: (e) => store.#checkpointFailed(e, options.onCheckpointError ?? onError),
          onCheckpoint: options.onCheckpoint,
        });
      }
      return store;
    } catch (e) {
      db.close();
      throw e;
    }
  }

  /**
   * Commits pending {@linkcode append}s, stops the checkpoint worker (waiting for a checkpoint
   * in progress), checkpoints the WAL into the main file and closes; a failed checkpoint (full
   * or read-only storage) is reported to `onError` and the WAL is left for the next start.
   * Calling it again does nothing.
   */
  close(): void {
    if (!this.#db.isOpen) return;
    this.#log.close();
    this.#checkpointer?.stop();
    try {
      execGuarded(this.#db, "PRAGMA wal_checkpoint(TRUNCATE)", (e) => this.#fail(e));
    } catch {
      // reported; the committed data is safe in the WAL
    } finally {
      this.#db.close();
    }
  }

  /** See {@linkcode Names.ownerOf}. */
  ownerOf(key: string): NameOwner | undefined {
    return this.#names.ownerOf(key);
  }

  /** See {@linkcode Names.claimName}. */
  claimName(
    key: string,
    displayName: string,
    fingerprint: string,
  ): "claimed" | "owned_by_you" | "owned_by_other" {
    return this.#names.claimName(key, displayName, fingerprint);
  }

  /** See {@linkcode Names.namesOwnedBy}. */
  namesOwnedBy(fingerprint: string): number {
    return this.#names.namesOwnedBy(fingerprint);
  }

  /** See {@linkcode Names.releaseName}. */
  releaseName(key: string, fingerprint: string): boolean {
    return this.#names.releaseName(key, fingerprint);
  }

  /** See {@linkcode MessageLog.appendMessage}. */
  appendMessage(m: NewMessage): StoredMessage {
    return this.#log.appendMessage(m);
  }

  /** See {@linkcode MessageLog.append} (group commit). */
  append(m: NewMessage, done: (r: AppendResult) => void): void {
    this.#log.append(m, done);
  }

  /** See {@linkcode MessageLog.flush}. */
  flush(): void {
    this.#log.flush();
  }

  /** See {@linkcode MessageLog.pruneOldest}. */
  pruneOldest(n: number): number {
    return this.#log.pruneOldest(n);
  }

  /** See {@linkcode MessageLog.lastSeq}. */
  lastSeq(room: string): number {
    return this.#log.lastSeq(room);
  }

  /** See {@linkcode MessageLog.recent}. */
  recent(room: string, n: number): StoredMessage[] {
    return this.#log.recent(room, n);
  }

  /** See {@linkcode MessageLog.after}. */
  after(room: string, seq: number, max: number): StoredMessage[] {
    return this.#log.after(room, seq, max);
  }

  /** See {@linkcode MessageLog.findById}. */
  findById(senderFp: string, id: string): StoredMessage | undefined {
    return this.#log.findById(senderFp, id);
  }

  /** Sets the room's topic (`""` clears it) and who set it. */
  setTopic(room: string, topic: string, by: string): void {
    this.#q.setTopic.run(str(room, "room"), str(topic, "topic"), str(by, "by"), this.#now());
    if (this.#topics.size >= TOPIC_CACHE) this.#topics.clear();
    this.#topics.set(room, topic);
  }

  /** The room's topic, or `""` when none (read through a small in-memory cache). */
  topic(room: string): string {
    let t = this.#topics.get(str(room, "room"));
    if (t === undefined) {
      const r = this.#q.topic.get(room) as Row | undefined;
      t = r === undefined ? "" : r.topic as string;
      if (this.#topics.size >= TOPIC_CACHE) this.#topics.clear();
      this.#topics.set(room, t);
    }
    return t;
  }

  /** See {@linkcode Moderation.addBan}. */
  addBan(b: Ban): void {
    this.#mod.addBan(b);
  }

  /** See {@linkcode Moderation.removeBan}. */
  removeBan(target: string): boolean {
    return this.#mod.removeBan(target);
  }

  /** See {@linkcode Moderation.bans}. */
  bans(): Ban[] {
    return this.#mod.bans();
  }

  /** See {@linkcode Moderation.addOp}. */
  addOp(fingerprint: string): void {
    this.#mod.addOp(fingerprint);
  }

  /** See {@linkcode Moderation.removeOp}. */
  removeOp(fingerprint: string): boolean {
    return this.#mod.removeOp(fingerprint);
  }

  /** See {@linkcode Moderation.isOp}. */
  isOp(fingerprint: string): boolean {
    return this.#mod.isOp(fingerprint);
  }

  /** Reports a failure of the checkpoint worker as a {@linkcode StorageError}. */
  #checkpointFailed(e: unknown, report: (e: StorageError) => void): void {
    const mapped = toStorageError(e);
    report(
      mapped instanceof StorageError ? mapped : new StorageError(
        "internal",
        "The server's storage failed to checkpoint its write-ahead log.",
        { cause: e },
      ),
    );
  }

  /** Maps `e` with {@linkcode toStorageError}, reporting a storage failure. */
  #fail(e: unknown): unknown {
    const mapped = toStorageError(e);
    if (mapped instanceof StorageError) this.#onError(mapped);
    return mapped;
  }
}
