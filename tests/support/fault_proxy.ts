/**
 * Test support: a fault-injecting TCP proxy on 127.0.0.1:0 in front of a server. Modes: split
 * every write into 1-byte writes, cut a direction after N bytes, blackhole (accept, never
 * forward), flip a bit at a stream offset, replay a frame, reorder two frames. Connections and
 * buffers are bounded; `close()` closes everything it opened.
 * @module
 */

/** A direction through the proxy. */
export type Direction = "c2s" | "s2c";

/** What the proxy does to the traffic of every connection. */
export type FaultMode =
  | { kind: "pass" }
  | { kind: "split" }
  | { kind: "cut"; dir: Direction; after: number }
  | { kind: "blackhole" }
  | { kind: "flip"; dir: Direction; offset: number; bit?: number }
  | { kind: "replay"; dir: Direction; frame: number }
  | { kind: "reorder"; dir: Direction; frame: number };

/** Options of {@link FaultProxy.start}. */
export interface FaultProxyOptions {
  /** Port of the server on 127.0.0.1. */
  target: number;
  /** The fault. */
  mode: FaultMode;
  /** Connections accepted at most; later ones are closed at once (default 16). */
  maxConnections?: number;
}

/** Largest frame body the frame-aware modes hold; longer frames pass through unchanged. */
const MAX_HELD = 1 << 20;

/** Transforms one direction's byte stream into the writes to perform. */
class Shaper {
  #mode: FaultMode;
  #dir: Direction;
  #offset = 0;
  #pending = new Uint8Array(0);
  #frames = 0;
  #held: Uint8Array | null = null;
  #raw = false;
  /** True once the direction must be cut (after the returned writes). */
  cut = false;

  constructor(mode: FaultMode, dir: Direction) {
    this.#mode = mode;
    this.#dir = dir;
  }

