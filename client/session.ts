/**
 * One encrypted connection to the server after the key exchange: messages sent in one turn of
 * the event loop share records, writes are chained in order, records read are opened and split
 * into server messages — room records too, with the room keys this connection was given and
 * the checks of docs/protocol.md §3 "Room records". Also the deadline-bound frame reader of the
 * handshake phase. The connection is passed in; what to do when it is lost is the owner's
 * callback.
 * @module
 */

import { ConnectError } from "./errors.ts";
import type { SessionKeys } from "../shared/handshake.ts";
import { encodeFrame, FrameDecoder } from "../shared/frame.ts";
import { packRecords, RecordOpener, RecordSealer, REKEY_AT } from "../shared/record.ts";
import { decodeUtf8, fromBase64, utf8, utf8Length } from "../shared/encoding.ts";
import { ProtocolError } from "../shared/errors.ts";
import type { RoomRecordOpener } from "../shared/room_record.ts";
import { DEFAULT_LIMITS } from "../shared/limits.ts";
import { withDeadline, writeAll } from "../shared/io.ts";
import {
  parseRoomLines,
  parseServerMessage,
  type PingMessage,
  type RoomKeyMessage,
  type ServerMessage,
  splitRecord,
} from "../shared/messages.ts";

/** An encrypted connection: queue, seal and write messages; open what is read. */
export class Session {
  /** The connection. */
  readonly conn: Deno.TcpConn;
  /** Frames read and not yet handled (the handshake's decoder, carried on). */
  readonly decoder: FrameDecoder;
  /** The chain of writes, in order; settles when the last queued write has. */
  writes: Promise<void> = Promise.resolve();
  /** When a record last arrived (ms since the epoch). */
  lastRecv: number = Date.now();
  /** When a `ping` was last sent (ms since the epoch). */
  lastPing: number = Date.now();
  /** True once the connection is closed or lost. */
  closed = false;
  /** The room epochs this connection holds and their checks; null without room records. */
  readonly rooms: RoomRecordOpener | null;
  readonly #sealer: RecordSealer;
  readonly #opener: RecordOpener;
  readonly #onLost: (s: Session, detail: string) => void;
  /** Messages waiting for the next record (everything sent in one turn shares a record). */
  #outq: string[] = [];
  /** The timer that flushes {@link #outq}, while one is set. */
  #flushTimer?: ReturnType<typeof setTimeout>;

  /**
   * A session over `conn`; `onLost` hears of a failed write or a used-up record counter. `rooms`
   * is given when room records were negotiated.
   */
  constructor(
    conn: Deno.TcpConn,
    keys: Pick<SessionKeys, "send" | "recv">,
    decoder: FrameDecoder,
    onLost: (s: Session, detail: string) => void,
    rooms: RoomRecordOpener | null = null,
  ) {
    this.conn = conn;
    this.decoder = decoder;
    this.rooms = rooms;
    this.#sealer = new RecordSealer(keys.send);
    this.#opener = new RecordOpener(keys.recv);
    this.#onLost = onLost;
  }

  /** Queues one message; false (nothing sent) when it does not fit in one record. */
  send(msg: unknown): boolean {
    if (this.closed) return true; // the loss is reported by the read loop; the outbox re-sends
    const line = JSON.stringify(msg);
    if (utf8Length(line) > DEFAULT_LIMITS.recordPlaintext) return false;
    this.#outq.push(line);
    // Everything sent in this turn of the event loop (a pasted block of lines, the outbox after
    // a reconnect) shares records: one encryption, one write, one rate-limit token per paste.
    this.#flushTimer ??= setTimeout(() => this.flush(), 0);
    return true;
  }

  /** Seals what is queued into as few records as fit, and chains their writes. */
  flush(): void {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    const lines = this.#outq;
    this.#outq = [];
    if (this.closed || lines.length === 0) return;
    for (const text of packRecords(lines, DEFAULT_LIMITS.recordPlaintext)) {
      if (this.#sealer.seq >= REKEY_AT - 1) {
        // The counter is nearly used up: say goodbye and reconnect (the outbox re-sends).
        const bye = this.#sealer.seal(utf8.encode(JSON.stringify({ t: "bye", reason: "rekey" })));
        this.#write(bye);
        this.#onLost(this, "rekey");
        return;
      }
      this.#write(this.#sealer.seal(utf8.encode(text)));
    }
  }

