/**
 * Test support: a raw chat/1 server on 127.0.0.1:0 that answers a ClientHello with a ServerHello
 * a test may tamper with field by field, a frame of the wrong length, or a Refusal, and records
 * every byte the client sends after its ClientHello (so a test can assert it sent nothing more).
 * @module
 */

import { encodeFrame, FrameDecoder } from "../../shared/frame.ts";
import { encodeRefusal } from "../../shared/handshake.ts";
import {
  ed25519Generate,
  ed25519Sign,
  fingerprint,
  type KeyObject,
  sha256,
  x25519Generate,
} from "../../shared/crypto.ts";
import { concat, utf8 } from "../../shared/encoding.ts";

/** A field of the ServerHello that can be altered after signing. */
export type HelloField = "version" | "server_random" | "eph" | "host_key" | "signature";

/** How the evil server answers a ClientHello. */
export interface EvilServerOptions {
  /** Host key (default: a fresh Ed25519 key). */
  hostKey?: { privateKey: KeyObject; publicRaw: Uint8Array };
  /** Flip one bit of this field after signing (a man in the middle). */
  tamper?: HelloField;
  /** Send this ephemeral public key instead of a fresh one, signed correctly. */
  ephemeral?: Uint8Array;
  /** Version byte to put in the hello before signing (default 1). */
  version?: number;
  /** Drop (negative) or append (positive) this many bytes after signing. */
  lengthDelta?: number;
  /** Send a Refusal with this code instead of a ServerHello (then keep recording). */
  refusal?: string;
  /** Build the whole answer frame body from the ClientHello (overrides everything else). */
  answer?: (clientHello: Uint8Array) => Uint8Array | Promise<Uint8Array>;
  /** How long to keep recording after answering, at most (default 5000 ms). */
  recordMs?: number;
}

/** One accepted connection as the evil server saw it. */
export interface EvilConnection {
  /** The ClientHello body, once received (undefined if the client never sent a full one). */
  clientHello?: Uint8Array;
  /** The answer frame body that was sent. */
  answer?: Uint8Array;
  /** Bytes received after the ClientHello frame. */
  after: Uint8Array[];
  /** Total of {@link after}. */
  afterBytes: number;
  /** True when the client closed (EOF/reset) within the recording window. */
  clientClosed: boolean;
  /** Settles when the connection is finished (client closed, window over or server closed). */
  done: Promise<void>;
}

/** A scripted, misbehaving chat/1 server. */
export class EvilServer {
  /** The port listened on (127.0.0.1). */
  readonly port: number;
  /** Raw host public key. */
  readonly hostPublic: Uint8Array;
  /** `fp(hostPublic)`. */
  readonly fingerprint: string;
  /** Connections in accept order. */
  readonly connections: EvilConnection[] = [];

  #listener: Deno.TcpListener;
  #opts: EvilServerOptions;
  #hostPrivate: KeyObject;
  #conns = new Set<Deno.TcpConn>();
  #accepting: Promise<void>;
  #closed = false;

  private constructor(
    listener: Deno.TcpListener,
    opts: EvilServerOptions,
    host: { privateKey: KeyObject; publicRaw: Uint8Array },
    fp: string,
  ) {
    this.#listener = listener;
    this.port = listener.addr.port;
    this.#opts = opts;
    this.#hostPrivate = host.privateKey;
    this.hostPublic = host.publicRaw;
    this.fingerprint = fp;
    this.#accepting = this.#acceptLoop();
  }

  /** Starts listening on 127.0.0.1 with a free port. */
  static start(opts: EvilServerOptions = {}): EvilServer {
    const host = opts.hostKey ?? ed25519Generate();
    const fp = fingerprint(host.publicRaw);
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    return new EvilServer(listener, opts, host, fp);
  }

