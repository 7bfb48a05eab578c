/**
 * Everything the hub depends on, passed in by the server (or a test): the store, the limits,
 * the clock, the server's identity and the optional operator log, audit and transcript sinks.
 * @module
 */

import type { Limits } from "../shared/limits.ts";
import type { Blacklist } from "../shared/names.ts";
import type { ModerationRecord } from "./audit.ts";
import type { Ban, Store, StoredMessage } from "./store.ts";
import type { Upkeep } from "./upkeep.ts";
import type { RoomMembers } from "./room_members.ts";
import type { TranscriptEntry } from "./transcript.ts";
import type { NodeDirectory } from "./nodes.ts";

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
  };

/** What other nodes of a cluster tell the hub (see {@linkcode Bus}). */
export interface BusEvents {
  /** A room message stored through another node, handed on in its room's order. */
  message(m: StoredMessage): void;
  /** A ban added through another node: matching sessions here are closed. */
  banned(b: Ban): void;
}

/**
 * How events reach the other nodes of a cluster. A single server has none (no bus); the
 * cluster's bus is server/cluster/cluster_store.ts.
 */
export interface Bus {
  /** Starts handing events from other nodes to `to`. */
  attach(to: BusEvents): void;
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
}
