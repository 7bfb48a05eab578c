/**
 * End-to-end encrypted private-room lines (`rm1`) and sender-key distribution (`rk1`),
 * docs/protocol.md §8: a sender key is a chain key advanced by an HKDF ratchet (one AES-256-GCM
 * key per line, so a stolen current chain key does not read earlier lines), given to each member
 * wrapped with RSA-OAEP-3072 and signed with Ed25519; every line is signed by its sender's
 * identity. Pure functions and bounded state; the random source is a parameter. Every failure is
 * a `ProtocolError` whose code names the check that stopped it (the recipient shows only "cannot
 * decrypt message from NAME", so nothing goes back to a sender or the server).
 * @module
 */

import { concat, decodeUtf8, toBase64, u32, utf8 } from "./encoding.ts";
import { ProtocolError } from "./errors.ts";
import {
  aeadImport,
  aeadOpen,
  aeadSeal,
  ed25519Sign,
  ed25519Verify,
  hkdfSha256,
  isFingerprint,
  type KeyObject,
  randomBytes,
  rsaOaepDecrypt,
  rsaOaepEncrypt,
  rsaOaepImportPublic,
} from "./crypto.ts";
import { NAME_PATTERN } from "./names.ts";

/** Largest line envelope in bytes (before base64), checked before anything is parsed. */
export const ROOM_LINE_MAX = 8192;
/** Largest key-distribution envelope in bytes (before base64). */
export const ROOM_KEY_MAX = 2048;
/** Largest header of either envelope, in bytes. */
export const ROOM_HEADER_MAX = 1024;
/** Largest text of a line, in UTF-8 bytes. */
export const ROOM_TEXT_MAX = 2048;
/** Line plaintexts are padded to a multiple of this many bytes. */
export const ROOM_BUCKET = 256;
/** Most ratchet steps a recipient takes for one line (a gap of dropped or unseen lines). */
export const ROOM_MAX_SKIP = 4096;
/** Highest chain index; a sender starts a new key before reaching it. */
export const ROOM_MAX_INDEX = 0xffff_ffff;
/** Length of the wrapped chain key (RSA-OAEP-3072). */
export const ROOM_WRAPPED_LEN = 384;
/** HKDF info of the ratchet step. */
export const RATCHET_INFO: Uint8Array = utf8.encode("chat/1 room ratchet");
/** Domain-separation prefix of a line signature. */
export const LINE_SIG_CONTEXT: Uint8Array = utf8.encode("chat/1 room line\0");
/** Domain-separation prefix of a distribution signature. */
export const KEY_SIG_CONTEXT: Uint8Array = utf8.encode("chat/1 room key\0");
/** RSA-OAEP label of a wrapped chain key. */
export const KEY_LABEL: Uint8Array = utf8.encode("chat/1 room key");

const NONCE_LEN = 12;
const SIG_LEN = 64;
const TAG = 16;
const B64_16 = /^[A-Za-z0-9+/]{22}==$/;
const ROOM = /^#[a-z0-9_-]{1,32}$/;
const LINE_KEYS = ["from", "from_fp", "id", "kid", "n", "room", "v"];
const KEY_KEYS = ["from", "from_fp", "id", "kid", "n", "room", "to", "to_fp", "v"];

/** The signed header of a line (`rm1`). */
export interface LineHeader {
  /** Always 1. */
  v: 1;
  /** The room, e.g. `#team`. */
  room: string;
  /** Sender's name. */
  from: string;
  /** Sender's identity fingerprint. */
  from_fp: string;
  /** Sender key id: 16 random bytes, padded base64. */
  kid: string;
  /** Chain index of this line's message key. */
  n: number;
  /** The `say` request id (equals the relayed `id`). */
  id: string;
}

/** The signed header of a sender-key distribution (`rk1`). */
export interface KeyHeader extends LineHeader {
  /** Recipient's name. */
  to: string;
  /** Recipient's identity fingerprint. */
  to_fp: string;
}