  feed(chunk: Uint8Array): Uint8Array[] {
    const m = this.#mode;
    const start = this.#offset;
    this.#offset += chunk.length;
    if (m.kind === "split") return Array.from(chunk, (b) => Uint8Array.of(b));
    if (m.kind === "pass" || m.kind === "blackhole" || m.dir !== this.#dir) return [chunk];
    if (m.kind === "cut") {
      if (this.cut) return [];
      if (this.#offset < m.after) return [chunk];
      this.cut = true;
      return [chunk.subarray(0, m.after - start)];
    }
    if (m.kind === "flip") {
      if (m.offset < start || m.offset >= this.#offset) return [chunk];
      const out = new Uint8Array(chunk);
      out[m.offset - start] ^= 1 << (m.bit ?? 0);
      return [out];
    }
    return this.#frameLevel(chunk, m);
  }

  #frameLevel(chunk: Uint8Array, m: { kind: "replay" | "reorder"; frame: number }): Uint8Array[] {
    if (this.#raw) return [chunk];
    const buf = new Uint8Array(this.#pending.length + chunk.length);
    buf.set(this.#pending);
    buf.set(chunk, this.#pending.length);
    const out: Uint8Array[] = [];
    let at = 0;
    while (buf.length - at >= 4) {
      const len = new DataView(buf.buffer, buf.byteOffset + at).getUint32(0);
      if (len > MAX_HELD) {
        this.#raw = true; // too big to hold: give up shaping, forward as is
        if (this.#held) out.push(this.#held);
        this.#held = null;
        out.push(buf.slice(at));
        this.#pending = new Uint8Array(0);
        return out;
      }
      if (buf.length - at < 4 + len) break;
      const frame = buf.slice(at, at + 4 + len);
      at += 4 + len;
      const i = this.#frames++;
      if (m.kind === "replay") {
        out.push(frame);
        if (i === m.frame) out.push(frame);
      } else if (i === m.frame) {
        this.#held = frame;
      } else {
        out.push(frame);
        if (this.#held) {
          out.push(this.#held);
          this.#held = null;
        }
      }
    }
    this.#pending = buf.slice(at);
    return out;
  }
}

/** A fault-injecting TCP proxy. */
export class FaultProxy {
  /** The port clients connect to. */
  readonly port: number;
  /** Connections accepted (including refused ones over the cap). */
  accepted = 0;
  /** Bytes forwarded per direction (after shaping). */
  readonly forwarded: Record<Direction, number> = { c2s: 0, s2c: 0 };

  #listener: Deno.TcpListener;
  #opts: FaultProxyOptions;
  #sockets = new Set<Deno.TcpConn>();
  #tasks = new Set<Promise<void>>();
  #accepting: Promise<void>;
  #closed = false;

  private constructor(listener: Deno.TcpListener, opts: FaultProxyOptions) {
    this.#listener = listener;
    this.port = listener.addr.port;
    this.#opts = opts;
    this.#accepting = this.#acceptLoop();
  }

  /** Starts a proxy on 127.0.0.1 with a free port in front of `127.0.0.1:target`. */
  static start(opts: FaultProxyOptions): FaultProxy {
    return new FaultProxy(Deno.listen({ hostname: "127.0.0.1", port: 0 }), opts);
  }

  async #acceptLoop(): Promise<void> {
    for (;;) {
      let client: Deno.TcpConn;
      try {
        client = await this.#listener.accept();
      } catch {
        return;
      }
      this.accepted++;
      if (this.#closed || this.#sockets.size / 2 >= (this.#opts.maxConnections ?? 16)) {
        client.close();
        continue;
      }
      const task = this.#handle(client).finally(() => this.#tasks.delete(task));
      this.#tasks.add(task);
    }
  }

  #track(c: Deno.TcpConn): void {
    this.#sockets.add(c);
    try {
      c.setNoDelay(true);
    } catch {
      // not fatal
    }
  }

  #drop(c: Deno.TcpConn): void {
    if (!this.#sockets.delete(c)) return;
    try {
      c.close();
    } catch {
      // closed
    }
  }

  async #handle(client: Deno.TcpConn): Promise<void> {
    this.#track(client);
    if (this.#opts.mode.kind === "blackhole") {
      await this.#drain(client);
      this.#drop(client);
      return;
    }
    let server: Deno.TcpConn;
    try {
      server = await Deno.connect({ hostname: "127.0.0.1", port: this.#opts.target });
    } catch {
      this.#drop(client);
      return;
    }
    this.#track(server);
    const mode = this.#opts.mode;
    const fail = () => {
      this.#drop(client);
      this.#drop(server);
    };
    await Promise.all([
      this.#pump(client, server, new Shaper(mode, "c2s"), "c2s", fail),
      this.#pump(server, client, new Shaper(mode, "s2c"), "s2c", fail),
    ]);
    fail();
  }

  /** Reads and discards until EOF or close. */
  async #drain(c: Deno.TcpConn): Promise<void> {
    const buf = new Uint8Array(16 * 1024);
    try {
      while (await c.read(buf) !== null) {
        // discard
      }
    } catch {
      // closed
    }
  }

  async #pump(
    src: Deno.TcpConn,
    dst: Deno.TcpConn,
    shaper: Shaper,
    dir: Direction,
    fail: () => void,
  ): Promise<void> {
    const buf = new Uint8Array(16 * 1024);
    try {
      for (;;) {
        const n = await src.read(buf);
        if (n === null) break;
        if (shaper.cut) continue; // the cut direction swallows the rest
        for (const w of shaper.feed(buf.slice(0, n))) {
          let off = 0;
          while (off < w.length) off += await dst.write(w.subarray(off));
          this.forwarded[dir] += w.length;
        }
        if (shaper.cut) await dst.closeWrite();
      }
      if (!shaper.cut) await dst.closeWrite();
    } catch {
      fail();
    }
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
    for (const c of [...this.#sockets]) this.#drop(c);
    await Promise.all([...this.#tasks]);
  }
}
