/**
 * Everything the hub depends on, passed in by the server (or a test): the store, the limits,
 * the clock, the server's identity and the optional operator log, audit and transcript sinks.
 * @module
 */

import type { Limits } from "../shared/limits.ts";
import type { Blacklist } from "../shared/names.ts";
import type { ModerationRecord } from "./audit.ts";
import type { Store } from "./store.ts";
import type { TranscriptEntry } from "./transcript.ts";
import type { NodeDirectory } from "./nodes.ts";

/**
 * What the hub asks of the database: the few calls it makes, so that another store (e.g. one
 * shared by several servers) can stand in for server/store.ts without touching the hub.
 */
export type HubStore = Pick<
  Store,
  | "flush"
  | "append"
  | "appendMessage"
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
  | "upkeep"
>;

/** Everything the hub depends on. */
export interface HubOptions {
  /** The database. */
  store: HubStore;
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
