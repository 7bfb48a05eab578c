/**
 * chat/1 AEAD record layer (PROTOCOL.md §3): AES-256-GCM or ChaCha20-Poly1305, as the handshake
 * chose, with per-direction counters in the nonce and the associated data, never transmitted.
 * Sealing and opening are synchronous, except large AES-256-GCM seals by `sealLater`.
 * @module
 */

import {
  type AeadCipher,
  type AeadKey,
  aeadOpen,
  aeadSeal,
  AES_GCM_LATER_MIN,
  aesGcmLaterRest,
  aesGcmSealLater,
} from "./crypto.ts";
import { utf8, utf8Length } from "./encoding.ts";
import { ProtocolError } from "./errors.ts";

/** Direction byte: client → server. */
export const C2S = 0;
/** Direction byte: server → client. */
export const S2C = 1;
/** AEAD tag length in bytes. */
export const TAG_BYTES = 16;
/** A sender reaching this many records sends `bye {reason:"rekey"}` (PROTOCOL.md §3). */
export const REKEY_AT = 2 ** 24;

const LABEL = utf8.encode("chat/1");

/**
 * Packs messages, in order, into as few record plaintexts (`msg ("\n" msg)*`) of at most `max`
 * UTF-8 bytes as fit. A message longer than `max` on its own is left for the caller to refuse.
 */
export function packRecords(messages: readonly string[], max: number): string[] {
  const records: string[] = [];
  let batch = "";
  let size = 0;
  for (const m of messages) {
    const n = utf8Length(m);
    if (size > 0 && size + 1 + n > max) {
      records.push(batch);
      size = 0;
    }
    batch = size === 0 ? m : batch + "\n" + m;
    size += (size === 0 ? 0 : 1) + n;
  }
  if (size > 0) records.push(batch);
  return records;
}

/** Cipher, key and IV for one direction. */
export interface DirectionKeys {
  /** The AEAD the handshake chose. */
  cipher: AeadCipher;
  /** 32-byte AEAD key. */
  key: AeadKey;
  /** 12-byte IV base. */
  iv: Uint8Array;
  /** 0 for client → server, 1 for server → client. */
  dir: 0 | 1;
}

/**
 * Nonce and associated data of one direction, rebuilt for every record:
 * `nonce = iv XOR (0⁴ ‖ seq:u64)`, `aad = "chat/1" ‖ dir:u8 ‖ seq:u64 ‖ length:u32`. Sealing and
 * opening are synchronous, so every direction of every connection shares one scratch nonce and
 * one scratch AAD: a direction keeps only its IV as three numbers (memory per idle connection).
 */
class RecordContext {
  static readonly nonce = new Uint8Array(12);
  static readonly aad = new Uint8Array(LABEL.length + 1 + 8 + 4);
  static readonly #nv = new DataView(RecordContext.nonce.buffer);
  static readonly #av = new DataView(RecordContext.aad.buffer);
  static {
    RecordContext.aad.set(LABEL, 0);
  }
  readonly cipher: AeadCipher;
  readonly key: AeadKey;
  #iv0: number;
  #iv1: number;
  #iv2: number;
  #dir: 0 | 1;

  constructor(k: DirectionKeys) {
    if (k.iv.length !== 12) throw new RangeError(`record IV must be 12 bytes, got ${k.iv.length}`);
    const iv = new DataView(k.iv.buffer, k.iv.byteOffset, 12);
    this.cipher = k.cipher;
    this.key = k.key;
    this.#iv0 = iv.getUint32(0);
    this.#iv1 = iv.getUint32(4);
    this.#iv2 = iv.getUint32(8);
    this.#dir = k.dir;
  }

