/**
 * Room history in the server's database: messages with a persisted per-room `seq`, message-id
 * deduplication, pruning to the configured bounds, and the group commit that stores the appends
 * of one event-loop turn in one transaction.
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { ProtocolError } from "../shared/errors.ts";
import { count, num, type Row, str } from "./store_rows.ts";
import { guardStatement, type Statement, toStorageError, transaction } from "./storage_error.ts";

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

/** Input of {@linkcode MessageLog.appendMessage}: a message without `seq`, plus the sender. */
export type NewMessage = Omit<StoredMessage, "seq"> & {
  /** Sender identity fingerprint, the scope of `id` for deduplication. */
  senderFp: string;
};

/** What {@linkcode MessageLog.append} hands its callback once the message's batch is settled. */
export type AppendResult =
  /** Stored and committed (`duplicate` false), or a repeat of a kept id: the original message. */
  | { ok: true; message: StoredMessage; duplicate: boolean }
  /** The batch failed to commit (a `StorageError`): nothing of it was stored. */
  | { ok: false; error: Error };

/** Appends waiting for one commit at most; one more commits the batch at once. */
export const BATCH_MAX = 1024;

/** How a {@linkcode MessageLog} is set up (see `StoreOptions` in server/store.ts). */
export interface MessageLogOptions {
  /** Messages kept per room; an integer ≥ 1. */
  kept: number;
  /** Messages kept in all rooms together. */
  total: number;
  /** Maps a database error to what to throw (and reports it). */
  fail: (e: unknown) => unknown;
  /**
   * Runs the commit of a batch later, once; when given, `commitWindowMs` is not used (tests pass
   * `(commit) => commit()` or keep the commits to run them by hand).
   */
  schedule?: (commit: () => void) => void;
  /**
   * The coalescing window, in ms (≥ 0): a batch started less than this after the previous
   * commit waits until that much time has passed since it, so under load commits (and the
   * records relayed from them) come at most once per window; a message after a quiet spell
   * is committed at the end of its event-loop turn. 0: always at the end of the turn.
   */
  commitWindowMs: number;
  /** Monotonic clock in ms for the window. Default `performance.now`. */
  clock?: () => number;
}

/** Rooms whose last `seq` is kept in memory at most (persisted and emptied when full). */
const SEQ_CACHE = 4096;

/** A room's last `seq` and what `rooms.last_seq` holds for it (null: no row yet). */
interface SeqState {
  last: number;
  stored: number | null;
}

interface Pending {
  m: NewMessage;
  done: (r: AppendResult) => void;
  result?: AppendResult;
}

const MESSAGE_COLUMNS = "room, seq, ts, sender, text, me, id, kind, to_fp";
const KINDS = { line: 1, key: 2 } as const;

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

/** The room history of one database; owned by `Store`, which opens and closes the database. */
export class MessageLog {
  readonly #db: DatabaseSync;
  readonly #kept: number;
  readonly #total: number;
  #count: number; // messages stored now
  readonly #fail: (e: unknown) => unknown;
  readonly #q: Record<string, Statement>;
  readonly #schedule: ((commit: () => void) => void) | undefined;
  readonly #commitWindowMs: number;
  readonly #clock: () => number;
  readonly #flushNow = () => this.flush();
  #batch: Pending[] = []; // appends waiting for the next commit, at most BATCH_MAX
  #scheduled = false;
  #timer: ReturnType<typeof setTimeout> | undefined; // the commit waiting for the window to pass
  #lastCommit = -Infinity; // clock() when the last batch was committed
  readonly #seqs = new Map<string, SeqState>(); // committed state, at most SEQ_CACHE rooms

  /** Prepares the statements on `db` (whose schema is current). */
  constructor(db: DatabaseSync, o: MessageLogOptions) {
    this.#db = db;
    this.#kept = o.kept;
    this.#total = o.total;
    this.#fail = o.fail;
    this.#schedule = o.schedule;
    this.#commitWindowMs = o.commitWindowMs;
    if (!(o.commitWindowMs >= 0 && o.commitWindowMs <= 1000)) {
      throw new RangeError("commitWindowMs must be between 0 and 1000");
    }
    this.#clock = o.clock ?? (() => performance.now());
    this.#count = (db.prepare("SELECT COUNT(*) AS n FROM messages").get() as Row).n as number;
    const p = (sql: string) => guardStatement(db.prepare(sql), o.fail);
    this.#q = {
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
      // `rooms.last_seq` is written when a room first gets a message and before a deletion that
      // may remove a room's newest message; in between, the newest kept message has the seq.
      lastSeq: p(
        "SELECT (SELECT last_seq FROM rooms WHERE room = ?1) AS stored, " +
          "(SELECT MAX(seq) FROM messages WHERE room = ?1) AS kept",
      ),
      recent: p(
        `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE room = ? ORDER BY seq DESC LIMIT ?`,
      ),
      after: p(
        `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE room = ? AND seq > ? ORDER BY seq LIMIT ?`,
      ),
      findById: p(
        `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE sender_fp = ? AND id = ? AND id <> ''`,
      ),
    };
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
      if (this.#schedule !== undefined) this.#schedule(this.#flushNow);
      else {
        const wait = this.#lastCommit + this.#commitWindowMs - this.#clock();
        if (wait < 1) queueMicrotask(this.#flushNow);
        else this.#timer = setTimeout(this.#flushNow, wait);
      }
    }
  }