/** What a relayed message says about itself; the envelope must agree. */
export interface Relayed {
  /** The room it was relayed in. */
  room: string;
  /** The sender's name as relayed. */
  from: string;
  /** The relayed request id. */
  id: string;
}

function fail(code: string, message: string, cause?: unknown): ProtocolError {
  return new ProtocolError(code, message, cause === undefined ? undefined : { cause });
}

const malformed = (cause?: unknown) => fail("room_malformed", "malformed envelope", cause);

/** One ratchet step: the message key of index n and the chain key of index n + 1. */
export function ratchetStep(ck: Uint8Array): { mk: Uint8Array; next: Uint8Array } {
  if (ck.length !== 32) throw new RangeError(`chain key must be 32 bytes, got ${ck.length}`);
  const okm = hkdfSha256(ck, new Uint8Array(32), RATCHET_INFO, 64);
  return { mk: okm.slice(0, 32), next: okm.slice(32, 64) };
}

/** A chain key at an index, as a sender-key distribution carries it. */
export interface ChainState {
  /** Sender key id. */
  kid: string;
  /** Chain key of index `n` (32 bytes). */
  ck: Uint8Array;
  /** Index of `ck`. */
  n: number;
}

/** The sending half of a sender key: each {@link next} uses one index and forgets its key. */
export class SenderChain {
  readonly kid: string;
  #ck: Uint8Array;
  #n: number;

  /** A fresh chain (random id and key, index 0), or one at a given state (for tests). */
  constructor(random: (n: number) => Uint8Array = randomBytes, state?: ChainState) {
    if (state !== undefined) {
      if (!B64_16.test(state.kid) || state.ck.length !== 32) throw new TypeError("bad state");
      this.kid = state.kid;
      this.#ck = state.ck.slice();
      this.#n = state.n;
      return;
    }
    const id = random(16);
    const ck = random(32);
    if (id.length !== 16 || ck.length !== 32) throw new RangeError("bad random source");
    this.kid = toBase64(id);
    this.#ck = ck.slice();
    this.#n = 0;
  }

  /** The next index to be used. */
  get index(): number {
    return this.#n;
  }

  /** True when the chain is used up and a new sender key must be made. */
  get exhausted(): boolean {
    return this.#n >= ROOM_MAX_INDEX;
  }

