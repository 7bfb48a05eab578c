/**
 * Fan-out: one event or stored message serialised once and handed to every recipient, counted
 * for `/service` and `/stats`, and written to the `--log` transcript.
 * @module
 */

import { utf8 } from "../shared/encoding.ts";
import type { EventKind, EventMessage } from "../shared/messages.ts";
import type { HubOptions } from "./hub_options.ts";
import type { RoomMember } from "./room_channel.ts";
import { toMsg } from "./message_line.ts";
import type { Session } from "./sessions.ts";
import type { StoredMessage } from "./store.ts";
import type { TranscriptEntry } from "./transcript.ts";

/** The fields of an event besides its kind, room and time. */
export type EventFields = Pick<EventMessage, "name" | "by" | "reason" | "old" | "text">;

/** Events about a user, not a room: one per reader, whatever rooms they share. */
const USER_NOTICES: ReadonlySet<EventKind> = new Set(["away", "back", "nick"]);
/** Away, back and nick events from other nodes remembered to recognise their other copies. */
const NOTICES_REMEMBERED = 32;

/** Where fan-out finds its recipients. */
export interface Audience {
  /** Every authenticated session. */
  everyone(): Iterable<Session>;
  /** The member sessions of `room`, or undefined when it does not exist. */
  members(room: string): ReadonlySet<Session> | undefined;
}

/** Sends events and relays stored messages; counts what it hands out. */
export class Fanout {
  readonly #o: Pick<HubOptions, "now" | "transcript" | "bus" | "roomRecords">;
  readonly #to: Audience;
  /** Room messages stored and relayed since start. */
  messages = 0;
  /** Messages and events handed to connections since start. */
  deliveries = 0;
  /** Recent away, back and nick events from other nodes, with the sessions given each. */
  readonly #noticed = new Map<string, Set<Session>>();

  /**
   * Fan-out with the clock and transcript of `o`, to the sessions `to` names; events for
   * everyone concerned also go to the other nodes of a cluster through `o.bus`.
   */
  constructor(o: Pick<HubOptions, "now" | "transcript" | "bus" | "roomRecords">, to: Audience) {
    this.#o = o;
    this.#to = to;
  }

  /**
   * Serialises one event once and sends it to `room`'s members (everyone if no room), or only
   * to `only` when given (`null`: to nobody; the transcript still records it).
   */
  event(room: string | undefined, kind: EventKind, f: EventFields, only?: Session | null): void {
    const ts = this.#o.now();
    const ev: EventMessage = { t: "event", ts, kind, ...f };
    if (room !== undefined) ev.room = room;
    if (only === undefined) this.#o.bus?.event(ev);
    this.#deliver(ev, only);
  }

