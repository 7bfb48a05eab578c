/**
 * chat/1 AEAD record layer (PROTOCOL.md §3): AES-256-GCM with per-direction
 * counters in the nonce and the associated data, never transmitted.
 * @module
 */

import { aesGcmDecrypt, aesGcmEncrypt } from "./crypto.ts";
import { concat, u32, u64, utf8, utf8Length } from "./encoding.ts";
import { ProtocolError } from "./errors.ts";

/** Direction byte: client → server. */
export const C2S = 0;
/** Direction byte: server → client. */
export const S2C = 1;
/** AES-GCM tag length in bytes. */
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

/** Keys and IV for one direction. */
export interface DirectionKeys {
  /** AES-256-GCM key, non-extractable. */
  key: CryptoKey;
  /** 12-byte IV base. */
  iv: Uint8Array;
  /** 0 for client → server, 1 for server → client. */
  dir: 0 | 1;
}

function nonce(iv: Uint8Array, seq: number): Uint8Array<ArrayBuffer> {
  const n = new Uint8Array(iv);
  const s = u64(seq);
  for (let i = 0; i < 8; i++) n[4 + i] ^= s[i];
  return n;
}

function aad(dir: number, seq: number, length: number): Uint8Array<ArrayBuffer> {
  return concat(LABEL, Uint8Array.of(dir), u64(seq), u32(length));
}

/** Seals outgoing records; `seq` advances once per record, synchronously. */
export class RecordSealer {
  #k: DirectionKeys;
  #seq = 0;
  /** Creates a sealer for one direction. */
  constructor(keys: DirectionKeys) {
    this.#k = keys;
  }
  /** Records sealed so far. */
  get seq(): number {
    return this.#seq;
  }
  /** Encrypts `plaintext` (1..16,384 bytes) into a record body (plaintext + tag). */
  seal(plaintext: Uint8Array, maxPlaintext = 16_384): Promise<Uint8Array<ArrayBuffer>> {
    if (plaintext.length === 0 || plaintext.length > maxPlaintext) {
      throw new RangeError(`record plaintext length ${plaintext.length} out of range`);
    }
    if (this.#seq > REKEY_AT) throw new ProtocolError("rekey", "record counter exhausted");
    const seq = this.#seq++;
    const len = plaintext.length + TAG_BYTES;
    return aesGcmEncrypt(
      this.#k.key,
      nonce(this.#k.iv, seq),
      aad(this.#k.dir, seq, len),
      plaintext,
    );
  }
}

/** Opens incoming records in order; any failure is final for the connection. */
export class RecordOpener {
  #k: DirectionKeys;
  #seq = 0;
  /** Creates an opener for one direction. */
  constructor(keys: DirectionKeys) {
    this.#k = keys;
  }
  /** Records opened (or attempted) so far. */
  get seq(): number {
    return this.#seq;
  }
  /** Decrypts a record body; throws `ProtocolError("bad_record")` if it fails authentication. */
  open(body: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
    if (body.length <= TAG_BYTES) {
      return Promise.reject(new ProtocolError("bad_record", "record too short"));
    }
    if (this.#seq > REKEY_AT) {
      return Promise.reject(new ProtocolError("rekey", "record counter exhausted"));
    }
    const seq = this.#seq++;
    return aesGcmDecrypt(
      this.#k.key,
      nonce(this.#k.iv, seq),
      aad(this.#k.dir, seq, body.length),
      body,
    );
  }
}
