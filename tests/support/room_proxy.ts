/**
 * Test support: a TCP proxy on 127.0.0.1:0 that reads the server → client stream frame by frame,
 * counts room records (lengths with bit 31 set) per connection, and can do one thing to the room
 * records of the first connection: drop one, flip a bit in one, replay one, or withhold every one
 * from some point on. A test may also write a frame of its own into a connection between two
 * frames (`inject`). Client → server bytes pass untouched. Bounded: at most 16 connections, a
 * frame longer than 1 MiB ends the connection. `close()` closes everything it opened.
 * @module
 */

import { ROOM_FRAME_FLAG } from "../../shared/frame.ts";
import { writeAll } from "../../shared/io.ts";

/** What the proxy does to the room records of the first connection (others pass). */
export type RoomFault =
  | { kind: "pass" }
  | { kind: "drop"; nth: number }
  | { kind: "flip"; nth: number; at: number }
  | { kind: "replay"; nth: number }
  | { kind: "withhold"; from: number };

/** The epoch and `rseq` of a room record body. */
export interface RoomHead {
  /** The 8-byte epoch. */
  epoch: Uint8Array;
  /** Its `rseq`. */
  rseq: number;
}

const MAX_FRAME = 1 << 20;
const MAX_CONNECTIONS = 16;

/** One proxied connection's server → client side. */
interface Link {
  client: Deno.TcpConn;
  server: Deno.TcpConn;
  /** Writes to the client, in order. */
  writes: Promise<void>;
  /** Room records received from the server (before any fault). */
  rooms: number;
  /** Ordinary frames received from the server. */
  ordinary: number;
  /** The last room record forwarded. */
  last?: RoomHead;
}

/** The proxy; see the module doc. */
export class RoomProxy {
  /** The port clients connect to. */
  readonly port: number;
  /** Room records forwarded or not, before any fault, per connection in accept order. */
  readonly roomFrames: number[] = [];
  /** Ordinary frames (hellos and records) per connection, in accept order. */
  readonly ordinaryFrames: number[] = [];
  #links: Link[] = [];
  #listener: Deno.TcpListener;
  #target: number;
  /** What is done to the first connection's room records from now on (counting from 0). */
  fault: RoomFault;
  #tasks = new Set<Promise<void>>();
  #accepting: Promise<void>;
  #closed = false;

  private constructor(listener: Deno.TcpListener, target: number, fault: RoomFault) {
    this.#listener = listener;
    this.port = listener.addr.port;
    this.#target = target;
    this.fault = fault;
    this.#accepting = this.#acceptLoop();
  }

  /** Starts a proxy in front of `127.0.0.1:target`. */
  static start(target: number, fault: RoomFault = { kind: "pass" }): RoomProxy {
    return new RoomProxy(Deno.listen({ hostname: "127.0.0.1", port: 0 }), target, fault);
  }

  /** Connections accepted so far. */
  get connections(): number {
    return this.#links.length;
  }

  /** The epoch and `rseq` of the last room record forwarded on connection `i`. */
  lastRoom(i: number): RoomHead | undefined {
    return this.#links[i]?.last;
  }

  /** Writes `frame` (whole, header included) to connection `i`'s client between two frames. */
  async inject(i: number, frame: Uint8Array): Promise<void> {
    const link = this.#links[i];
    if (link === undefined) throw new RangeError(`no connection ${i}`);
    await this.#write(link, [frame]);
  }

  async #acceptLoop(): Promise<void> {
    for (;;) {
      let client: Deno.TcpConn;
      try {
        client = await this.#listener.accept();
      } catch {
        return;
      }
      if (this.#closed || this.#links.length >= MAX_CONNECTIONS) {
        client.close();
        continue;
      }
      const task = this.#handle(client).finally(() => this.#tasks.delete(task));
      this.#tasks.add(task);
    }
  }

  async #handle(client: Deno.TcpConn): Promise<void> {
    let server: Deno.TcpConn;
    try {
      server = await Deno.connect({ hostname: "127.0.0.1", port: this.#target });
    } catch {
      client.close();
      return;
    }
    const i = this.#links.length;
    const link: Link = { client, server, writes: Promise.resolve(), rooms: 0, ordinary: 0 };
    this.#links.push(link);
    this.roomFrames.push(0);
    this.ordinaryFrames.push(0);
    const end = () => {
      for (const c of [client, server]) {
        try {
          c.close();
        } catch {
          // closed
        }
      }
    };
    await Promise.all([
      this.#copy(client, server).finally(end),
      this.#frames(i, link).finally(end),
    ]);
  }

  async #copy(src: Deno.TcpConn, dst: Deno.TcpConn): Promise<void> {
    const buf = new Uint8Array(16 * 1024);
    try {
      for (let n = await src.read(buf); n !== null; n = await src.read(buf)) {
        let off = 0;
        while (off < n) off += await dst.write(buf.subarray(off, n));
      }
    } catch {
      // either side closed
    }
  }

  /** Reads the server's frames and forwards them, applying the fault to room records. */
  async #frames(i: number, link: Link): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    let pending = new Uint8Array(0);
    try {
      for (let n = await link.server.read(buf); n !== null; n = await link.server.read(buf)) {
        const all = new Uint8Array(pending.length + n);
        all.set(pending);
        all.set(buf.subarray(0, n), pending.length);
        const out: Uint8Array[] = [];
        let at = 0;
        while (all.length - at >= 4) {
          const raw = new DataView(all.buffer, at).getUint32(0);
          const room = raw >= ROOM_FRAME_FLAG;
          const len = room ? raw - ROOM_FRAME_FLAG : raw;
          if (len > MAX_FRAME) throw new RangeError("frame too long for the proxy");
          if (all.length - at < 4 + len) break;
          const frame = all.slice(at, at + 4 + len);
          at += 4 + len;
          if (!room) {
            link.ordinary++;
            this.ordinaryFrames[i] = link.ordinary;
            out.push(frame);
            continue;
          }
          const k = link.rooms++;
          this.roomFrames[i] = link.rooms;
          out.push(...this.#apply(i === 0 ? this.fault : { kind: "pass" }, k, frame, link));
        }
        pending = all.slice(at);
        if (out.length > 0) await this.#write(link, out);
      }
    } catch {
      // either side closed, or a frame the proxy will not hold
    }
    await link.writes;
  }

  #apply(f: RoomFault, k: number, frame: Uint8Array, link: Link): Uint8Array[] {
    if (f.kind === "drop" && f.nth === k) return [];
    if (f.kind === "withhold" && k >= f.from) return [];
    const head = { epoch: frame.slice(4, 12), rseq: new DataView(frame.buffer).getUint32(12) };
    if (f.kind === "flip" && f.nth === k) {
      frame[4 + f.at] ^= 1;
      link.last = head;
      return [frame];
    }
    link.last = head;
    return f.kind === "replay" && f.nth === k ? [frame, frame] : [frame];
  }

  #write(link: Link, frames: Uint8Array[]): Promise<void> {
    link.writes = link.writes.then(async () => {
      for (const f of frames) await writeAll(link.client, f);
    }).catch(() => {});
    return link.writes;
  }

  /** Closes the listener and every connection, and waits for all of them. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#listener.close();
    } catch {
      // closed
    }
    await this.#accepting;
    for (const l of this.#links) {
      for (const c of [l.client, l.server]) {
        try {
          c.close();
        } catch {
          // closed
        }
      }
    }
    await Promise.all([...this.#tasks]);
  }
}
