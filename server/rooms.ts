/**
 * Rooms and presence: which sessions are in which room, the room list kept in order, room
 * modes, and the join/leave events, which a quiet big room sends only to the user they are
 * about. A name connected twice in one room is counted and announced once.
 * @module
 */

import { ProtocolError } from "../shared/errors.ts";
import type { RoomInfo } from "../shared/messages.ts";
import { DEFAULT_ROOM } from "../shared/names.ts";
import type { LineSource, Listing, UserView } from "./command_host.ts";
import type { Fanout } from "./fanout.ts";
import type { HubOptions } from "./hub_options.ts";
import { RoomModes } from "./room_modes.ts";
import { type RemoteUser, Roster } from "./roster.ts";
import type { Session, SessionRegistry } from "./sessions.ts";
import { SortedNames } from "./sorted_names.ts";

/** Most member identities of one private room. */
export const PRIVATE_ROOM_MEMBERS = 100;

/**
 * True for the leave reasons that end a private room's membership (`left`, `kicked by NAME`,
 * `banned`); losing the connection or quitting ends only presence.
 */
export function endsMembership(reason: string): boolean {
  return reason === "left" || reason === "banned" || reason.startsWith("kicked by ");
}

/** The live rooms and their members; `#lobby` always exists. */
export class RoomTable {
  readonly #o: Pick<HubOptions, "store" | "limits">;
  readonly #sessions: SessionRegistry;
  readonly #fanout: Fanout;
  readonly #rooms = new Map<string, Set<Session>>([[DEFAULT_ROOM, new Set()]]);
  /** The names of `#rooms`, in order, for listing without sorting. */
  readonly #names = new SortedNames();
  /** Per room, how many member sessions have a sibling in it already (not counted twice). */
  readonly #doubles = new Map<string, number>();
  /**
   * Per room, how many names present here the roster lists in it too (a name connected to
   * several nodes counts once): kept up to date on every change, so counting costs no walk.
   */
  readonly #overlap = new Map<string, number>();
  /** Room operators and modes. */
  readonly modes = new RoomModes();

  /** Users of the other nodes of a cluster (counted and listed with the members here). */
  readonly #roster: Roster;
  /** Told of every name whose rooms changed. */
  readonly #touch: (key: string) => void;

