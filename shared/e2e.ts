/**
 * End-to-end private-message envelopes (`dm1`, PROTOCOL.md §7): sealing for one recipient and
 * opening in the protocol's order (sizes → sender's key → signature → recipient → age and
 * replay → unwrap → decrypt), and the replay cache. Pure functions over keys; the clock and the
 * random source are parameters. Every failure to open is the same `ProtocolError("bad_envelope",
 * "cannot decrypt message")`, so nothing tells an attacker which check stopped it; only a
 * correctly signed envelope already accepted is told apart (`duplicate`), to be dropped quietly.
 * @module
 */

import { bytesEqual, concat, decodeUtf8, u32, utf8 } from "./encoding.ts";
import { chatTextRefusal } from "./chat_text.ts";
import { ProtocolError } from "./errors.ts";
import {
  aeadImport,
  aeadOpen,
  aeadSeal,
  ed25519Sign,
  ed25519Verify,
  isFingerprint,
  type KeyObject,
  randomBytes,
  rsaOaepDecrypt,
  rsaOaepEncrypt,
  rsaOaepImportPublic,
} from "./crypto.ts";
import { NAME_PATTERN } from "./names.ts";

/** Largest envelope in bytes (before base64), checked before anything is parsed. */
export const DM_ENVELOPE_MAX = 8192;
/** Largest header in bytes. */
export const DM_HEADER_MAX = 1024;
/** Length of the RSA-OAEP-3072 wrapped key. */
export const DM_WRAPPED_LEN = 384;
/** Length of the AES-GCM iv. */
export const DM_IV_LEN = 12;
/** Length of the Ed25519 signature. */
export const DM_SIG_LEN = 64;
/** The plaintext is padded to a multiple of this many bytes. */
export const DM_BUCKET = 256;
/** Largest text in UTF-8 bytes (as chat text). */
export const DM_TEXT_MAX = 2048;
/** How far in the future `ts` may be on the recipient's clock, in ms (10 minutes). */
export const DM_MAX_SKEW_MS = 10 * 60 * 1000;
/** RSA-OAEP label of the wrapped key. */
export const DM_LABEL: Uint8Array = utf8.encode("chat/1 dm");
/** Domain-separation prefix of the envelope signature. */
export const DM_SIG_CONTEXT: Uint8Array = utf8.encode("chat/1 dm\0");

const GCM_TAG = 16;
/** Smallest possible envelope: empty header aside, one bucket of ciphertext. */
const MIN_ENVELOPE = 4 + 1 + DM_WRAPPED_LEN + DM_IV_LEN + 4 + DM_BUCKET + GCM_TAG + DM_SIG_LEN;

const ID = /^[A-Za-z0-9+/]{22}==$/;
const HEADER_KEYS = ["from", "from_fp", "id", "to", "to_fp", "ts", "v"];

/** The signed, authenticated header of a `dm1` envelope. */
export interface DmHeader {
  /** Always 1. */
  v: 1;
  /** Sender's name. */
  from: string;
  /** Sender's identity fingerprint `fp(sig_pub)`. */
  from_fp: string;
  /** Recipient's name. */
  to: string;
  /** Recipient's identity fingerprint. */
  to_fp: string;
  /** Message id (16 random bytes, padded base64); equals the wire `id`. */
  id: string;
  /** Sender's clock, ms since the epoch. */
  ts: number;
}

/** What {@link sealDm} needs. */
export interface SealInput {
  /** The header to seal (sender, recipient, id, time). */
  header: DmHeader;
  /** Sender's Ed25519 private key. */
  sigPrivate: KeyObject;
  /** Recipient's RSA-OAEP-3072 public key (SPKI DER or an imported key). */
  kemPublic: Uint8Array | CryptoKey;
  /** The text: chat text (shared/chat_text.ts) of at most 2048 UTF-8 bytes. */
  text: string;
  /** Random source (default {@link randomBytes}). */
  random?: (n: number) => Uint8Array;
}

