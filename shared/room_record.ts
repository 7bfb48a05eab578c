/**
 * Room records (docs/protocol.md §3 "Room records"): a batch of one room's lines sealed once
 * under the room's epoch key with ChaCha20-Poly1305 and signed once with the host key, the same
 * bytes for every member that negotiated them. {@linkcode sealRoomRecord} is the server's half;
 * {@linkcode RoomRecordOpener} the client's checks, in the spec's order. Pure: no I/O, no clock.
 * @module
 */

import {
  aeadImport,
  type AeadKey,
  aeadOpen,
  aeadSeal,
  ed25519ImportPublic,
  ed25519Sign,
  ed25519Verify,
  type KeyObject,
  randomBytes,
  sha256,
} from "./crypto.ts";
import { concat, utf8 } from "./encoding.ts";
import { ProtocolError } from "./errors.ts";
import { ROOM_FRAME_FLAG, ROOM_RECORD_OVERHEAD } from "./frame.ts";

/** Bit 31 of a frame length, and the bytes a room record adds to its plaintext (shared/frame.ts). */
export { ROOM_FRAME_FLAG, ROOM_RECORD_OVERHEAD };

/** Length of an epoch id. */
export const ROOM_EPOCH_BYTES = 8;
/** Length of a room key. */
export const ROOM_KEY_BYTES = 32;
/** Largest plaintext of one room record (as for an ordinary record). */
export const ROOM_PLAINTEXT_MAX = 16_384;
/** Largest room record body. */
export const ROOM_BODY_MAX = ROOM_PLAINTEXT_MAX + ROOM_RECORD_OVERHEAD;
/** Smallest room record body (one byte of plaintext). */
export const ROOM_BODY_MIN = 1 + ROOM_RECORD_OVERHEAD;
/** Rooms whose epoch one opener holds at most (a server lets a user into far fewer). */
export const ROOM_EPOCHS_HELD = 1024;
/**
 * Largest `rseq` of a room record, 2^32 − 2: an epoch ends after that record (the next batch
 * starts a new one), so the next `rseq` a `pong` names, at most 2^32 − 1, is still a u32.
 */
export const RSEQ_MAX = 0xfffffffe;

const CIPHER = "chacha20-poly1305";
const AAD_LABEL = utf8.encode("chat/1 room\0");
const SIG_CONTEXT = utf8.encode("chat/1 room record\0");

/** What the host signs for a room record: the context and a SHA-256 of `epoch ‖ rseq ‖ ct ‖ tag`. */
function signedDigest(signed: Uint8Array): Uint8Array {
  return concat(SIG_CONTEXT, sha256(signed));
}
const HEAD = ROOM_EPOCH_BYTES + 4; // epoch ‖ rseq
const SIG_BYTES = 64;

/** Writes `nonce = rseq ‖ epoch` and `aad = label ‖ epoch ‖ rseq` for one record. */
function nonceAndAad(epoch: Uint8Array, rseq: number): { nonce: Uint8Array; aad: Uint8Array } {
  const nonce = new Uint8Array(12);
  new DataView(nonce.buffer).setUint32(0, rseq);
  nonce.set(epoch, 4);
  const aad = new Uint8Array(AAD_LABEL.length + HEAD);
  aad.set(AAD_LABEL, 0);
  aad.set(epoch, AAD_LABEL.length);
  new DataView(aad.buffer).setUint32(AAD_LABEL.length + ROOM_EPOCH_BYTES, rseq);
  return { nonce, aad };
}

/** One room epoch's secret: its id and key, the key also as bytes for `rkey` lines. */
export interface RoomEpochKey {
  /** 8 random bytes naming the epoch. */
  epoch: Uint8Array<ArrayBuffer>;
  /** The key, for {@linkcode sealRoomRecord}. */
  key: AeadKey;
  /** The key's 32 bytes, given to members in `rkey` (never logged). */
  raw: Uint8Array<ArrayBuffer>;
}

/** A new epoch: a random epoch id and a random 32-byte room key. */
export function newRoomEpoch(): RoomEpochKey {
  const raw = randomBytes(ROOM_KEY_BYTES);
  return { epoch: randomBytes(ROOM_EPOCH_BYTES), key: aeadImport(raw), raw };
}

/**
 * Seals `plaintext` (1 … 16,384 bytes) as room record `rseq` of `epoch` and signs it with the
 * host key: returns the whole frame, `(0x80000000 | length):u32 ‖ body`. `RangeError` for a
 * plaintext, epoch or `rseq` out of range.
 */
