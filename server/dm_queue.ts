/**
 * Private messages waiting for an offline recipient (PROTOCOL.md §7 "Offline queue"), and the
 * public keys of identities that own names, so a sender can seal a message for someone who is
 * not connected. Works on the store's database (tables `dm_queue`, `identity_keys`) through
 * statements that throw `StorageError`; the store owns it (`Store.dmQueue`). Envelopes are kept
 * as the sender's base64, unread.
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { ProtocolError } from "../shared/errors.ts";
import { DM_ACK_MAX } from "../shared/messages.ts";
import { guardStatement, type Statement, transaction } from "./storage_error.ts";
import { DAY_MS } from "./upkeep.ts";

/** A queued envelope as stored. */
export interface QueuedDm {
  /** Queue number: unique on this server, increasing in the order envelopes were queued. */
  n: number;
  /** Recipient identity fingerprint. */
  recipient: string;
  /** Sender identity fingerprint. */
  sender: string;
  /** Sender's name when it was sent. */
  from: string;
  /** The name it was sent to. */
  to: string;
  /** The `dm` request id (the envelope's id). */
  id: string;
  /** Server time it was queued, ms since the epoch. */
  ts: number;
  /** The envelope, base64, as the sender sent it. */
  envelope: string;
}

/** The bounds of the queue (see `Limits`). */
export interface DmQueueLimits {
  /** Envelopes waiting for one recipient. */
  dmQueuePerRecipient: number;
  /** Envelopes one sender may have waiting for one recipient. */
  dmQueuePerSender: number;
  /** Envelopes waiting on the whole server. */
  dmQueueTotal: number;
}

/** Public keys of an identity, as it sent them at `auth` (base64). */
export interface IdentityKeys {
  /** Identity fingerprint. */
  fingerprint: string;
  /** Raw Ed25519 public key, base64. */
  sigPub: string;
  /** RSA-OAEP SPKI, base64. */
  kemPub: string;
  /** Ed25519 signature over the SPKI, base64. */
  kemSig: string;
}

type Row = Record<string, unknown>;

/** Identities whose stored keys {@linkcode DmQueue.saveKeys} remembers (least recent go first). */
const SAVED_KEYS_KEPT = 1024;

function sameKeys(a: IdentityKeys, b: IdentityKeys): boolean {
  return a.sigPub === b.sigPub && a.kemPub === b.kemPub && a.kemSig === b.kemSig;
}

const COLUMNS = "n, recipient, sender, from_name, to_name, id, ts, envelope";

function toQueued(r: Row): QueuedDm {
  return {
    n: r.n as number,
    recipient: r.recipient as string,
    sender: r.sender as string,
    from: r.from_name as string,
    to: r.to_name as string,
    id: r.id as string,
    ts: r.ts as number,
    envelope: r.envelope as string,
  };
}

/** The offline queue on the store's database. */
export class DmQueue {
  readonly #db: DatabaseSync;
  readonly #fail: (e: unknown) => unknown;
  readonly #q: Record<string, Statement>;
  #total: number;
  /** Keys known to be stored, by fingerprint, and when their row was written (bounded). */
  readonly #saved = new Map<string, { k: IdentityKeys; updated: number }>();