/** The parts of an envelope after the size and header checks. */
export interface ParsedEnvelope {
  /** The validated header. */
  header: DmHeader;
  /** The header exactly as sent (the AES-GCM AAD). */
  headerBytes: Uint8Array;
  /** RSA-OAEP-wrapped AES key. */
  wrapped: Uint8Array;
  /** AES-GCM iv. */
  iv: Uint8Array;
  /** AES-GCM ciphertext with tag. */
  ct: Uint8Array;
  /** Ed25519 signature. */
  sig: Uint8Array;
  /** The bytes the signature covers, without the context prefix. */
  signed: Uint8Array;
}

/** The single error every failed open throws. */
function fail(cause?: unknown): ProtocolError {
  return new ProtocolError("bad_envelope", "cannot decrypt message", { cause });
}

/**
 * Checks `text` as chat text (shared/chat_text.ts: LF line breaks, no CR, at most 50 lines);
 * `TypeError` if empty or badly shaped, `RangeError` if longer than {@link DM_TEXT_MAX} bytes.
 */
export function checkDmText(text: string): void {
  const r = chatTextRefusal(text, DM_TEXT_MAX);
  if (r === undefined) return;
  if (r.code === "too_long") throw new RangeError(`the message is ${r.reason}`);
  throw new TypeError(r.reason === "empty" ? "the message is empty" : r.reason);
}

/** Validates a header object strictly; `null` when it does not match the schema. */
function checkHeader(o: unknown): DmHeader | null {
  if (typeof o !== "object" || o === null || Array.isArray(o)) return null;
  const keys = Object.keys(o).sort();
  if (keys.length !== HEADER_KEYS.length || keys.some((k, i) => k !== HEADER_KEYS[i])) return null;
  const h = o as Record<string, unknown>;
  const ok = h.v === 1 &&
    typeof h.from === "string" && NAME_PATTERN.test(h.from) &&
    typeof h.to === "string" && NAME_PATTERN.test(h.to) &&
    typeof h.from_fp === "string" && isFingerprint(h.from_fp) &&
    typeof h.to_fp === "string" && isFingerprint(h.to_fp) &&
    typeof h.id === "string" && ID.test(h.id) &&
    typeof h.ts === "number" && Number.isSafeInteger(h.ts) && h.ts >= 0;
  return ok ? h as unknown as DmHeader : null;
}

/** UTF-8 JSON of a header with its fields in protocol order; `TypeError` if it breaks the schema. */
export function encodeHeader(h: DmHeader): Uint8Array {
  const fixed = {
    v: h.v,
    from: h.from,
    from_fp: h.from_fp,
    to: h.to,
    to_fp: h.to_fp,
    id: h.id,
    ts: h.ts,
  };
  if (checkHeader(fixed) === null) throw new TypeError("invalid dm header");
  return utf8.encode(JSON.stringify(fixed));
}

/** `{"text","pad"}` as UTF-8 JSON, padded with spaces to a multiple of {@link DM_BUCKET}. */
function padPlaintext(text: string): Uint8Array {
  const bare = utf8.encode(JSON.stringify({ text, pad: "" })).length;
  const size = Math.ceil(bare / DM_BUCKET) * DM_BUCKET;
  return utf8.encode(JSON.stringify({ text, pad: " ".repeat(size - bare) }));
}

/**
 * Seals `text` for the recipient: fresh K and iv, K wrapped with RSA-OAEP (label "chat/1 dm"),
 * text encrypted with AES-256-GCM (AAD = header), everything signed with Ed25519. Returns the
 * envelope bytes (base64 them for the wire). `TypeError` for a bad header or text, `RangeError`
 * when the text is too long or the envelope would exceed {@link DM_ENVELOPE_MAX}.
 */
