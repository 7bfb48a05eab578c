/**
 * chat/1 handshake (PROTOCOL.md §2 and the auth proof of §4) as sans-IO steps:
 * each function takes and returns bytes; sockets live elsewhere.
 * @module
 */

import {
  type AeadCipher,
  aeadImportPair,
  ed25519Sign,
  ed25519Verify,
  fingerprint,
  hkdfSha256,
  type KeyObject,
  sha256,
  x25519Generate,
  x25519Shared,
} from "./crypto.ts";
import { bytesEqual, concat, decodeUtf8, utf8 } from "./encoding.ts";
import { ProtocolError } from "./errors.ts";
import { C2S, type DirectionKeys, S2C } from "./record.ts";

/** Protocol version carried in the hellos. */
export const VERSION = 1;
/** ClientHello length in bytes. */
export const CLIENT_HELLO_BYTES = 69;
/** ServerHello length in bytes. */
export const SERVER_HELLO_BYTES = 161;
/** Refusal codes a server may send before ServerHello. */
export const REFUSAL_CODES = ["version", "full", "per_ip_limit", "throttled", "banned", "timeout"];

const MAGIC = utf8.encode("CHAT");
const SERVER_CONTEXT = utf8.encode("chat/1 server hello\0");
const AUTH_CONTEXT = utf8.encode("chat/1 client auth\0");

/** Record ciphers, by their id in the choice mark; AES-256-GCM (id 0) is always supported. */
export const RECORD_CIPHERS: readonly AeadCipher[] = ["aes-256-gcm", "chacha20-poly1305"];
/** HKDF `info` per record cipher: AES-256-GCM keeps the original label. */
const KEYS_INFO: Record<AeadCipher, Uint8Array> = {
  "aes-256-gcm": utf8.encode("chat/1 keys"),
  "chacha20-poly1305": utf8.encode("chat/1 keys chacha20-poly1305"),
};
/** `client_random[16..31)`: the client offers ciphers, as a bit mask in `client_random[31]`. */
const OFFER_MARK = utf8.encode("chat/1 offer\0\0\0");
/** `server_random[16..31)`: the server's choice, as a cipher id in `server_random[31]`. */
const CHOICE_MARK = utf8.encode("chat/1 choice\0\0");
/** Offset of the marks in the 32-byte randoms; the mark takes 15 bytes, its value 1. */
const MARK_AT = 16;
/** Offer mask bit: room records (docs/protocol.md §3 "Room records"). */
export const OFFER_ROOM_RECORDS = 0x02;
/** Choice byte bit: room records accepted; the low bits still name the cipher. */
export const CHOICE_ROOM_RECORDS = 0x80;

/** Offer mask of `ciphers`: bit `id − 1` per cipher of id ≥ 1 (AES-256-GCM, id 0, is implied). */
function offerMask(ciphers: readonly AeadCipher[]): number {
  let mask = 0;
  for (const c of ciphers) {
    const id = RECORD_CIPHERS.indexOf(c);
    if (id < 0) throw new RangeError(`unknown record cipher ${c}`);
    if (id > 0) mask |= 1 << (id - 1);
  }
  return mask;
}

/** The mark's value byte if `random` (32 bytes) carries `mark`, else `undefined`. */
function readMark(random: Uint8Array, mark: Uint8Array): number | undefined {
  return bytesEqual(random.subarray(MARK_AT, MARK_AT + mark.length), mark) ? random[31] : undefined;
}

/** `random`'s first 16 bytes ‖ `mark` ‖ `value`. */
function withMark(random: Uint8Array, mark: Uint8Array, value: number): Uint8Array<ArrayBuffer> {
  return concat(random.subarray(0, MARK_AT), mark, Uint8Array.of(value));
}

/** Keys for both directions plus the session id `th`. */
export interface SessionKeys {
  /** The record cipher the handshake settled on. */
  cipher: AeadCipher;
  /** Keys this side sends with. */
  send: DirectionKeys;
  /** Keys this side receives with. */
  recv: DirectionKeys;
  /** SHA-256(ClientHello ‖ ServerHello): the session id the auth proof binds to. */
  th: Uint8Array;
  /** True when room records were negotiated (offer bit 1, choice bit 7). */
  roomRecords: boolean;
}

/** Encodes a Refusal frame body. */
export function encodeRefusal(code: string): Uint8Array<ArrayBuffer> {
  return concat(Uint8Array.of(0xff), utf8.encode(code));
}

/** If `frame` is a Refusal, returns its code (sanitised to a known code or "unknown"). */
export function parseRefusal(frame: Uint8Array): string | undefined {
  if (frame.length < 1 || frame[0] !== 0xff) return undefined;
  let code = "unknown";
  try {
    const c = decodeUtf8(frame.subarray(1));
    if (REFUSAL_CODES.includes(c)) code = c;
  } catch {
    // keep "unknown"
  }
  return code;
}