  /** Builds a ServerHello for `clientHello` following the options (except `refusal`/`answer`). */
  serverHello(clientHello: Uint8Array): Uint8Array {
    const o = this.#opts;
    const eph = o.ephemeral ?? x25519Generate().publicKey;
    const head = concat(
      Uint8Array.of(o.version ?? 1),
      crypto.getRandomValues(new Uint8Array(32)),
      eph,
      this.hostPublic,
    );
    const digest = sha256(concat(clientHello, head));
    const sig = ed25519Sign(
      this.#hostPrivate,
      concat(utf8.encode("chat/1 server hello\0"), digest),
    );
    let hello = concat(head, sig);
    const at: Record<HelloField, number> = {
      version: 0,
      server_random: 1,
      eph: 33,
      host_key: 65,
      signature: 97,
    };
    if (o.tamper) hello[at[o.tamper] + (o.tamper === "version" ? 0 : 5)] ^= 0x01;
    const d = o.lengthDelta ?? 0;
    if (d < 0) hello = hello.slice(0, hello.length + d);
    if (d > 0) hello = concat(hello, new Uint8Array(d));
    return hello;
  }

  async #acceptLoop(): Promise<void> {
    for (;;) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch {
        return;
      }
      if (this.#closed) {
        conn.close();
        return;
      }
      this.#conns.add(conn);
      const rec: EvilConnection = {
        after: [],
        afterBytes: 0,
        clientClosed: false,
        done: Promise.resolve(),
      };
      rec.done = this.#serve(conn, rec).finally(() => {
        this.#conns.delete(conn);
        try {
          conn.close();
        } catch {
          // closed
        }
      });
      this.connections.push(rec);
    }
  }

  async #serve(conn: Deno.TcpConn, rec: EvilConnection): Promise<void> {
    const dec = new FrameDecoder({ min: 1, max: 4096 });
    const buf = new Uint8Array(16 * 1024);
    let end = Date.now() + (this.#opts.recordMs ?? 5000);
    const readSome = async (): Promise<Uint8Array | null> => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<"timeout">((r) =>
        timer = setTimeout(() => r("timeout"), Math.max(0, end - Date.now()))
      );
      const read = conn.read(buf).then((n) => n === null ? null : buf.slice(0, n), () => null);
      try {
        const r = await Promise.race([read, timeout]);
        if (r === "timeout") {
          conn.close(); // settles the read
          await read;
          return null;
        }
        if (r === null && !this.#closed) rec.clientClosed = true;
        return r;
      } finally {
        clearTimeout(timer);
      }
    };
    for (;;) {
      const frame = safeNext(dec);
      if (frame === "bad") return;
      if (frame !== null) {
        rec.clientHello = frame;
        break;
      }
      const chunk = await readSome();
      if (chunk === null) return;
      dec.push(chunk);
    }
    // Anything already buffered beyond the hello frame was sent after it.
    rec.afterBytes += dec.buffered;
    const o = this.#opts;
    const answer = o.answer
      ? await o.answer(rec.clientHello)
      : o.refusal !== undefined
      ? encodeRefusal(o.refusal)
      : this.serverHello(rec.clientHello);
    rec.answer = answer;
    try {
      await writeAll(conn, encodeFrame(answer));
    } catch {
      return;
    }
    // Even after a Refusal, keep recording: the client must send nothing more and close.
    end = Date.now() + (o.recordMs ?? 5000);
    for (;;) {
      const chunk = await readSome();
      if (chunk === null) return;
      rec.after.push(chunk);
      rec.afterBytes += chunk.length;
    }
  }

  /** Closes the listener and every connection, and waits for all handlers. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#listener.close();
    } catch {
      // closed
    }
    await this.#accepting;
    for (const c of this.#conns) {
      try {
        c.close();
      } catch {
        // closed
      }
    }
    await Promise.all(this.connections.map((c) => c.done));
  }
}

function safeNext(dec: FrameDecoder): Uint8Array | null | "bad" {
  try {
    return dec.next();
  } catch {
    return "bad";
  }
}

async function writeAll(conn: Deno.TcpConn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}
