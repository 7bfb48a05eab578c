/**
 * Everything the hub depends on, passed in by the server (or a test): the store, the limits,
 * the clock, the server's identity and the optional operator log, audit and transcript sinks.
 * @module
 */

import type { Limits } from "../shared/limits.ts";
import type { Blacklist } from "../shared/names.ts";
import type { ModerationRecord } from "./audit.ts";
import type { EventMessage } from "../shared/messages.ts";
import type { UserCard } from "./roster.ts";
import type { Ban, Store, StoredMessage } from "./store.ts";
import type { Upkeep } from "./upkeep.ts";
import type { RoomMembers } from "./room_members.ts";
import type { TranscriptEntry } from "./transcript.ts";
import type { NodeDirectory } from "./nodes.ts";
import type { RoomChannel } from "./room_channel.ts";

/** The private-room calls the hub makes on the store. */
export type HubMembers = Pick<
  RoomMembers,
  "isPrivate" | "makePrivate" | "add" | "remove" | "removeEverywhere" | "get" | "list" | "count"
>;

/** The quota and bookkeeping calls the hub makes on the store. */
export type HubUpkeep = Pick<Upkeep, "touchName" | "roomExists" | "charge">;

/**
 * What the hub asks of the store: the few calls it makes, so that another store (the
 * cluster's, server/cluster/cluster_store.ts) can stand in for server/store.ts without
 * touching the hub. Reads are synchronous; a room message is stored with `append`, whose
 * callback runs once the message is stored, in its room's order.
 * Without `dmQueue`, private messages to offline users are refused (`offline`).
 */
export type HubStore =
  & Pick<
    Store,
    | "flush"
    | "append"
    | "findById"
    | "lastSeq"
    | "after"
    | "topic"
    | "setTopic"
    | "ownerOf"
    | "namesOwnedBy"
    | "claimName"
    | "releaseName"
    | "bans"
    | "addBan"
    | "removeBan"
    | "isOp"
    | "addOp"
    | "removeOp"
  >
  & {
    /** Quotas and bookkeeping. */
    readonly upkeep: HubUpkeep;
    /** Room kinds and private-room members (server/room_members.ts). */
    readonly members: HubMembers;
    /**
     * Settles, before a login or `/nick` asks `claimName`, who owns the name with case-folded
     * `key` where that takes a round trip (a shared store: one winner in a race), claiming it
     * for `fingerprint` when nobody owns it. Absent for the embedded store; never rejects.
     */
    reserveName?(key: string, name: string, fingerprint: string): Promise<void>;
    /** The message of the day set with `/motd` and shared by a cluster; absent otherwise. */
    motd?(): string | undefined;
    /** Shares the message of the day set with `/motd` (a cluster); absent otherwise. */
    setMotd?(text: string): void;
    /** Private messages waiting for offline recipients (server/dm_queue.ts); optional. */
    readonly dmQueue?: Store["dmQueue"];
  };

/** A change to one user of a node: its card, or none when the name left that node. */
export interface UserChange {
  /** Case-folded name. */
  key: string;
  /** The user as its node describes it; absent when gone. */
  card?: UserCard;
}

/** What other nodes of a cluster tell the hub (see {@linkcode Bus}). */
export interface BusEvents {
  /** A room message stored through another node, handed on in its room's order. */
  message(m: StoredMessage): void;
  /** A ban added through another node: matching sessions here are closed. */
  banned(b: Ban): void;
  /** A room (or server-wide) event said on another node, for the members here. */
  event(ev: EventMessage): void;
  /** Changes to the users of `node`; `full`: every user it has (the rest are gone). */
  users(node: string, changes: UserChange[], full: boolean): void;
  /** `node` stopped or went silent: its users are gone. */
  nodeGone(node: string): void;
  /** Every user of this node (for a node that asks). */
  roster(): UserCard[];
  /** A private message (its `dm` line) for the user `key` here; true when delivered. */
  dm(key: string, line: string): boolean;
  /** Another node kicked the user `key` connected here. */
  kick(key: string, by: string, reason: string): void;
  /** Another node muted (`on`) or unmuted the identity `fp`. */
  muted(fp: string, by: string, on: boolean): void;
}

/**
 * How events reach the other nodes of a cluster. A single server has none (no bus); the
 * cluster's bus is server/cluster/cluster_bus.ts.
 */
export interface Bus {
  /** Starts handing events from other nodes to `to`. */
  attach(to: BusEvents): void;
  /** An event said here, for the members (or everyone) on the other nodes. */
  event(ev: EventMessage): void;
  /** Changes to this node's users. */
  users(changes: UserChange[]): void;
  /** Mutes (`on`) or unmutes the identity `fp` on the other nodes. */
  mute(fp: string, by: string, on: boolean): void;
  /** Kicks the user `key` connected to `node`. */
  kick(node: string, key: string, by: string, reason: string): void;
  /** Hands a private message line to the user `key` on `node`; true once delivered. */
  dm(node: string, key: string, line: string): Promise<boolean>;
}

/** Everything the hub depends on. */
export interface HubOptions {
  /** The database. */
  store: HubStore;
  /** The other nodes of a cluster; absent for a single server. */
  bus?: Bus;
  /** Limits in force. */
  limits: Limits;
  /** Clock, ms since the epoch. */
  now: () => number;
  /** Server name for `welcome` and `/service`. */
  serverName: string;
  /** Software version. */
  version: string;
  /** The configured message of the day (`/motd text` overrides it in memory). */
  motd: () => string;
  /** Host key fingerprint. */
  hostFingerprint: string;
  /** Operator fingerprints from `--admin`. */
  admins: ReadonlySet<string>;
  /** The current name blacklist. */
  blacklist: () => Blacklist;
  /** Optional `--log` transcript. */
  transcript?: { write(entry: TranscriptEntry): void };
  /** Server start time, ms since the epoch. */
  startedAt: number;
  /** Open connections (authenticated or not). */
  connectionCount: () => number;
  /** This node's name for `/service` and `/stats` (default the server name). */
  nodeName?: string;
  /** The other nodes of a cluster, as a cluster's bus hears them; absent for a single server. */
  nodes?: NodeDirectory;
  /** Notable events for the operator (logins, logouts, name claims); optional. */
  log?: (level: "debug" | "info" | "warn", message: string, props: Record<string, unknown>) => void;
  /** Moderation actions, for the console and `--log`; optional. */
  audit?: (record: ModerationRecord) => void;
  /**
   * Room records (server/room_records.ts): where a whole room's `msg` and `event` lines go;
   * absent: every member gets them in ordinary messages.
   */
  roomRecords?: RoomChannel;
}
