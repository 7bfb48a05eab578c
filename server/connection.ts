/**
 * One client connection: handshake, authentication, the reader loop, a
 * bounded writer queue with one write in flight, and deadlines. It knows
 * nothing about rooms: requests go to the hub, events come back as lines.
 * @module
 */

import type { AuthMessage, ClientMessage, PingMessage } from "../shared/messages.ts";
import type { LineSource, Peer } from "./hub.ts";
import { type AnswerKind, Charges, type Verdict } from "./charge.ts";
import { parseClientMessage, splitRecord } from "../shared/messages.ts";
import { encodeFrame, FrameDecoder, type FrameLimits } from "../shared/frame.ts";
import { encodeRefusal, serverRespond } from "../shared/handshake.ts";
import { RecordOpener, RecordSealer, REKEY_AT } from "../shared/record.ts";
import { concat, decodeUtf8 } from "../shared/encoding.ts";
import { Outbox } from "./outbox.ts";
import { verifyIdentity } from "./verified_identities.ts";
import type { HeldEpoch, QueuedBatch, RoomReceiver } from "./room_channel.ts";
import type { ConnectionContext } from "./connection_ports.ts";
import { ProtocolError } from "../shared/errors.ts";
import { type Limits, MIN_RECORD_FRAME, type TokenBucket } from "../shared/limits.ts";

type Phase = "hello" | "auth" | "chat" | "closing" | "closed";

/** The frame limits of each phase, one object per `Limits` for every connection. */
const FRAME_LIMITS = new WeakMap<Limits, { handshake: FrameLimits; record: FrameLimits }>();

function frameLimits(l: Limits): { handshake: FrameLimits; record: FrameLimits } {
  let f = FRAME_LIMITS.get(l);
  if (f === undefined) {
    f = {
      handshake: Object.freeze({ min: 1, max: l.handshakeFrame }),
      record: Object.freeze({ min: MIN_RECORD_FRAME, max: l.recordFrame }),
    };
    FRAME_LIMITS.set(l, f);
  }
  return f;
}

/**
 * Read buffer of a connection: small while idle, grown while reads fill it. Between the hello
 * and the login, one that holds a whole `auth` record (about 1 KiB with a DM key) in one read.
 */
const READ_SMALL = 256;
const READ_AUTH = 2048;
const READ_LARGE = 16 * 1024;

/** One TCP connection from a client. */
export class Connection implements Peer {
  /** Unique id. */
  readonly id: number;
  /** Remote address. */
  readonly ip: string;
  /** Accept time (ms). */
  readonly acceptedAt: number;
  /** Identity fingerprint after auth, "" before. */
  fingerprint = "";
  /** Identity key (base64 raw) after auth. */
  sigPub = "";
  /** DM key after auth, if any. */
  kemPub?: string;
  /** DM key signature after auth, if any. */
  kemSig?: string;
  /** Why the connection closed (`idle`… as given to abort), once closed. */
  closeReason?: string;
  /**
   * Present when the handshake negotiated room records (server/room_records.ts): this
   * connection itself, so that negotiating costs no allocation.
   */
  roomRecords?: RoomReceiver;
  /** The room epochs this connection holds; see {@linkcode RoomReceiver.epochs}. */
  epochs: Map<string, HeldEpoch> | undefined = undefined;

  #conn: Deno.TcpConn;
  #ctx: ConnectionContext<Connection>;
  #phase: Phase = "hello";
  #decoder: FrameDecoder;
  #sealer?: RecordSealer;
  #opener?: RecordOpener;
  #th?: Uint8Array;
  #authAttempts = 0;
  #charges: Charges;
  #lastRecv: number;
  #pinged = false;
  #pingN = 0;
  #out: Outbox; // what waits for the next write
  #writing = false;
  #scheduled = false;
  #writeStarted = 0;
  #closeAfterFlush: string | null = null;
  #raw: Uint8Array[] | undefined = undefined; // pre-key frames (ServerHello / Refusal)
  // Idle connections keep only the small read buffer; a read that fills it switches to a large
  // one until reads are small again.
  #small = new Uint8Array(READ_SMALL);
  #buf = this.#small;
  #readsDone = false; // the client said bye: nothing more is read

