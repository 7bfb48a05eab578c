/**
 * The server's embedded database (`node:sqlite`, WAL mode, synchronous API): the names
 * registry, room history with a persisted per-room `seq`, message-id deduplication, room
 * topics, bans and operators. Every method runs synchronously so the hub can call it in line.
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import { ProtocolError } from "../shared/errors.ts";
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
  transaction,
} from "./storage_error.ts";

export { SCHEMA_VERSION } from "./schema.ts";
export { StorageError, toStorageError } from "./storage_error.ts";

/** A room message as kept in the history. */
export interface StoredMessage {
  /** Room name, e.g. `#lobby`. */
  room: string;
  /** Per-room sequence number: starts at 1, strictly increasing, never reused. */
  seq: number;
  /** Server time in milliseconds since the epoch. */
  ts: number;
  /** Sender's display name. */
  from: string;
  /** Message text. */
  text: string;
  /** True for a `/me` action. */
  me: boolean;
  /** The client-chosen message id (`""` for messages that carry none). */
  id: string;
  /** A private room's sealed line or sender key (`text` is then its base64 envelope). */
  sealed?: "line" | "key";
  /** A sender key's recipient identity: only it is sent the message. */
  to?: string;
}

/** A ban on a name key, an identity fingerprint or an IP address. */
export interface Ban {
  /** What is banned: a case-folded name key, a fingerprint or an IP address. */
  target: string;
  /** The kind of `target`. */
  kind: "name" | "fingerprint" | "ip";
  /** Who issued the ban. */
  by: string;
  /** Why. */
  reason: string;
  /** Creation time, milliseconds since the epoch. */
  created: number;
  /** Expiry time in milliseconds since the epoch, or null for a permanent ban. */
  expires: number | null;
}

/** The identity that owns a registered name. */
export interface NameOwner {
  /** The display name as first claimed. */
  name: string;
  /** Owner's identity fingerprint. */
  fingerprint: string;
  /** Claim time, milliseconds since the epoch. */
  created: number;
  /** When the name was last noted as used (see `Upkeep.touchName`), ms since the epoch. */
  lastUsed: number;
}

/** Input of {@linkcode Store.appendMessage}: a message without `seq`, plus the sender identity. */
export type NewMessage = Omit<StoredMessage, "seq"> & {
  /** Sender identity fingerprint, the scope of `id` for deduplication. */
  senderFp: string;
};

/** What {@linkcode Store.append} hands its callback once the message's batch is settled. */
export type AppendResult =
  /** Stored and committed (`duplicate` false), or a repeat of a kept id: the original message. */
  | { ok: true; message: StoredMessage; duplicate: boolean }
  /** The batch failed to commit (a {@linkcode StorageError}): nothing of it was stored. */
  | { ok: false; error: Error };

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
   * Runs the commit of a batch of {@linkcode Store.append} calls later, once; default
   * `queueMicrotask` (one transaction for the appends of one event-loop turn). Tests may pass
   * `(commit) => commit()` to commit each append at once.
   */
  schedule?: (commit: () => void) => void;
}

/** Appends waiting for one commit at most; one more commits the batch at once. */
export const BATCH_MAX = 1024;

interface Pending {
  m: NewMessage;
  done: (r: AppendResult) => void;
  result?: AppendResult;
}

/** Topics cached in memory at most (the cache is emptied when full). */
const TOPIC_CACHE = 4096;

const MESSAGE_COLUMNS = "room, seq, ts, sender, text, me, id, kind, to_fp";
const KINDS = { line: 1, key: 2 } as const;
const BAN_KINDS: ReadonlySet<string> = new Set(["name", "fingerprint", "ip"]);

type Row = Record<string, unknown>;

function str(value: unknown, what: string): string {
  if (typeof value !== "string") throw new TypeError(`${what} must be a string`);
  return value;
}

function num(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new TypeError(`${what} must be a finite number`);
  }
  return value;
}