export async function sealDm(input: SealInput): Promise<Uint8Array> {
  checkDmText(input.text);
  const header = encodeHeader(input.header);
  const random = input.random ?? randomBytes;
  const kem = input.kemPublic instanceof Uint8Array
    ? await rsaOaepImportPublic(input.kemPublic)
    : input.kemPublic;
  const k = random(32);
  const iv = random(DM_IV_LEN);
  if (k.length !== 32 || iv.length !== DM_IV_LEN) throw new RangeError("bad random source");
  const wrapped = await rsaOaepEncrypt(kem, k, DM_LABEL);
  const ct = aeadSeal("aes-256-gcm", aeadImport(k), iv, header, padPlaintext(input.text));
  k.fill(0);
  const signed = concat(u32(header.length), header, wrapped, iv, u32(ct.length), ct);
  const sig = ed25519Sign(input.sigPrivate, concat(DM_SIG_CONTEXT, signed));
  const env = concat(signed, sig);
  if (env.length > DM_ENVELOPE_MAX) {
    throw new RangeError(`the sealed message is larger than ${DM_ENVELOPE_MAX} bytes`);
  }
  return env;
}

/**
 * Splits an envelope and validates its sizes and its header schema (step "sizes"); the length
 * is checked before anything is read. Throws the common "cannot decrypt message" error.
 */
export function parseEnvelope(env: Uint8Array): ParsedEnvelope {
  if (env.length > DM_ENVELOPE_MAX || env.length < MIN_ENVELOPE) throw fail();
  const view = new DataView(env.buffer, env.byteOffset, env.byteLength);
  const hl = view.getUint32(0);
  if (hl === 0 || hl > DM_HEADER_MAX || hl > env.length - MIN_ENVELOPE + 1) throw fail();
  const wAt = 4 + hl;
  const ivAt = wAt + DM_WRAPPED_LEN;
  const clAt = ivAt + DM_IV_LEN;
  const cl = view.getUint32(clAt);
  const ctAt = clAt + 4;
  const sigAt = ctAt + cl;
  if (sigAt + DM_SIG_LEN !== env.length) throw fail();
  if (cl < DM_BUCKET + GCM_TAG || (cl - GCM_TAG) % DM_BUCKET !== 0) throw fail();
  const headerBytes = env.subarray(4, wAt);
  let header: DmHeader | null;
  try {
    header = checkHeader(JSON.parse(decodeUtf8(headerBytes)));
  } catch (e) {
    throw fail(e);
  }
  if (header === null) throw fail();
  return {
    header,
    headerBytes,
    wrapped: env.subarray(wAt, ivAt),
    iv: env.subarray(ivAt, clAt),
    ct: env.subarray(ctAt, sigAt),
    sig: env.subarray(sigAt),
    signed: env.subarray(0, sigAt),
  };
}

/** How long an accepted id is remembered by default: 32 days (a 30-day queue + 2 days). */
export const DM_REPLAY_KEEP_MS = 32 * 24 * 3600 * 1000;

/** What {@link ReplayCache.check} finds for an envelope. */
export type ReplayVerdict = "fresh" | "seen" | "stale";

/** A change a {@link ReplayCache} made, for a persisted copy. */
export type ReplayChange =
  | { t: "seen"; fp: string; id: string; ts: number }
  | { t: "floor"; ts: number };

/** Settings of a {@link ReplayCache}. */
export interface ReplayOptions {
  /** Most ids remembered (default 20,000). */
  max?: number;
  /** How long (ms, by `ts`) an id is remembered and an envelope accepted (default 32 days). */
  keepMs?: number;
  /** How far in the future `ts` may be (default {@link DM_MAX_SKEW_MS}). */
  skewMs?: number;
  /** Told of every id remembered and every rise of the floor (to persist them). */
  onChange?: (c: ReplayChange) => void;
}

