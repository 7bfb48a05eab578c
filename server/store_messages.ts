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
  /** Runs the commit of a batch later, once. */
  schedule: (commit: () => void) => void;
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
  readonly #schedule: (commit: () => void) => void;
  #batch: Pending[] = []; // appends waiting for the next commit, at most BATCH_MAX
  #scheduled = false;

  /** Prepares the statements on `db` (whose schema is current). */
  constructor(db: DatabaseSync, o: MessageLogOptions) {
    this.#db = db;
    this.#kept = o.kept;
    this.#total = o.total;
    this.#fail = o.fail;
    this.#schedule = o.schedule;
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
      transaction(this.#db, this.#fail, () => {
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
}