function count(value: unknown, what: string): number {
  if (typeof value !== "number") throw new TypeError(`${what} must be a number`);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${what} must be a non-negative integer`);
  }
  return value;
}

function toMessage(r: Row): StoredMessage {
  const m: StoredMessage = {
    room: r.room as string,
    seq: r.seq as number,
    ts: r.ts as number,
    from: r.sender as string,
    text: r.text as string,
    me: r.me === 1,
    id: r.id as string,
  };
  if (r.kind === 1) m.sealed = "line";
  if (r.kind === 2) m.sealed = "key";
  if (r.to_fp !== "") m.to = r.to_fp as string;
  return m;
}

function toBan(r: Row): Ban {
  return {
    target: r.target as string,
    kind: r.kind as Ban["kind"],
    by: r.by as string,
    reason: r.reason as string,
    created: r.created as number,
    expires: r.expires === null ? null : r.expires as number,
  };
}

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
  readonly #kept: number;
  readonly #total: number;
  #count: number; // messages stored now
  readonly #now: () => number;
  readonly #q: Record<string, Statement>;
  readonly #onError: (e: StorageError) => void;
  #bans: Ban[] | undefined; // cache of every stored ban, dropped on each change
  readonly #topics = new Map<string, string>(); // bounded by TOPIC_CACHE
  /** Quotas and expiry on this database (see server/upkeep.ts). */
  readonly upkeep: Upkeep;
  /** Room kinds and the members of private rooms (see server/room_members.ts). */
  readonly members: RoomMembers;
  /** Private messages waiting for offline recipients, and identities' keys (server/dm_queue.ts). */
  readonly dmQueue: DmQueue;
  readonly #schedule: (commit: () => void) => void;
  #batch: Pending[] = []; // appends waiting for the next commit, at most BATCH_MAX
  #scheduled = false;

  private constructor(
    db: DatabaseSync,
    kept: number,
    total: number,
    now: () => number,
    onError: (e: StorageError) => void,
    schedule: (commit: () => void) => void,
  ) {
    this.#db = db;
    this.#schedule = schedule;
    this.#onError = onError;
    this.#kept = kept;
    this.#total = total;
    this.#count = (db.prepare("SELECT COUNT(*) AS n FROM messages").get() as Row).n as number;
    this.upkeep = new Upkeep(db, {
      now,
      fail: (e) => this.#fail(e),
      removed: (rooms, bans) => {
        for (const room of rooms) this.#topics.delete(room);
        if (bans > 0) this.#bans = undefined;
      },
    });
    this.dmQueue = new DmQueue(db, (e) => this.#fail(e));
    this.#now = now;
    this.members = new RoomMembers(db, now, (e) => this.#fail(e));
    const p = (sql: string) => guardStatement(db.prepare(sql), (e) => this.#fail(e));
    this.#q = {
      ownerOf: p("SELECT display, fingerprint, created, last_used FROM names WHERE key = ?"),
      namesOf: p("SELECT COUNT(*) AS n FROM names WHERE fingerprint = ?"),
      insertName: p(
        "INSERT INTO names (key, display, fingerprint, created, last_used) " +
          "VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
      ),
      releaseName: p("DELETE FROM names WHERE key = ? AND fingerprint = ?"),
      setSeq: p(
        "INSERT INTO rooms (room, last_seq) VALUES (?, ?) " +
          "ON CONFLICT (room) DO UPDATE SET last_seq = excluded.last_seq",
      ),
      // A kept (sender_fp, id) makes this a no-op: the duplicate check costs no extra query.
      insertMessage: p(
        "INSERT INTO messages (room, seq, ts, sender, text, me, id, sender_fp, kind, to_fp) " +
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) " +
          "ON CONFLICT (sender_fp, id) WHERE id <> '' DO NOTHING",
      ),
      prune: p("DELETE FROM messages WHERE room = ? AND seq <= ?"),
      pruneOldest: p(
        "DELETE FROM messages WHERE (room, seq) IN " +
          "(SELECT room, seq FROM messages ORDER BY ts, room, seq LIMIT ?)",
      ),
      lastSeq: p("SELECT last_seq FROM rooms WHERE room = ?"),
      recent: p(
        `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE room = ? ORDER BY seq DESC LIMIT ?`,
      ),
      after: p(
        `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE room = ? AND seq > ? ORDER BY seq LIMIT ?`,
      ),
      findById: p(
        `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE sender_fp = ? AND id = ? AND id <> ''`,
      ),
      setTopic: p(
        "INSERT INTO rooms (room, topic, topic_by, updated) VALUES (?, ?, ?, ?) " +
          "ON CONFLICT (room) DO UPDATE SET topic = excluded.topic, " +
          "topic_by = excluded.topic_by, updated = excluded.updated",
      ),
      topic: p("SELECT topic FROM rooms WHERE room = ?"),
      addBan: p(
        "INSERT OR REPLACE INTO bans (target, kind, by, reason, created, expires) " +
          "VALUES (?, ?, ?, ?, ?, ?)",
      ),
      removeBan: p("DELETE FROM bans WHERE target = ?"),
      bans: p(
        "SELECT target, kind, by, reason, created, expires FROM bans " +
          "WHERE expires IS NULL OR expires > ? ORDER BY created, target",
      ),
      addOp: p("INSERT OR IGNORE INTO ops (fingerprint) VALUES (?)"),
      removeOp: p("DELETE FROM ops WHERE fingerprint = ?"),
      isOp: p("SELECT 1 AS x FROM ops WHERE fingerprint = ?"),
    };
  }

  /**
   * Opens (creating if needed, mode 0600) the database at `path`, or an in-memory one for
   * `":memory:"`; switches on WAL with `synchronous = NORMAL`: a commit survives a crash or kill
   * of the process as soon as the call returns (only an operating-system crash or power loss can
   * roll back the last commits), without an fsync per message, and creates or checks the schema.
   * Throws RangeError for a bad `historyKept` / `historyTotal` or a database written by a newer
   * schema version.
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
    const schedule = options.schedule ?? queueMicrotask;
    if (typeof schedule !== "function") throw new TypeError("schedule must be a function");
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
      // The WAL file is cut back to this size after each checkpoint.
      db.exec("PRAGMA journal_size_limit = 16777216");
      return new Store(db, kept, total, now, onError, schedule);
    } catch (e) {
      db.close();
      throw e;
    }
  }

  /**
   * Commits pending {@linkcode append}s, checkpoints the WAL into the main file and closes; a failed checkpoint (full or read-only
   * storage) is reported to `onError` and the WAL is left for the next start. Calling it again
   * does nothing.
   */
  close(): void {
    if (!this.#db.isOpen) return;
    this.flush();
    try {
      execGuarded(this.#db, "PRAGMA wal_checkpoint(TRUNCATE)", (e) => this.#fail(e));
    } catch {
      // reported; the committed data is safe in the WAL
    } finally {
      this.#db.close();
    }
  }

  /** The owner of the name with case-folded `key`, or undefined when nobody owns it. */
  ownerOf(key: string): NameOwner | undefined {
    const r = this.#q.ownerOf.get(str(key, "key")) as Row | undefined;
    if (r === undefined) return undefined;
    return {
      name: r.display as string,
      fingerprint: r.fingerprint as string,
      created: r.created as number,
      lastUsed: r.last_used as number,
    };
  }

  /**
   * Claims the name with case-folded `key` for `fingerprint`, atomically; the first identity to
   * claim a name owns it. The claim is committed before this returns. An existing owner's stored
   * display name is left unchanged; a name already owned costs one read, no write.
   */
  claimName(
    key: string,
    displayName: string,
    fingerprint: string,
  ): "claimed" | "owned_by_you" | "owned_by_other" {
    str(key, "key");
    str(displayName, "displayName");
    str(fingerprint, "fingerprint");
    const owner = this.ownerOf(key);
    if (owner !== undefined) {
      return owner.fingerprint === fingerprint ? "owned_by_you" : "owned_by_other";
    }
    const now = this.#now();
    const inserted = this.#q.insertName.run(key, displayName, fingerprint, now, now);
    if (inserted.changes === 1) return "claimed";
    return this.ownerOf(key)?.fingerprint === fingerprint ? "owned_by_you" : "owned_by_other";
  }

  /** How many names `fingerprint` owns. */
  namesOwnedBy(fingerprint: string): number {
    return (this.#q.namesOf.get(str(fingerprint, "fingerprint")) as Row).n as number;
  }

  /** Frees the name with case-folded `key` if `fingerprint` owns it; true when it was released. */
  releaseName(key: string, fingerprint: string): boolean {
    const r = this.#q.releaseName.run(str(key, "key"), str(fingerprint, "fingerprint"));
    return r.changes === 1;
  }

  /**
   * Appends a message with the room's next `seq` (last + 1) and prunes the room to the
   * newest `historyKept` messages, in one transaction committed before this returns (pending
   * {@linkcode append}s commit first, in order). A non-empty `id` must be new for `senderFp`:
   * a repeat throws `ProtocolError("duplicate_id")` and stores nothing. Returns the stored
   * message; throws what the database throws.
   */
  appendMessage(m: NewMessage): StoredMessage {
    let r: AppendResult | undefined;
    this.#queue(m, (x) => r = x);
    this.flush();
    if (!r!.ok) throw r!.error;
    if (r!.duplicate) {
      throw new ProtocolError("duplicate_id", "message id already used by this identity");
    }
    return r!.message;
  }

  /**
   * Group commit: adds the message to the current batch, which is stored in one transaction
   * when the `schedule` option runs it (by default after this event-loop turn's appends), or at
   * once when {@linkcode BATCH_MAX} appends wait. Then `done` is called, in append order, with
   * the stored message, or with the original one when `id` repeats a kept id of `senderFp`
   * (nothing is stored), or with the error that failed the whole batch (nothing of it is
   * stored). `done` is never called before this returns (unless `schedule` commits at once) and
   * must not throw. Throws TypeError at once for a malformed message.
   */
  append(m: NewMessage, done: (r: AppendResult) => void): void {
    if (typeof done !== "function") throw new TypeError("done must be a function");
    this.#queue(m, done);
    if (this.#batch.length >= BATCH_MAX) this.flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      this.#schedule(() => this.flush());
    }
  }

  /** Commits the pending {@linkcode append}s now, then calls their callbacks. */
  flush(): void {
    this.#scheduled = false;
    const batch = this.#batch;
    if (batch.length === 0) return;
    this.#batch = [];
    let count = this.#count; // committed below only if the transaction is
    try {
      transaction(this.#db, (e) => this.#fail(e), () => {
        const seqs = new Map<string, number>(); // room → last seq, for this batch
        for (const p of batch) {
          const { m } = p;
          let last = seqs.get(m.room);
          if (last === undefined) last = this.lastSeq(m.room);
          const seq = last + 1;
          const r = this.#q.insertMessage.run(
            m.room,
            seq,
            m.ts,
            m.from,
            m.text,
            m.me ? 1 : 0,
            m.id,
            m.senderFp,
            m.sealed === undefined ? 0 : KINDS[m.sealed],
            m.to ?? "",
          );
          if (r.changes === 0) {
            const prev = this.#q.findById.get(m.senderFp, m.id) as Row;
            p.result = { ok: true, message: toMessage(prev), duplicate: true };
            continue;
          }
          seqs.set(m.room, seq);
          count++;
          if (seq > this.#kept) {
            count -= Number(this.#q.prune.run(m.room, seq - this.#kept).changes);
          }
          if (count > this.#total) {
            count -= Number(this.#q.pruneOldest.run(count - this.#total).changes);
          }
          const message: StoredMessage = {
            room: m.room,
            seq,
            ts: m.ts,
            from: m.from,
            text: m.text,
            me: m.me,
            id: m.id,
          };
          if (m.sealed !== undefined) message.sealed = m.sealed;
          if (m.to !== undefined) message.to = m.to;
          p.result = { ok: true, message, duplicate: false };
        }
        for (const [room, seq] of seqs) this.#q.setSeq.run(room, seq);
      });
      this.#count = count;
    } catch (e) {
      const mapped = toStorageError(e);
      const error = mapped instanceof Error ? mapped : new Error(String(mapped));
      for (const p of batch) p.result = { ok: false, error };
    }
    for (const p of batch) p.done(p.result!);
  }

  /** Checks `m` and adds it to the batch (copied: later changes to `m` do not matter). */
  #queue(m: NewMessage, done: (r: AppendResult) => void): void {
    if (typeof m !== "object" || m === null) throw new TypeError("message must be an object");
    if (typeof m.me !== "boolean") throw new TypeError("me must be a boolean");
    const copy: NewMessage = {
      room: str(m.room, "room"),
      ts: num(m.ts, "ts"),
      from: str(m.from, "from"),
      text: str(m.text, "text"),
      me: m.me,
      id: str(m.id, "id"),
      senderFp: str(m.senderFp, "senderFp"),
    };
    if (m.sealed !== undefined) {
      if (m.sealed !== "line" && m.sealed !== "key") throw new TypeError("bad sealed kind");
      copy.sealed = m.sealed;
    }
    if (m.to !== undefined) copy.to = str(m.to, "to");
    this.#batch.push({ m: copy, done });
  }

  /**
   * Commits pending appends, then removes the `n` oldest messages anywhere (to make room under
   * the database cap); returns how many there were.
   */
  pruneOldest(n: number): number {
    this.flush();
    const removed = Number(this.#q.pruneOldest.run(count(n, "n")).changes);
    this.#count -= removed;
    return removed;
  }

  /** The room's last assigned `seq`, or 0 when it has none; survives pruning and restarts. */
  lastSeq(room: string): number {
    const r = this.#q.lastSeq.get(str(room, "room")) as Row | undefined;
    return r === undefined ? 0 : r.last_seq as number;
  }

  /** The room's last `n` kept messages, oldest first. */
  recent(room: string, n: number): StoredMessage[] {
    const rows = this.#q.recent.all(str(room, "room"), count(n, "n")) as Row[];
    return rows.map(toMessage).reverse();
  }

  /** At most `max` kept messages of the room with `seq` greater than `seq`, oldest first. */
  after(room: string, seq: number, max: number): StoredMessage[] {
    const rows = this.#q.after.all(str(room, "room"), num(seq, "seq"), count(max, "max")) as Row[];
    return rows.map(toMessage);
  }

  /**
   * The kept message that `senderFp` sent with client id `id`, or undefined (always for an empty
   * `id`). Ids are remembered as long as their message is kept in the history.
   */
  findById(senderFp: string, id: string): StoredMessage | undefined {
    const r = this.#q.findById.get(str(senderFp, "senderFp"), str(id, "id")) as Row | undefined;
    return r === undefined ? undefined : toMessage(r);
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

  /** Adds a ban, replacing any ban on the same `target`. */
  addBan(b: Ban): void {
    if (typeof b !== "object" || b === null) throw new TypeError("ban must be an object");
    if (typeof b.kind !== "string" || !BAN_KINDS.has(b.kind)) {
      throw new TypeError("kind must be name, fingerprint or ip");
    }
    const expires = b.expires === null ? null : num(b.expires, "expires");
    this.#bans = undefined;
    this.#q.addBan.run(
      str(b.target, "target"),
      b.kind,
      str(b.by, "by"),
      str(b.reason, "reason"),
      num(b.created, "created"),
      expires,
    );
  }

  /** Removes the ban on `target`; true when there was one (expired or not). */
  removeBan(target: string): boolean {
    this.#bans = undefined;
    return this.#q.removeBan.run(str(target, "target")).changes === 1;
  }

  /** The bans in force now (expired ones omitted), oldest first. */
  bans(): Ban[] {
    const now = this.#now();
    this.#bans ??= (this.#q.bans.all(Number.MIN_SAFE_INTEGER) as Row[]).map(toBan);
    return this.#bans.filter((b) => b.expires === null || b.expires > now).map((b) => ({ ...b }));
  }

  /** Makes `fingerprint` an operator (idempotent). */
  addOp(fingerprint: string): void {
    this.#q.addOp.run(str(fingerprint, "fingerprint"));
  }

  /** Removes `fingerprint` from the operators; true when it was one. */
  removeOp(fingerprint: string): boolean {
    return this.#q.removeOp.run(str(fingerprint, "fingerprint")).changes === 1;
  }

  /** True when `fingerprint` was made an operator with {@linkcode addOp}. */
  isOp(fingerprint: string): boolean {
    return this.#q.isOp.get(str(fingerprint, "fingerprint")) !== undefined;
  }

  /** Maps `e` with {@linkcode toStorageError}, reporting a storage failure. */
  #fail(e: unknown): unknown {
    const mapped = toStorageError(e);
    if (mapped instanceof StorageError) this.#onError(mapped);
    return mapped;
  }
}
