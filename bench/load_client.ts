/**
 * A lightweight raw chat/1 client for load generation: an Ed25519 identity without a DM key,
 * handshake, optional pin check, auth, `say`, and a reader that decrypts records — room records
 * too, offered by default — and hands each message to a callback with its arrival time
 * (`performance.now()`). Holding room keys, it pings every {@linkcode ROOM_PING_MS} as
 * `chat client` does and closes (`withheld`) when the `pong` names room records it has not
 * received. No reconnects, no outbox: a benchmark wants to see failures, not hide them.
 * @module
 */

import { ClientHandshake, parseRefusal, signAuth } from "../shared/handshake.ts";
import { encodeFrame, FrameDecoder, MAX_ROOM_FRAME } from "../shared/frame.ts";
import { RoomRecordOpener } from "../shared/room_record.ts";
import { type RoomSignatureMemo, sharedMemo } from "./room_signatures.ts";
import { ProtocolError } from "../shared/errors.ts";
import { RecordOpener, RecordSealer } from "../shared/record.ts";
import { ed25519FromSeed, type KeyObject, sha256 } from "../shared/crypto.ts";
import { concat, decodeUtf8, fromBase64, toBase64, utf8 } from "../shared/encoding.ts";
import { DEFAULT_LIMITS, MIN_RECORD_FRAME } from "../shared/limits.ts";
import {
  newId,
  parseRoomLines,
  parseServerMessage,
  type ServerMessage,
  splitRecord,
  type WelcomeMessage,
} from "../shared/messages.ts";
import { signKem } from "../shared/keys.ts";
import { VERSION } from "../version.ts";
import { withDeadline, writeAll } from "../shared/io.ts";
import { ROOM_PING_MS } from "../client/client_options.ts";

/** A bench identity: a name, its Ed25519 signing key and optionally a DM key. */
export interface BenchIdentity {
  /** The name to authenticate as. */
  name: string;
  /** Ed25519 private key. */
  sigPrivate: KeyObject;
  /** Raw 32-byte Ed25519 public key. */
  sigPublic: Uint8Array;
  /** DM key (SPKI, base64) sent as `kem_pub`, if any. */
  kemPub?: string;
  /** Signature over the DM key by `sigPrivate` (base64), sent as `kem_sig`. */
  kemSig?: string;
}

/**
 * `id` with the RSA DM key `spki` certified by its own signing key, so its `auth` carries
 * `kem_pub` and `kem_sig` like a real client's. Many bench identities may share one DM key.
 */
export function withDmKey(id: BenchIdentity, spki: Uint8Array): BenchIdentity {
  return { ...id, kemPub: toBase64(spki), kemSig: toBase64(signKem(id.sigPrivate, spki)) };
}

/** The connection failed before `welcome`; `kind` says how (e.g. "pin", "refused", "timeout"). */
export class LoadClientError extends Error {
  /** Creates the error. */
  constructor(readonly kind: string, message: string) {
    super(message);
    this.name = "LoadClientError";
  }
}

/** The bench name of client `i` (1-based): `bench0001` … `bench9999`; `RangeError` outside. */
export function benchName(i: number): string {
  if (!Number.isInteger(i) || i < 1 || i > 9999) throw new RangeError(`client ${i} out of range`);
  return `bench${String(i).padStart(4, "0")}`;
}

const SEED_CONTEXT = utf8.encode("chat/1 bench identity\0");

/**
 * The identity of a bench name, derived from the name alone (seed = SHA-256(context ‖ name)),
 * so repeated runs against one server own the same names. Anyone can derive these keys:
 * they are for benchmarks only.
 */
export function benchIdentity(name: string): BenchIdentity {
  const seed = sha256(concat(SEED_CONTEXT, utf8.encode(name)));
  const pair = ed25519FromSeed(seed);
  seed.fill(0);
  return { name, sigPrivate: pair.privateKey, sigPublic: pair.publicRaw };
}