  /**
   * Fills the shared nonce and AAD for record `seq` (< 2^53) whose body is `length` bytes; they
   * stay valid until the next call, so use them at once (synchronously).
   */
  set(seq: number, length: number): void {
    const hi = Math.floor(seq / 2 ** 32), lo = seq >>> 0;
    const nv = RecordContext.#nv;
    nv.setUint32(0, this.#iv0);
    nv.setUint32(4, (this.#iv1 ^ hi) >>> 0);
    nv.setUint32(8, (this.#iv2 ^ lo) >>> 0);
    const o = LABEL.length + 1, av = RecordContext.#av;
    RecordContext.aad[LABEL.length] = this.#dir;
    av.setUint32(o, hi);
    av.setUint32(o + 4, lo);
    av.setUint32(o + 8, length);
  }
}

/** Seals outgoing records; `seq` advances once per record. */
export class RecordSealer {
  #ctx: RecordContext;
  #seq: number;
  /**
   * Creates a sealer for one direction, its counter at `seq` (0 on the wire; tests start near
   * the limit); `RangeError` unless the IV is 12 bytes.
   */
  constructor(keys: DirectionKeys, seq = 0) {
    this.#ctx = new RecordContext(keys);
    this.#seq = seq;
  }
  /** Records sealed so far. */
  get seq(): number {
    return this.#seq;
  }
  /**
   * Encrypts `plaintext` (1..`maxPlaintext` bytes) into a record body (ciphertext + tag).
   * `RangeError` for a bad length; `ProtocolError("rekey")` once 2^24 + 1 records were sealed.
   */
  seal(plaintext: Uint8Array, maxPlaintext = 16_384): Uint8Array<ArrayBuffer> {
    if (plaintext.length === 0 || plaintext.length > maxPlaintext) {
      throw new RangeError(`record plaintext length ${plaintext.length} out of range`);
    }
    if (this.#seq > REKEY_AT) throw new ProtocolError("rekey", "record counter exhausted");
    const seq = this.#seq++;
    const c = this.#ctx;
    c.set(seq, plaintext.length + TAG_BYTES);
    return aeadSeal(c.cipher, c.key, RecordContext.nonce, RecordContext.aad, plaintext);
  }
  /**
   * Like {@linkcode seal}, but a large AES-256-GCM record comes back as a promise of its body,
   * sealed by WebCrypto (cheaper per byte here); `plaintext` may change once this returns.
   * Records keep their order of `seq` whatever order the promises settle in.
   */
  sealLater(
    plaintext: Uint8Array,
    maxPlaintext = 16_384,
  ): Uint8Array<ArrayBuffer> | Promise<Uint8Array<ArrayBuffer>> {
    const c = this.#ctx;
    if (c.cipher !== "aes-256-gcm" || plaintext.length < AES_GCM_LATER_MIN) {
      return this.seal(plaintext, maxPlaintext);
    }
    if (plaintext.length > maxPlaintext) {
      throw new RangeError(`record plaintext length ${plaintext.length} out of range`);
    }
    if (this.#seq > REKEY_AT) throw new ProtocolError("rekey", "record counter exhausted");
    c.set(this.#seq++, plaintext.length + TAG_BYTES);
    return aesGcmSealLater(c.key, RecordContext.nonce, RecordContext.aad, plaintext);
  }
  /** Lets go of what {@linkcode sealLater} kept for the next large record (a quiet connection). */
  rest(): void {
    if (this.#ctx.cipher === "aes-256-gcm") aesGcmLaterRest(this.#ctx.key);
  }
}

/** Opens incoming records in order; any failure is final for the connection. */
export class RecordOpener {
  #ctx: RecordContext;
  #seq: number;
  /**
   * Creates an opener for one direction, its counter at `seq` (0 on the wire; tests start near
   * the limit); `RangeError` unless the IV is 12 bytes.
   */
  constructor(keys: DirectionKeys, seq = 0) {
    this.#ctx = new RecordContext(keys);
    this.#seq = seq;
  }
  /** Records opened (or attempted) so far. */
  get seq(): number {
    return this.#seq;
  }
  /**
   * Decrypts a record body; throws `ProtocolError("bad_record")` if it is too short or fails
   * authentication, `ProtocolError("rekey")` past the counter limit.
   */
  open(body: Uint8Array): Uint8Array<ArrayBuffer> {
    if (body.length <= TAG_BYTES) throw new ProtocolError("bad_record", "record too short");
    if (this.#seq > REKEY_AT) throw new ProtocolError("rekey", "record counter exhausted");
    const seq = this.#seq++;
    const c = this.#ctx;
    c.set(seq, body.length);
    return aeadOpen(c.cipher, c.key, RecordContext.nonce, RecordContext.aad, body);
  }
}
