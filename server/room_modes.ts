/**
 * Room operators and room modes, kept while a room has members: the first member of a new room
 * is its operator; room operators (and server operators) change a topic-locked room's topic,
 * kick from the room, make others room operators, and set the room invite-only or
 * topic-locked. New rooms start topic-locked; `#lobby` has no room operators and starts
 * unlocked. Everything is forgotten when the room empties. Pure state, bounded per room.
 * @module
 */

import { DEFAULT_ROOM } from "../shared/names.ts";

/** Most room operators one room keeps. */
export const MAX_ROOM_OPS = 32;

/** Most identities one room keeps invited. */
export const MAX_ROOM_INVITES = 256;

/** What a room allows, as `/mode` shows it. */
export interface RoomModeView {
  /** Only invited identities (and operators) may join. */
  readonly inviteOnly: boolean;
  /** Only room operators (and server operators) may change the topic. */
  readonly topicLocked: boolean;
  /** Fingerprints of the room's operators. */
  readonly ops: ReadonlySet<string>;
}

interface Modes {
  inviteOnly: boolean;
  topicLocked: boolean;
  ops: Set<string>;
  invited: Set<string>;
}

/** The room operators and modes of every room with members. */
export class RoomModes {
  readonly #rooms = new Map<string, Modes>();

  /** A room was created by its first member `fp`, who becomes its operator. */
  open(room: string, fp: string): void {
    if (room === DEFAULT_ROOM || this.#rooms.has(room)) return;
    this.#rooms.set(room, {
      inviteOnly: false,
      topicLocked: true,
      ops: new Set([fp]),
      invited: new Set(),
    });
  }

  /** The room emptied: its operators and modes are forgotten. */
  close(room: string): void {
    this.#rooms.delete(room);
  }

  /** The modes of `room` (`#lobby` and unknown rooms: nothing set, no operators). */
  get(room: string): RoomModeView {
    return this.#rooms.get(room) ?? { inviteOnly: false, topicLocked: false, ops: new Set() };
  }

  /** True when `fp` is an operator of `room`. */
  isOp(room: string, fp: string): boolean {
    return this.#rooms.get(room)?.ops.has(fp) ?? false;
  }

  /** True when `fp` may join `room`: it is not invite-only, or `fp` is invited or an operator. */
  mayJoin(room: string, fp: string): boolean {
    const m = this.#rooms.get(room);
    return m === undefined || !m.inviteOnly || m.invited.has(fp) || m.ops.has(fp);
  }

  /**
   * Sets invite-only on or off; turning it on invites `members` (the identities in the room
   * now), so nobody present is kept out on reconnecting. False for `#lobby`.
   */
  setInviteOnly(room: string, on: boolean, members: Iterable<string>): boolean {
    const m = this.#rooms.get(room);
    if (m === undefined) return false;
    m.inviteOnly = on;
    m.invited.clear();
    if (on) {
      for (const fp of members) {
        if (m.invited.size >= MAX_ROOM_INVITES) break;
        m.invited.add(fp);
      }
    }
    return true;
  }

  /** Sets topic-locked on or off; false for `#lobby`. */
  setTopicLocked(room: string, on: boolean): boolean {
    const m = this.#rooms.get(room);
    if (m === undefined) return false;
    m.topicLocked = on;
    return true;
  }

  /** Makes `fp` an operator of `room` (on) or not; false when the room or the bound refuses. */
  setOp(room: string, fp: string, on: boolean): boolean {
    const m = this.#rooms.get(room);
    if (m === undefined) return false;
    if (!on) return m.ops.delete(fp);
    if (!m.ops.has(fp) && m.ops.size >= MAX_ROOM_OPS) return false;
    m.ops.add(fp);
    return true;
  }

  /** Invites `fp` to `room`; false when the room is not invite-only or the bound is reached. */
  invite(room: string, fp: string): boolean {
    const m = this.#rooms.get(room);
    if (m === undefined || !m.inviteOnly) return false;
    if (!m.invited.has(fp) && m.invited.size >= MAX_ROOM_INVITES) return false;
    m.invited.add(fp);
    return true;
  }

  /** Withdraws `fp`'s invitation to `room` (after a kick from it). */
  uninvite(room: string, fp: string): void {
    this.#rooms.get(room)?.invited.delete(fp);
  }
}