/** How to connect one load client. */
export interface LoadClientOptions {
  /** Server host. */
  host: string;
  /** Server port. */
  port: number;
  /** Who to be. */
  identity: BenchIdentity;
  /** Rooms to join in `auth`. */
  rooms: string[];
  /** `resume` of `auth`: per room, the last `seq` seen (replay from the one after). */
  resume?: Record<string, number>;
  /** Expected host-key fingerprint; undefined accepts any key (no pin check). */
  fingerprint?: string;
  /** Deadline for connect + handshake + auth (ms). */
  timeoutMs: number;
  /** Called for every message after `welcome`, with its arrival time (`performance.now()`). */
  onMessage: (msg: ServerMessage, at: number) => void;
  /** False: never read after `welcome` (a client that stops reading); default true. */
  reading?: boolean;
  /** Offer room records (default true; `--no-room-records` compares without them). */
  roomRecords?: boolean;
  /**
   * While holding a room key, ping this often (ms; default {@linkcode ROOM_PING_MS}, as
   * `chat client`): a `pong` naming a room record not yet received closes the connection.
   */
  roomPingMs?: number;
}

/** One authenticated raw connection. */
export class LoadClient {
  /** Connect → welcome, in ms. */
  readonly handshakeMs: number;
  /** The server's welcome. */
  readonly welcome: WelcomeMessage;
  /** Resolves when the reader has stopped (EOF, error or close). */
  readonly done: Promise<void>;
  /** Why the reader stopped ("" while running). */
  endReason = "";
  /** The process-wide memo of room-record signatures this connection uses (with room records). */
  readonly roomSignatures: RoomSignatureMemo | undefined;

  #conn: Deno.TcpConn;
  #sealer: RecordSealer;
  #opener: RecordOpener;
  #rooms: RoomRecordOpener | null;
  #decoder: FrameDecoder;
  #onMessage: (msg: ServerMessage, at: number) => void;
  #writes: Promise<void> = Promise.resolve();
  #closed = false;
  #roomRecords = 0;
  #pinger: ReturnType<typeof setInterval> | undefined;
  #pings = 0;