/**
 * Accepted envelopes by (sender fingerprint, id), bounded in size and in time (PROTOCOL.md §7
 * "Replay"). An envelope is accepted once; its id is remembered until its `ts` is older than
 * `keepMs`, and an envelope that old (or more than `skewMs` in the future) is refused, so a
 * forgotten id can never be accepted again. When full, the entry with the oldest `ts` is dropped
 * and the floor rises to it: nothing at or before the floor is accepted any more.
 */
export class ReplayCache {
  readonly #max: number;
  #keep: number;
  readonly #skew: number;
  readonly #onChange: (c: ReplayChange) => void;
  readonly #seen = new Map<string, number>();
  #floor = -Infinity;

  /** An empty cache; `RangeError` for a bad `max`, `keepMs` or `skewMs`. */
  constructor(opts: ReplayOptions = {}) {
    const max = opts.max ?? 20_000;
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`bad replay cache size: ${max}`);
    const keep = opts.keepMs ?? DM_REPLAY_KEEP_MS;
    const skew = opts.skewMs ?? DM_MAX_SKEW_MS;
    if (!(keep > 0) || !(skew >= 0)) throw new RangeError("bad replay window");
    this.#max = max;
    this.#keep = keep;
    this.#skew = skew;
    this.#onChange = opts.onChange ?? (() => {});
  }

  /** Number of remembered ids. */
  get size(): number {
    return this.#seen.size;
  }

  /** How long ids are remembered, ms. */
  get keepMs(): number {
    return this.#keep;
  }

  /** Nothing with a `ts` at or before this is accepted (`-Infinity` at first). */
  get floor(): number {
    return this.#floor;
  }

  /** Remembers ids for at least `ms` from now on (a server that queues longer); true if longer. */
  keepAtLeast(ms: number): boolean {
    if (!(ms > this.#keep)) return false;
    this.#keep = ms;
    return true;
  }

  /**
   * Restores persisted state (no `onChange`): ids with their `ts`, and the floor. Beyond `max`,
   * the oldest are dropped and the floor rises to the newest of them.
   */
  load(entries: Iterable<readonly [fp: string, id: string, ts: number]>, floor: number): void {
    this.#floor = Math.max(this.#floor, floor);
    for (const [fp, id, ts] of entries) {
      const key = `${fp} ${id}`;
      this.#seen.set(key, Math.max(ts, this.#seen.get(key) ?? -Infinity));
    }
    if (this.#seen.size <= this.#max) return;
    const oldest = [...this.#seen].sort((a, b) => a[1] - b[1]);
    for (const [k, t] of oldest.slice(0, this.#seen.size - this.#max)) {
      this.#seen.delete(k);
      this.#floor = Math.max(this.#floor, t);
    }
  }

  /** The remembered ids with their `ts`. */
  *entries(): IterableIterator<[fp: string, id: string, ts: number]> {
    for (const [k, ts] of this.#seen) {
      const i = k.indexOf(" ");
      yield [k.slice(0, i), k.slice(i + 1), ts];
    }
  }

  /** Forgets ids whose `ts` is older than `keepMs` before `now`; returns how many. */
  prune(now: number): number {
    let n = 0;
    for (const [k, t] of this.#seen) {
      if (t < now - this.#keep) {
        this.#seen.delete(k);
        n++;
      }
    }
    return n;
  }

  /**
   * `stale` when `ts` is more than `skewMs` ahead of `now`, older than `keepMs`, or at or before
   * the floor; `seen` when (`senderFp`, `id`) was accepted before; `fresh` otherwise.
   */
  check(senderFp: string, id: string, ts: number, now: number): ReplayVerdict {
    if (ts > now + this.#skew || ts < now - this.#keep || ts <= this.#floor) return "stale";
    return this.#seen.has(`${senderFp} ${id}`) ? "seen" : "fresh";
  }

  /** True, remembering the id, when {@link check} finds it `fresh`; false otherwise. */
  accept(senderFp: string, id: string, ts: number, now: number): boolean {
    if (this.check(senderFp, id, ts, now) !== "fresh") return false;
    if (this.#seen.size >= this.#max) this.prune(now);
    if (this.#seen.size >= this.#max) {
      let oldKey = "";
      let oldTs = Infinity;
      for (const [k, t] of this.#seen) {
        if (t < oldTs) [oldKey, oldTs] = [k, t];
      }
      this.#seen.delete(oldKey);
      if (oldTs > this.#floor) {
        this.#floor = oldTs;
        this.#onChange({ t: "floor", ts: oldTs });
      }
      if (ts <= this.#floor) return false;
    }
    this.#seen.set(`${senderFp} ${id}`, ts);
    this.#onChange({ t: "seen", fp: senderFp, id, ts });
    return true;
  }
}

/** What {@link openDm} needs besides the envelope. */
export interface OpenInput {
  /** Recipient's own identity fingerprint (must equal `to_fp`). */
  ownFp: string;
  /** Recipient's RSA-OAEP private key. */
  kemPrivate: CryptoKey;
  /**
   * The sender's pinned raw Ed25519 public key for this header (after the sizes check), or
   * `null` when there is none; a rejection counts as a failure too.
   */
  senderKey: (header: DmHeader) => Promise<Uint8Array | null>;
  /** The recipient's replay cache. */
  replay: ReplayCache;
  /** Current time, ms since the epoch. */
  now: number;
}

/**
 * Opens an envelope in the protocol's order: sizes → sender's pinned key → signature → `to_fp`
 * is own → `ts` within the window and id unseen → unwrap → decrypt. Returns the header and the
 * text. An envelope that passed the signature check and whose (sender, id) was accepted before
 * throws `ProtocolError("duplicate")` (a re-delivery: nothing to show); any other failure
 * throws `ProtocolError("bad_envelope", "cannot decrypt message")`.
 */
export async function openDm(
  env: Uint8Array,
  input: OpenInput,
): Promise<{ header: DmHeader; text: string }> {
  const p = parseEnvelope(env);
  const h = p.header;
  let key: Uint8Array | null;
  try {
    key = await input.senderKey(h);
  } catch (e) {
    throw fail(e);
  }
  if (key === null) throw fail();
  if (!ed25519Verify(key, p.sig, concat(DM_SIG_CONTEXT, p.signed))) throw fail();
  if (!bytesEqual(utf8.encode(h.to_fp), utf8.encode(input.ownFp))) throw fail();
  const verdict = input.replay.check(h.from_fp, h.id, h.ts, input.now);
  if (verdict === "seen") {
    throw new ProtocolError("duplicate", "message already received");
  }
  if (!input.replay.accept(h.from_fp, h.id, h.ts, input.now)) throw fail();
  let plain: Uint8Array;
  try {
    const k = await rsaOaepDecrypt(input.kemPrivate, p.wrapped, DM_LABEL);
    if (k.length !== 32) throw new RangeError("wrapped key is not 32 bytes");
    const aes = aeadImport(k);
    k.fill(0);
    plain = aeadOpen("aes-256-gcm", aes, p.iv, p.headerBytes, p.ct);
  } catch (e) {
    throw fail(e);
  }
  if (plain.length % DM_BUCKET !== 0) throw fail();
  let text: unknown;
  try {
    const o = JSON.parse(decodeUtf8(plain));
    const keys = typeof o === "object" && o !== null ? Object.keys(o).sort() : [];
    if (keys.length !== 2 || keys[0] !== "pad" || keys[1] !== "text") throw fail();
    if (typeof o.pad !== "string" || !/^ *$/.test(o.pad)) throw fail();
    text = o.text;
    if (typeof text !== "string") throw fail();
    checkDmText(text);
  } catch (e) {
    throw e instanceof ProtocolError ? e : fail(e);
  }
  return { header: h, text: text as string };
}