  /** Works on `db` (schema version 3 or later); `fail` maps database errors to `StorageError`. */
  constructor(db: DatabaseSync, fail: (e: unknown) => unknown) {
    this.#db = db;
    this.#fail = fail;
    const p = (sql: string) => guardStatement(db.prepare(sql), fail);
    this.#q = {
      keys: p("SELECT sig_pub, kem_pub, kem_sig, updated FROM identity_keys WHERE fingerprint = ?"),
      saveKeys: p(
        "INSERT INTO identity_keys (fingerprint, sig_pub, kem_pub, kem_sig, updated) " +
          "VALUES (?, ?, ?, ?, ?) ON CONFLICT (fingerprint) DO UPDATE SET " +
          "sig_pub = excluded.sig_pub, kem_pub = excluded.kem_pub, kem_sig = excluded.kem_sig, " +
          "updated = excluded.updated",
      ),
      forRecipient: p("SELECT COUNT(*) AS n FROM dm_queue WHERE recipient = ?"),
      fromSender: p("SELECT COUNT(*) AS n FROM dm_queue WHERE recipient = ? AND sender = ?"),
      byId: p(`SELECT ${COLUMNS} FROM dm_queue WHERE sender = ? AND id = ?`),
      insert: p(
        "INSERT INTO dm_queue (recipient, sender, from_name, to_name, id, ts, envelope) " +
          "VALUES (?, ?, ?, ?, ?, ?, ?)",
      ),
      after: p(
        `SELECT ${COLUMNS} FROM dm_queue WHERE recipient = ? AND n > ? ORDER BY n LIMIT ?`,
      ),
      ack: p("DELETE FROM dm_queue WHERE n = ? AND recipient = ?"),
      expired: p(`SELECT ${COLUMNS} FROM dm_queue WHERE ts < ? ORDER BY ts LIMIT ?`),
      remove: p("DELETE FROM dm_queue WHERE n = ?"),
      orphanKeys: p(
        "DELETE FROM identity_keys WHERE fingerprint IN (SELECT k.fingerprint FROM " +
          "identity_keys k WHERE NOT EXISTS (SELECT 1 FROM names m WHERE " +
          "m.fingerprint = k.fingerprint) LIMIT ?)",
      ),
    };
    this.#total = (db.prepare("SELECT COUNT(*) AS n FROM dm_queue").get() as Row).n as number;
  }

  /** Envelopes waiting on the whole server. */
  get total(): number {
    return this.#total;
  }

  /**
   * Remembers the keys identity `k.fingerprint` logged in with, for lookups while it is offline.
   * Written only when they changed or were last written more than a day ago (`now` in ms).
   */
  saveKeys(k: IdentityKeys, now: number): void {
    // A returning identity's keys are usually known to be stored: no statement at all.
    const known = this.#saved.get(k.fingerprint);
    if (known !== undefined && sameKeys(known.k, k) && known.updated >= now - DAY_MS) return;
    const r = this.#q.keys.get(k.fingerprint) as Row | undefined;
    let updated = r?.updated as number;
    if (
      r === undefined || r.sig_pub !== k.sigPub || r.kem_pub !== k.kemPub ||
      r.kem_sig !== k.kemSig || updated < now - DAY_MS
    ) {
      this.#q.saveKeys.run(k.fingerprint, k.sigPub, k.kemPub, k.kemSig, now);
      updated = now;
    }
    this.#saved.delete(k.fingerprint);
    this.#saved.set(k.fingerprint, { k: { ...k }, updated });
    if (this.#saved.size > SAVED_KEYS_KEPT) this.#saved.delete(this.#saved.keys().next().value!);
  }

  /** The keys identity `fingerprint` last logged in with, or undefined. */
  keysOf(fingerprint: string): IdentityKeys | undefined {
    const r = this.#q.keys.get(fingerprint) as Row | undefined;
    if (r === undefined) return undefined;
    return {
      fingerprint,
      sigPub: r.sig_pub as string,
      kemPub: r.kem_pub as string,
      kemSig: r.kem_sig as string,
    };
  }

  /**
   * Queues `m` (without `n`) unless a bound is reached, committed before this returns; returns
   * the stored entry. A repeated (`sender`, `id`) stores nothing and returns the entry already
   * queued. Throws `ProtocolError("dm_queue_full")` naming the bound, or a `StorageError`.
   */
  push(m: Omit<QueuedDm, "n">, l: DmQueueLimits): QueuedDm {
    const same = this.#q.byId.get(m.sender, m.id) as Row | undefined;
    if (same !== undefined) return toQueued(same);
    const full = (message: string): never => {
      throw new ProtocolError("dm_queue_full", message);
    };
    if (this.#total >= l.dmQueueTotal) {
      full(
        `The server keeps at most ${l.dmQueueTotal} private messages for users who are not ` +
          `connected, and that many are waiting; your message to ${m.to} was not sent.`,
      );
    }
    const forRecipient = (this.#q.forRecipient.get(m.recipient) as Row).n as number;
    if (forRecipient >= l.dmQueuePerRecipient) {
      full(
        `${m.to} already has ${l.dmQueuePerRecipient} private messages waiting, the most the ` +
          "server keeps; your message was not sent.",
      );
    }
    const fromSender = (this.#q.fromSender.get(m.recipient, m.sender) as Row).n as number;
    if (fromSender >= l.dmQueuePerSender) {
      full(
        `You already have ${l.dmQueuePerSender} private messages waiting for ${m.to}, the most ` +
          "the server keeps from one sender; your message was not sent.",
      );
    }
    const r = this.#q.insert.run(m.recipient, m.sender, m.from, m.to, m.id, m.ts, m.envelope);
    this.#total++;
    return { n: Number(r.lastInsertRowid), ...m };
  }

  /** At most `max` envelopes waiting for `recipient` with a queue number above `after`, in order. */
  after(recipient: string, after: number, max: number): QueuedDm[] {
    return (this.#q.after.all(recipient, after, max) as Row[]).map(toQueued);
  }

  /**
   * Deletes the envelopes numbered `ns` that wait for `recipient` (others' are left alone), in
   * one transaction; returns how many were deleted. `RangeError` beyond {@link DM_ACK_MAX}.
   */
  ack(recipient: string, ns: readonly number[]): number {
    if (ns.length > DM_ACK_MAX) throw new RangeError(`at most ${DM_ACK_MAX} acknowledgements`);
    if (ns.length === 0) return 0;
    let deleted = 0;
    transaction(this.#db, this.#fail, () => {
      for (const n of ns) deleted += Number(this.#q.ack.run(n, recipient).changes);
    });
    this.#total -= deleted;
    return deleted;
  }

  /**
   * Removes, in one transaction, at most `max` envelopes queued before `before` (ms), oldest
   * first; returns them (to tell their senders).
   */
  expire(before: number, max = 1000): QueuedDm[] {
    // Read first: most calls find nothing and need no write transaction.
    const out = (this.#q.expired.all(before, max) as Row[]).map(toQueued);
    if (out.length === 0) return out;
    transaction(this.#db, this.#fail, () => {
      for (const m of out) this.#q.remove.run(m.n);
    });
    this.#total -= out.length;
    return out;
  }

  /** Forgets the keys of up to `max` identities that no longer own a name; returns how many. */
  forgetOrphanKeys(max = 1000): number {
    const n = Number(this.#q.orphanKeys.run(max).changes);
    if (n > 0) this.#saved.clear(); // which rows went is not known: look again
    return n;
  }
}