  /** The chain key at the current index, to give to a member (they read from here on). */
  state(): ChainState {
    return { kid: this.kid, ck: this.#ck.slice(), n: this.#n };
  }

  /** The message key of the current index; the chain moves on and the old key is zeroed. */
  next(): { n: number; mk: Uint8Array } {
    if (this.exhausted) throw new RangeError("sender key used up");
    const { mk, next } = ratchetStep(this.#ck);
    this.#ck.fill(0);
    this.#ck = next;
    return { n: this.#n++, mk };
  }
}

function checkBase(h: Record<string, unknown>): boolean {
  return h.v === 1 &&
    typeof h.room === "string" && ROOM.test(h.room) &&
    typeof h.from === "string" && NAME_PATTERN.test(h.from) &&
    typeof h.from_fp === "string" && isFingerprint(h.from_fp) &&
    typeof h.kid === "string" && B64_16.test(h.kid) &&
    typeof h.id === "string" && B64_16.test(h.id) &&
    typeof h.n === "number" && Number.isInteger(h.n) && h.n >= 0 && h.n <= ROOM_MAX_INDEX;
}

function exactKeys(o: unknown, keys: string[]): o is Record<string, unknown> {
  if (typeof o !== "object" || o === null || Array.isArray(o)) return false;
  const k = Object.keys(o).sort();
  return k.length === keys.length && k.every((x, i) => x === keys[i]);
}

/** UTF-8 JSON of a line header in protocol order; `TypeError` if it breaks the schema. */
export function encodeLineHeader(h: LineHeader): Uint8Array {
  const o = {
    v: h.v,
    room: h.room,
    from: h.from,
    from_fp: h.from_fp,
    kid: h.kid,
    n: h.n,
    id: h.id,
  };
  if (!checkBase(o)) throw new TypeError("invalid room line header");
  return utf8.encode(JSON.stringify(o));
}

/** UTF-8 JSON of a distribution header in protocol order; `TypeError` if it breaks the schema. */
export function encodeKeyHeader(h: KeyHeader): Uint8Array {
  const o = {
    v: h.v,
    room: h.room,
    from: h.from,
    from_fp: h.from_fp,
    to: h.to,
    to_fp: h.to_fp,
    kid: h.kid,
    n: h.n,
    id: h.id,
  };
  if (!checkBase(o) || !NAME_PATTERN.test(o.to) || !isFingerprint(o.to_fp)) {
    throw new TypeError("invalid room key header");
  }
  return utf8.encode(JSON.stringify(o));
}

/** Checks line text: non-empty, no carriage return, at most {@link ROOM_TEXT_MAX} bytes. */
export function checkRoomText(text: string): void {
  if (text.length === 0) throw new TypeError("the message is empty");
  if (text.includes("\r")) throw new TypeError("the message must not contain a carriage return");
  if (text.length > ROOM_TEXT_MAX || utf8.encode(text).length > ROOM_TEXT_MAX) {
    throw new RangeError(`the message is longer than ${ROOM_TEXT_MAX} bytes`);
  }
}

function pad(text: string, me: boolean): Uint8Array {
  const bare = utf8.encode(JSON.stringify({ text, me, pad: "" })).length;
  const size = Math.ceil(bare / ROOM_BUCKET) * ROOM_BUCKET;
  return utf8.encode(JSON.stringify({ text, me, pad: " ".repeat(size - bare) }));
}

/** What {@link sealLine} needs. */
export interface SealLineInput {
  /** Header fields besides `v`, `kid` and `n` (which the chain gives). */
  room: string;
  /** Sender's name. */
  from: string;
  /** Sender's identity fingerprint. */
  fromFp: string;
  /** The `say` request id. */
  id: string;
  /** The text. */
  text: string;
  /** A `/me` action. */
  me?: boolean;
  /** The sender's chain; advanced by one. */
  chain: SenderChain;
  /** Sender's Ed25519 private key. */
  sigPrivate: KeyObject;
  /** Random source for the nonce. */
  random?: (n: number) => Uint8Array;
}

/**
 * Seals one line: `len:u32 ‖ header ‖ nonce ‖ len:u32 ‖ ct ‖ sig`, ct = AES-256-GCM(message key
 * of the chain's next index, nonce, aad = header, padded {"text","me","pad"}), sig =
 * Ed25519("chat/1 room line\0" ‖ everything before it). `TypeError`/`RangeError` for bad input.
 */
export function sealLine(input: SealLineInput): Uint8Array {
  checkRoomText(input.text);
  const random = input.random ?? randomBytes;
  const chain = input.chain;
  const probe: LineHeader = {
    v: 1,
    room: input.room,
    from: input.from,
    from_fp: input.fromFp,
    kid: chain.kid,
    n: chain.index,
    id: input.id,
  };
  encodeLineHeader(probe); // validate before the chain moves
  const { n, mk } = chain.next();
  const header = encodeLineHeader({ ...probe, n });
  const nonce = random(NONCE_LEN);
  if (nonce.length !== NONCE_LEN) throw new RangeError("bad random source");
  const ct = aeadSeal("aes-256-gcm", aeadImport(mk), nonce, header, pad(input.text, !!input.me));
  mk.fill(0);
  const signed = concat(u32(header.length), header, nonce, u32(ct.length), ct);
  const env = concat(signed, ed25519Sign(input.sigPrivate, concat(LINE_SIG_CONTEXT, signed)));
  if (env.length > ROOM_LINE_MAX) throw new RangeError("the sealed line is too large");
  return env;
}

/** A line split and schema-checked (step "sizes" of the recipient's checks). */
export interface ParsedLine {
  /** The header. */
  header: LineHeader;
  /** The header bytes (AAD). */
  headerBytes: Uint8Array;
  /** AES-GCM nonce. */
  nonce: Uint8Array;
  /** Ciphertext and tag. */
  ct: Uint8Array;
  /** Signature. */
  sig: Uint8Array;
  /** What the signature covers, without the prefix. */
  signed: Uint8Array;
}

function readHeader(env: Uint8Array, keys: string[]): { header: unknown; end: number } {
  const view = new DataView(env.buffer, env.byteOffset, env.byteLength);
  const hl = view.getUint32(0);
  if (hl === 0 || hl > ROOM_HEADER_MAX || 4 + hl > env.length) throw malformed();
  let o: unknown;
  try {
    o = JSON.parse(decodeUtf8(env.subarray(4, 4 + hl)));
  } catch (e) {
    throw malformed(e);
  }
  if (!exactKeys(o, keys) || !checkBase(o)) throw malformed();
  return { header: o, end: 4 + hl };
}

/** Splits a line envelope; sizes first. `ProtocolError("room_malformed")` otherwise. */
export function parseLine(env: Uint8Array): ParsedLine {
  if (env.length > ROOM_LINE_MAX || env.length < 4 + 2 + NONCE_LEN + 4 + TAG + SIG_LEN) {
    throw malformed();
  }
  const { header, end } = readHeader(env, LINE_KEYS);
  const view = new DataView(env.buffer, env.byteOffset, env.byteLength);
  const clAt = end + NONCE_LEN;
  if (clAt + 4 > env.length) throw malformed();
  const cl = view.getUint32(clAt);
  const sigAt = clAt + 4 + cl;
  if (sigAt + SIG_LEN !== env.length) throw malformed();
  if (cl < ROOM_BUCKET + TAG || (cl - TAG) % ROOM_BUCKET !== 0) throw malformed();
  return {
    header: header as LineHeader,
    headerBytes: env.subarray(4, end),
    nonce: env.subarray(end, clAt),
    ct: env.subarray(clAt + 4, sigAt),
    sig: env.subarray(sigAt),
    signed: env.subarray(0, sigAt),
  };
}

/** What {@link sealKey} needs. */
export interface SealKeyInput {
  /** The header (the chain's `kid` and `n` must be in it). */
  header: KeyHeader;
  /** The chain key of index `header.n`. */
  ck: Uint8Array;
  /** Recipient's RSA-OAEP-3072 public key (SPKI or imported). */
  kemPublic: Uint8Array | CryptoKey;
  /** Sender's Ed25519 private key. */
  sigPrivate: KeyObject;
}

/**
 * Seals a sender-key distribution: `len:u32 ‖ header ‖ wrapped ‖ sig`, wrapped =
 * RSA-OAEP(recipient, ck, label "chat/1 room key"), sig = Ed25519("chat/1 room key\0" ‖
 * everything before it).
 */
export async function sealKey(input: SealKeyInput): Promise<Uint8Array> {
  const header = encodeKeyHeader(input.header);
  if (input.ck.length !== 32) throw new RangeError("chain key must be 32 bytes");
  const kem = input.kemPublic instanceof Uint8Array
    ? await rsaOaepImportPublic(input.kemPublic)
    : input.kemPublic;
  const wrapped = await rsaOaepEncrypt(kem, input.ck, KEY_LABEL);
  const signed = concat(u32(header.length), header, wrapped);
  const env = concat(signed, ed25519Sign(input.sigPrivate, concat(KEY_SIG_CONTEXT, signed)));
  if (env.length > ROOM_KEY_MAX) throw new RangeError("the sealed key is too large");
  return env;
}

/** A distribution split and schema-checked. */
export interface ParsedKey {
  /** The header. */
  header: KeyHeader;
  /** RSA-OAEP-wrapped chain key. */
  wrapped: Uint8Array;
  /** Signature. */
  sig: Uint8Array;
  /** What the signature covers, without the prefix. */
  signed: Uint8Array;
}

/** Splits a distribution envelope; sizes first. `ProtocolError("room_malformed")` otherwise. */
export function parseKey(env: Uint8Array): ParsedKey {
  if (env.length > ROOM_KEY_MAX || env.length < 4 + 2 + ROOM_WRAPPED_LEN + SIG_LEN) {
    throw malformed();
  }
  const { header, end } = readHeader(env, KEY_KEYS);
  const h = header as KeyHeader;
  if (!NAME_PATTERN.test(h.to) || !isFingerprint(h.to_fp)) throw malformed();
  if (end + ROOM_WRAPPED_LEN + SIG_LEN !== env.length) throw malformed();
  return {
    header: h,
    wrapped: env.subarray(end, end + ROOM_WRAPPED_LEN),
    sig: env.subarray(end + ROOM_WRAPPED_LEN),
    signed: env.subarray(0, end + ROOM_WRAPPED_LEN),
  };
}

function sameName(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function checkRelayed(h: LineHeader, r: Relayed): void {
  if (h.room !== r.room || !sameName(h.from, r.from) || h.id !== r.id) {
    throw fail("room_mismatch", "the envelope does not match the relayed message");
  }
}

interface ReceiveChain {
  sigPub: Uint8Array;
  ck: Uint8Array;
  /** Index the key was given at: lines below it were sent before the key reached us. */
  start: number;
  /** Next index expected (the chain key `ck` is of this index). */
  pos: number;
  /** Indexes accepted recently (to tell a replay from a reordering), bounded. */
  accepted: number[];
}

/** What {@link RoomKeyring.openLine} returns. */
export interface OpenedLine {
  /** The header. */
  header: LineHeader;
  /** The text. */
  text: string;
  /** A `/me` action. */
  me: boolean;
}

/** What {@link RoomKeyring.addKey} needs besides the envelope. */
export interface AddKeyInput {
  /** What the server relayed with it. */
  relayed: Relayed;
  /** The recipient's own identity fingerprint. */
  ownFp: string;
  /** The recipient's RSA-OAEP private key. */
  kemPrivate: CryptoKey;
  /**
   * The sender's checked raw Ed25519 public key for this header (served key, equal to the pin
   * when there is one), or `null`.
   */
  senderKey: (h: KeyHeader) => Promise<Uint8Array | null>;
}

/**
 * The receiving side: the sender keys given to this identity, by (sender fingerprint, key id),
 * each a chain that only moves forward. Bounded: at most `max` keys (the least recently used is
 * forgotten), and the ids of forgotten keys are not accepted again while they are remembered.
 */
export class RoomKeyring {
  readonly #max: number;
  readonly #chains = new Map<string, ReceiveChain>();
  /** Keys once held and forgotten or replaced, bounded: a replayed distribution cannot rewind. */
  readonly #retired = new Set<string>();

  /** A keyring of at most `max` sender keys. */
  constructor(max = 1024) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`bad keyring size: ${max}`);
    this.#max = max;
  }

  /** Number of sender keys held. */
  get size(): number {
    return this.#chains.size;
  }

  /** True when the key (`fromFp`, `kid`) is held. */
  has(fromFp: string, kid: string): boolean {
    return this.#chains.has(`${fromFp} ${kid}`);
  }

  /**
   * Checks and stores a distribution, in order: sizes and schema → room, sender and id match
   * the relayed message, `to_fp` is own → sender's checked key → signature → key id new for
   * this sender → unwrap (32 bytes). Returns the header. A key id already held or retired is
   * refused (`room_key_known`), so a replayed distribution never rewinds a chain.
   */
  async addKey(env: Uint8Array, input: AddKeyInput): Promise<KeyHeader> {
    const p = parseKey(env);
    const h = p.header;
    checkRelayed(h, input.relayed);
    if (h.to_fp !== input.ownFp) throw fail("room_mismatch", "the key is for someone else");
    let sigPub: Uint8Array | null;
    try {
      sigPub = await input.senderKey(h);
    } catch (e) {
      throw fail("room_untrusted", "the sender's key could not be checked", e);
    }
    if (sigPub === null) throw fail("room_untrusted", "the sender's key could not be checked");
    if (!ed25519Verify(sigPub, p.sig, concat(KEY_SIG_CONTEXT, p.signed))) {
      throw fail("room_bad_signature", "bad signature");
    }
    const key = `${h.from_fp} ${h.kid}`;
    if (this.#chains.has(key) || this.#retired.has(key)) {
      throw fail("room_key_known", "this sender key was given before");
    }
    let ck: Uint8Array;
    try {
      ck = await rsaOaepDecrypt(input.kemPrivate, p.wrapped, KEY_LABEL);
    } catch (e) {
      throw fail("room_bad_ciphertext", "the key failed to decrypt", e);
    }
    if (ck.length !== 32) throw fail("room_bad_ciphertext", "the key is not 32 bytes");
    this.#chains.set(key, { sigPub: sigPub.slice(), ck, start: h.n, pos: h.n, accepted: [] });
    while (this.#chains.size > this.#max) {
      const oldest = this.#chains.keys().next().value!;
      this.#forget(oldest);
    }
    return h;
  }

  #forget(key: string): void {
    this.#chains.get(key)?.ck.fill(0);
    this.#chains.delete(key);
    this.#retired.add(key);
    while (this.#retired.size > this.#max * 4) {
      this.#retired.delete(this.#retired.values().next().value!);
    }
  }

  /**
   * Opens a line, in order: sizes and schema → room, sender and id match the relayed message →
   * sender key held (`room_unknown_key`) → signature by the identity that gave the key →
   * index: below the key's start (`room_before_join`), accepted before (`room_replayed`), below
   * the chain (`room_out_of_order`), too far ahead (`room_too_far`) → ratchet to the index →
   * decrypt → plaintext schema. Only a line that passes every check moves the chain.
   */
  openLine(env: Uint8Array, relayed: Relayed): OpenedLine {
    const p = parseLine(env);
    const h = p.header;
    checkRelayed(h, relayed);
    const key = `${h.from_fp} ${h.kid}`;
    const c = this.#chains.get(key);
    if (c === undefined) throw fail("room_unknown_key", "no key for this line");
    if (!ed25519Verify(c.sigPub, p.sig, concat(LINE_SIG_CONTEXT, p.signed))) {
      throw fail("room_bad_signature", "bad signature");
    }
    if (h.n < c.start) throw fail("room_before_join", "sent before the key was given");
    if (c.accepted.includes(h.n)) throw fail("room_replayed", "line already received");
    if (h.n < c.pos) throw fail("room_out_of_order", "line arrived after a later one");
    if (h.n - c.pos > ROOM_MAX_SKIP) throw fail("room_too_far", "line too far ahead");
    let ck: Uint8Array = c.ck.slice();
    for (let i = c.pos; i < h.n; i++) {
      const { mk, next } = ratchetStep(ck);
      mk.fill(0);
      ck.fill(0);
      ck = next;
    }
    const { mk, next } = ratchetStep(ck);
    ck.fill(0);
    let plain: Uint8Array;
    try {
      plain = aeadOpen("aes-256-gcm", aeadImport(mk), p.nonce, p.headerBytes, p.ct);
    } catch (e) {
      next.fill(0);
      throw fail("room_bad_ciphertext", "the line failed to decrypt", e);
    } finally {
      mk.fill(0);
    }
    let out: { text: string; me: boolean };
    try {
      const o = JSON.parse(decodeUtf8(plain));
      if (!exactKeys(o, ["me", "pad", "text"])) throw new TypeError("fields");
      if (typeof o.me !== "boolean" || typeof o.text !== "string") throw new TypeError("types");
      if (typeof o.pad !== "string" || !/^ *$/.test(o.pad)) throw new TypeError("pad");
      checkRoomText(o.text);
      out = { text: o.text, me: o.me };
    } catch (e) {
      next.fill(0);
      throw malformed(e);
    }
    c.ck.fill(0);
    c.ck = next;
    c.pos = h.n + 1;
    c.accepted.push(h.n);
    if (c.accepted.length > 64) c.accepted.shift();
    this.#chains.delete(key); // most recently used last
    this.#chains.set(key, c);
    return { header: h, ...out };
  }
}
