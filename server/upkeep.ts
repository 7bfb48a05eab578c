/**
 * Keeping the database bounded (DESIGN.md §4): what one identity may create per day (rooms,
 * topics), names released after long disuse, empty rooms, expired bans and old counters
 * removed. Works on the store's database through statements that throw
 * `StorageError`; the store owns it (`Store.upkeep`).
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { guardStatement, type Statement, transaction } from "./storage_error.ts";

/** What an identity creates under a daily quota. */
export type QuotaKind = "room" | "topic";

/** One day in milliseconds: quotas count per UTC day. */
export const DAY_MS = 86_400_000;

/** What an {@linkcode Upkeep} depends on. */
export interface UpkeepHooks {
  /** Clock, ms since the epoch. */
  now: () => number;
  /** Maps a database error to what to throw (a `StorageError`), reporting it. */
  fail: (e: unknown) => unknown;
  /** Told of the rooms and the number of bans {@linkcode Upkeep.expire} removed (for caches). */
  removed: (rooms: string[], bans: number) => void;
}

/** Options of {@linkcode Upkeep.expire}. */
export interface ExpireOptions {
  /** A name not used for this long (ms) is released, unless `nameInUse` says it is. */
  nameUnusedMs: number;
  /** A room with no history whose topic is older than this (ms) is removed, unless live. */
  roomIdleMs: number;
  /** True for a case-folded name key in use right now. */
  nameInUse(key: string): boolean;
  /** True for a room that has members right now. */
  liveRoom(room: string): boolean;
  /** Most rows of each table looked at in one call (the rest waits for the next). Default 1000. */
  max?: number;
}

/** What one {@linkcode Upkeep.expire} removed. */
export interface Expired {
  /** Rooms with no history and no members. */
  rooms: string[];
  /** Names (keys) unused for too long. */
  names: string[];
  /** Bans past their expiry. */
  bans: number;
}

type Row = Record<string, unknown>;

/** Quotas and expiry on the store's database. */
export class Upkeep {
  readonly #db: DatabaseSync;
  readonly #h: UpkeepHooks;
  readonly #q: Record<string, Statement>;

  /** Works on `db` (schema version 2 or later), with the store's clock, errors and caches. */
  constructor(db: DatabaseSync, hooks: UpkeepHooks) {
    this.#db = db;
    this.#h = hooks;
    const p = (sql: string) => guardStatement(db.prepare(sql), hooks.fail);
    this.#q = {
      touchName: p("UPDATE names SET last_used = ? WHERE key = ? AND last_used < ?"),
      roomExists: p("SELECT 1 AS x FROM rooms WHERE room = ?"),
      // One statement checks and counts: no row comes back when today's count is at the limit.
      count: p(
        "INSERT INTO usage (fingerprint, kind, day, n) VALUES (?, ?, ?, 1) " +
          "ON CONFLICT (fingerprint, kind) DO UPDATE SET " +
          "n = CASE WHEN day = excluded.day THEN n + 1 ELSE 1 END, day = excluded.day " +
          "WHERE usage.day <> excluded.day OR usage.n < ? RETURNING n",
      ),
      staleNames: p("SELECT key FROM names WHERE last_used < ? ORDER BY last_used LIMIT ?"),
      deleteName: p("DELETE FROM names WHERE key = ? AND last_used < ?"),
      staleRooms: p(
        "SELECT room FROM rooms r WHERE updated < ? AND " +
          "NOT EXISTS (SELECT 1 FROM messages m WHERE m.room = r.room) AND " +
          "NOT EXISTS (SELECT 1 FROM room_members p WHERE p.room = r.room) LIMIT ?",
      ),
      deleteRoom: p(
        "DELETE FROM rooms WHERE room = ? AND updated < ? AND " +
          "NOT EXISTS (SELECT 1 FROM messages m WHERE m.room = rooms.room) AND " +
          "NOT EXISTS (SELECT 1 FROM room_members p WHERE p.room = rooms.room)",
      ),
      expiredBans: p("DELETE FROM bans WHERE expires IS NOT NULL AND expires <= ?"),
      oldUsage: p("DELETE FROM usage WHERE day < ?"),
      pages: p(
        "SELECT (SELECT page_count FROM pragma_page_count()) AS n, " +
          "(SELECT freelist_count FROM pragma_freelist_count()) AS free, " +
          "(SELECT max_page_count FROM pragma_max_page_count()) AS max",
      ),
    };
  }

  /**
   * Notes that the name with case-folded `key` was used now (a login or `/nick`). Written at
   * most once a day per name, so a busy server does not write on every login; given the
   * `lastUsed` just read with the owner, a name noted within the day costs no statement.
   */
  touchName(key: string, lastUsed = -Infinity): void {
    const now = this.#h.now();
    if (lastUsed >= now - DAY_MS) return;
    this.#q.touchName.run(now, key, now - DAY_MS);
  }

  /** True when `room` has a row (a topic or a history, past or present). */
  roomExists(room: string): boolean {
    return this.#q.roomExists.get(room) !== undefined;
  }

  /**
   * Counts one `kind` created by `fingerprint` today (UTC) and returns true, or returns false
   * without counting when `limit` were already created today.
   */
  charge(fingerprint: string, kind: QuotaKind, limit: number): boolean {
    const day = Math.floor(this.#h.now() / DAY_MS);
    return this.#q.count.get(fingerprint, kind, day, limit) !== undefined;
  }

  /**
   * Removes, in one transaction, up to `max` each of: names unused for `nameUnusedMs` and not in
   * use, rooms with no history, no members and no topic set for `roomIdleMs`, bans past their
   * expiry, and the quota counters of earlier days.
   */
  expire(o: ExpireOptions): Expired {
    const max = o.max ?? 1000;
    const now = this.#h.now();
    const out: Expired = { rooms: [], names: [], bans: 0 };
    const nameBefore = now - o.nameUnusedMs;
    const roomBefore = now - o.roomIdleMs;
    transaction(this.#db, this.#h.fail, () => {
      for (const r of this.#q.staleNames.all(nameBefore, max) as Row[]) {
        const key = r.key as string;
        if (o.nameInUse(key)) continue;
        if (this.#q.deleteName.run(key, nameBefore).changes === 1) out.names.push(key);
      }
      for (const r of this.#q.staleRooms.all(roomBefore, max) as Row[]) {
        const room = r.room as string;
        if (o.liveRoom(room)) continue;
        if (this.#q.deleteRoom.run(room, roomBefore).changes === 1) out.rooms.push(room);
      }
      out.bans = Number(this.#q.expiredBans.run(now).changes);
      this.#q.oldUsage.run(Math.floor(now / DAY_MS));
    });
    this.#h.removed(out.rooms, out.bans);
    return out;
  }

  /** True when the database file has reached (or nearly reached) its `max_page_count` cap. */
  get atCap(): boolean {
    const r = this.#q.pages.get() as Row;
    // A failed write rolled back the pages it needed: near the cap counts as at the cap.
    const max = r.max as number;
    return (r.n as number) - (r.free as number) >= max - Math.max(8, Math.floor(max / 16));
  }
}
