/**
 * What a `chat bench` run is told (its parsed options), and what every part of a load run
 * derives from them alone: the room of each client and the bench DM key.
 * @module
 */

import { fromBase64 } from "../shared/encoding.ts";

/** Parsed `chat bench` options. */
export interface BenchConfig {
  /** Server host (the first address). */
  host: string;
  /** Server port (the first address). */
  port: number;
  /** Every address; client i connects to address i mod N. */
  targets: { host: string; port: number }[];
  /** Expected host-key fingerprint; undefined with --accept-new. */
  fingerprint?: string;
  /** Clients to connect. */
  clients: number;
  /** Senders among them. */
  senders: number;
  /** Messages in total. */
  messages: number;
  /** Total messages per second; 0 = unpaced. */
  rate: number;
  /** Outstanding messages per sender. */
  window: number;
  /** Text size in bytes. */
  size: number;
  /** The room. */
  room: string;
  /** Rooms the clients are spread over (1 = just `room`). */
  rooms: number;
  /** Handshake-only mode: this many sequential cycles (0 = load mode). */
  handshakes: number;
  /** Send a DM key in `auth` (one RSA key shared by all bench identities). */
  dmKey: boolean;
  /** A private room: sealed lines (`--private`). */
  private: boolean;
  /** Offer room records (false with `--no-room-records`). */
  roomRecords: boolean;
  /** Parallel connection setups. */
  concurrency: number;
  /** Hold time after the run (ms). */
  holdMs: number;
  /** Drain deadline (ms). */
  drainMs: number;
  /** Connect + handshake + auth deadline (ms). */
  timeoutMs: number;
  /** Server processes to observe (their figures are summed). */
  serverPids: number[];
  /** The NATS server's process, observed apart. */
  natsPid?: number;
  /** JSON output. */
  json: boolean;
  /** Threads the clients are spread over (`--workers`; 1 = all in the main thread). */
  workers: number;
}

/**
 * The SPKI of the RSA-OAEP-3072 key every bench identity presents with `--dm-key` (its private
 * half was never kept). It is the same in every run, so that from the second run on a server
 * sees returning identities, with the DM key it already verified, as it sees real clients.
 */
export const BENCH_DM_SPKI =
  "MIIBojANBgkqhkiG9w0BAQEFAAOCAY8AMIIBigKCAYEAt9bBwRdWPYCqPqNcjkb869uab8VyzWAnYvWdE7KWA/gN" +
  "6ywK4hxwamG6RrK7ltXUUmjUZGiLiwMVlMwwNz4AvlB1Wwg17TBKOoepLlBec+hK5aW34C2n13W48RnU99fUZJQP" +
  "+qv1UOtwtoHKiPkDrqVLF2OwsTY6tMYJ9Ecxiy8lsIx7+aVhL7jefceqHTxoSagrC9H5klJ1Wuj0T7EgZDwXEDww" +
  "hR4IOF26PZRIBCr4QTuYDCm+ZgqMpVNtKr2iMDvYAwNKW9Qi/Z8MM0ULgEJD86+iRcBtNOMrXfbfSg4CwdziurtP" +
  "OTxo1Sff+bkXomx3xGiyMXNKqYXeE+b8JMJ0C9Anh8E9SL0HQFSLyc0MTA9Z2KgOWkRnjJ9yEPz6ZN2AGpd1eoWa" +
  "VJ44PPbTr2/Di1xRL2BfDCbDqfk7nHF1RVVp9SgB5PspQ7HpMjLG8qWad0LUYeNULqJDyxuwehSOnMvRYeIzJK8F" +
  "JVcHGJEShaBA3wKCLWikjZrr1JKBAgMBAAE=";

/** The bench DM key, as bytes. */
export function dmKeySpki(): Uint8Array {
  return fromBase64(BENCH_DM_SPKI);
}

/** The room of client `i` (0-based). */
export function roomOf(c: Pick<BenchConfig, "room" | "rooms">, i: number): string {
  return c.rooms <= 1 ? c.room : `${c.room}-${(i % c.rooms) + 1}`;
}
