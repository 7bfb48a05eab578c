/**
 * What a {@link ChatClient} is given: the server's addresses, the identity and pins, the
 * callbacks that ask the user and hear events, and the knobs of reconnection and keep-alive.
 * @module
 */

import type { ClientEvent } from "./view.ts";
import type { KnownServers } from "./known_servers.ts";
import type { Identity } from "../shared/keys.ts";

/** One address of a server. */
export interface ServerAddress {
  /** Host name or IP address. */
  host: string;
  /** Port. */
  port: number;
}

/** How often a session holding room keys pings: with the 5 s keep-alive tick, at most 30 s. */
export const ROOM_PING_MS = 25_000;

/** Most addresses one client is given (`host:port` and its fallbacks). */
export const MAX_ADDRESSES = 16;

/** What a client needs to run. */
export interface ClientOptions {
  /** Server host. */
  host: string;
  /** Server port. */
  port: number;
  /**
   * Further addresses of the same service (the nodes of a cluster), tried in order after
   * `host:port`; after a drop the client goes on with the next one. All must present one key.
   */
  fallbacks?: readonly ServerAddress[];
  /** The user's identity. */
  identity: Identity;
  /** Pinned server keys. */
  knownServers: KnownServers;
  /** Asked when the server is unknown; true pins its key. */
  trustNewServer: (hostPort: string, fingerprint: string) => Promise<boolean>;
  /** Supplies a name (first without a reason, then after a rejection with the server's reason). */
  chooseName: (reason?: string) => Promise<string>;
  /** Receives every event, in order. */
  onEvent: (ev: ClientEvent) => void;
  /** Reconnect after a lost connection (default true). */
  reconnect?: boolean;
  /** Rooms to join first (default `#lobby`). */
  rooms?: string[];
  /** Random source in [0,1) for backoff jitter. */
  random?: () => number;
  /** Deadline for connect + handshake + auth, and for commands (ms). */
  timeoutMs?: number;
  /** Outbox capacity (says not yet acknowledged). */
  outboxMax?: number;
  /**
   * Trust exactly this server key: another key is refused, and a different pinned key is
   * replaced by this one.
   */
  expectedFingerprint?: string;
  /** Arguments the recovery hint after a changed server key repeats (e.g. `--home DIR`). */
  hintArgs?: readonly string[];
  /** Pinned peer keys (`known_users`), checked against private-room members' keys. */
  knownUsers?: { lookup(hostPort: string, name: string): string | undefined };
  /**
   * Ask each session for the private messages the server queued while the user was offline
   * (when the server offers the queue); the application acknowledges them with `ackDms`.
   */
  dmQueue?: boolean;
  /** Offer room records (docs/protocol.md §3); default true, false for `--no-room-records`. */
  roomRecords?: boolean;
  /**
   * While the session holds room keys, ping at least this often (ms; default
   * {@link ROOM_PING_MS}): the `pong` shows whether room records were withheld.
   */
  roomPingMs?: number;
}
