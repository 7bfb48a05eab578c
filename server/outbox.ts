/**
 * The send queue of one connection, without the socket: a bounded queue of serialised server
 * messages (text or UTF-8 bytes shared by every recipient), replay sources and room batches
 * (server/room_records.ts), drained into frames ready for one write. Whatever is queued when a
 * write can start leaves together: as many messages per record as fit, one seal per record; a
 * room batch leaves as its own frame, sealed once for every member. Drained with `later`, large
 * AES-256-GCM records are sealed asynchronously (shared/record.ts `sealLater`).
 * @module
 */

import type { LineSource } from "./hub.ts";
import type { QueuedBatch } from "./room_channel.ts";
import { REKEY_AT } from "../shared/record.ts";
import { decodeUtf8, utf8 } from "../shared/encoding.ts";

/** Lines a replay source hands out per pull. */
export const REPLAY_BATCH = 64;
/** Replayed bytes taken per drain at most (the rest waits for the next write). */
export const REPLAY_BUDGET = 64 * 1024;

/** What seals a record body (shared/record.ts `RecordSealer`). */
export interface Sealer {
  /** Records sealed so far. */
  readonly seq: number;
  /** Encrypts `plaintext` into a record body; must not keep a reference to `plaintext`. */
  seal(plaintext: Uint8Array, maxPlaintext: number): Uint8Array;
  /** Like `seal`, or a promise of the body (it must not keep `plaintext` either). */
  sealLater?(plaintext: Uint8Array, maxPlaintext: number): Uint8Array | Promise<Uint8Array>;
}

/** Bounds of an {@linkcode Outbox}. */
export interface OutboxLimits {
  /** Queued messages at most (replay sources not counted: they are pulled on demand). */
  sendQueueEvents: number;
  /** Queued bytes at most. */
  sendQueueBytes: number;
  /** Largest record plaintext in bytes. */
  recordPlaintext: number;
}

/** What {@linkcode Outbox.drain} produced. */
export interface Drained {
  /**
   * Frames (`length:u32 ‖ body`) to write, in order; empty when nothing was queued. Never to be
   * changed: it may be a room frame shared with other connections.
   */
  bytes: Uint8Array;
  /** True when the record counter ran out: the last record is `bye rekey`, the queue is gone. */
  rekey: boolean;
  /**
   * With `later`: the frames to write instead of `bytes` (empty then) when a record is sealed
   * asynchronously.
   */
  later?: Promise<Uint8Array>;
}

const BYE_REKEY = utf8.encode(JSON.stringify({ t: "bye", reason: "rekey" }));
const NEWLINE = 0x0a;

/** One plaintext buffer for every outbox: a drain runs to its end without yielding. */
let scratch = new Uint8Array(0);

type Item = Uint8Array | LineSource | QueuedBatch;

function isBatch(item: LineSource | QueuedBatch): item is QueuedBatch {
  return "frame" in item;
}

/** A bounded queue of outgoing messages for one connection. */
export class Outbox {
  readonly #l: OutboxLimits;
  #items: Item[] = [];
  #lines = 0; // messages in #items (but not in #tail)
  #bytes = 0; // their bytes
  /** The last item when it is a room batch that may still take lines (counted when settled). */
  #tail: QueuedBatch | undefined = undefined;

  /** An empty queue with the given bounds. */
  constructor(limits: OutboxLimits) {
    this.#l = limits;
  }

  /** True when nothing is queued. */
  get empty(): boolean {
    return this.#items.length === 0;
  }

  /**
   * Queues one message (text, or its UTF-8 bytes, which are not copied and must not change);
   * false, queuing nothing, when it would pass `sendQueueEvents` or `sendQueueBytes` (unless
   * `always`, for a last goodbye).
   */
  push(line: string | Uint8Array, always = false): boolean {
    const bytes = typeof line === "string" ? utf8.encode(line) : line;
    this.#settle();
    const l = this.#l;
    const full = this.#lines >= l.sendQueueEvents || this.#bytes + bytes.length > l.sendQueueBytes;
    if (full && !always) {
      return false;
    }
    this.#items.push(bytes);
    this.#lines++;
    this.#bytes += bytes.length;
    return true;
  }

  /** Queues a source pulled as writes go (a history replay), in order with {@linkcode push}. */
  pushSource(source: LineSource): void {
    this.#settle();
    this.#items.push(source);
  }

  /**
   * Queues a room batch, in order with {@link push}; its lines and bytes count against the
   * bounds (those it takes while it is the last item are counted when something follows it).
   * False, queuing nothing, when it would pass them.
   */
  pushBatch(batch: QueuedBatch): boolean {
    this.#settle();
    const l = this.#l;
    if (
      this.#lines + batch.lines > l.sendQueueEvents || this.#bytes + batch.bytes > l.sendQueueBytes
    ) {
      return false;
    }
    this.#items.push(batch);
    this.#tail = batch;
    return true;
  }