  private constructor(
    conn: Deno.TcpConn,
    sealer: RecordSealer,
    opener: RecordOpener,
    rooms: RoomRecordOpener | null,
    memo: RoomSignatureMemo | undefined,
    decoder: FrameDecoder,
    welcome: WelcomeMessage,
    handshakeMs: number,
    early: ServerMessage[],
    onMessage: (msg: ServerMessage, at: number) => void,
    reading: boolean,
    roomPingMs: number,
  ) {
    this.#conn = conn;
    this.#sealer = sealer;
    this.#opener = opener;
    this.#rooms = rooms;
    this.roomSignatures = memo;
    this.#decoder = decoder;
    this.welcome = welcome;
    this.handshakeMs = handshakeMs;
    this.#onMessage = onMessage;
    const at = performance.now();
    for (const m of early) this.#dispatch(m, at);
    this.done = reading ? this.#readLoop() : Promise.resolve();
    if (reading && rooms !== null && !this.#closed) {
      this.#pinger = setInterval(() => {
        if (rooms.size > 0) this.ping(++this.#pings);
      }, roomPingMs);
    }
  }

  /**
   * Connects, runs the handshake (checking the pin when one is given), authenticates and
   * starts reading. Rejects with {@linkcode LoadClientError} on any failure, connection closed.
   */
  static async connect(o: LoadClientOptions): Promise<LoadClient> {
    const start = performance.now();
    const deadline = Date.now() + o.timeoutMs;
    let conn: Deno.TcpConn;
    try {
      conn = await timed(
        Deno.connect({ hostname: o.host, port: o.port }),
        o.timeoutMs,
        "connect",
      );
    } catch (e) {
      if (e instanceof LoadClientError) throw e;
      throw new LoadClientError("connect", `cannot connect: ${errText(e)}`);
    }
    try {
      try {
        conn.setNoDelay(true);
      } catch {
        // not fatal
      }
      const decoder = new FrameDecoder({ min: 1, max: DEFAULT_LIMITS.handshakeFrame });
      const next = () => readFrame(conn, decoder, deadline);
      const hs = ClientHandshake.start(undefined, undefined, o.roomRecords ?? true);
      await writeAll(conn, encodeFrame(hs.hello));
      const sh = await next();
      const refusal = parseRefusal(sh);
      if (refusal !== undefined) throw new LoadClientError("refused", `refused: ${refusal}`);
      const { fingerprint, hostKey } = hs.parseServerHello(sh);
      if (o.fingerprint !== undefined && o.fingerprint !== fingerprint) {
        throw new LoadClientError(
          "pin",
          `the server's key ${fingerprint} is not the expected ${o.fingerprint}`,
        );
      }
      const keys = hs.finish(sh);
      decoder.limits = {
        min: MIN_RECORD_FRAME,
        max: DEFAULT_LIMITS.recordFrame,
        room: keys.roomRecords ? MAX_ROOM_FRAME : 0,
      };
      // Each distinct room record's signature is verified, and its AEAD opened, once for all
      // this process's connections (bench/room_signatures.ts); order stays per connection.
      const memo = keys.roomRecords ? sharedMemo(hostKey) : undefined;
      const rooms = memo === undefined ? null : new RoomRecordOpener(memo.check, memo.open);
      const sealer = new RecordSealer(keys.send);
      const opener = new RecordOpener(keys.recv);
      const id = o.identity;
      const auth = {
        t: "auth",
        name: id.name,
        sig_pub: toBase64(id.sigPublic),
        proof: toBase64(signAuth(id.sigPrivate, keys.th, id.name)),
        client: `chat-bench/${VERSION}`,
        rooms: o.rooms,
        ...(o.resume === undefined ? {} : { resume: o.resume }),
        ...(id.kemPub !== undefined && id.kemSig !== undefined
          ? { kem_pub: id.kemPub, kem_sig: id.kemSig }
          : {}),
      };
      await writeAll(conn, encodeFrame(sealer.seal(utf8.encode(JSON.stringify(auth)))));
      const early: ServerMessage[] = [];
      for (;;) {
        const msgs = openFrame(await next(), decoder.room, opener, rooms);
        const i = msgs.findIndex((m) => m.t === "welcome" || m.t === "error" || m.t === "bye");
        if (i < 0) {
          early.push(...msgs);
          continue;
        }
        const m = msgs[i];
        if (m.t === "welcome") {
          early.push(...msgs.slice(i + 1));
          const ms = performance.now() - start;
          const reading = o.reading ?? true;
          return new LoadClient(
            conn,
            sealer,
            opener,
            rooms,
            memo,
            decoder,
            m,
            ms,
            early,
            o.onMessage,
            reading,
            o.roomPingMs ?? ROOM_PING_MS,
          );
        }
        if (m.t === "error") throw new LoadClientError(m.code, `auth refused: ${m.message}`);
        throw new LoadClientError("bye", `server closed: ${m.t === "bye" ? m.reason : ""}`);
      }
    } catch (e) {
      try {
        conn.close();
      } catch {
        // closed
      }
      if (e instanceof LoadClientError) throw e;
      throw new LoadClientError("protocol", errText(e));
    }
  }

  /** True until closed or the reader stopped. */
  get open(): boolean {
    return !this.#closed;
  }

  /** Sends `say` to `room` and returns its id; silently nothing once closed. */
  say(room: string, text: string): string {
    const id = newId();
    this.#send({ t: "say", id, room, text });
    return id;
  }

  /** Sends `msgs` in one record, one per line; silently nothing once closed. */
  sendRecord(msgs: unknown[]): void {
    this.#send(msgs.map((m) => JSON.stringify(m)).join("\n"));
  }

  /** Sends `ping n` (the server answers `pong n`); silently nothing once closed. */
  ping(n: number): void {
    this.#send({ t: "ping", n });
  }

  /** Sends `bye`, waits for the write and then for the server to close (at most `ms`). */
  async bye(ms = 2000): Promise<void> {
    if (this.#closed) return await this.done;
    this.#send({ t: "bye", reason: "quit" });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const limit = new Promise<void>((r) => timer = setTimeout(r, ms));
    await Promise.race([this.#writes.then(() => this.done), limit]);
    clearTimeout(timer);
    this.close();
    await this.done;
  }

  /** Closes at once (idempotent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#pinger);
    if (this.endReason === "") this.endReason = "closed";
    try {
      this.#conn.close();
    } catch {
      // closed
    }
  }

  #send(msg: unknown): void {
    if (this.#closed) return;
    const text = typeof msg === "string" ? msg : JSON.stringify(msg);
    const sealed = this.#sealer.seal(utf8.encode(text));
    this.#writes = this.#writes.then(async () => {
      if (this.#closed) return;
      await writeAll(this.#conn, encodeFrame(sealed));
    }).catch((e) => {
      if (!this.#closed) this.endReason = `write failed: ${errText(e)}`;
      this.close();
    });
  }

  #dispatch(m: ServerMessage, at: number): void {
    if (m.t === "ping") this.#send({ t: "pong", n: m.n });
    if (m.t === "pong" && m.rooms !== undefined && this.#rooms !== null) {
      // Room records queued before this pong have not all come: someone withholds them.
      for (const [room, [epoch, next]] of Object.entries(m.rooms)) {
        if (!this.#rooms.behind(room, fromBase64(epoch), next)) continue;
        if (this.endReason === "") this.endReason = `withheld: room records of ${room}`;
        this.close();
        return;
      }
    }
    if (m.t === "rkey") {
      if (this.#rooms === null) throw new ProtocolError("bad_message", "rkey without room records");
      this.#rooms.install(m.room, fromBase64(m.epoch), fromBase64(m.key), m.rseq);
    }
    if (m.t === "event" && m.room !== undefined && m.name === this.welcome.name) {
      if (m.kind === "leave" || m.kind === "kick" || m.kind === "ban") this.#rooms?.drop(m.room);
    }
    this.#onMessage(m, at);
  }

  /** Room records this connection opened (zero without them). */
  get roomRecords(): number {
    return this.#roomRecords;
  }

  async #readLoop(): Promise<void> {
    const buf = new Uint8Array(65_536);
    try {
      while (!this.#closed) {
        const n = await this.#conn.read(buf);
        if (n === null) {
          this.#decoder.finish();
          if (this.endReason === "") this.endReason = "server closed";
          break;
        }
        const at = performance.now();
        this.#decoder.push(buf.slice(0, n));
        for (let f = this.#decoder.next(); f !== null; f = this.#decoder.next()) {
          if (this.#decoder.room) this.#roomRecords++;
          for (const m of openFrame(f, this.#decoder.room, this.#opener, this.#rooms)) {
            if (m.t === "bye" && this.endReason === "") this.endReason = `bye ${m.reason}`;
            this.#dispatch(m, at);
            if (this.#closed) return;
          }
        }
      }
    } catch (e) {
      if (!this.#closed && this.endReason === "") this.endReason = errText(e);
    }
    this.close();
  }
}

/**
 * Opens one frame into its messages: an ordinary record, or a room record checked in the spec's
 * order by this connection's `rooms` (epoch, `rseq`, signature, AEAD), whose lines must all be
 * `msg` or `event` of its room.
 */
function openFrame(
  f: Uint8Array,
  room: boolean,
  opener: RecordOpener,
  rooms: RoomRecordOpener | null,
): ServerMessage[] {
  if (!room) return splitRecord(decodeUtf8(opener.open(f))).map(parseServerMessage);
  if (rooms === null) throw new ProtocolError("bad_record", "room records not negotiated");
  const opened = rooms.open(f);
  // A plaintext shared by many connections (the memo) is parsed once; its messages are only read.
  let lines = parsedRooms.get(opened.plaintext);
  if (lines === undefined) {
    lines = parseRoomLines(opened.room, decodeUtf8(opened.plaintext));
    parsedRooms.set(opened.plaintext, lines);
  }
  return lines;
}

/** Parsed room records by plaintext object (see {@linkcode openFrame}). */
const parsedRooms = new WeakMap<Uint8Array, ServerMessage[]>();

async function readFrame(
  conn: Deno.TcpConn,
  decoder: FrameDecoder,
  deadline: number,
): Promise<Uint8Array> {
  const buf = new Uint8Array(16_384);
  for (;;) {
    const f = decoder.next();
    if (f) return f;
    const left = deadline - Date.now();
    if (left <= 0) throw new LoadClientError("timeout", "handshake timed out");
    const n = await timed(conn.read(buf), left, "handshake");
    if (n === null) {
      decoder.finish();
      throw new LoadClientError("closed", "the server closed the connection during the handshake");
    }
    decoder.push(buf.slice(0, n));
  }
}

/** `withDeadline` with the bench's timeout error. */
function timed<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return withDeadline(p, ms, () => new LoadClientError("timeout", `${what} timed out`));
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