  #write(sealed: Uint8Array): void {
    this.writes = this.writes.then(async () => {
      await writeAll(this.conn, encodeFrame(sealed));
    }).catch(() => this.#onLost(this, "write failed"));
  }

  /**
   * Opens one frame and parses the messages in it: an ordinary record, or (`room`) a room record,
   * checked in the spec's order — epoch held, `rseq` the next, signature, AEAD
   * (`ProtocolError("bad_record")`), then every line a `msg` or `event` of the epoch's room
   * (`bad_message`). Nothing of a frame that fails is returned.
   */
  read(frame: Uint8Array, room = false): ServerMessage[] {
    if (!room) return splitRecord(decodeUtf8(this.#opener.open(frame))).map(parseServerMessage);
    if (this.rooms === null) throw new ProtocolError("bad_record", "room records not negotiated");
    const opened = this.rooms.open(frame);
    return parseRoomLines(opened.room, decodeUtf8(opened.plaintext));
  }

  /** Installs a room's epoch key (`rkey`); `ProtocolError("bad_message")` without room records. */
  installRoomKey(m: RoomKeyMessage): void {
    if (this.rooms === null) throw new ProtocolError("bad_message", "rkey without room records");
    this.rooms.install(m.room, fromBase64(m.epoch), fromBase64(m.key), m.rseq);
  }

  /** Forgets a room's epoch (the session left, was kicked or banned from it). */
  dropRoom(room: string): void {
    this.rooms?.drop(room);
  }

  /** True while the session holds a room key (then it pings at least every 30 s). */
  get holdsRoomKeys(): boolean {
    return this.rooms !== null && this.rooms.size > 0;
  }

  /**
   * The `pong` check: the first room whose epoch this session holds and whose records before the
   * `pong`'s number have not all arrived (withheld), or undefined.
   */
  behind(pong: PingMessage): string | undefined {
    if (this.rooms === null || pong.rooms === undefined) return undefined;
    for (const [room, [epoch, next]] of Object.entries(pong.rooms)) {
      if (this.rooms.behind(room, fromBase64(epoch), next)) return room;
    }
    return undefined;
  }

  /** Sends a `ping` and notes when. */
  ping(): void {
    this.lastPing = Date.now();
    this.send({ t: "ping", n: 0 });
  }

  /** Closes the connection; false when it was already closed. What was queued is dropped. */
  close(): boolean {
    if (this.closed) return false;
    this.closed = true;
    clearTimeout(this.#flushTimer); // what was queued is re-sent from the outbox after reconnecting
    this.#flushTimer = undefined;
    try {
      this.conn.close();
    } catch {
      // closed
    }
    return true;
  }
}

/** Reads whole frames from a connection with a deadline (handshake phase). */
export class FrameReader {
  /** The decoder, handed on to the session afterwards. */
  readonly decoder: FrameDecoder = new FrameDecoder({ min: 1, max: DEFAULT_LIMITS.handshakeFrame });
  #conn: Deno.TcpConn;
  #deadline: number;
  /** Reads from `conn` until `deadline` (ms since the epoch). */
  constructor(conn: Deno.TcpConn, deadline: number) {
    this.#conn = conn;
    this.#deadline = deadline;
  }
  /** The next whole frame; `ConnectError` at the deadline or when the server closes. */
  async next(): Promise<Uint8Array> {
    const buf = new Uint8Array(16_384);
    for (;;) {
      const f = this.decoder.next();
      if (f) return f;
      const left = this.#deadline - Date.now();
      if (left <= 0) throw new ConnectError("the server did not answer in time");
      const n = await withDeadline(
        this.#conn.read(buf),
        left,
        () => new ConnectError("the server did not answer in time"),
      );
      if (n === null) {
        this.decoder.finish();
        throw new ConnectError("the server closed the connection during the handshake");
      }
      this.decoder.push(buf.slice(0, n));
    }
  }
}