export function sealRoomRecord(
  key: AeadKey,
  epoch: Uint8Array,
  rseq: number,
  plaintext: Uint8Array,
  hostPrivate: KeyObject,
): Uint8Array<ArrayBuffer> {
  if (plaintext.length === 0 || plaintext.length > ROOM_PLAINTEXT_MAX) {
    throw new RangeError(`room record plaintext length ${plaintext.length} out of range`);
  }
  if (epoch.length !== ROOM_EPOCH_BYTES) throw new RangeError("room epoch must be 8 bytes");
  if (!Number.isInteger(rseq) || rseq < 0 || rseq > RSEQ_MAX) {
    throw new RangeError(`rseq ${rseq} out of range`);
  }
  const { nonce, aad } = nonceAndAad(epoch, rseq);
  const sealed = aeadSeal(CIPHER, key, nonce, aad, plaintext);
  const length = HEAD + sealed.length + SIG_BYTES;
  const frame = new Uint8Array(4 + length);
  const v = new DataView(frame.buffer);
  v.setUint32(0, (ROOM_FRAME_FLAG | length) >>> 0);
  frame.set(epoch, 4);
  v.setUint32(4 + ROOM_EPOCH_BYTES, rseq);
  frame.set(sealed, 4 + HEAD);
  const signed = frame.subarray(4, 4 + HEAD + sealed.length);
  frame.set(ed25519Sign(hostPrivate, signedDigest(signed)), 4 + length - SIG_BYTES);
  return frame;
}

/** A map key for the 8-byte epoch at `at` of `bytes` (two u32 in decimal: cheaper than hex). */
function epochId(bytes: Uint8Array, at = 0): string {
  const v = new DataView(bytes.buffer, bytes.byteOffset + at, ROOM_EPOCH_BYTES);
  return `${v.getUint32(0)}.${v.getUint32(4)}`;
}

/** What a client holds of one room's epoch. */
interface Held {
  room: string;
  epoch: Uint8Array;
  key: AeadKey;
  next: number; // the rseq expected next
}

/**
 * Checks a room record body's host signature (its last 64 bytes, Ed25519 over
 * `"chat/1 room record\0" ‖ SHA-256(the rest)`); true when it verifies.
 */
export type RoomSignatureCheck = (body: Uint8Array) => boolean;

/** The signature check of room records under the host key `hostPublic` (raw 32 bytes or imported). */
export function roomSignatureCheck(hostPublic: KeyObject | Uint8Array): RoomSignatureCheck {
  const host = hostPublic instanceof Uint8Array ? ed25519ImportPublic(hostPublic) : hostPublic;
  return (body) => {
    const end = body.length - SIG_BYTES;
    if (end < 0) return false;
    return ed25519Verify(
      host,
      body.subarray(end),
      signedDigest(body.subarray(0, end)),
    );
  };
}

/**
 * Opens a room record's AEAD: `inner()` does it with the connection's own key. A process holding
 * many connections to one server (the bench) may answer instead with what it got for a
 * byte-equal body of the same epoch and `rseq` (bench/room_signatures.ts); a real client uses
 * the default, which calls `inner()`.
 */
export type RoomRecordOpen = (
  body: Uint8Array,
  inner: () => Uint8Array<ArrayBuffer>,
) => Uint8Array<ArrayBuffer>;

const openOwn: RoomRecordOpen = (_body, inner) => inner();

/** A room record that passed every check: its room and plaintext. */
export interface OpenedRoomRecord {
  /** The room of the record's epoch. */
  room: string;
  /** The plaintext lines (`msg ("\n" msg)*`), not yet parsed. */
  plaintext: Uint8Array<ArrayBuffer>;
}

/**
 * The client's side: the epochs it holds (from `rkey` lines) and the checks of docs/protocol.md
 * §3 "Client checks", in order. Holds at most {@linkcode ROOM_EPOCHS_HELD} rooms.
 */
export class RoomRecordOpener {
  readonly #verify: RoomSignatureCheck;
  readonly #open: RoomRecordOpen;
  readonly #byEpoch = new Map<string, Held>(); // hex epoch → held
  readonly #byRoom = new Map<string, Held>();