function deriveKeys(
  shared: Uint8Array,
  clientHello: Uint8Array,
  serverHello: Uint8Array,
  isClient: boolean,
  cipher: AeadCipher,
  roomRecords: boolean,
): SessionKeys {
  const th = sha256(concat(clientHello, serverHello));
  const okm = hkdfSha256(shared, th, KEYS_INFO[cipher], 88);
  shared.fill(0);
  const [c2sKey, s2cKey] = aeadImportPair(okm);
  const c2s: DirectionKeys = {
    cipher,
    key: c2sKey,
    iv: okm.slice(64, 76),
    dir: C2S,
  };
  const s2c: DirectionKeys = {
    cipher,
    key: s2cKey,
    iv: okm.slice(76, 88),
    dir: S2C,
  };
  okm.fill(0);
  return isClient
    ? { cipher, send: c2s, recv: s2c, th, roomRecords }
    : { cipher, send: s2c, recv: c2s, th, roomRecords };
}

/** The client's side: create the hello, then check the server's answer. */
export class ClientHandshake {
  #priv: KeyObject;
  #offer: number;
  /** The ClientHello frame body to send. */
  readonly hello: Uint8Array<ArrayBuffer>;

  private constructor(priv: KeyObject, hello: Uint8Array<ArrayBuffer>, offer: number) {
    this.#priv = priv;
    this.hello = hello;
    this.#offer = offer;
  }

  /**
   * Starts a handshake with a fresh ephemeral key; `random` fills `client_random`. `offer` lists
   * the record ciphers to offer besides AES-256-GCM (default: all); with none, the hello is
   * exactly a hello of a client that knows no offer. `roomRecords` also offers room records
   * (`RangeError` unless ChaCha20-Poly1305 is offered too: room records use it).
   */
  static start(
    random: (n: number) => Uint8Array = (n) => crypto.getRandomValues(new Uint8Array(n)),
    offer: readonly AeadCipher[] = RECORD_CIPHERS,
    roomRecords = false,
  ): ClientHandshake {
    if (roomRecords && !offer.includes("chacha20-poly1305")) {
      throw new RangeError("room records need ChaCha20-Poly1305 in the offer");
    }
    const mask = offerMask(offer) | (roomRecords ? OFFER_ROOM_RECORDS : 0);
    const eph = x25519Generate();
    const r = random(32);
    const clientRandom = mask === 0 ? r : withMark(r, OFFER_MARK, mask);
    const hello = concat(MAGIC, Uint8Array.of(VERSION), clientRandom, eph.publicKey);
    return new ClientHandshake(eph.privateKey, hello, mask);
  }

  /**
   * Step 1 on ServerHello: checks length and version and returns the host key
   * and its fingerprint for the pin check (step 2, done by the caller).
   */
  parseServerHello(frame: Uint8Array): { hostKey: Uint8Array; fingerprint: string } {
    if (frame.length !== SERVER_HELLO_BYTES) {
      throw new ProtocolError("bad_hello", `ServerHello must be ${SERVER_HELLO_BYTES} bytes`);
    }
    if (frame[0] !== VERSION) throw new ProtocolError("version", "server chose another version");
    const hostKey = frame.slice(65, 97);
    return { hostKey, fingerprint: fingerprint(hostKey) };
  }

