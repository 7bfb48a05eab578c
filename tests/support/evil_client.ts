/**
 * Test support: a raw chat/1 client over `Deno.connect` that speaks the protocol step by step
 * with the shared primitives and lets a test break any step: custom ClientHello bytes or
 * ephemeral key, raw frames and bytes, captured / replayed / reordered / reflected / altered
 * records, and authentication with any identity, name or proof. Every read has a deadline.
 * @module
 */

import { encodeFrame, FrameDecoder } from "../../shared/frame.ts";
import { CLIENT_HELLO_BYTES, SERVER_HELLO_BYTES, signAuth } from "../../shared/handshake.ts";
import {
  aeadImport,
  ed25519Generate,
  ed25519Verify,
  fingerprint,
  hkdfSha256,
  type KeyObject,
  sha256,
  x25519Generate,
  x25519Shared,
} from "../../shared/crypto.ts";
import { bytesEqual, concat, decodeUtf8, toBase64, u32, utf8 } from "../../shared/encoding.ts";
import { C2S, type DirectionKeys, RecordOpener, RecordSealer, S2C } from "../../shared/record.ts";
import { newId } from "../../shared/messages.ts";

/** `client_random[16..32)` offering ChaCha20-Poly1305 (PROTOCOL.md §2). */
export const OFFER_CHACHA: Uint8Array = utf8.encode("chat/1 offer\0\0\0\x01");
/** `server_random[16..32)` choosing ChaCha20-Poly1305. */
export const CHOICE_CHACHA: Uint8Array = utf8.encode("chat/1 choice\0\0\x01");

/** X25519 public keys of small order (and their non-canonical twins) a peer must refuse. */
export const LOW_ORDER_POINTS: readonly string[] = [
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0100000000000000000000000000000000000000000000000000000000000000",
  "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
  "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
];

/** Fields of a ClientHello a test may override. */
export interface HelloOptions {
  /** The 4-byte magic (default "CHAT"). */
  magic?: Uint8Array;
  /** Version byte (default 1). */
  version?: number;
  /** 32-byte client random (default random: no cipher offer). */
  random?: Uint8Array;
  /** Offer ChaCha20-Poly1305 in `client_random` (PROTOCOL.md §2); ignored when `random` is given. */
  offerChaCha?: boolean;
  /** 32-byte ephemeral public key; when given, no private key is kept and keys cannot be derived. */
  ephemeral?: Uint8Array;
  /** Bytes appended after the hello (makes it longer than 69 bytes). */
  extra?: Uint8Array;
  /** The whole frame body, overriding every other field. */
  raw?: Uint8Array;
}

/** An Ed25519 signing key pair as used for authentication. */
export interface SigningKey {
  /** Private key. */
  privateKey: KeyObject;
  /** Raw 32-byte public key. */
  publicRaw: Uint8Array;
}

/** What the handshake produced. */
export interface EvilSession {
  /** SHA-256(ClientHello ‖ ServerHello). */
  th: Uint8Array;
  /** The ServerHello frame body. */
  serverHello: Uint8Array;
  /** The server's host key, raw. */
  hostKey: Uint8Array;
  /** `fp(hostKey)`. */
  fingerprint: string;
  /** The record cipher the server chose. */
  cipher: "aes-256-gcm" | "chacha20-poly1305";
  /** Client → server keys. */
  c2s: DirectionKeys;
  /** Server → client keys. */
  s2c: DirectionKeys;
}

/** Options of {@link EvilClient.auth}. */
export interface AuthOptions {
  /** Name to claim. */
  name: string;
  /** Signing key (default: a fresh one per client, see {@link EvilClient.key}). */
  key?: SigningKey;
  /** Proof bytes to send instead of a valid one. */
  proof?: Uint8Array;
  /** Session id the proof is computed over (default: this session's). */
  th?: Uint8Array;
  /** Rooms to join (default `#lobby`). */
  rooms?: string[];
  /** Extra fields merged into the message. */
  extra?: Record<string, unknown>;
}

type ReadResult =
  | { kind: "data"; bytes: Uint8Array }
  | { kind: "eof" }
  | { kind: "reset"; error: unknown };

/** Creates a fresh Ed25519 signing key. */
export function newSigningKey(): SigningKey {
  return ed25519Generate();
}

