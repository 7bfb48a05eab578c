/**
 * chat/1 framing (PROTOCOL.md §1): `length:u32 ‖ body[length]`, sans-IO.
 *
 * The decoder checks each length against the current limits before it
 * allocates the body, and hands out one frame at a time so the caller can
 * change the limits between the handshake and the record phase.
 * @module
 */

import { ProtocolError } from "./errors.ts";

/** Limits a frame length must satisfy (inclusive). */
export interface FrameLimits {
  /** Smallest acceptable body length (at least 1). */
  min: number;
  /** Largest acceptable body length. */
  max: number;
}

/** Encodes one frame; `RangeError` for an empty body or one over 2^32-1 bytes. */
export function encodeFrame(body: Uint8Array): Uint8Array<ArrayBuffer> {
  if (body.length === 0 || body.length > 0xffffffff) {
    throw new RangeError(`frame body length ${body.length} out of range`);
  }
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, 4);
  return out;
}

/** Every decoder's length header, filled and read synchronously in `next`. */
const HEADER = new Uint8Array(4);
const HEADER_VIEW = new DataView(HEADER.buffer);

/** Incremental frame decoder: `push` bytes, then take frames with `next`. */
export class FrameDecoder {
  /** Current limits; may be changed between frames. */
  limits: FrameLimits;
  #chunks: Uint8Array[] = [];
  #offset = 0; // read offset into #chunks[0]
  #buffered = 0;
  #body: Uint8Array<ArrayBuffer> | null = null;
  #filled = 0;

  /** Creates a decoder with the given limits. */
  constructor(limits: FrameLimits) {
    this.limits = limits;
  }

  /** Bytes received and not yet returned as part of a frame. */
  get buffered(): number {
    return this.#buffered + this.#filled;
  }

  /** Adds received bytes (kept by reference; do not reuse the buffer). */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
  }

  /**
   * Returns the next complete frame body, or `null` if more bytes are needed.
   * Throws `ProtocolError("bad_frame")` when a length is outside the limits.
   */
  next(): Uint8Array<ArrayBuffer> | null {
    if (this.#body === null) {
      if (this.#buffered < 4) return null;
      this.#take(HEADER, 0, 4); // shared scratch: read at once, never kept
      const len = HEADER_VIEW.getUint32(0);
      if (len < Math.max(1, this.limits.min) || len > this.limits.max) {
        throw new ProtocolError(
          "bad_frame",
          `frame length ${len} outside ${this.limits.min}..${this.limits.max}`,
        );
      }
      this.#body = new Uint8Array(len);
      this.#filled = 0;
    }
    const need = this.#body.length - this.#filled;
    const n = Math.min(need, this.#buffered);
    this.#take(this.#body, this.#filled, n);
    this.#filled += n;
    if (this.#filled < this.#body.length) return null;
    const body = this.#body;
    this.#body = null;
    this.#filled = 0;
    return body;
  }

  /** Call at EOF: throws `ProtocolError("truncated")` if a frame was begun and not finished. */
  finish(): void {
    if (this.#body !== null || this.#buffered > 0) {
      throw new ProtocolError("truncated", "connection closed inside a frame");
    }
  }

  #take(dst: Uint8Array, at: number, n: number): void {
    let done = 0;
    while (done < n) {
      const c = this.#chunks[0];
      const k = Math.min(n - done, c.length - this.#offset);
      dst.set(c.subarray(this.#offset, this.#offset + k), at + done);
      done += k;
      this.#offset += k;
      if (this.#offset === c.length) {
        this.#chunks.shift();
        this.#offset = 0;
      }
    }
    this.#buffered -= n;
  }
}
