/**
 * The kind of each room and the durable members of private rooms (docs/protocol.md §8), on the
 * store's database: a private room stays private; its members stay members while they are away,
 * with the public keys they logged in with, so the others can wrap sender keys to them.
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { ProtocolError } from "../shared/errors.ts";
import { guardStatement, type Statement } from "./storage_error.ts";

/** A member identity of a private room and the keys it logged in with (base64, as sent). */
export interface RoomMember {
  /** The name it used last in the room. */
  name: string;
  /** Identity fingerprint. */
  fingerprint: string;
  /** Raw Ed25519 public key, base64. */
  sigPub: string;
  /** RSA-OAEP public key (SPKI), base64. */
  kemPub: string;
  /** Signature of `kemPub` by `sigPub`, base64. */
  kemSig: string;
  /** The room's last `seq` when it became a member. */
  since: number;
}

/** Rooms whose kind is cached in memory at most (the cache is emptied when full). */
const KIND_CACHE = 4096;

type Row = Record<string, unknown>;

function toMember(r: Row): RoomMember {
  return {
    name: r.name as string,
    fingerprint: r.fingerprint as string,
    sigPub: r.sig_pub as string,
    kemPub: r.kem_pub as string,
    kemSig: r.kem_sig as string,
    since: r.since as number,
  };
}

/** Room kinds and private-room members on one database (schema version 3 or later). */
export class RoomMembers {
  readonly #q: Record<string, Statement>;
  readonly #now: () => number;
  readonly #kinds = new Map<string, boolean>();

  /** Works on `db`, with the store's clock and error mapping. */
  constructor(db: DatabaseSync, now: () => number, fail: (e: unknown) => unknown) {
    this.#now = now;
    const p = (sql: string) => guardStatement(db.prepare(sql), fail);
    this.#q = {
      kind: p("SELECT private FROM rooms WHERE room = ?"),
      makePrivate: p(
        "INSERT INTO rooms (room, private, updated) VALUES (?, 1, ?) " +
          "ON CONFLICT (room) DO UPDATE SET private = 1, updated = excluded.updated",
      ),
      add: p(
        "INSERT INTO room_members (room, fingerprint, name, sig_pub, kem_pub, kem_sig, since) " +
          "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (room, fingerprint) DO UPDATE SET " +
          "name = excluded.name, sig_pub = excluded.sig_pub, kem_pub = excluded.kem_pub, " +
          "kem_sig = excluded.kem_sig",
      ),
      remove: p("DELETE FROM room_members WHERE room = ? AND fingerprint = ?"),
      get: p("SELECT * FROM room_members WHERE room = ? AND fingerprint = ?"),
      list: p("SELECT * FROM room_members WHERE room = ? ORDER BY name LIMIT ?"),
      count: p("SELECT COUNT(*) AS n FROM room_members WHERE room = ?"),
      roomsOf: p("SELECT room, name FROM room_members WHERE fingerprint = ? LIMIT 1000"),
      removeAll: p("DELETE FROM room_members WHERE fingerprint = ?"),
    };
  }

  /** True when `room` is private. */
  isPrivate(room: string): boolean {
    let k = this.#kinds.get(room);
    if (k === undefined) {
      const r = this.#q.kind.get(room) as Row | undefined;
      k = r !== undefined && r.private === 1;
      if (this.#kinds.size >= KIND_CACHE) this.#kinds.clear();
      this.#kinds.set(room, k);
    }
    return k;
  }

  /** Makes `room` private for good. */
  makePrivate(room: string): void {
    this.#q.makePrivate.run(room, this.#now());
    this.#kinds.set(room, true);
  }

  /**
   * Makes (or keeps) `m.fingerprint` a member of `room`; a member who is one already keeps its
   * `since` and gets its name and keys updated. Returns the stored `since`.
   */
  add(room: string, m: RoomMember): number {
    this.#q.add.run(room, m.fingerprint, m.name, m.sigPub, m.kemPub, m.kemSig, m.since);
    return this.get(room, m.fingerprint)?.since ?? m.since;
  }

  /** Ends `fp`'s membership of `room`; true when it was a member. */
  remove(room: string, fp: string): boolean {
    return this.#q.remove.run(room, fp).changes === 1;
  }

  /**
   * Ends every membership of `fp` (a ban); returns the rooms it was a member of, with the name
   * it had there.
   */
  removeEverywhere(fp: string): { room: string; name: string }[] {
    const rooms = (this.#q.roomsOf.all(fp) as Row[]).map((r) => ({
      room: r.room as string,
      name: r.name as string,
    }));
    this.#q.removeAll.run(fp);
    return rooms;
  }

  /** The member `fp` of `room`, if it is one. */
  get(room: string, fp: string): RoomMember | undefined {
    const r = this.#q.get.get(room, fp) as Row | undefined;
    return r === undefined ? undefined : toMember(r);
  }

  /** At most `max` members of `room`, by name. */
  list(room: string, max: number): RoomMember[] {
    return (this.#q.list.all(room, max) as Row[]).map(toMember);
  }

  /** How many members `room` has. */
  count(room: string): number {
    return (this.#q.count.get(room) as Row).n as number;
  }
}

/**
 * The room kinds of a store that keeps no private rooms (a cluster, for now): every room is
 * plain, and making one private is refused with `unavailable`.
 */
export const NO_PRIVATE_ROOMS: Pick<
  RoomMembers,
  "isPrivate" | "makePrivate" | "add" | "remove" | "removeEverywhere" | "get" | "list" | "count"
> = Object.freeze({
  isPrivate: () => false,
  makePrivate: () => {
    throw new ProtocolError(
      "unavailable",
      "Private rooms are not available on a clustered server yet.",
    );
  },
  add: () => 0,
  remove: () => false,
  removeEverywhere: () => [],
  get: () => undefined,
  list: () => [],
  count: () => 0,
});