  /** Something follows the tail batch: it takes no more lines, and its size is now counted. */
  #settle(): void {
    const t = this.#tail;
    if (t === undefined) return;
    this.#tail = undefined;
    t.close();
    this.#lines += t.lines;
    this.#bytes += t.bytes;
  }

  /** Forgets everything queued. */
  clear(): void {
    this.#items = [];
    this.#lines = 0;
    this.#bytes = 0;
    this.#tail = undefined;
  }

  /**
   * Seals everything queued, replay sources up to {@linkcode REPLAY_BUDGET} bytes, into as few
   * records as fit `recordPlaintext` (messages joined by `\n`); a message that cannot fit one
   * record becomes a `too_long` error. A room batch leaves as its own frame (sealed by the
   * first member that drains it). When the sealer reaches {@linkcode REKEY_AT} records, the last
   * record is `bye rekey` and the rest of the queue is dropped. With `later`, records go through
   * `sealer.sealLater`: if one of them is a promise, the frames come as `later` (their counters
   * are taken now, in order).
   */
  drain(sealer: Sealer, later = false): Drained {
    const max = this.#l.recordPlaintext;
    if (scratch.length < max) scratch = new Uint8Array(max);
    const buf = scratch;
    const bodies: (Uint8Array | Promise<Uint8Array>)[] = [];
    const framed: boolean[] = []; // a room frame has its length already
    let pending = false;
    let used = 0;
    let rekey = false;
    const emit = () => {
      let plain = buf.subarray(0, used);
      used = 0;
      if (sealer.seq === REKEY_AT) {
        plain = BYE_REKEY; // the counter is used up: the client reconnects
        rekey = true;
      }
      const body = later && sealer.sealLater !== undefined
        ? sealer.sealLater(plain, max)
        : sealer.seal(plain, max);
      if (!(body instanceof Uint8Array)) pending = true;
      bodies.push(body);
      framed.push(false);
    };
    const add = (line: Uint8Array) => {
      if (line.length > max) line = tooLarge(line);
      if (used > 0 && used + 1 + line.length > max) emit();
      if (rekey) return;
      if (used > 0) buf[used++] = NEWLINE;
      buf.set(line, used);
      used += line.length;
    };
    const items = this.#items;
    let budget = REPLAY_BUDGET;
    let i = 0;
    for (; i < items.length && !rekey; i++) {
      const item = items[i];
      if (item instanceof Uint8Array) {
        add(item);
        continue;
      }
      if (isBatch(item)) {
        if (used > 0) emit(); // what was queued before the batch leaves before it
        if (rekey) break;
        bodies.push(item.frame());
        framed.push(true);
        continue;
      }
      if (budget <= 0) break;
      for (let more = item.next(REPLAY_BATCH); more.length > 0; more = item.next(REPLAY_BATCH)) {
        for (const l of more) {
          const bytes = utf8.encode(l);
          add(bytes);
          budget -= bytes.length;
        }
        if (budget <= 0 || rekey) break;
      }
      if (budget <= 0) break; // the source stays at the head; the next drain goes on with it
    }
    if (used > 0 && !rekey) emit();
    if (rekey || i >= items.length) this.clear();
    else {
      this.#items = items.slice(i);
      this.#lines = 0;
      this.#bytes = 0;
      for (const q of this.#items) {
        if (q instanceof Uint8Array) {
          this.#lines++;
          this.#bytes += q.length;
        } else if (isBatch(q) && q !== this.#tail) {
          this.#lines += q.lines;
          this.#bytes += q.bytes;
        }
      }
    }
    if (pending) {
      return {
        bytes: new Uint8Array(0),
        rekey,
        later: Promise.all(bodies).then((b) => frames(b, framed)),
      };
    }
    return { bytes: frames(bodies as Uint8Array[], framed), rekey };
  }
}

/**
 * `bodies` as frames in one buffer: a record body gets its length in front, a room frame (`framed`)
 * has it already. A room frame alone (the common case under load) is returned as it is, shared by
 * every member: no copy.
 */
function frames(bodies: Uint8Array[], framed: boolean[]): Uint8Array {
  if (bodies.length === 1 && framed[0]) return bodies[0];
  let total = 0;
  for (let k = 0; k < bodies.length; k++) total += bodies[k].length + (framed[k] ? 0 : 4);
  const bytes = new Uint8Array(total);
  const view = new DataView(bytes.buffer);
  let at = 0;
  for (let k = 0; k < bodies.length; k++) {
    const b = bodies[k];
    if (framed[k]) {
      bytes.set(b, at);
      at += b.length;
      continue;
    }
    view.setUint32(at, b.length);
    bytes.set(b, at + 4);
    at += 4 + b.length;
  }
  return bytes;
}

/**
 * What replaces a server message too large for one record: an error for the request it answered
 * (so the client is not left waiting), or a note without an id.
 */
function tooLarge(line: Uint8Array): Uint8Array {
  let id: unknown;
  try {
    id = (JSON.parse(decodeUtf8(line)) as { id?: unknown }).id;
  } catch {
    id = undefined;
  }
  const message = "the answer is too large to send; ask for less";
  return utf8.encode(JSON.stringify(
    typeof id === "string" && id !== ""
      ? { t: "error", id, code: "too_long", message }
      : { t: "error", code: "too_long", message },
  ));
}