  /** Wraps an accepted TCP connection. */
  constructor(conn: Deno.TcpConn, id: number, ctx: ConnectionContext<Connection>) {
    this.#conn = conn;
    this.id = id;
    this.#ctx = ctx;
    const addr = conn.remoteAddr as Deno.NetAddr;
    this.ip = addr.hostname;
    this.acceptedAt = ctx.now();
    this.#lastRecv = this.acceptedAt;
    this.#decoder = new FrameDecoder(frameLimits(ctx.limits).handshake);
    this.#charges = new Charges(ctx.limits, ctx.now);
    this.#out = new Outbox(ctx.limits);
    try {
      conn.setNoDelay(true);
    } catch {
      // not fatal
    }
  }

  /** True once `welcome` was sent. */
  get authenticated(): boolean {
    return this.#phase === "chat";
  }

  /** True until the connection starts closing. */
  get open(): boolean {
    return this.#phase !== "closing" && this.#phase !== "closed";
  }

  /** Sends a Refusal frame and closes (only before ServerHello). */
  refuse(code: string): void {
    if (this.#phase !== "hello") return this.abort(code);
    (this.#raw ??= []).push(encodeFrame(encodeRefusal(code)));
    this.#phase = "closing";
    this.#closeAfterFlush = code;
    this.#pump();
  }

  /**
   * Queues one serialised server message (text, or UTF-8 bytes shared with other recipients and
   * never changed); drops the client if its queue overflows.
   */
  send(line: string | Uint8Array): void {
    if (this.#phase !== "auth" && this.#phase !== "chat") return;
    this.#queued(this.#out.push(line));
  }

  /**
   * Queues a room batch, in order with {@link send}; drops the client if its queue overflows.
   * Only through {@linkcode roomRecords}: present when room records were negotiated.
   */
  sendBatch(batch: QueuedBatch): void {
    if (this.#phase !== "auth" && this.#phase !== "chat") return;
    this.#queued(this.#out.pushBatch(batch));
  }

  /** After a push: schedules the write, or drops a client whose queue is full. */
  #queued(ok: boolean): void {
    if (ok) return this.#schedule();
    this.#ctx.log("warn", "slow consumer disconnected", { id: this.id, ip: this.ip });
    this.abort("slow consumer");
  }

  /**
   * Queues lines produced on demand, in order with {@link send}: a long history replay is pulled
   * a batch at a time as writes complete, so it never fills the send queue.
   */
  replay(source: LineSource): void {
    if (this.#phase !== "auth" && this.#phase !== "chat") return;
    this.#out.pushSource(source);
    this.#schedule();
  }

  /** Charges automatic requests to `bucket`, shared by the connections of an address. */
  shareAutomaticBudget(bucket: TokenBucket): void {
    this.#charges.shareAutomatic(bucket);
  }

  /** Rows of the current request's answer its budget pays for (server/charge.ts). */
  grant(kind: AnswerKind, rows: number): number {
    return this.#charges.rows(kind, rows);
  }

  #schedule(): void {
    if (!this.#writing && !this.#scheduled) {
      // Let everything queued in this turn share one record and one write; while a write is in
      // flight, what comes meanwhile leaves together when it completes.
      this.#scheduled = true;
      queueMicrotask(this.#scheduledPump);
    }
  }

  readonly #scheduledPump = () => {
    this.#scheduled = false;
    this.#pump();
  };

  /** Sends `bye {reason}`, flushes what is queued, then closes. */
  close(reason: string): void {
    if (!this.open) return;
    if (this.#phase === "hello") return this.abort(reason);
    this.#out.push(JSON.stringify({ t: "bye", reason }), true);
    this.#phase = "closing";
    this.#closeAfterFlush = reason;
    this.#pump();
  }

  /** Closes at once without a goodbye. */
  abort(reason: string): void {
    if (this.#phase === "closed") return;
    this.#ctx.log("debug", "connection closed", { id: this.id, reason });
    this.closeReason = reason;
    this.#phase = "closed";
    this.#out.clear();
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
    this.#ctx.onClosed(this);
  }

  /** Checks deadlines; called periodically by the server with the current time. */
  tick(now: number): void {
    const l = this.#ctx.limits;
    if (this.#phase === "closed") return;
    if (this.#writing && now - this.#writeStarted > l.stalledWriteMs) {
      this.#ctx.log("info", "stalled write", { id: this.id });
      return this.abort("connection lost");
    }
    if (this.#phase === "hello" || this.#phase === "auth") {
      if (now - this.acceptedAt > l.handshakeMs) {
        if (this.#phase === "hello") return this.refuse("timeout");
        return this.abort("timeout");
      }
      return;
    }
    if (this.#phase === "closing") {
      if (now - this.#lastRecv > l.handshakeMs + l.stalledWriteMs) this.abort("closing timed out");
      return;
    }
    // A connection quiet for a second lets go of what large records needed (shared/record.ts).
    if (!this.#writing && now - this.#writeStarted > 1000) this.#sealer?.rest();
    const idle = now - this.#lastRecv;
    if (idle > l.idleCloseMs) return this.abort("connection lost");
    if (idle > l.idlePingMs && !this.#pinged) {
      this.#pinged = true;
      this.send(JSON.stringify({ t: "ping", n: ++this.#pingN }));
    }
  }

  /**
   * Reads until the peer closes or a protocol error; never throws. Each read is one pending
   * promise handled by {@linkcode #onRead} (no async function stays suspended per idle
   * connection: memory per connection).
   */
  run(): void {
    this.#read();
  }

  #read(): void {
    this.#conn.read(this.#buf).then(this.#onRead, this.#onRead);
  }

  /** What a read gave: a byte count; null or a failure (the reason is not needed) end it. */
  readonly #onRead = (n: unknown): void => {
    try {
      this.#received(n);
    } catch (e) {
      this.#failed(e);
    }
  };

  #received(n: unknown): void {
    if (this.#isClosed()) return;
    if (typeof n !== "number") {
      try {
        this.#decoder.finish();
      } catch {
        // truncated frame: nothing from it is delivered
      }
      return this.abort("connection lost");
    }
    this.#lastRecv = this.#ctx.now();
    this.#pinged = false;
    const buf = this.#buf;
    this.#decoder.push(buf.slice(0, n));
    if (n === buf.length) {
      if (buf.length < READ_LARGE) this.#buf = new Uint8Array(READ_LARGE);
    } else if (buf !== this.#small && n <= READ_SMALL) this.#buf = this.#small;
    this.#frames();
  }

  /**
   * Handles the frames read so far, then reads again. Records of an authenticated client are
   * handled without waiting: everything read is handled before anything is stored or written;
   * only an `auth` being checked (or what the hub settles first) holds the next frame back.
   */
  #frames(): void {
    try {
      for (;;) {
        if (this.#isClosed()) return;
        const frame = this.#decoder.next();
        if (frame === null) break;
        const waiting = this.#onFrame(frame);
        if (waiting !== undefined) {
          waiting.then(() => this.#frames(), (e) => this.#failed(e));
          return;
        }
      }
      // After the client's bye nothing more is read: no read is left pending for the close to
      // cancel (a cancelled read costs an error object with its stack).
      if (!this.#readsDone) this.#read();
    } catch (e) {
      this.#failed(e);
    }
  }

  /** What was read could not be handled: logged, and the connection closes; never throws. */
  #failed(e: unknown): void {
    const code = e instanceof ProtocolError ? e.code : "internal";
    try {
      this.#ctx.log(
        code === "internal" ? "warn" : "debug",
        "connection closed on error",
        { id: this.id, ip: this.ip, code, error: String(e) },
      );
      this.abort("connection lost");
    } catch (again) {
      // A failure while closing is a bug of ours: reported, never a rejection nobody handles.
      console.error(`connection ${this.id} failed while closing: ${again}`);
    }
  }

  #isClosed(): boolean {
    return this.#phase === "closed";
  }

  /** Handles one frame; a promise only while an `auth` request is being checked. */
  #onFrame(frame: Uint8Array): Promise<void> | undefined {
    switch (this.#phase) {
      case "hello":
        this.#onHello(frame);
        return;
      case "auth":
      case "chat":
        return this.#onRecord(frame);
      default:
        return; // closing: ignore input
    }
  }

  #onHello(frame: Uint8Array): void {
    let res;
    try {
      const l = this.#ctx.limits;
      res = serverRespond(frame, this.#ctx.hostKey, undefined, undefined, l.roomRecords > 0);
    } catch (e) {
      if (e instanceof ProtocolError && e.code === "version") return this.refuse("version");
      throw e;
    }
    if (this.#phase !== "hello") return;
    this.#sealer = new RecordSealer(res.keys.send);
    this.#opener = new RecordOpener(res.keys.recv);
    this.#th = res.keys.th;
    if (res.keys.roomRecords) {
      this.roomRecords = this;
    }
    this.#decoder.limits = frameLimits(this.#ctx.limits).record;
    this.#buf = new Uint8Array(READ_AUTH);
    (this.#raw ??= []).push(encodeFrame(res.hello));
    this.#phase = "auth";
    this.#pump();
  }

  #onRecord(frame: Uint8Array): Promise<void> | undefined {
    const plain = this.#opener!.open(frame);
    if (this.#opener!.seq > REKEY_AT) throw new ProtocolError("rekey", "client did not rekey");
    const lines = splitRecord(decodeUtf8(plain));
    this.#charges.record();
    for (let i = 0; i < lines.length; i++) {
      if (!this.open) return;
      const msg = parseClientMessage(lines[i]);
      if (this.#phase === "auth") return this.#onAuthRecord(msg, lines, i + 1);
      const waiting = this.#onChat(msg);
      if (waiting !== undefined) return this.#rest(waiting, lines, i + 1);
    }
  }

  /** Once `waiting` settled, the rest of its record from `from` on, in order. */
  async #rest(waiting: Promise<void>, lines: string[], from: number): Promise<void> {
    await waiting;
    for (let i = from; i < lines.length; i++) {
      if (!this.open) return;
      const w = this.#onChat(parseClientMessage(lines[i]));
      if (w !== undefined) await w;
    }
  }

  /** `auth` (checked asynchronously), then the rest of its record from `from` on. */
  async #onAuthRecord(msg: ClientMessage, lines: string[], from: number): Promise<void> {
    await this.#onAuth(msg);
    for (let i = from; i < lines.length; i++) {
      if (!this.open) return;
      const next = parseClientMessage(lines[i]);
      if (this.#phase === "auth") await this.#onAuth(next);
      else await this.#onChat(next);
    }
  }

  async #onAuth(msg: ClientMessage): Promise<void> {
    if (msg.t === "bye") return this.abort("quit");
    if (msg.t !== "auth") throw new ProtocolError("bad_message", "expected auth");
    if (++this.#authAttempts > this.#ctx.limits.authAttempts) {
      throw new ProtocolError("too_many_attempts", "too many auth attempts");
    }
    const ok = await this.#verifyIdentity(msg);
    if (!ok) {
      this.send(JSON.stringify({
        t: "error",
        code: "bad_auth",
        message: "authentication proof or key signature is invalid",
        retry: false,
      }));
      return this.close("bad_auth");
    }
    if (!this.open) return;
    const waiting = this.#ctx.hub.prepare?.(this, msg);
    if (waiting !== undefined) await waiting;
    if (!this.open) return;
    this.#charges.automatic(); // resume and join replay are the client's own requests
    const r = this.#ctx.hub.authenticate(this, msg);
    if (r === "ok" && this.open) {
      this.#phase = "chat";
      this.#th = undefined;
      this.#buf = this.#small; // an idle session keeps only the small buffer
      this.#ctx.onAuthenticated(this);
    } else if (r === "fatal" && this.open) {
      this.close("refused");
    }
  }

  async #verifyIdentity(a: AuthMessage): Promise<boolean> {
    // Nothing from an earlier attempt on this connection carries over.
    this.kemPub = undefined;
    this.kemSig = undefined;
    const id = await verifyIdentity(a, this.#th!, this.#ctx.verified);
    if (id === null) return false;
    this.sigPub = a.sig_pub;
    this.fingerprint = id.fingerprint;
    this.kemPub = id.kemPub;
    this.kemSig = id.kemSig;
    return true;
  }

  /** Handles one request; a promise while what it needs is settled first (hub `prepare`). */
  #onChat(msg: ClientMessage): Promise<void> | undefined {
    switch (msg.t) {
      case "pong":
        return;
      case "ping":
        if (this.#charges.ping()) {
          this.#ctx.hub.settle(); // the answer follows those to earlier requests
          this.send(JSON.stringify(this.#pong(msg.n)));
        }
        return;
      case "bye":
        this.#readsDone = true;
        this.#ctx.hub.disconnect(this.id, "quit");
        this.close("quit");
        return;
      case "auth":
        throw new ProtocolError("bad_message", "already authenticated");
      default: {
        const verdict = this.#charges.request(msg);
        if (verdict !== "ok") {
          this.#rateLimited("id" in msg ? msg.id : undefined, verdict);
          return;
        }
        const waiting = this.#ctx.hub.prepare?.(this, msg);
        if (waiting === undefined) this.#ctx.hub.handle(this.id, msg);
        else {
          return waiting.then(() => {
            if (this.open) this.#ctx.hub.handle(this.id, msg);
          });
        }
      }
    }
  }

  /** `pong n`, naming the next `rseq` of every room epoch this session holds (§3). */
  #pong(n: number): PingMessage {
    const pong: PingMessage = { t: "pong", n };
    const held = this.roomRecords?.epochs;
    if (held !== undefined && held.size > 0) {
      pong.rooms = {};
      for (const [room, e] of held) pong.rooms[room] = [e.id, e.next];
    }
    return pong;
  }

  #rateLimited(id: string | undefined, verdict: Exclude<Verdict, "ok">): void {
    this.#ctx.hub.settle(); // the error follows the answers to earlier requests
    if (verdict === "flooding") {
      this.#ctx.log("info", "flooding client disconnected", {
        id: this.id,
        ip: this.ip,
        fingerprint: this.fingerprint,
      });
      this.#sendError("rate_limited", "too many messages; disconnected", id);
      return this.close("flooding");
    }
    if (verdict === "auto_limited") {
      return this.#sendError("rate_limited", "too many automatic requests; try again later", id);
    }
    this.#sendError("rate_limited", "slow down: message not sent", id);
  }

  #sendError(code: string, message: string, id?: string): void {
    this.send(JSON.stringify(
      id === undefined ? { t: "error", code, message } : {
        t: "error",
        id,
        code,
        message,
      },
    ));
  }

  /** Writes what is queued with exactly one write in flight, as few records as fit. */
  #pump(): void {
    if (this.#writing || this.#phase === "closed") return;
    let bytes: Uint8Array | undefined;
    if (this.#raw !== undefined) {
      bytes = this.#raw.length === 1 ? this.#raw[0] : concat(...this.#raw);
      this.#raw = undefined;
    }
    if (this.#sealer !== undefined && !this.#out.empty) {
      const d = this.#out.drain(this.#sealer, true);
      if (d.rekey) {
        this.#phase = "closing";
        this.#closeAfterFlush = "rekey";
      }
      if (d.later !== undefined) return this.#writeLater(bytes, d.later);
      if (d.bytes.length > 0) bytes = bytes === undefined ? d.bytes : concat(bytes, d.bytes);
    }
    if (bytes === undefined) {
      if (this.#closeAfterFlush !== null) this.abort(this.#closeAfterFlush);
      return;
    }
    this.#writing = true;
    this.#writeStarted = this.#ctx.now();
    this.#write(bytes);
  }

  /** Writes `head` then what `later` gives once sealed, as one write in flight. */
  #writeLater(head: Uint8Array | undefined, later: Promise<Uint8Array>): void {
    this.#writing = true;
    this.#writeStarted = this.#ctx.now();
    later.then(
      (b) => {
        if (this.#phase === "closed") return;
        this.#write(head === undefined ? b : concat(head, b));
      },
      (e) => this.#failed(e),
    );
  }

  /** Writes all of `bytes`, then pumps again; a failed write closes the connection. */
  #write(bytes: Uint8Array): void {
    this.#conn.write(bytes).then(
      (n) => {
        if (n < bytes.length && this.#phase !== "closed") return this.#write(bytes.subarray(n));
        this.#writing = false;
        this.#pump();
      },
      () => {
        this.#writing = false;
        this.abort("connection lost");
      },
    );
  }
}
