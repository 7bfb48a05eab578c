/**
 * One bench process holds hundreds of connections that receive the same room record, byte for
 * byte. A real client verifies the host signature of each room record it gets once; the bench,
 * standing in for hundreds of clients, verifies each distinct record once for all of them and
 * remembers it: keyed by epoch ‖ rseq, reused only for a byte-equal body. Every connection still
 * checks the epoch and the order with its own state and opens the record with its own key
 * (shared/room_record.ts); only the repeated Ed25519 check is saved (docs/benchmarks.md).
 * @module
 */

import { type RoomSignatureCheck, roomSignatureCheck } from "../shared/room_record.ts";
import { bytesEqual, toHex } from "../shared/encoding.ts";
import type { KeyObject } from "../shared/crypto.ts";

/** Records remembered at most (the oldest is forgotten first). */
export const MEMO_RECORDS = 1024;
/** Bytes of remembered bodies at most. */
export const MEMO_BYTES = 8 * 1024 * 1024;

/** A signature check that verifies each distinct room record once. */
export class RoomSignatureMemo {
  /** Signatures actually verified (successfully or not). */
  verified = 0;
  /** Checks answered from memory. */
  reused = 0;
  readonly #inner: RoomSignatureCheck;
  readonly #seen = new Map<string, Uint8Array>();
  #bytes = 0;

  /** Checks under the host key `hostPublic` (raw 32 bytes or imported). */
  constructor(hostPublic: KeyObject | Uint8Array | RoomSignatureCheck) {
    this.#inner = typeof hostPublic === "function" ? hostPublic : roomSignatureCheck(hostPublic);
  }

  /** The check to give each connection's `RoomRecordOpener`. */
  readonly check: RoomSignatureCheck = (body) => {
    const key = toHex(body.subarray(0, 12)); // epoch ‖ rseq
    const known = this.#seen.get(key);
    if (known !== undefined && bytesEqual(known, body)) {
      this.reused++;
      return true;
    }
    this.verified++;
    if (!this.#inner(body)) return false;
    if (known !== undefined) this.#forget(key, known);
    this.#seen.set(key, body.slice());
    this.#bytes += body.length;
    for (const [k, v] of this.#seen) {
      if (this.#seen.size <= MEMO_RECORDS && this.#bytes <= MEMO_BYTES) break;
      this.#forget(k, v);
    }
    return true;
  };

  /** Records remembered now. */
  get size(): number {
    return this.#seen.size;
  }

  #forget(key: string, body: Uint8Array): void {
    this.#seen.delete(key);
    this.#bytes -= body.length;
  }
}

/** The memo of each host key in this process (a cluster's nodes share one key). */
const memos = new Map<string, RoomSignatureMemo>();

/** The process's memo for `hostKey` (raw 32 bytes); at most 16 host keys are kept. */
export function sharedMemo(hostKey: Uint8Array): RoomSignatureMemo {
  const id = toHex(hostKey);
  let m = memos.get(id);
  if (m === undefined) {
    if (memos.size >= 16) memos.delete(memos.keys().next().value!);
    m = new RoomSignatureMemo(hostKey);
    memos.set(id, m);
  }
  return m;
}