  /**
   * An opener trusting room records signed by the host key `hostPublic` (raw 32 bytes, imported
   * once here, or already imported); `RangeError` for a raw key that is not 32 bytes. Or given
   * the signature check itself, e.g. one that many connections of one process share, verifying
   * each distinct record once (bench/room_signatures.ts), and with it `open` (see
   * {@linkcode RoomRecordOpen}; default: this connection's key, always).
   */
  constructor(
    hostPublic: KeyObject | Uint8Array | RoomSignatureCheck,
    open: RoomRecordOpen = openOwn,
  ) {
    this.#verify = typeof hostPublic === "function" ? hostPublic : roomSignatureCheck(hostPublic);
    this.#open = open;
  }

  /** Rooms whose epoch is held. */
  get size(): number {
    return this.#byRoom.size;
  }

  /**
   * Installs an `rkey`: `room`'s epoch is now `epoch` with `key`, its first record `rseq`; it
   * replaces the room's previous epoch. `ProtocolError("bad_message")` for an epoch that is not 8
   * bytes, a key that is not 32, an `rseq` that is not a u32, an epoch already held by another
   * room, or a new room beyond {@linkcode ROOM_EPOCHS_HELD}.
   */
  install(room: string, epoch: Uint8Array, key: Uint8Array, rseq: number): void {
    if (epoch.length !== ROOM_EPOCH_BYTES) throw badKey("rkey epoch must be 8 bytes");
    if (key.length !== ROOM_KEY_BYTES) throw badKey("rkey key must be 32 bytes");
    if (!Number.isInteger(rseq) || rseq < 0 || rseq > RSEQ_MAX) throw badKey("rkey rseq");
    const id = epochId(epoch);
    const other = this.#byEpoch.get(id);
    if (other !== undefined && other.room !== room) throw badKey("rkey epoch of another room");
    if (!this.#byRoom.has(room) && this.#byRoom.size >= ROOM_EPOCHS_HELD) {
      throw badKey("too many room keys");
    }
    this.drop(room);
    const held: Held = { room, epoch: epoch.slice(), key: aeadImport(key), next: rseq };
    this.#byEpoch.set(id, held);
    this.#byRoom.set(room, held);
  }

  /** Forgets `room`'s epoch (the session left the room); nothing if none is held. */
  drop(room: string): void {
    const held = this.#byRoom.get(room);
    if (held === undefined) return;
    this.#byRoom.delete(room);
    this.#byEpoch.delete(epochId(held.epoch));
  }

  /**
   * Checks and opens a room record body, in order: size, epoch held (current for its room),
   * `rseq` the next expected and at most {@linkcode RSEQ_MAX}, the host signature, the AEAD. Any failure throws
   * `ProtocolError("bad_record")` and changes nothing; success advances the room's `rseq`.
   * The lines are the caller's to parse and check (`msg`/`event` of `room`, else `bad_message`).
   */
  open(body: Uint8Array): OpenedRoomRecord {
    if (body.length < ROOM_BODY_MIN || body.length > ROOM_BODY_MAX) {
      throw bad(`room record length ${body.length} out of range`);
    }
    const epoch = body.subarray(0, ROOM_EPOCH_BYTES);
    const held = this.#byEpoch.get(epochId(body));
    if (held === undefined) throw bad("room record of an epoch not held");
    const rseq = new DataView(body.buffer, body.byteOffset, body.byteLength)
      .getUint32(ROOM_EPOCH_BYTES);
    if (rseq !== held.next) throw bad(`room record ${rseq} where ${held.next} was expected`);
    if (rseq > RSEQ_MAX) throw bad(`room record ${rseq} past an epoch's last, ${RSEQ_MAX}`);
    if (!this.#verify(body)) throw bad("room record signature does not verify");
    const signedEnd = body.length - SIG_BYTES;
    const plaintext = this.#open(body, () => {
      const { nonce, aad } = nonceAndAad(epoch, rseq);
      return aeadOpen(CIPHER, held.key, nonce, aad, body.subarray(HEAD, signedEnd));
    });
    held.next = rseq + 1;
    return { room: held.room, plaintext };
  }

  /**
   * The `pong` check: true when this session holds `epoch` for `room` and still expects a
   * record below `next` (records the server queued before the `pong` are missing: `withheld`).
   * An epoch not held (or another room's) gives false: it is ignored.
   */
  behind(room: string, epoch: Uint8Array, next: number): boolean {
    const held = this.#byRoom.get(room);
    if (held === undefined || epoch.length !== ROOM_EPOCH_BYTES) return false;
    if (epochId(held.epoch) !== epochId(epoch)) return false;
    return held.next < next;
  }
}

function bad(message: string): ProtocolError {
  return new ProtocolError("bad_record", message);
}

function badKey(message: string): ProtocolError {
  return new ProtocolError("bad_message", message);
}
