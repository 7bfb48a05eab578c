/**
 * What the command table needs from the server and what it hands back: the
 * {@linkcode CommandHost} the hub implements, the views of users it reads, and the shape of a
 * command. The commands depend on this file only, never on the hub.
 * @module
 */

import type { Limits } from "../shared/limits.ts";
import type { RoomInfo } from "../shared/messages.ts";
import type { ModerationRecord } from "./audit.ts";
import type { RoomModes } from "./room_modes.ts";
import type { Ban } from "./store.ts";
import type { AnswerKind } from "./charge.ts";
import type { NodeStatus } from "./nodes.ts";
import type { IdentityKeys } from "./dm_queue.ts";

/** Serialised messages handed out on demand, a batch at a time; an empty batch ends it. */
export interface LineSource {
  /** Up to `max` more lines; `[]` when there are no more. */
  next(max: number): string[];
}

/** What a list command reads: how many there are, and the items produced one by one. */
export interface Listing<T> extends Iterable<T> {
  /** Number of items. */
  readonly size: number;
}

/** A private room's member as `members` lists it. */
export interface RosterEntry {
  /** The name it used last in the room. */
  name: string;
  /** Identity fingerprint. */
  fingerprint: string;
}

/** What the private-room commands act through (server/private_rooms.ts). */
export interface PrivateRoomHost {
  /** True when `room` is private. */
  isPrivate(room: string): boolean;
  /** Makes `room` private for good (the caller checks who may). */
  makePrivate(room: string): void;
  /** The members of `room` and when `user` became one; `not_in_room` for a non-member. */
  roster(room: string, user: UserView): { since: number; members: RosterEntry[] };
  /** The member of `room` owning `name`, with its stored keys, if it is one. */
  memberKeys(
    room: string,
    name: string,
  ):
    | { name: string; fingerprint: string; sigPub: string; kemPub: string; kemSig: string }
    | undefined;
  /** Stores and relays a sender key from `user` to the member `to` (`not_in_room` otherwise). */
  sendKey(user: UserView, room: string, to: string, id: string, envelope: string): void;
  /**
   * Ends the membership of `name` in private `room` while it is away, announced as a kick (so
   * the others rekey); false when `name` is not a member.
   */
  expel(room: string, name: string, by: string, reason: string): boolean;
  /** Tells the sessions of member `to` in `room` that `user` asks for its sender key. */
  keyRequest(user: UserView, room: string, to: string): void;
}

/** A history answer: the replay source and how many of the messages asked for it carries. */
export interface HistoryAnswer {
  /** The messages, oldest first, marked replay. */
  replay: LineSource;
  /** Messages the replay carries. */
  shown: number;
  /** Messages there were to send; more than `shown` when the caller's budget cut the answer. */
  wanted: number;
}

/** A connected user as commands see it. */
export interface UserView {
  /** Display name. */
  readonly name: string;
  /** Identity fingerprint `SHA256:…`. */
  readonly fingerprint: string;
  /** b64 raw Ed25519 public key. */
  readonly sigPub: string;
  /** b64 SPKI of the RSA-OAEP key, when the identity can receive DMs. */
  readonly kemPub?: string;
  /** Ed25519 signature over the KEM key. */
  readonly kemSig?: string;
  /** Rooms the user is in. */
  readonly rooms: ReadonlySet<string>;
  /** Away text, when away. */
  readonly away?: string;
  /** Authentication time (ms since the epoch). */
  readonly since: number;
  /** Time of the last request (ms since the epoch). */
  readonly lastActive: number;
  /** Remote address of the connection. */
  readonly ip: string;
}

/** Figures `/service` and `/stats` report. */
export interface ServiceInfo {
  /** Server name. */
  serverName: string;
  /** Software version. */
  version: string;
  /** Start time (ms since the epoch). */
  startedAt: number;
  /** Host key fingerprint. */
  hostFingerprint: string;
  /** Open connections, authenticated or not. */
  connections: number;
  /** Authenticated users. */
  users: number;
  /** Rooms that exist now. */
  rooms: number;
  /** Room messages stored and relayed since start. */
  messages: number;
  /** Messages and events handed to connections since start. */
  deliveries: number;
  /** This node's name. */
  node: string;
  /** Every node of the chat, this one first (a single server: only this one). */
  nodes: NodeStatus[];
}