/** Flips bit `bit` (0–7) of byte `offset` in a copy of `bytes`; a negative offset counts from the end. */
export function flipBit(bytes: Uint8Array, offset: number, bit = 0): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(bytes);
  const at = offset < 0 ? out.length + offset : offset;
  if (at < 0 || at >= out.length) throw new RangeError(`offset ${offset} outside ${out.length}`);
  out[at] ^= 1 << bit;
  return out;
}

/** Awaits `p` for at most `ms`; `undefined` when the time ran out. Clears its timer. */
export async function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<undefined>((r) => timer = setTimeout(() => r(undefined), Math.max(0, ms)));
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

/** A raw chat/1 client with knobs for protocol attacks. */
export class EvilClient {
  #backlog: Record<string, unknown>[] = [];
  /** The TCP connection. */
  readonly conn: Deno.TcpConn;
  /** The signing key used by default for `auth`. */
  key!: SigningKey;
  /** The ClientHello body sent, once sent. */
  hello?: Uint8Array;
  /** The session, once {@link handshake} succeeded. */
  session?: EvilSession;
  /** Every record body sealed by this client (in seal order), for replay and reordering. */
  readonly sealed: Uint8Array[] = [];
  /** Every frame body received after the ServerHello (raw ciphertext), for reflection. */
  readonly received: Uint8Array[] = [];
  /** Total bytes received on the socket. */
  bytesReceived = 0;
  /** True once the peer closed (EOF or reset). */
  peerClosed = false;

  #sealer?: RecordSealer;
  #opener?: RecordOpener;
  #ephPrivate?: KeyObject;
  #decoder = new FrameDecoder({ min: 1, max: 1 << 20 });
  #buf = new Uint8Array(64 * 1024);
  #pending: Promise<ReadResult> | null = null;
  #closed = false;

  private constructor(conn: Deno.TcpConn) {
    this.conn = conn;
  }

  /** Connects to `host:port` (default 127.0.0.1) and creates a fresh signing key. */
  static async connect(port: number, host = "127.0.0.1"): Promise<EvilClient> {
    const conn = await Deno.connect({ hostname: host, port });
    conn.setNoDelay(true);
    const c = new EvilClient(conn);
    try {
      c.key = await newSigningKey();
    } catch (e) {
      conn.close();
      throw e;
    }
    return c;
  }

  // -------------------------------------------------------------------------------------------
  // Raw I/O

  /** Writes raw bytes; false if the peer reset or closed the connection meanwhile. */
  async sendRaw(bytes: Uint8Array): Promise<boolean> {
    try {
      let off = 0;
      while (off < bytes.length) off += await this.conn.write(bytes.subarray(off));
      return true;
    } catch {
      return false;
    }
  }

  /** Writes one frame (`u32 length ‖ body`); false if the write failed. */
  sendFrame(body: Uint8Array): Promise<boolean> {
    return this.sendRaw(encodeFrame(body));
  }

  /** Writes a frame header claiming `length` bytes followed by `body` (may be shorter or empty). */
  sendHeader(length: number, body: Uint8Array = new Uint8Array(0)): Promise<boolean> {
    return this.sendRaw(concat(u32(length), body));
  }

  /** Half-closes the sending side (TCP FIN); the socket stays open for reading. */
  async closeWrite(): Promise<void> {
    try {
      await this.conn.closeWrite();
    } catch {
      // already closed
    }
  }

