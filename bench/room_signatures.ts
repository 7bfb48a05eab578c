/**
 * One bench process holds hundreds of connections that receive the same room record, byte for
 * byte. A real client verifies the host signature of each room record it gets once; the bench,
 * standing in for hundreds of clients, verifies each distinct record once for all of them and
 * remembers it: keyed by epoch ‖ rseq, reused only for a byte-equal body. Likewise the AEAD of
 * such a body is opened once and its plaintext (one object, never changed) handed to every
 * connection that receives the same bytes. Every connection still checks the epoch and the order
 * with its own state (shared/room_record.ts); only the repeated Ed25519 check and AEAD open are
 * saved (docs/benchmarks.md). The bench so trusts its server to give every connection the same
 * key for one epoch, as the protocol has it; a real client opens every record with its own key.
 * @module
 */

import {
  type RoomRecordOpen,
  type RoomSignatureCheck,
  roomSignatureCheck,
} from "../shared/room_record.ts";
import { toHex } from "../shared/encoding.ts";
import { Buffer } from "node:buffer";
import type { KeyObject } from "../shared/crypto.ts";

/** Records remembered at most (the oldest is forgotten first). */
export const MEMO_RECORDS = 1024;
/** Bytes of remembered bodies at most. */
export const MEMO_BYTES = 8 * 1024 * 1024;

/** One remembered record: its body, and its plaintext once opened. */
interface Entry {
  body: Uint8Array;
  plaintext?: Uint8Array<ArrayBuffer>;
}

/** The memo key of a room record body: epoch ‖ rseq as three u32 (cheaper than hex). */
function recordId(body: Uint8Array): string {
  const v = new DataView(body.buffer, body.byteOffset, 12);
  return `${v.getUint32(0)}.${v.getUint32(4)}.${v.getUint32(8)}`;
}

/**
 * True when `a` and `b` hold the same bytes: a native compare (about 20× cheaper than a byte loop
 * for a 5 KB body). Not constant-time: both bodies are public (what the server sent).
 */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/** A signature check that verifies each distinct room record once, and opens it once. */
export class RoomSignatureMemo {
  /** Signatures actually verified (successfully or not). */
  verified = 0;
  /** Checks answered from memory. */
  reused = 0;
  /** AEAD opens actually done. */
  opened = 0;
  readonly #inner: RoomSignatureCheck;
  readonly #seen = new Map<string, Entry>();
  #last: { body: Uint8Array; entry: Entry } | undefined; // the body the last check passed
  #bytes = 0;

  /** Checks under the host key `hostPublic` (raw 32 bytes or imported). */
  constructor(hostPublic: KeyObject | Uint8Array | RoomSignatureCheck) {
    this.#inner = typeof hostPublic === "function" ? hostPublic : roomSignatureCheck(hostPublic);
  }

  /** The check to give each connection's `RoomRecordOpener`. */
  readonly check: RoomSignatureCheck = (body) => {
    const key = recordId(body);
    const known = this.#seen.get(key);
    if (known !== undefined && sameBytes(known.body, body)) {
      this.reused++;
      this.#last = { body, entry: known };
      return true;
    }
    this.#last = undefined;
    this.verified++;
    if (!this.#inner(body)) return false;
    if (known !== undefined) this.#forget(key, known);
    const entry: Entry = { body: body.slice() };
    this.#seen.set(key, entry);
    this.#bytes += body.length;
    for (const [k, v] of this.#seen) {
      if (this.#seen.size <= MEMO_RECORDS && this.#bytes <= MEMO_BYTES) break;
      this.#forget(k, v);
    }
    this.#last = { body, entry };
    return true;
  };

  /**
   * The open to give each connection's `RoomRecordOpener` with {@link check}: the plaintext of a
   * body whose check just passed is opened once and then reused for the same bytes.
   */
  readonly open: RoomRecordOpen = (body, inner) => {
    const last = this.#last;
    this.#last = undefined;
    if (last === undefined || last.body !== body) return inner();
    if (last.entry.plaintext === undefined) {
      this.opened++;
      last.entry.plaintext = inner();
      this.#bytes += last.entry.plaintext.length;
    }
    return last.entry.plaintext;
  };

  /** Records remembered now. */
  get size(): number {
    return this.#seen.size;
  }

  #forget(key: string, entry: Entry): void {
    this.#seen.delete(key);
    this.#bytes -= entry.body.length + (entry.plaintext?.length ?? 0);
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