/** What the command handlers may do; implemented by the hub. Errors are `ProtocolError`s. */
export interface CommandHost {
  /** The configured limits. */
  readonly limits: Limits;
  /** Server time in ms since the epoch. */
  now(): number;
  /** Server figures. */
  info(): ServiceInfo;
  /** Every connected user, in connection order (read lazily: take only what is shown). */
  users(): Listing<UserView>;
  /** The connected user with this name (case-insensitive), if any. */
  user(name: string): UserView | undefined;
  /**
   * For a registered name: the name as registered, and the keys its owner last logged in with
   * (absent when the server has none); undefined when nobody owns the name.
   */
  storedKeys(name: string): { name: string; keys?: IdentityKeys } | undefined;
  /** The identity owning `name`: connected user first, then the names registry. */
  ownerFingerprint(name: string): string | undefined;
  /** Every room that exists now, by name (read lazily: take only what is shown). */
  rooms(): Listing<RoomInfo>;
  /** Members of `room`, or undefined when it does not exist. */
  members(room: string): Listing<UserView> | undefined;
  /**
   * How many of `rows` rows of an answer to `user`'s current request its budget pays for
   * (server/charge.ts); fewer means the answer is cut. The console (no user) is not charged.
   */
  charge(user: UserView | undefined, kind: AnswerKind, rows: number): number;
  /** True when `fingerprint` is an operator. */
  isOperator(fingerprint: string): boolean;
  /** True when `fingerprint` was given with `--admin` (cannot be removed by `/deop`). */
  isAdmin(fingerprint: string): boolean;
  /** Renames `user` (same rules as auth) and announces it. */
  nick(user: UserView, name: string): void;
  /** Gives up a name `user`'s identity owns and is not using (ProtocolError otherwise). */
  releaseName(user: UserView, name: string): void;
  /** Joins `user` to `room`: history (replay) then a join event. */
  join(user: UserView, room: string, makePrivate?: boolean): RoomInfo;
  /** True when `room` is live or stored (a topic or a history). */
  roomExists(room: string): boolean;
  /** Takes `user` out of `room` with a leave event giving `reason`. */
  leave(user: UserView, room: string, reason: string): void;
  /** The room's topic. */
  topic(room: string): string;
  /** Sets the topic and announces it. */
  setTopic(room: string, text: string, by: string): void;
  /** Sets (text) or clears (undefined) the away status and announces it. */
  setAway(user: UserView, text: string | undefined): void;
  /**
   * The last `n` messages of `room` (with `below`: of those with a lower seq), oldest first,
   * marked replay, as a replay source, charged to `user` (the newest its budget pays for) before
   * any is read.
   */
  history(room: string, n: number, user: UserView | undefined, below?: number): HistoryAnswer;
  /** Kick event, leave "kicked by X", close "kicked". */
  kick(user: UserView, by: string, reason: string): void;
  /** Stores the ban and closes the matching live connections; returns how many. */
  ban(ban: Ban): number;
  /** Removes a ban; true when there was one. */
  unban(target: string): boolean;
  /** Bans in force. */
  bans(): Ban[];
  /** Mutes an identity (in memory) and announces it in the user's rooms if connected. */
  mute(fingerprint: string, by: string): void;
  /** True when `fingerprint` is muted. */
  isMuted(fingerprint: string): boolean;
  /** Unmutes an identity; true when it was muted. */
  unmute(fingerprint: string): boolean;
  /** The message of the day. */
  motd(): string;
  /** Replaces the message of the day (`""` clears it). */
  setMotd(text: string): void;
  /** Makes an identity an operator (persisted). */
  addOp(fingerprint: string): void;
  /** Removes a persisted operator; true when it was one. */
  removeOp(fingerprint: string): boolean;
  /** Room operators and room modes. */
  readonly roomModes: RoomModes;
  /** Private rooms. */
  readonly privateRooms: PrivateRoomHost;
  /** Removes every session of `user`'s name from `room`: kick event, leave "kicked by X". */
  kickFromRoom(user: UserView, room: string, by: string, reason: string): void;
  /** Announces a change of `room`'s modes (`text`, e.g. `+i`) to its members. */
  announceMode(room: string, by: string, text: string): void;
  /** Records a moderation action (console log and `--log`). */
  audit(record: ModerationRecord): void;
  /** Tells every connected session of `fingerprint` it was made (`op`) or unmade an operator. */
  tellOp(fingerprint: string, kind: "op" | "deop", by: string): void;
}

/** Who runs a command. */
export interface CommandContext {
  /** The hub. */
  host: CommandHost;
  /** The calling user; undefined for the operator console. */
  user?: UserView;
  /** Name recorded as `by`: the user's name or `"console"`. */
  by: string;
  /** The caller's fingerprint; undefined for the console. */
  byFingerprint?: string;
  /** True for operators and the console. */
  operator: boolean;
  /** True for `--admin` identities and the console: above operators made with `/op`. */
  admin?: boolean;
}

/** A command's answer: `reply.text` and `reply.data`. */
export interface CommandResult {
  /** Human text. */
  text: string;
  /** Machine-readable data (must fit in one record: keep it small). */
  data?: unknown;
  /** Messages sent to the caller, one by one and on demand, before the reply (history). */
  replay?: LineSource;
}

/** One entry of the command table. */
export interface Command {
  /** Name without the slash. */
  readonly name: string;
  /** Arguments, e.g. `NAME [reason]`. */
  readonly args: string;
  /** One-line description. */
  readonly help: string;
  /** Operators only. */
  readonly op: boolean;
  /** Needs a connected user (not available on the console). */
  readonly user: boolean;
  /** Fewest arguments. */
  readonly min: number;
  /** Most arguments (Infinity when the rest is free text). */
  readonly max: number;
  /** Runs the command; arguments are already counted. Throws `ProtocolError`. */
  run(ctx: CommandContext, args: string[]): CommandResult;
}