  /**
   * Step 3: verifies the host signature, reads the server's cipher choice (AES-256-GCM when
   * there is none: an older server) and whether it accepted room records, then derives the
   * session keys. `ProtocolError("bad_hello")` if the server chose a cipher that was not offered,
   * or room records that were not offered (or with another cipher than ChaCha20-Poly1305).
   */
  finish(frame: Uint8Array): SessionKeys {
    const hostKey = frame.subarray(65, 97);
    const sig = frame.subarray(97, 161);
    const digest = sha256(concat(this.hello, frame.subarray(0, 97)));
    if (!ed25519Verify(hostKey, sig, concat(SERVER_CONTEXT, digest))) {
      throw new ProtocolError("bad_signature", "server signature does not verify");
    }
    let cipher: AeadCipher = "aes-256-gcm";
    const mark = this.#offer === 0 ? undefined : readMark(frame.subarray(1, 33), CHOICE_MARK);
    const roomRecords = mark !== undefined && (mark & CHOICE_ROOM_RECORDS) !== 0;
    const choice = mark === undefined ? undefined : mark & ~CHOICE_ROOM_RECORDS;
    if (choice !== undefined && choice !== 0) {
      if (choice >= RECORD_CIPHERS.length || (this.#offer & (1 << (choice - 1))) === 0) {
        throw new ProtocolError("bad_hello", "server chose a record cipher that was not offered");
      }
      cipher = RECORD_CIPHERS[choice];
    }
    if (
      roomRecords && ((this.#offer & OFFER_ROOM_RECORDS) === 0 || cipher !== "chacha20-poly1305")
    ) {
      throw new ProtocolError("bad_hello", "server chose room records that were not offered");
    }
    const shared = x25519Shared(this.#priv, frame.subarray(33, 65));
    return deriveKeys(shared, this.hello, frame, true, cipher, roomRecords);
  }
}

/** A parsed ClientHello. */
export interface ClientHelloInfo {
  /** The client's ephemeral X25519 public key. */
  ephemeral: Uint8Array;
  /** Whether `client_random` carries a cipher offer (then the server answers with a choice). */
  offers: boolean;
  /** The record ciphers offered, AES-256-GCM always first. */
  ciphers: AeadCipher[];
  /** Whether the offer includes room records. */
  roomRecords: boolean;
}

/**
 * Validates a ClientHello. Throws `ProtocolError("version")` for a
 * well-formed hello of another version (answer with a Refusal) and
 * `ProtocolError("bad_hello")` for anything else (just close).
 */
export function parseClientHello(frame: Uint8Array): ClientHelloInfo {
  if (frame.length < 5 || !bytesEqual(frame.subarray(0, 4), MAGIC)) {
    throw new ProtocolError("bad_hello", "not a chat/1 ClientHello");
  }
  if (frame[4] !== VERSION) throw new ProtocolError("version", "unsupported version");
  if (frame.length !== CLIENT_HELLO_BYTES) {
    throw new ProtocolError("bad_hello", `ClientHello must be ${CLIENT_HELLO_BYTES} bytes`);
  }
  const mask = readMark(frame.subarray(5, 37), OFFER_MARK);
  const ciphers = RECORD_CIPHERS.filter((_, id) =>
    id === 0 || (mask !== undefined && (mask & (1 << (id - 1))) !== 0)
  );
  return {
    ephemeral: frame.subarray(37, 69),
    offers: mask !== undefined,
    ciphers,
    roomRecords: mask !== undefined && (mask & OFFER_ROOM_RECORDS) !== 0,
  };
}

/**
 * The server's side: answers a ClientHello with a signed ServerHello and derives keys. Of the
 * ciphers the client offered, the server takes the first of `prefer` (default: ChaCha20-Poly1305,
 * then AES-256-GCM); a hello without an offer gets AES-256-GCM and a ServerHello without a choice.
 * Room records are chosen when offered, with ChaCha20-Poly1305 chosen, unless `roomRecords` is
 * false (`--limit roomRecords=0`).
 */
export function serverRespond(
  clientHello: Uint8Array,
  host: { privateKey: KeyObject; publicRaw: Uint8Array },
  random: (n: number) => Uint8Array = (n) => crypto.getRandomValues(new Uint8Array(n)),
  prefer: readonly AeadCipher[] = ["chacha20-poly1305", "aes-256-gcm"],
  roomRecords = true,
): { hello: Uint8Array<ArrayBuffer>; keys: SessionKeys } {
  const offer = parseClientHello(clientHello);
  const { ephemeral, offers, ciphers } = offer;
  const cipher = prefer.find((c) => ciphers.includes(c)) ?? "aes-256-gcm";
  const rooms = roomRecords && offer.roomRecords && cipher === "chacha20-poly1305";
  const eph = x25519Generate();
  // Derive first: a bad share is rejected before the server spends a signature on it.
  const shared = x25519Shared(eph.privateKey, ephemeral);
  const r = random(32);
  const choice = RECORD_CIPHERS.indexOf(cipher) | (rooms ? CHOICE_ROOM_RECORDS : 0);
  const serverRandom = offers ? withMark(r, CHOICE_MARK, choice) : r;
  const head = concat(Uint8Array.of(VERSION), serverRandom, eph.publicKey, host.publicRaw);
  const digest = sha256(concat(clientHello, head));
  const sig = ed25519Sign(host.privateKey, concat(SERVER_CONTEXT, digest));
  const hello = concat(head, sig);
  const keys = deriveKeys(shared, clientHello, hello, false, cipher, rooms);
  return { hello, keys };
}

/** The bytes an `auth` proof signs: context ‖ th ‖ utf8(name). */
export function authTranscript(th: Uint8Array, name: string): Uint8Array<ArrayBuffer> {
  return concat(AUTH_CONTEXT, th, utf8.encode(name));
}

/** Signs the auth proof for `name` in the session `th`. */
export function signAuth(
  sigPrivate: KeyObject,
  th: Uint8Array,
  name: string,
): Uint8Array<ArrayBuffer> {
  return ed25519Sign(sigPrivate, authTranscript(th, name));
}

/**
 * Verifies an auth proof with the raw 32-byte identity key or the key already imported from it
 * (`ed25519ImportPublic` of shared/crypto.ts); false for any malformed input.
 */
export function verifyAuth(
  sigPublic: Uint8Array | KeyObject,
  proof: Uint8Array,
  th: Uint8Array,
  name: string,
): boolean {
  if ((sigPublic instanceof Uint8Array && sigPublic.length !== 32) || proof.length !== 64) {
    return false;
  }
  return ed25519Verify(sigPublic, proof, authTranscript(th, name)); // false for a bad key
}