  async #read(ms: number): Promise<ReadResult | undefined> {
    if (this.peerClosed || this.#closed) return { kind: "eof" };
    this.#pending ??= this.conn.read(this.#buf).then(
      (n): ReadResult =>
        n === null ? { kind: "eof" } : { kind: "data", bytes: this.#buf.slice(0, n) },
      (error): ReadResult => ({ kind: "reset", error }),
    );
    const r = await within(this.#pending, ms);
    if (r === undefined) return undefined;
    this.#pending = null;
    if (r.kind === "data") this.bytesReceived += r.bytes.length;
    else this.peerClosed = true;
    return r;
  }

  /**
   * The next frame body within `ms`; `null` if the peer closed first (a frame cut short by the
   * close counts as closed). Throws `Error("timeout …")` when the deadline passes.
   */
  async readFrame(ms = 5000): Promise<Uint8Array | null> {
    const end = Date.now() + ms;
    for (;;) {
      const f = this.#decoder.next();
      if (f !== null) return f;
      const r = await this.#read(end - Date.now());
      if (r === undefined) throw new Error(`timeout: no frame within ${ms} ms`);
      if (r.kind !== "data") return null;
      this.#decoder.push(r.bytes);
    }
  }

  /**
   * Waits up to `ms` for the peer to close (EOF or reset), discarding what arrives meanwhile
   * (frames are still decoded into {@link received} when possible). True iff it closed.
   */
  async waitClosed(ms = 5000): Promise<boolean> {
    const end = Date.now() + ms;
    while (!this.peerClosed) {
      const r = await this.#read(end - Date.now());
      if (r === undefined) return false;
      if (r.kind === "data") this.#decoder.push(r.bytes);
    }
    return true;
  }

  /** Closes the socket (idempotent) and settles the pending read. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch {
      // already closed
    }
    if (this.#pending) await this.#pending;
    this.#pending = null;
  }

  // -------------------------------------------------------------------------------------------
  // Handshake

  /** Builds and sends a ClientHello; returns its body. */
  async sendHello(opts: HelloOptions = {}): Promise<Uint8Array> {
    let hello: Uint8Array;
    if (opts.raw) hello = opts.raw;
    else {
      let eph = opts.ephemeral;
      if (eph === undefined) {
        const pair = x25519Generate();
        this.#ephPrivate = pair.privateKey;
        eph = pair.publicKey;
      }
      hello = concat(
        opts.magic ?? utf8.encode("CHAT"),
        Uint8Array.of(opts.version ?? 1),
        opts.random ??
          (opts.offerChaCha
            ? concat(crypto.getRandomValues(new Uint8Array(16)), OFFER_CHACHA)
            : crypto.getRandomValues(new Uint8Array(32))),
        eph,
        opts.extra ?? new Uint8Array(0),
      );
    }
    this.hello = hello;
    await this.sendFrame(hello);
    return hello;
  }

  /**
   * Sends a ClientHello, reads the ServerHello, checks its length and signature, and derives the
   * session keys exactly as PROTOCOL.md §2 says (independently of shared/handshake.ts).
   */
  async handshake(opts: HelloOptions = {}, ms = 5000): Promise<EvilSession> {
    const hello = await this.sendHello(opts);
    if (hello.length !== CLIENT_HELLO_BYTES || this.#ephPrivate === undefined) {
      throw new TypeError("cannot derive keys from a custom ClientHello");
    }
    const sh = await this.readFrame(ms);
    if (sh === null) throw new Error("server closed instead of answering the ClientHello");
    if (sh.length !== SERVER_HELLO_BYTES) {
      throw new Error(`ServerHello has ${sh.length} bytes (first byte ${sh[0]})`);
    }
    const hostKey = sh.slice(65, 97);
    const digest = sha256(concat(hello, sh.subarray(0, 97)));
    const signed = concat(utf8.encode("chat/1 server hello\0"), digest);
    if (!ed25519Verify(hostKey, sh.subarray(97), signed)) {
      throw new Error("ServerHello signature does not verify");
    }
    const shared = x25519Shared(this.#ephPrivate, sh.subarray(33, 65));
    const th = sha256(concat(hello, sh));
    // The choice counts only when this hello made an offer.
    const offered = bytesEqual(hello.subarray(5 + 16, 5 + 32), OFFER_CHACHA);
    const chacha = offered && bytesEqual(sh.subarray(1 + 16, 1 + 32), CHOICE_CHACHA);
    const cipher = chacha ? "chacha20-poly1305" : "aes-256-gcm";
    const info = chacha ? "chat/1 keys chacha20-poly1305" : "chat/1 keys";
    const okm = hkdfSha256(shared, th, utf8.encode(info), 88);
    const c2s: DirectionKeys = {
      cipher,
      key: aeadImport(okm.subarray(0, 32)),
      iv: okm.slice(64, 76),
      dir: C2S,
    };
    const s2c: DirectionKeys = {
      cipher,
      key: aeadImport(okm.subarray(32, 64)),
      iv: okm.slice(76, 88),
      dir: S2C,
    };
    this.#sealer = new RecordSealer(c2s);
    this.#opener = new RecordOpener(s2c);
    this.session = {
      th,
      serverHello: sh,
      hostKey,
      fingerprint: fingerprint(hostKey),
      cipher,
      c2s,
      s2c,
    };
    return this.session;
  }

  // -------------------------------------------------------------------------------------------
  // Records

  /**
   * Seals one record (advancing the send counter) without sending it: an object is sent as one
   * JSON line, a string or bytes as they are. The body is also kept in {@link sealed}.
   */
  seal(msg: unknown): Uint8Array {
    if (!this.#sealer) throw new Error("no session");
    const plain = msg instanceof Uint8Array
      ? msg
      : utf8.encode(typeof msg === "string" ? msg : JSON.stringify(msg));
    const body = this.#sealer.seal(plain, 1 << 20);
    this.sealed.push(body);
    return body;
  }

  /** Seals and sends one record; returns its body. */
  async send(msg: unknown): Promise<Uint8Array> {
    const body = await this.seal(msg);
    await this.sendFrame(body);
    return body;
  }

  /**
   * Reads and opens the next record within `ms`; returns its messages parsed as JSON, or `null`
   * if the peer closed. Throws on a timeout or a record that does not open.
   */
  async readMessages(ms = 5000): Promise<Record<string, unknown>[] | null> {
    if (!this.#opener) throw new Error("no session");
    const f = await this.readFrame(ms);
    if (f === null) return null;
    this.received.push(f);
    const text = decodeUtf8(this.#opener.open(f));
    return text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
  }

  /**
   * Reads messages until one satisfies `pred` (returned as `match`, with everything read in
   * `seen`); `match` is undefined if the peer closed first. Throws on a timeout.
   */
  async readUntil(
    pred: (m: Record<string, unknown>) => boolean,
    ms = 5000,
  ): Promise<{ match?: Record<string, unknown>; seen: Record<string, unknown>[] }> {
    const end = Date.now() + ms;
    const seen: Record<string, unknown>[] = [];
    for (;;) {
      // Messages after a match in the same record are kept for the next call.
      const msgs = this.#backlog.length > 0
        ? this.#backlog.splice(0)
        : await this.readMessages(end - Date.now());
      if (msgs === null) return { seen };
      for (let i = 0; i < msgs.length; i++) {
        seen.push(msgs[i]);
        if (pred(msgs[i])) {
          this.#backlog.push(...msgs.slice(i + 1));
          return { match: msgs[i], seen };
        }
      }
    }
  }

  /**
   * A barrier: sends `ping n` and reads until the matching `pong`, returning every message that
   * arrived before it. The server answers in order, so anything queued for this client earlier
   * is in the result.
   */
  async sync(ms = 5000): Promise<Record<string, unknown>[]> {
    const n = Math.floor(Math.random() * 1e9);
    await this.send({ t: "ping", n });
    const { match, seen } = await this.readUntil((m) => m.t === "pong" && m.n === n, ms);
    if (!match) throw new Error("connection closed before pong");
    return seen.slice(0, -1);
  }

  // -------------------------------------------------------------------------------------------
  // Authentication

  /** Builds the `auth` message (with a valid proof unless `opts.proof` is given). */
  authMessage(opts: AuthOptions): Record<string, unknown> {
    const key = opts.key ?? this.key;
    const th = opts.th ?? this.session?.th;
    if (!th) throw new Error("no session");
    const proof = opts.proof ?? signAuth(key.privateKey, th, opts.name);
    return {
      t: "auth",
      name: opts.name,
      sig_pub: toBase64(key.publicRaw),
      proof: toBase64(proof),
      client: "chat/evil",
      rooms: opts.rooms ?? ["#lobby"],
      ...opts.extra,
    };
  }

  /** Sends `auth`; returns the plaintext bytes sent (for replay in another session). */
  async auth(opts: AuthOptions): Promise<Uint8Array> {
    const plain = utf8.encode(JSON.stringify(this.authMessage(opts)));
    await this.send(plain);
    return plain;
  }

  /** Sends `auth` and waits for `welcome` (returned) or `error` / `bye` / close (thrown). */
  async login(name: string, ms = 5000): Promise<Record<string, unknown>> {
    await this.auth({ name });
    const { match, seen } = await this.readUntil(
      (m) => m.t === "welcome" || m.t === "error" || m.t === "bye",
      ms,
    );
    if (match?.t !== "welcome") throw new Error(`login as ${name} failed: ${JSON.stringify(seen)}`);
    return match;
  }

  /** Handshake + login in one step. */
  static async joined(port: number, name: string): Promise<EvilClient> {
    const c = await EvilClient.connect(port);
    try {
      await c.handshake();
      await c.login(name);
      return c;
    } catch (e) {
      await c.close();
      throw e;
    }
  }

  /** A `say` message for `#lobby` (or `room`) with a fresh id. */
  static say(text: string, room = "#lobby"): { t: "say"; id: string; room: string; text: string } {
    return { t: "say", id: newId(), room, text };
  }
}