  /** Commits what is pending and forgets the window's timer (before the database closes). */
  close(): void {
    this.flush();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    try {
      MessageLog.#stored(transaction(this.#db, this.#fail, () => this.#persistSeqs()));
    } catch {
      // reported; the newest kept messages still carry each room's last seq
    }
  }

  /** Commits the pending {@linkcode append}s now, then calls their callbacks. */
  flush(): void {
    this.#scheduled = false;
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const batch = this.#batch;
    if (batch.length === 0) return;
    this.#batch = [];
    this.#lastCommit = this.#clock();
    let count = this.#count; // committed below only if the transaction is
    const seqs = new Map<string, SeqState>(); // room → state after this batch
    let written: [SeqState, number][] = [];
    let evict = false;
    try {
      transaction(this.#db, this.#fail, () => {
        for (const p of batch) {
          const { m } = p;
          let state = seqs.get(m.room);
          if (state === undefined) {
            state = { ...this.#seqState(m.room) };
            seqs.set(m.room, state);
          }
          const seq = state.last + 1;
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
          state.last = seq;
          count++;
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
        for (const [room, state] of seqs) {
          // The room's first message: its row holds the seq from now on (pruning keeps it).
          if (state.stored === null) {
            this.#q.setSeq.run(room, state.last);
            state.stored = state.last;
          }
          if (state.last > this.#kept) {
            count -= Number(this.#q.prune.run(room, state.last - this.#kept).changes);
          }
        }
        // The cache is emptied when full: every seq newer than its row is written first.
        evict = this.#seqs.size + seqs.size > SEQ_CACHE;
        if (count > this.#total || evict) written = this.#persistSeqs(seqs);
        if (count > this.#total) {
          // This may remove a room's newest message: its last seq was written just above.
          count -= Number(this.#q.pruneOldest.run(count - this.#total).changes);
        }
      });
      this.#count = count;
      MessageLog.#stored(written);
      if (evict) this.#seqs.clear();
      for (const [room, state] of seqs) this.#seqs.set(room, state);
    } catch (e) {
      const mapped = toStorageError(e);
      const error = mapped instanceof Error ? mapped : new Error(String(mapped));
      for (const p of batch) p.result = { ok: false, error };
    }
    for (const p of batch) p.done(p.result!);
  }

  /**
   * Writes `rooms.last_seq` of every room whose seq is newer in memory (the cache and `extra`,
   * which wins); call inside a transaction, before deleting messages that may be a room's newest.
   * Returns what to note as stored once the transaction has committed.
   */
  #persistSeqs(extra?: Map<string, SeqState>): [SeqState, number][] {
    const written: [SeqState, number][] = [];
    const write = (room: string, state: SeqState) => {
      if ((state.stored ?? 0) >= state.last) return; // nothing newer (or no message at all)
      this.#q.setSeq.run(room, state.last);
      written.push([state, state.last]);
    };
    for (const [room, state] of this.#seqs) {
      if (extra === undefined || !extra.has(room)) write(room, state);
    }
    if (extra !== undefined) { for (const [room, state] of extra) write(room, state); }
    return written;
  }

  /** Notes what {@linkcode #persistSeqs} wrote, once committed. */
  static #stored(written: [SeqState, number][]): void {
    for (const [state, last] of written) state.stored = last;
  }

  /** The committed seq state of `room`, read from the database when it is not cached. */
  #seqState(room: string): SeqState {
    let state = this.#seqs.get(room);
    if (state === undefined) {
      const r = this.#q.lastSeq.get(room) as Row;
      const stored = r.stored === null ? null : r.stored as number;
      const kept = r.kept === null ? 0 : r.kept as number;
      state = { last: Math.max(stored ?? 0, kept), stored };
      if (this.#seqs.size < SEQ_CACHE) this.#seqs.set(room, state);
    }
    return state;
  }

  /** Forgets what is cached of `rooms` (their rows were deleted). */
  forget(rooms: Iterable<string>): void {
    for (const room of rooms) this.#seqs.delete(room);
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
    count(n, "n");
    this.flush();
    let written: [SeqState, number][] = [];
    const removed = transaction(this.#db, this.#fail, () => {
      written = this.#persistSeqs();
      return Number(this.#q.pruneOldest.run(n).changes);
    });
    MessageLog.#stored(written);
    this.#count -= removed;
    return removed;
  }

  /** The room's last assigned `seq`, or 0 when it has none; survives pruning and restarts. */
  lastSeq(room: string): number {
    return this.#seqState(str(room, "room")).last;
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
}
