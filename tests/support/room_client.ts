/**
 * Test support: a minimal chat/1 client over `Deno.connect` that offers room records (or not)
 * in its hello and opens what arrives with the shared modules: ordinary records with
 * shared/record.ts, room records with shared/room_record.ts's opener (installing `rkey`s), so a
 * server test sees exactly what a real connection receives and where. Every read has a deadline.
 * @module
 */

import { ClientHandshake, RECORD_CIPHERS, signAuth } from "../../shared/handshake.ts";
import { ed25519Generate } from "../../shared/crypto.ts";
import { decodeUtf8, fromBase64, toBase64, utf8 } from "../../shared/encoding.ts";
import { encodeFrame, FrameDecoder, MAX_ROOM_FRAME } from "../../shared/frame.ts";
import { newId } from "../../shared/messages.ts";
import { RecordOpener, RecordSealer } from "../../shared/record.ts";
import { RoomRecordOpener } from "../../shared/room_record.ts";

/** One message received, with how it came (`room`: in a room record). */
export interface Received {
  /** The message, parsed. */
  // deno-lint-ignore no-explicit-any
  m: any;
  /** True when it came in a room record. */
  room: boolean;
}

/** A logged-in test client; see the module doc. */
export class RoomClient {
  /** Everything received so far, in order. */
  readonly got: Received[] = [];
  /** Room record frames received (bodies). */
  roomFrames = 0;
  /** Whether the server accepted room records. */
  roomRecords = false;
  #conn: Deno.TcpConn;
  #decoder = new FrameDecoder({ min: 1, max: 4096 });
  #sealer?: RecordSealer;
  #opener?: RecordOpener;
  #rooms?: RoomRecordOpener;
  #buf = new Uint8Array(64 * 1024);
  #closed = false;
  #pending: Promise<number | null> | undefined;

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
  }

  /** Connects, shakes hands (offering room records when `offer`), logs in as `name` into `rooms`. */
  static async login(
    port: number,
    name: string,
    offer: boolean,
    rooms = ["#lobby"],
  ): Promise<RoomClient> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const c = new RoomClient(conn);
    try {
      const hs = ClientHandshake.start(undefined, RECORD_CIPHERS, offer);
      await c.#write(encodeFrame(hs.hello));
      const sh = await c.#frame(5000);
      const { hostKey } = hs.parseServerHello(sh);
      const keys = hs.finish(sh);
      c.roomRecords = keys.roomRecords;
      c.#sealer = new RecordSealer(keys.send);
      c.#opener = new RecordOpener(keys.recv);
      c.#rooms = new RoomRecordOpener(hostKey);
      c.#decoder.limits = { min: 17, max: 16_400, room: keys.roomRecords ? MAX_ROOM_FRAME : 0 };
      const id = ed25519Generate();
      await c.send({
        t: "auth",
        name,
        sig_pub: toBase64(id.publicRaw),
        proof: toBase64(signAuth(id.privateKey, keys.th, name)),
        client: "chat/test",
        rooms,
      });
      await c.until((r) => r.m.t === "welcome", 5000);
      return c;
    } catch (e) {
      c.close();
      throw e;
    }
  }

  /** Seals and sends one message. */
  async send(msg: unknown): Promise<void> {
    await this.#write(encodeFrame(this.#sealer!.seal(utf8.encode(JSON.stringify(msg)))));
  }

  /** Says `text` in `room`. */
  say(text: string, room = "#lobby"): Promise<void> {
    return this.send({ t: "say", id: newId(), room, text });
  }

  /** Reads until a received message satisfies `pred` (returned); throws after `ms`. */
  async until(pred: (r: Received) => boolean, ms = 5000): Promise<Received> {
    const end = Date.now() + ms;
    let seen = 0;
    for (;;) {
      for (; seen < this.got.length; seen++) if (pred(this.got[seen])) return this.got[seen];
      this.#take(await this.#frame(end - Date.now()));
    }
  }

  /** Pings and reads until its pong (returned): everything queued before it has arrived. */
  async sync(ms = 5000): Promise<Received> {
    const n = Math.floor(Math.random() * 1e9);
    await this.send({ t: "ping", n });
    return await this.until((r) => r.m.t === "pong" && r.m.n === n, ms);
  }

  /** Closes the socket (idempotent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pending?.catch(() => {});
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }

  #take(f: Uint8Array): void {
    const room = this.#decoder.room;
    let text: string;
    if (room) {
      const opened = this.#rooms!.open(f);
      this.roomFrames++;
      text = decodeUtf8(opened.plaintext);
    } else text = decodeUtf8(this.#opener!.open(f));
    for (const line of text.split("\n")) {
      const m = JSON.parse(line);
      if (m.t === "rkey") {
        this.#rooms!.install(m.room, fromBase64(m.epoch), fromBase64(m.key), m.rseq);
      }
      this.got.push({ m, room });
    }
  }

  async #write(bytes: Uint8Array): Promise<void> {
    let off = 0;
    while (off < bytes.length) off += await this.#conn.write(bytes.subarray(off));
  }

  async #frame(ms: number): Promise<Uint8Array> {
    const end = Date.now() + ms;
    for (;;) {
      const f = this.#decoder.next();
      if (f !== null) return f;
      let timer: ReturnType<typeof setTimeout> | undefined;
      this.#pending ??= this.#conn.read(this.#buf);
      const wait = Math.max(0, end - Date.now());
      const n = await Promise.race([
        this.#pending,
        new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), wait)),
      ]).finally(() => clearTimeout(timer));
      if (n !== "timeout") this.#pending = undefined;
      if (n === "timeout") throw new Error(`timeout: no frame within ${ms} ms`);
      if (n === null) throw new Error("connection closed");
      this.#decoder.push(this.#buf.slice(0, n));
    }
  }
}
