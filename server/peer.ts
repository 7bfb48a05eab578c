/**
 * A connection as the hub sees it: the {@linkcode Peer} it answers through (implemented by
 * server/connection.ts), and the `error` line it sends when a request is refused.
 * @module
 */

import type { AnswerKind } from "./charge.ts";
import type { LineSource, UserView } from "./command_host.ts";
import type { RoomReceiver } from "./room_channel.ts";

/**
 * One authenticated-or-authenticating connection as the hub sees it (server/connection.ts):
 * its identity's proof and its `kem_sig` are already verified.
 */
export interface Peer
  extends Pick<UserView, "ip" | "fingerprint" | "sigPub" | "kemPub" | "kemSig"> {
  /** Unique per connection. */
  readonly id: number;
  /**
   * Enqueues ONE serialised JSON message, as text or as its UTF-8 bytes (shared by every
   * recipient: never changed after the call); never blocks.
   */
  send(line: string | Uint8Array): void;
  /** Present when the connection negotiated room records (server/room_records.ts). */
  readonly roomRecords?: RoomReceiver;
  /** Enqueues lines produced on demand (history), in order with `send`; never blocks. */
  replay(source: LineSource): void;
  /**
   * How many of `rows` rows of the answer to the request being handled its budget pays for
   * (server/charge.ts); fewer means the answer is cut. Ask before doing the work.
   */
  grant(kind: AnswerKind, rows: number): number;
  /** Sends `bye {reason}` and closes; the server then calls `Hub.disconnect`. */
  close(reason: string): void;
}

/** Sends `peer` an `error` line for request `id` (none at login); `retry` only when given. */
export function sendError(
  peer: Peer,
  id: string | undefined,
  code: string,
  message: string,
  retry?: boolean,
): void {
  const e: Record<string, unknown> = { t: "error" };
  if (id !== undefined) e.id = id;
  e.code = code;
  e.message = message;
  if (retry !== undefined) e.retry = retry;
  peer.send(JSON.stringify(e));
}
