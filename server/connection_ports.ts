/**
 * What a connection takes from the rest of the server: the hub's port, the host key and the
 * shared context (limits, clock, log, callbacks). Types only; server/connection.ts uses them.
 * @module
 */

import type { AuthMessage, ClientMessage } from "../shared/messages.ts";
import type { KeyObject } from "../shared/crypto.ts";
import type { Limits } from "../shared/limits.ts";
import type { Peer } from "./hub.ts";
import type { VerifiedIdentities } from "./verified_identities.ts";

/** What a connection needs from the hub (see server/hub.ts). */
export interface HubPort {
  /** Handles `auth`; sends welcome or error through the peer. */
  authenticate(peer: Peer, auth: AuthMessage): "ok" | "retry" | "fatal";
  /**
   * What must be settled before `msg` is handed to `authenticate` or `handle` (a cluster's
   * name owner); undefined when nothing. Optional.
   */
  prepare?(peer: Peer, msg: ClientMessage): Promise<void> | undefined;
  /** A request from an authenticated peer. */
  handle(peerId: number, msg: Exclude<ClientMessage, AuthMessage>): void;
  /** The peer is gone. */
  disconnect(peerId: number, reason: string): void;
  /** Relays the messages still being stored, so that what is sent next comes after them. */
  settle(): void;
}

/** The host key the server signs its hellos with. */
export interface HostKeyPort {
  /** Ed25519 private key. */
  privateKey: KeyObject;
  /** Raw 32-byte public key. */
  publicRaw: Uint8Array;
}

/** Shared context of all connections; `C` is the connection type handed to the callbacks. */
export interface ConnectionContext<C> {
  /** The hub. */
  hub: HubPort;
  /** The host key. */
  hostKey: HostKeyPort;
  /** Limits in force. */
  limits: Limits;
  /** Clock in ms. */
  now: () => number;
  /** Structured log sink for notable events (no secrets). */
  log: (level: "debug" | "info" | "warn", message: string, props?: Record<string, unknown>) => void;
  /** Called once when the connection is fully closed. */
  onClosed: (c: C) => void;
  /** Called once when the connection authenticates. */
  onAuthenticated: (c: C) => void;
  /** Identities already verified on this server (skips repeated key checks); optional. */
  verified?: VerifiedIdentities;
}
