/**
 * Test support: raw TCP sockets bound to a chosen local address (e.g. the loopback aliases
 * 127.0.0.2, 127.0.0.3), so tests can exercise per-address limits from one machine. `Deno.connect`
 * cannot choose its source address, so this uses `node:net`. Every read has a deadline.
 * @module
 */

import net from "node:net";
import { encodeFrame, FrameDecoder } from "../../shared/frame.ts";
import { x25519Generate } from "../../shared/crypto.ts";
import { concat, utf8 } from "../../shared/encoding.ts";

/** A raw TCP client socket with a fixed source address and a frame reader. */
export class BoundSocket {
  /** The source address the socket is bound to. */
  readonly localAddress: string;
  /** True once the peer closed (end, reset or error). */
  peerClosed = false;
  /** Total bytes received. */
  bytesReceived = 0;

  #socket: net.Socket;
  #decoder = new FrameDecoder({ min: 1, max: 1 << 20 });
  #wake: (() => void) | null = null;
  #gone: Promise<void>;

  private constructor(socket: net.Socket, localAddress: string) {
    this.#socket = socket;
    this.localAddress = localAddress;
    this.#gone = new Promise((resolve) => socket.once("close", () => resolve()));
    socket.on("data", (chunk: Uint8Array) => {
      this.bytesReceived += chunk.length;
      this.#decoder.push(new Uint8Array(chunk));
      this.#notify();
    });
    const closed = () => {
      this.peerClosed = true;
      this.#notify();
    };
    socket.on("end", closed);
    socket.on("close", closed);
    socket.on("error", closed);
  }

  /** Connects to `host:port` (default 127.0.0.1) from `localAddress`; rejects if that fails. */
  static connect(port: number, localAddress: string, host = "127.0.0.1"): Promise<BoundSocket> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host, port, localAddress });
      const onError = (e: Error) => {
        s.destroy();
        s.once("close", () => reject(e));
      };
      s.once("error", onError);
      s.once("connect", () => {
        s.off("error", onError);
        s.setNoDelay(true);
        resolve(new BoundSocket(s, localAddress));
      });
    });
  }

  #notify(): void {
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }

  /** Resolves when data or a close arrives, or after `ms`. */
  async #wait(ms: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      this.#wake = resolve;
      timer = setTimeout(resolve, Math.max(0, ms));
    });
    clearTimeout(timer);
    this.#wake = null;
  }

  /**
   * The next frame body within `ms`; `null` if the peer closed first. Throws
   * `Error("timeout …")` when the deadline passes.
   */
  async readFrame(ms = 5000): Promise<Uint8Array | null> {
    const end = Date.now() + ms;
    for (;;) {
      const f = this.#decoder.next();
      if (f !== null) return f;
      if (this.peerClosed) return null;
      if (Date.now() >= end) throw new Error(`timeout: no frame within ${ms} ms`);
      await this.#wait(end - Date.now());
    }
  }

  /** Waits up to `ms` for the peer to close; true iff it did. */
  async waitClosed(ms = 5000): Promise<boolean> {
    const end = Date.now() + ms;
    while (!this.peerClosed && Date.now() < end) await this.#wait(end - Date.now());
    return this.peerClosed;
  }

  /** Writes raw bytes; false if the socket is already closed. */
  write(bytes: Uint8Array): Promise<boolean> {
    if (this.peerClosed || this.#socket.destroyed) return Promise.resolve(false);
    return new Promise((resolve) => this.#socket.write(bytes, (e) => resolve(!e)));
  }

  /** Sends a well-formed ClientHello (version 1, fresh X25519 share); returns its body. */
  async sendHello(): Promise<Uint8Array> {
    const eph = x25519Generate();
    const hello = concat(
      utf8.encode("CHAT"),
      Uint8Array.of(1),
      crypto.getRandomValues(new Uint8Array(32)),
      eph.publicKey,
    );
    await this.write(encodeFrame(hello));
    return hello;
  }

  /** Destroys the socket and waits until it is fully closed (idempotent). */
  async close(): Promise<void> {
    this.#socket.destroy();
    await this.#gone;
  }
}

/**
 * True when a socket bound to `alias` (default 127.0.0.2) can reach a listener on 127.0.0.1 and
 * the listener sees that source address (Linux routes all of 127/8 to loopback; other systems may
 * not).
 */
export async function loopbackAliasWorks(alias = "127.0.0.2"): Promise<boolean> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept().then(
    (c) => {
      const seen = (c.remoteAddr as Deno.NetAddr).hostname;
      c.close();
      return seen;
    },
    () => "",
  );
  let s: BoundSocket | undefined;
  try {
    s = await BoundSocket.connect(listener.addr.port, alias);
  } catch {
    // no such source address here
  }
  if (s === undefined) {
    listener.close();
    await accepted;
    return false;
  }
  const seen = await accepted;
  await s.close();
  listener.close();
  return seen === alias;
}
