/**
 * chat/1 framing (docs/protocol.md §1): `length:u32 ‖ body[length]`, sans-IO. A room record
 * (§3 "Room records") is a frame whose length has bit 31 set.
 *
 * The decoder checks each length against the current limits before it
 * allocates the body, and hands out one frame at a time so the caller can
 * change the limits between the handshake and the record phase.
 * @module
 */

import { ProtocolError } from "./errors.ts";

/** Bit 31 of a frame length: the frame is a room record (docs/protocol.md §3). */
export const ROOM_FRAME_FLAG = 0x8000_0000;
/** Bytes a room record adds to its plaintext: epoch (8), rseq (4), tag (16), signature (64). */
export const ROOM_RECORD_OVERHEAD = 92;
/** Largest room-record body: 16,384 bytes of plaintext plus {@link ROOM_RECORD_OVERHEAD}. */
export const MAX_ROOM_FRAME = 16_384 + ROOM_RECORD_OVERHEAD;

/** Limits a frame length must satisfy (inclusive). */
export interface FrameLimits {
  /** Smallest acceptable body length (at least 1), room records included. */
  min: number;
  /** Largest acceptable body length. */
  max: number;
  /**
   * Largest body of a room record (a length with bit 31 set), only when room records were
   * negotiated; absent (or 0), such a length is over the limit like any other.
   */
  room?: number;
}

/** Encodes one frame; `RangeError` for an empty body or one over 2^32-1 bytes. */
export function encodeFrame(body: Uint8Array): Uint8Array<ArrayBuffer> {
  if (body.length === 0 || body.length > 0xffffffff) {
    throw new RangeError(`frame body length ${body.length} out of range`);
  }
  return frameWith(body.length, body);
}

/** Encodes one room-record frame (bit 31 set); `RangeError` for an empty body or one of 2^31 bytes. */
export function encodeRoomFrame(body: Uint8Array): Uint8Array<ArrayBuffer> {
  if (body.length === 0 || body.length >= ROOM_FRAME_FLAG) {
    throw new RangeError(`room frame body length ${body.length} out of range`);
  }
  return frameWith((ROOM_FRAME_FLAG | body.length) >>> 0, body);
}

function frameWith(header: number, body: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, header);
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
  #bodyRoom = false;
  #room = false;

  /** Creates a decoder with the given limits. */
  constructor(limits: FrameLimits) {
    this.limits = limits;
  }

  /** True when the frame `next` last returned is a room record (its length had bit 31 set). */
  get room(): boolean {
    return this.#room;
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
   * Throws `ProtocolError("bad_frame")` when a length is outside the limits: a length with bit
   * 31 set is checked, without the flag, against `limits.room`, and is over the limit without it.
   */
  next(): Uint8Array<ArrayBuffer> | null {
    if (this.#body === null) {
      if (this.#buffered < 4) return null;
      this.#take(HEADER, 0, 4); // shared scratch: read at once, never kept
      const raw = HEADER_VIEW.getUint32(0);
      const room = raw >= ROOM_FRAME_FLAG && (this.limits.room ?? 0) > 0;
      const len = room ? raw - ROOM_FRAME_FLAG : raw;
      const max = room ? this.limits.room! : this.limits.max;
      if (len < Math.max(1, this.limits.min) || len > max) {
        throw new ProtocolError(
          "bad_frame",
          `${room ? "room " : ""}frame length ${len} outside ${this.limits.min}..${max}`,
        );
      }
      this.#body = new Uint8Array(len);
      this.#bodyRoom = room;
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
    this.#room = this.#bodyRoom;
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