  /**
   * An event about a user rather than a room (away, back, nick), for the members of `rooms`
   * (the user's rooms; in a room for which `only` names a session or `null`, just that one or
   * nobody): each reader gets it once, without a room, and the transcript records it once. The
   * other nodes of a cluster get one copy per room, all with the same time, and deliver them
   * once per reader too ({@link remote}).
   */
  notice(
    kind: EventKind,
    f: EventFields,
    rooms: Iterable<string>,
    only: (room: string) => Session | null | undefined,
  ): void {
    const ev: EventMessage = { t: "event", ts: this.#o.now(), kind, ...f };
    const to = new Set<Session>();
    for (const room of rooms) {
      const one = only(room);
      if (one === undefined) {
        this.#o.bus?.event({ ...ev, room });
        for (const s of this.#to.members(room) ?? []) to.add(s);
      } else if (one !== null) to.add(one);
    }
    this.#deliver(ev, [...to]);
  }

  /**
   * An event said on another node of a cluster: sent to the members here (or everyone). The
   * per-room copies of an away, back or nick reach each reader once (see {@link notice}).
   */
  remote(ev: EventMessage): void {
    if (ev.room === undefined || !USER_NOTICES.has(ev.kind)) return this.#deliver(ev, undefined);
    const key = JSON.stringify([ev.kind, ev.ts, ev.name, ev.old, ev.text]);
    let sent = this.#noticed.get(key);
    const first = sent === undefined;
    if (sent === undefined) {
      this.#noticed.set(key, sent = new Set());
      if (this.#noticed.size > NOTICES_REMEMBERED) {
        this.#noticed.delete(this.#noticed.keys().next().value!);
      }
    }
    const to: Session[] = [];
    for (const s of this.#to.members(ev.room) ?? []) {
      if (sent.has(s)) continue;
      sent.add(s);
      to.push(s);
    }
    const { room: _, ...one } = ev;
    if (first) this.#deliver(one, to);
    else this.#send(one, to);
  }

  /** Sends `ev` to `to` (a session, `null` for nobody, or a list), else its room or everyone. */
  #deliver(ev: EventMessage, only: Session | null | undefined | readonly Session[]): void {
    const { room, ts, kind } = ev;
    const channel = this.#o.roomRecords;
    if (only === undefined && room !== undefined && channel !== undefined) {
      // A whole room's event: in its batch for the members that negotiated room records.
      const members = this.#to.members(room);
      if (members !== undefined) {
        channel.send(room, utf8.encode(JSON.stringify(ev)), members);
        this.deliveries += members.size;
      }
    } else {
      const to = Array.isArray(only)
        ? only
        : only !== undefined
        ? (only === null ? [] : [only as Session])
        : room === undefined
        ? this.#to.everyone()
        : this.#to.members(room)?.values();
      if (to !== undefined) this.#send(ev, to);
    }
    const entry: TranscriptEntry = { ts, kind };
    if (room !== undefined) entry.room = room;
    if (ev.name !== undefined) entry.name = ev.name;
    if (ev.by !== undefined) entry.by = ev.by;
    if (ev.reason !== undefined) entry.reason = ev.reason;
    if (ev.text !== undefined) entry.text = ev.text;
    if (ev.old !== undefined) entry.from = ev.old;
    this.#o.transcript?.write(entry);
  }

  /** Serialises `ev` once and sends it to every session of `to`. */
  #send(ev: EventMessage, to: Iterable<Session>): void {
    const line = utf8.encode(JSON.stringify(ev)); // once for every recipient
    for (const s of to) {
      s.peer.send(line);
      this.deliveries++;
    }
  }

  /** `member` entered `room`: room records close the open batch (section §3 "Batches"). */
  joined(room: string, member: RoomMember): void {
    this.#o.roomRecords?.joined(room, member);
  }

  /** `member` left `room` (`empty`: nobody is left): the room's next batch starts a new epoch. */
  left(room: string, member: RoomMember, empty: boolean): void {
    this.#o.roomRecords?.left(room, member, empty);
  }

  /** Sends a stored message to its room's members, serialised once. */
  relay(stored: StoredMessage): void {
    const line = utf8.encode(JSON.stringify(toMsg(stored))); // once for every member
    const members = this.#to.members(stored.room);
    this.messages++;
    if (members !== undefined && stored.to !== undefined) {
      // A sender key goes only to the sessions of the identity it is addressed to.
      for (const member of members) {
        if (member.fingerprint !== stored.to) continue;
        member.peer.send(line);
        this.deliveries++;
      }
    } else if (members !== undefined) {
      const channel = this.#o.roomRecords;
      if (channel !== undefined) channel.send(stored.room, line, members);
      else for (const member of members) member.peer.send(line);
      this.deliveries += members.size;
    }
    if (stored.sealed !== undefined) {
      // Ciphertext only: the transcript notes that a sealed line or key passed, not its bytes.
      this.#o.transcript?.write({
        ts: stored.ts,
        room: stored.room,
        kind: stored.sealed === "line" ? "sealed" : "key",
        from: stored.from,
      });
      return;
    }
    this.#o.transcript?.write({
      ts: stored.ts,
      room: stored.room,
      kind: stored.me ? "me" : "msg",
      from: stored.from,
      text: stored.text,
    });
  }
}
