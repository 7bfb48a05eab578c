/**
 * Test support: a hub peer that records what the hub sends it (it stands in for a socket, not
 * for the server). Replay sources are drained at once, in small batches.
 * @module
 */

import type { LineSource, Peer } from "../../server/hub.ts";
import type { AnswerKind } from "../../server/charge.ts";

/** A parsed server message. */
// deno-lint-ignore no-explicit-any
export type Json = any;

/** A peer that records lines and closes. */
export class FakePeer implements Peer {
  /** Lines received since the last `take`. */
  lines: string[] = [];
  /** The reason given to `close`, once closed. */
  closed: string | undefined;
  /** Base64 identity key. */
  readonly sigPub: string;

  /** A peer with the given id, identity and address. */
  constructor(
    readonly id: number,
    readonly fingerprint: string,
    readonly ip = "192.0.2.1",
    readonly kemPub?: string,
    readonly kemSig?: string,
  ) {
    this.sigPub = "sig-" + fingerprint.slice(7, 9);
  }

  /** Records one line (bytes decoded). */
  send(line: string | Uint8Array): void {
    this.lines.push(typeof line === "string" ? line : new TextDecoder().decode(line));
  }

  /** Drains the source in batches of 7 lines. */
  replay(source: LineSource): void {
    for (let more = source.next(7); more.length > 0; more = source.next(7)) {
      this.lines.push(...more);
    }
  }

  /** Unlimited budget: grants every row asked for (and records the ask in `granted`). */
  grant(kind: AnswerKind, rows: number): number {
    this.granted.push([kind, rows]);
    return rows;
  }

  /** Rows asked for through {@link grant}. */
  granted: [AnswerKind, number][] = [];

  /** Records the close. */
  close(reason: string): void {
    this.closed = reason;
  }

  /** Everything received since the last take, parsed. */
  take(): Json[] {
    const out = this.lines.map((l) => JSON.parse(l));
    this.lines = [];
    return out;
  }
}