  /**
   * Rooms reading topics from `o.store`, siblings from `sessions`, announcing via `fanout`,
   * with the members on other nodes from `roster`; `touch` hears of each name whose rooms
   * changed.
   */
  constructor(
    o: Pick<HubOptions, "store" | "limits">,
    sessions: SessionRegistry,
    fanout: Fanout,
    roster: Roster = new Roster(),
    touch: (key: string) => void = () => {},
  ) {
    this.#o = o;
    this.#sessions = sessions;
    this.#fanout = fanout;
    this.#roster = roster;
    this.#touch = touch;
    this.#names.add(DEFAULT_ROOM);
    roster.onMember = (room, key, present) => {
      if (this.#here(key, room)) this.#shift(room, present ? 1 : -1);
    };
  }

  /** Adds `by` to `room`'s overlap count. */
  #shift(room: string, by: number): void {
    const n = (this.#overlap.get(room) ?? 0) + by;
    if (n === 0) this.#overlap.delete(room);
    else this.#overlap.set(room, n);
  }

  /** The name `key` has become (`here`) or is no longer present in `room` on this node. */
  #presence(room: string, key: string, here: boolean): void {
    if (this.#roster.members(room)?.has(key) === true) this.#shift(room, here ? 1 : -1);
  }

  /**
   * The sessions of a name present in `rooms` were renamed from `old` to `key` (no session here
   * had the name `key`).
   */
  renamed(old: string, key: string, rooms: Iterable<string>): void {
    for (const r of rooms) {
      this.#presence(r, old, false);
      this.#presence(r, key, true);
    }
  }

  /** Number of live rooms. */
  get size(): number {
    return this.#rooms.size;
  }

  /** True while `room` has members (and always for the default room). */
  has(room: string): boolean {
    return this.#rooms.has(room);
  }

  /** The member sessions of `room` (a name connected twice: each session), if it exists. */
  sessionsIn(room: string): ReadonlySet<Session> | undefined {
    return this.#rooms.get(room);
  }

  /**
   * Names present in `room`, here and on other nodes (a name connected twice counts once), in
   * constant time.
   */
  count(room: string): number {
    const remote = this.#roster.members(room)?.size ?? 0;
    return this.#localCount(room) + remote - (this.#overlap.get(room) ?? 0);
  }

  #localCount(room: string): number {
    return (this.#rooms.get(room)?.size ?? 0) - (this.#doubles.get(room) ?? 0);
  }

  /** True when a session of the name `key` is in `room` here. */
  #here(key: string, room: string): boolean {
    const s = this.#sessions.byName.get(key);
    return s !== undefined && (s.rooms.has(room) || this.#sessions.sibling(s, room) !== undefined);
  }

  /** Members of `room` on other nodes whose name has no session in it here. */
  #remoteOnly(room: string): RemoteUser[] {
    const remote = this.#roster.members(room);
    if (remote === undefined) return [];
    return [...remote.values()].filter((u) => !this.#here(u.key, room));
  }

  /** `room` as `/rooms` and `welcome` show it. */
  info(room: string): RoomInfo {
    const info: RoomInfo = {
      name: room,
      topic: this.#o.store.topic(room),
      members: this.count(room),
    };
    if (this.#o.store.members.isPrivate(room)) info.private = true;
    return info;
  }

  /**
   * Allows `s` into `room` when it is private: the session has a `kem_pub`
   * (`dm_key_required`), and the identity is a member already or the room has fewer than
   * `privateRoomMembers` members (`room_full`).
   */
  mayEnterPrivate(
    s: { fingerprint: string; kemPub?: string; kemSig?: string },
    room: string,
  ): void {
    const m = this.#o.store.members;
    if (!m.isPrivate(room)) return;
    if (s.kemPub === undefined || s.kemSig === undefined) {
      throw new ProtocolError(
        "dm_key_required",
        `${room} is a private room: your client has no private-message key to receive its keys.`,
      );
    }
    if (m.get(room, s.fingerprint) === undefined && m.count(room) >= PRIVATE_ROOM_MEMBERS) {
      throw new ProtocolError(
        "room_full",
        `${room} has ${PRIVATE_ROOM_MEMBERS} members, the most.`,
      );
    }
  }

  /** Every live room (here or with members on other nodes), by name, read lazily. */
  list(): Listing<RoomInfo> {
    const names = this.#names;
    const info = (r: string) => this.info(r);
    const elsewhere = [...this.#roster.rooms()].filter((r) => !names.has(r)).sort();
    return {
      size: names.size + elsewhere.length,
      *[Symbol.iterator]() {
        let i = 0;
        for (const r of names) {
          while (i < elsewhere.length && elsewhere[i] < r) yield info(elsewhere[i++]);
          yield info(r);
        }
        while (i < elsewhere.length) yield info(elsewhere[i++]);
      },
    };
  }

  /**
   * The members of `room` here and on other nodes, a name connected twice listed once;
   * undefined when none.
   */
  members(room: string): Listing<UserView> | undefined {
    const local = this.#localMembers(room);
    const extra = this.#remoteOnly(room);
    if (extra.length === 0) return local;
    return {
      size: (local?.size ?? 0) + extra.length,
      *[Symbol.iterator]() {
        if (local !== undefined) yield* local;
        yield* extra;
      },
    };
  }

  #localMembers(room: string): Listing<UserView> | undefined {
    const m = this.#rooms.get(room);
    if (m === undefined || !this.#doubles.has(room)) return m;
    return {
      size: this.#localCount(room),
      *[Symbol.iterator]() {
        const seen = new Set<string>(); // a name connected twice is listed once
        for (const s of m) {
          if (!seen.has(s.key)) yield s;
          seen.add(s.key);
        }
      },
    };
  }

  /**
   * Allows `fp` to enter `room`: a room that is live or stored costs nothing; a new one counts
   * against the identity's `roomsPerDay` (ProtocolError `room_limit` beyond it).
   */
  mayCreate(fp: string, room: string): void {
    const { store, limits } = this.#o;
    if (this.#rooms.has(room) || store.upkeep.roomExists(room)) return;
    if (!store.upkeep.charge(fp, "room", limits.roomsPerDay)) {
      throw new ProtocolError(
        "room_limit",
        `You have created ${limits.roomsPerDay} rooms today, the most allowed; ${room} was not ` +
          "created. Join an existing room or try again tomorrow.",
      );
    }
  }

  /**
   * Who hears a presence event (join, leave, away, back) in a room with `members` (counted with
   * the user it is about): everyone (undefined), or only `self` once the room is quiet
   * (`null`: nobody, e.g. the user is leaving).
   */
  presenceTo(members: ReadonlySet<Session>, self: Session | null): Session | null | undefined {
    return members.size > this.#o.limits.quietRoomMembers ? self : undefined;
  }

  /** Adds `s` to `room`, sends it `history` (replay), then announces the join to everyone. */
  enter(s: Session, room: string, history: LineSource): void {
    s.peer.replay(history);
    let members = this.#rooms.get(room);
    if (members === undefined) {
      this.#rooms.set(room, members = new Set());
      this.#names.add(room);
      this.modes.open(room, s.fingerprint); // the first member of a new room is its operator
    }
    const present = this.#sessions.sibling(s, room) !== undefined;
    const pm = this.#o.store.members;
    if (pm.isPrivate(room) && s.kemPub !== undefined && s.kemSig !== undefined) {
      pm.add(room, {
        name: s.name,
        fingerprint: s.fingerprint,
        sigPub: s.sigPub,
        kemPub: s.kemPub,
        kemSig: s.kemSig,
        since: this.#o.store.lastSeq(room),
      });
    }
    members.add(s);
    this.#fanout.joined(room, s);
    s.rooms.add(room);
    this.#touch(s.key);
    if (present) this.#doubles.set(room, (this.#doubles.get(room) ?? 0) + 1);
    else this.#presence(room, s.key, true);
    // A second session of a name already present: only that session hears its join.
    this.#fanout.event(room, "join", { name: s.name }, present ? s : this.presenceTo(members, s));
  }

  /** Removes `s` from `room`; with a reason, announces the leave to the remaining members. */
  exit(s: Session, room: string, reason: string | undefined): void {
    const members = this.#rooms.get(room);
    s.rooms.delete(room);
    if (members === undefined) return;
    // A membership of a private room that ends is told to everyone, quiet room or not: the
    // others must rekey.
    const ends = reason !== undefined && endsMembership(reason) &&
      this.#o.store.members.isPrivate(room);
    const to = ends ? undefined : this.presenceTo(members, null);
    if (!members.delete(s)) return;
    this.#fanout.left(room, s, members.size === 0);
    this.#touch(s.key);
    if (this.#sessions.sibling(s, room) !== undefined) {
      // The name stays present through another session: nobody hears a leave.
      const d = (this.#doubles.get(room) ?? 1) - 1;
      if (d > 0) this.#doubles.set(room, d);
      else this.#doubles.delete(room);
      return;
    }
    this.#presence(room, s.key, false);
    if (reason !== undefined) this.#fanout.event(room, "leave", { name: s.name, reason }, to);
    if (reason !== undefined && endsMembership(reason)) {
      this.#o.store.members.remove(room, s.fingerprint);
    }
    if (members.size === 0 && room !== DEFAULT_ROOM) {
      this.#rooms.delete(room);
      this.#names.delete(room);
      this.modes.close(room);
    }
  }
}
