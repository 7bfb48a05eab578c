/**
 * Room records on the server (docs/protocol.md §3 "Room records"): per room one current epoch
 * (random id and key, next `rseq`), and one open batch of the room's lines that every member that
 * negotiated room records holds in its send queue. The batch gets its `rseq` when it opens and is
 * sealed and signed once, when the first member's writer takes it; the same frame then goes to
 * every member. A member gets `rkey` (an ordinary message) before its first batch of an epoch.
 * A leave ends the epoch; the next starts at most once per {@linkcode EPOCH_MIN_MS}, and the
 * room's lines go in ordinary messages meanwhile. Knows no socket: connections are
 * {@linkcode RoomReceiver}s.
 * @module
 */

import type { KeyObject } from "../shared/crypto.ts";
import { toBase64, utf8 } from "../shared/encoding.ts";
import {
  newRoomEpoch,
  ROOM_PLAINTEXT_MAX,
  type RoomEpochKey,
  RSEQ_MAX,
  sealRoomRecord,
} from "../shared/room_record.ts";
import type {
  HeldEpoch,
  QueuedBatch,
  RoomChannel,
  RoomMember,
  RoomReceiver,
} from "./room_channel.ts";

export type { RoomChannel } from "./room_channel.ts";

/** Shortest time between the starts of two epochs of one room, when a leave asks for a new one. */
export const EPOCH_MIN_MS = 1000;

/** One epoch of one room. */
class Epoch implements HeldEpoch {
  readonly id: string;
  readonly secret: RoomEpochKey;
  /** The `rkey` line's key field (the key in base64; never logged). */
  readonly key: string;
  next: number;

  constructor(secret: RoomEpochKey) {
    this.secret = secret;
    this.id = toBase64(secret.epoch);
    this.key = toBase64(secret.raw);
    this.next = 0;
  }
}

/** One plaintext buffer for every seal: sealing runs to its end without yielding. */
let scratch = new Uint8Array(0);

/** A batch of one room's lines, sealed once at its first {@linkcode frame} call. */
class Batch implements QueuedBatch {
  lines = 0;
  bytes = 0;
  /** Members of the room without room records: they get each line as it comes. */
  plain: RoomMember[] = [];
  #parts: Uint8Array[] | undefined = [];
  #size = 0; // plaintext bytes with separators
  #frame: Uint8Array | undefined;
  #open = true;
  readonly #epoch: Epoch;
  readonly #rseq: number;
  readonly #host: KeyObject;

  constructor(epoch: Epoch, rseq: number, host: KeyObject) {
    this.#epoch = epoch;
    this.#rseq = rseq;
    this.#host = host;
  }

  /** True while the batch takes `line` (open, and within one record's plaintext). */
  fits(line: Uint8Array): boolean {
    return this.#open && this.#size + 1 + line.length <= ROOM_PLAINTEXT_MAX;
  }

  add(line: Uint8Array): void {
    this.#parts!.push(line);
    this.#size += (this.lines === 0 ? 0 : 1) + line.length;
    this.lines++;
    this.bytes += line.length;
  }

  close(): void {
    this.#open = false;
  }

  frame(): Uint8Array {
    if (this.#frame !== undefined) return this.#frame;
    this.#open = false;
    if (scratch.length < this.#size) scratch = new Uint8Array(ROOM_PLAINTEXT_MAX);
    let at = 0;
    for (const p of this.#parts!) {
      if (at > 0) scratch[at++] = 0x0a;
      scratch.set(p, at);
      at += p.length;
    }
    this.#parts = undefined;
    const e = this.#epoch.secret;
    this.#frame = sealRoomRecord(e.key, e.epoch, this.#rseq, scratch.subarray(0, at), this.#host);
    return this.#frame;
  }
}

/** What the server keeps per room. */
interface RoomState {
  epoch: Epoch | undefined;
  batch: Batch | undefined;
  /** A member left: the next epoch waits until `EPOCH_MIN_MS` after the last one started. */
  rotate: boolean;
  startedAt: number;
  /** No member takes room records (known since the last join or leave): skip batches. */
  plainOnly: boolean;
}

/** What {@linkcode RoomRecords} counts, for tests and `/stats`-like views. */
export interface RoomRecordStats {
  /** Epochs started. */
  epochs: number;
  /** Batches opened (each sealed once, if any member drained it). */
  batches: number;
  /** Room lines sent in ordinary messages to every member (epoch rate limit, or too large). */
  ordinary: number;
}

/** The server's room records: epochs and open batches per room. */
export class RoomRecords implements RoomChannel {
  readonly #host: KeyObject;
  readonly #now: () => number;
  readonly #newEpoch: () => RoomEpochKey;
  readonly #rooms = new Map<string, RoomState>();
  /** Counters. */
  readonly stats: RoomRecordStats = { epochs: 0, batches: 0, ordinary: 0 };

  /**
   * Room records signed with the host private key `host`, with clock `now` (ms) and, for tests,
   * the epoch source `newEpoch` (random by default).
   */
  constructor(
    host: KeyObject,
    now: () => number = Date.now,
    newEpoch: () => RoomEpochKey = newRoomEpoch,
  ) {
    this.#host = host;
    this.#now = now;
    this.#newEpoch = newEpoch;
  }

  /** Rooms with state (an epoch, an open batch, or a pending rotation). */
  get rooms(): number {
    return this.#rooms.size;
  }

  /** See {@linkcode RoomChannel.send}. */
  send(room: string, line: Uint8Array, members: ReadonlySet<RoomMember>): void {
    if (members.size === 0) return;
    let r = this.#rooms.get(room);
    if (r === undefined) {
      r = { epoch: undefined, batch: undefined, rotate: false, startedAt: 0, plainOnly: false };
      this.#rooms.set(room, r);
    }
    if (r.plainOnly) {
      for (const m of members) m.peer.send(line);
      return;
    }
    const b = r.batch;
    if (b !== undefined && b.fits(line)) {
      b.add(line);
      for (const m of b.plain) m.peer.send(line);
      return;
    }
    b?.close();
    r.batch = undefined;
    const e = line.length <= ROOM_PLAINTEXT_MAX ? this.#epoch(r) : undefined;
    if (e === undefined) {
      this.stats.ordinary++;
      for (const m of members) m.peer.send(line);
      return;
    }
    const rseq = e.next++;
    const batch = new Batch(e, rseq, this.#host);
    batch.add(line);
    r.batch = batch;
    let taken = 0;
    let rkey: Uint8Array | undefined;
    for (const m of members) {
      const rr: RoomReceiver | undefined = m.peer.roomRecords;
      if (rr === undefined) {
        batch.plain.push(m);
        m.peer.send(line);
        continue;
      }
      if (rr.epochs?.get(room) !== e) {
        rkey ??= utf8.encode(JSON.stringify({ t: "rkey", room, epoch: e.id, key: e.key, rseq }));
        (rr.epochs ??= new Map()).set(room, e);
        m.peer.send(rkey);
      }
      rr.sendBatch(batch);
      taken++;
    }
    if (taken === 0) {
      // Nobody takes room records: the rseq was never given out.
      if (e.next === rseq + 1) e.next = rseq;
      batch.close();
      if (r.batch === batch) {
        r.batch = undefined;
        r.plainOnly = true;
      }
    } else this.stats.batches++;
  }

  /** See {@linkcode RoomChannel.joined}. */
  joined(room: string, _member: RoomMember): void {
    const r = this.#rooms.get(room);
    if (r === undefined) return;
    r.batch?.close();
    r.batch = undefined;
    r.plainOnly = false;
  }

  /** See {@linkcode RoomChannel.left}. */
  left(room: string, member: RoomMember, empty: boolean): void {
    const rr = member.peer.roomRecords;
    if (rr?.epochs !== undefined && rr.epochs.delete(room) && rr.epochs.size === 0) {
      rr.epochs = undefined; // an idle connection keeps nothing
    }
    const r = this.#rooms.get(room);
    if (r === undefined) return;
    r.batch?.close();
    r.batch = undefined;
    r.plainOnly = false;
    if (empty) {
      this.#rooms.delete(room);
      return;
    }
    if (r.epoch !== undefined) {
      r.epoch = undefined;
      r.rotate = true;
    }
  }

  /** The room's epoch for a new batch: the current one, a new one, or none yet (rate limit). */
  #epoch(r: RoomState): Epoch | undefined {
    const e = r.epoch;
    if (e !== undefined && e.next <= RSEQ_MAX) return e;
    const now = this.#now();
    if (e === undefined && r.rotate && now - r.startedAt < EPOCH_MIN_MS) return undefined;
    r.epoch = new Epoch(this.#newEpoch());
    r.rotate = false;
    r.startedAt = now;
    this.stats.epochs++;
    return r.epoch;
  }
}
