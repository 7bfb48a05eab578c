/**
 * The client's connection: connect, handshake, pin check, authenticate, read
 * events, and reconnect with resume and a bounded outbox so nothing typed is
 * lost silently.
 * @module
 */

import type { ChatClientLike, ClientEvent } from "./view.ts";
import { ConnectError, HostKeyChangedError, RefusedError } from "./errors.ts";
import type { KnownServers } from "./known_servers.ts";
import { normalizeHostPort } from "./known_servers.ts";
import { nextDelay } from "./backoff.ts";
import type { Identity } from "../shared/keys.ts";
import { ClientHandshake, parseRefusal, signAuth } from "../shared/handshake.ts";
import { encodeFrame, FrameDecoder } from "../shared/frame.ts";
import { packRecords, RecordOpener, RecordSealer, REKEY_AT } from "../shared/record.ts";
import { decodeUtf8, toBase64, utf8, utf8Length } from "../shared/encoding.ts";
import { ProtocolError } from "../shared/errors.ts";
import { DEFAULT_LIMITS, MIN_RECORD_FRAME } from "../shared/limits.ts";
import { withDeadline, writeAll } from "../shared/io.ts";
import {
  type AckMessage,
  type AuthMessage,
  type ErrorMessage,
  newId,
  parseServerMessage,
  type ReplyMessage,
  type ServerMessage,
  splitRecord,
} from "../shared/messages.ts";
import { DEFAULT_ROOM } from "../shared/names.ts";
import { VERSION } from "../version.ts";

/** What a client needs to run. */
export interface ClientOptions {
  /** Server host. */
  host: string;
  /** Server port. */
  port: number;
  /** The user's identity. */
  identity: Identity;
  /** Pinned server keys. */
  knownServers: KnownServers;
  /** Asked when the server is unknown; true pins its key. */
  trustNewServer: (hostPort: string, fingerprint: string) => Promise<boolean>;
  /** Supplies a name (first without a reason, then after a rejection with the server's reason). */
  chooseName: (reason?: string) => Promise<string>;
  /** Receives every event, in order. */
  onEvent: (ev: ClientEvent) => void;
  /** Reconnect after a lost connection (default true). */
  reconnect?: boolean;
  /** Rooms to join first (default `#lobby`). */
  rooms?: string[];
  /** Random source in [0,1) for backoff jitter. */
  random?: () => number;
  /** Deadline for connect + handshake + auth, and for commands (ms). */
  timeoutMs?: number;
  /** Outbox capacity (says not yet acknowledged). */
  outboxMax?: number;
}

interface Outgoing {
  id: string;
  room: string;
  text: string;
  me: boolean;
  sent?: boolean;
}

interface Session {
  conn: Deno.TcpConn;
  sealer: RecordSealer;
  opener: RecordOpener;
  decoder: FrameDecoder;
  writes: Promise<void>;
  /** Messages waiting for the next record (everything sent in one turn shares a record). */
  outq: string[];
  /** The timer that flushes {@link outq}, while one is set. */
  flushTimer?: ReturnType<typeof setTimeout>;
  lastRecv: number;
  closed: boolean;
}

const NO_RECONNECT = new Set(["replaced", "kicked", "banned", "refused", "bad_auth"]);
/** A session that lasted this long ends a run of flooding disconnects. */
const FLOOD_STREAK_MS = 60_000;

/** A chat connection that survives drops (see DESIGN.md §1, Reconnection). */
export class ChatClient implements ChatClientLike {
  #o: Required<Omit<ClientOptions, "rooms">> & { rooms: string[] };
  #hostPort: string;
  #name = "";
  #s: Session | null = null;
  #outbox = new Map<string, Outgoing>();
  #commands = new Map<
    string,
    {
      resolve: (m: ReplyMessage | AckMessage | ErrorMessage) => void;
      timer: ReturnType<typeof setTimeout>;
    }
  >();
  #rooms: Set<string>;
  #lastSeq = new Map<string, number>();
  #closing = false;
  #done: Promise<void>;
  #resolveDone!: () => void;
  #keepalive: ReturnType<typeof setInterval> | undefined;
  #sleep: { timer: ReturnType<typeof setTimeout>; resolve: () => void } | null = null;
  #textBytes: number = DEFAULT_LIMITS.textBytes;
  #fatal: Error | undefined;
  #asked = false;
  #wantedName = "";
  /** When the current session was installed (ms since the epoch). */
  #connectedAt = 0;
  /** Flooding disconnects in a row, each within {@link FLOOD_STREAK_MS} of connecting. */
  #floods = 0;

  /** Creates a client; call `start()` to connect. */
  constructor(opts: ClientOptions) {
    this.#o = {
      reconnect: true,
      random: Math.random,
      timeoutMs: 10_000,
      outboxMax: 200,
      ...opts,
      rooms: opts.rooms ?? [DEFAULT_ROOM],
    };
    this.#rooms = new Set(this.#o.rooms);
    this.#hostPort = normalizeHostPort(opts.host, opts.port);
    this.#done = new Promise((r) => this.#resolveDone = r);
  }

  /** Current name (after welcome). */
  get name(): string {
    return this.#name;
  }

  /** Rooms currently joined. */
  get rooms(): string[] {
    return [...this.#rooms];
  }

  /** Resolves when the client has stopped for good. */
  get done(): Promise<void> {
    return this.#done;
  }

  /**
   * Connects and authenticates once; rejects with `HostKeyChangedError`,
   * `RefusedError` or `ConnectError` if that first attempt fails. Afterwards the
   * client reads in the background and reconnects by itself.
   */
  async start(): Promise<void> {
    this.#emit({ t: "status", state: "connecting", detail: this.#hostPort });
    for (let attempt = 1;; attempt++) {
      this.#asked = false;
      try {
        await this.#connect();
        break;
      } catch (e) {
        // The user may take longer to answer a question than the server's handshake deadline:
        // then connect again, with the answers kept (the key is pinned, the name remembered).
        if (!(e instanceof ConnectError) || !this.#asked || attempt >= 3) throw e;
      }
    }
    this.#keepalive = setInterval(() => this.#checkAlive(), 5000);
  }

  /** Queues a room message; it is sent now or after reconnecting. */
  say(room: string, text: string, me = false): string {
    const id = newId();
    if (this.#closing) {
      this.#emit({ t: "failed", id, room, text, reason: "client is closing" });
      return id;
    }
    if (this.#outbox.size >= this.#o.outboxMax) {
      this.#emit({ t: "failed", id, room, text, reason: "too many messages waiting" });
      return id;
    }
    if (text.length * 3 > this.#textBytes && utf8Length(text) > this.#textBytes) {
      this.#emit({
        t: "failed",
        id,
        room,
        text,
        reason: `too long: at most ${this.#textBytes} bytes`,
      });
      return id;
    }
    const m: Outgoing = { id, room, text, me };
    this.#outbox.set(id, m);
    this.#emit({ t: "pending", id, room, text, me });
    if (this.#s) this.#sendSay(this.#s, m);
    return id;
  }

  /**
   * Runs a server command; settles with the reply or an error (never rejects). `auto` marks a
   * request the client makes on its own, not the user (a key lookup, a completion list).
   */
  command(name: string, args: string[], auto = false): Promise<ReplyMessage | ErrorMessage> {
    return this.#request((id) =>
      auto ? { t: "cmd", id, name, args, auto } : { t: "cmd", id, name, args }
    );
  }

  /**
   * Sends a sealed private-message envelope (base64) to `to`; settles with the server's `ack`
   * or an error such as `offline` (never rejects). `id` must be the one inside the envelope.
   */
  sendDm(to: string, envelope: string, id: string = newId()): Promise<AckMessage | ErrorMessage> {
    return this.#request(() => ({ t: "dm", id, to, envelope }), id);
  }

  #request<T extends ReplyMessage | AckMessage | ErrorMessage>(
    build: (id: string) => Record<string, unknown>,
    id: string = newId(),
  ): Promise<T | ErrorMessage> {
    return new Promise((resolve) => {
      if (!this.#s) {
        resolve({ t: "error", id, code: "offline", message: "not connected; try again shortly" });
        return;
      }
      const request = build(id);
      if (!this.#send(this.#s, request)) {
        resolve({ t: "error", id, code: "too_long", message: "the request is too large to send" });
        return;
      }
      const timer = setTimeout(() => {
        this.#commands.delete(id);
        resolve({ t: "error", id, code: "timeout", message: "the server did not answer in time" });
      }, this.#o.timeoutMs);
      this.#commands.set(id, {
        resolve: resolve as (m: ReplyMessage | AckMessage | ErrorMessage) => void,
        timer,
      });
    });
  }

  /** Says neither acknowledged nor failed yet. */
  pendingCount(): number {
    return this.#outbox.size;
  }

  /** Sends `bye` and closes; what is still unacknowledged is reported as failed. */
  async close(reason = "quit"): Promise<void> {
    if (this.#closing) return await this.#done;
    this.#closing = true;
    const s = this.#s;
    if (s && !s.closed) {
      this.#send(s, { t: "bye", reason });
      this.#flush(s); // now, so the write below is the one waited for
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        await Promise.race([s.writes, new Promise((r) => timer = setTimeout(r, 1000))]);
      } catch {
        // the connection is going anyway
      } finally {
        clearTimeout(timer);
      }
    }
    this.#stop("closed");
    await this.#done;
  }

  #stop(detail: string): void {
    this.#closing = true;
    clearInterval(this.#keepalive);
    if (this.#sleep) {
      clearTimeout(this.#sleep.timer);
      this.#sleep.resolve();
    }
    if (this.#s) this.#drop(this.#s);
    for (const m of this.#outbox.values()) {
      const reason = m.sent ? "not confirmed by the server (it may have arrived)" : "not sent";
      this.#emit({ t: "failed", id: m.id, room: m.room, text: m.text, reason });
    }
    this.#outbox.clear();
    this.#failCommands("closed");
    this.#emit({ t: "status", state: "closed", detail });
    this.#resolveDone();
  }

  #emit(ev: ClientEvent): void {
    this.#o.onEvent(ev);
  }

  #failCommands(why: string): void {
    for (const [id, c] of this.#commands) {
      clearTimeout(c.timer);
      c.resolve({ t: "error", id, code: "offline", message: `connection ${why}` });
    }
    this.#commands.clear();
  }

  /** Seals and queues one message; false (nothing sent) when it does not fit in one record. */
  #send(s: Session, msg: unknown): boolean {
    if (s.closed) return true; // the loss is reported by the read loop; the outbox re-sends
    const line = JSON.stringify(msg);
    if (utf8Length(line) > DEFAULT_LIMITS.recordPlaintext) return false;
    s.outq.push(line);
    // Everything sent in this turn of the event loop (a pasted block of lines, the outbox after
    // a reconnect) shares records: one encryption, one write, one rate-limit token per paste.
    s.flushTimer ??= setTimeout(() => this.#flush(s), 0);
    return true;
  }

  /** Seals what is queued into as few records as fit, and chains their writes. */
  #flush(s: Session): void {
    clearTimeout(s.flushTimer);
    s.flushTimer = undefined;
    const lines = s.outq;
    s.outq = [];
    if (s.closed || lines.length === 0) return;
    for (const text of packRecords(lines, DEFAULT_LIMITS.recordPlaintext)) {
      if (s.sealer.seq >= REKEY_AT - 1) {
        // The counter is nearly used up: say goodbye and reconnect (the outbox re-sends).
        const bye = s.sealer.seal(utf8.encode(JSON.stringify({ t: "bye", reason: "rekey" })));
        this.#write(s, bye);
        this.#lost(s, "rekey");
        return;
      }
      this.#write(s, s.sealer.seal(utf8.encode(text)));
    }
  }

  #write(s: Session, sealed: Uint8Array): void {
    s.writes = s.writes.then(async () => {
      await writeAll(s.conn, encodeFrame(sealed));
    }).catch(() => this.#lost(s, "write failed"));
  }

  #sendSay(s: Session, m: Outgoing): void {
    m.sent = true;
    this.#send(
      s,
      m.me ? { t: "say", id: m.id, room: m.room, text: m.text, me: true } : {
        t: "say",
        id: m.id,
        room: m.room,
        text: m.text,
      },
    );
  }

  /** One full connection attempt; installs the session on success. */
  async #connect(): Promise<void> {
    let conn: Deno.TcpConn;
    try {
      const connecting = Deno.connect({ hostname: this.#o.host, port: this.#o.port });
      conn = await withDeadline(
        connecting,
        this.#o.timeoutMs,
        () => new ConnectError("connect timed out"),
      ).catch((e) => {
        connecting.then((late) => late.close(), () => {}); // a connect that lands after the deadline
        throw e;
      });
    } catch (e) {
      throw new ConnectError(`cannot connect to ${this.#hostPort}: ${errText(e)}`, { cause: e });
    }
    try {
      conn.setNoDelay(true);
    } catch {
      // not fatal
    }
    const deadline = Date.now() + this.#o.timeoutMs;
    try {
      const s = await this.#handshake(conn, deadline);
      if (this.#closing) throw new ConnectError("the client is closing");
      if (s.closed) throw new ConnectError("the server closed the connection after welcome");
      this.#s = s;
      this.#connectedAt = Date.now();
      this.#emit({ t: "status", state: "connected", detail: this.#hostPort });
      this.#readLoop(s);
      for (const m of this.#outbox.values()) this.#sendSay(s, m);
    } catch (e) {
      try {
        conn.close();
      } catch {
        // closed
      }
      if (e instanceof HostKeyChangedError || e instanceof RefusedError) throw e;
      if (e instanceof ProtocolError || e instanceof ConnectError) {
        throw new ConnectError(`${this.#hostPort}: ${e.message}`, { cause: e });
      }
      throw new ConnectError(`${this.#hostPort}: ${errText(e)}`, { cause: e });
    }
  }

  async #handshake(conn: Deno.TcpConn, deadline: number): Promise<Session> {
    const reader = new FrameReader(conn, deadline);
    const decoder = reader.decoder;
    const hs = ClientHandshake.start();
    await writeAll(conn, encodeFrame(hs.hello));
    const sh = await reader.next();
    const refusal = parseRefusal(sh);
    if (refusal !== undefined) {
      throw new RefusedError(refusal, `the server refused the connection: ${refusal}`);
    }
    const { fingerprint } = hs.parseServerHello(sh);
    const pinned = this.#o.knownServers.lookup(this.#hostPort);
    if (pinned !== undefined && pinned !== fingerprint) {
      throw new HostKeyChangedError(this.#hostPort, pinned, fingerprint);
    }
    const keys = hs.finish(sh);
    if (pinned === undefined) {
      this.#asked = true;
      if (!await this.#o.trustNewServer(this.#hostPort, fingerprint)) {
        throw new RefusedError("untrusted", `not connecting to an unknown server (${fingerprint})`);
      }
      try {
        await this.#o.knownServers.pin(this.#hostPort, fingerprint);
      } catch (e) {
        // another process pinned a different key meanwhile
        const now = this.#o.knownServers.lookup(this.#hostPort);
        if (now !== undefined && now !== fingerprint) {
          throw new HostKeyChangedError(this.#hostPort, now, fingerprint);
        }
        throw e;
      }
    }
    decoder.limits = { min: MIN_RECORD_FRAME, max: DEFAULT_LIMITS.recordFrame };
    const s: Session = {
      conn,
      sealer: new RecordSealer(keys.send),
      opener: new RecordOpener(keys.recv),
      decoder,
      writes: Promise.resolve(),
      outq: [],
      lastRecv: Date.now(),
      closed: false,
    };
    let name = this.#name || this.#wantedName || await this.#ask();
    const id = this.#o.identity;
    const early: ServerMessage[] = [];
    for (let attempt = 1;; attempt++) {
      const proof = signAuth(id.sigPrivate, keys.th, name);
      const auth: AuthMessage = {
        t: "auth",
        name,
        sig_pub: toBase64(id.sigPublic),
        kem_pub: toBase64(id.kemPublic),
        kem_sig: toBase64(id.kemSig),
        proof: toBase64(proof),
        client: `chat/${VERSION}`,
        rooms: [...this.#rooms],
      };
      const resume = [...this.#rooms].filter((r) => this.#lastSeq.has(r));
      if (resume.length > 0) {
        auth.resume = Object.fromEntries(resume.map((r) => [r, this.#lastSeq.get(r)!]));
      }
      this.#send(s, auth);
      this.#flush(s);
      await s.writes;
      for (;;) {
        const msgs = this.#readRecord(s, await reader.next());
        const answer = msgs.findIndex((m) => m.t === "welcome" || m.t === "error" || m.t === "bye");
        if (answer < 0) {
          early.push(...msgs);
          continue;
        }
        const m = msgs[answer];
        if (m.t === "welcome") {
          this.#name = m.name;
          this.#rooms = new Set(m.rooms.map((r) => r.name));
          this.#textBytes = m.limits.textBytes ?? DEFAULT_LIMITS.textBytes;
          this.#emit({ t: "welcome", msg: m });
          for (const e of [...early, ...msgs.slice(answer + 1)]) this.#dispatch(s, e);
          return s;
        }
        if (m.t === "bye") throw new RefusedError(m.reason, `the server closed: ${m.reason}`);
        if (m.t === "error" && m.retry && attempt < DEFAULT_LIMITS.authAttempts) {
          name = await this.#ask(m.message);
          break;
        }
        throw new RefusedError(
          m.t === "error" ? m.code : "refused",
          m.t === "error" ? m.message : "",
        );
      }
    }
  }

  async #ask(reason?: string): Promise<string> {
    this.#asked = true;
    this.#wantedName = await this.#o.chooseName(reason);
    return this.#wantedName;
  }

  #readRecord(s: Session, frame: Uint8Array): ServerMessage[] {
    const plain = s.opener.open(frame);
    return splitRecord(decodeUtf8(plain)).map(parseServerMessage);
  }

  async #readLoop(s: Session): Promise<void> {
    const buf = new Uint8Array(16_384);
    try {
      for (;;) {
        // Records that came in with the end of the handshake are handled before waiting.
        for (let f = s.decoder.next(); f !== null; f = s.decoder.next()) {
          for (const m of this.#readRecord(s, f)) {
            if (s.closed) return;
            this.#dispatch(s, m);
          }
        }
        const n = await s.conn.read(buf);
        if (n === null) {
          s.decoder.finish();
          return this.#lost(s, "the server closed the connection");
        }
        s.lastRecv = Date.now();
        s.decoder.push(buf.slice(0, n));
      }
    } catch (e) {
      this.#lost(s, errText(e));
    }
  }

  #dispatch(s: Session, m: ServerMessage): void {
    switch (m.t) {
      case "ping":
        this.#send(s, { t: "pong", n: m.n });
        return;
      case "pong":
        return;
      case "bye":
        return this.#lost(s, `server said goodbye (${m.reason})`, m.reason);
      case "msg": {
        const last = this.#lastSeq.get(m.room) ?? 0;
        // A live copy of a message already seen is the server's answer to a re-send: it
        // acknowledges, it is not shown again. (Replays are shown: the user asked for them.)
        const seen = !m.replay && m.seq <= last;
        if (m.seq > last) this.#lastSeq.set(m.room, m.seq);
        if (!seen) this.#emit({ t: "server", msg: m });
        if (this.#outbox.has(m.id)) {
          this.#outbox.delete(m.id);
          this.#emit({ t: "acked", id: m.id, msg: m });
        }
        return;
      }
      case "event":
        if (m.name === this.#name && m.room) {
          if (m.kind === "join") this.#rooms.add(m.room);
          if (m.kind === "leave" || m.kind === "kick") {
            this.#rooms.delete(m.room);
            this.#lastSeq.delete(m.room);
          }
        }
        if (m.kind === "nick" && m.old === this.#name && m.name) this.#name = m.name;
        return this.#emit({ t: "server", msg: m });
      case "ack":
      case "reply":
      case "error": {
        const c = m.id === undefined ? undefined : this.#commands.get(m.id);
        if (c && m.id !== undefined) {
          clearTimeout(c.timer);
          this.#commands.delete(m.id);
          c.resolve(m);
          return;
        }
        const o = m.t === "error" && m.id !== undefined ? this.#outbox.get(m.id) : undefined;
        if (o && m.t === "error") {
          this.#outbox.delete(o.id);
          this.#emit({ t: "failed", id: o.id, room: o.room, text: o.text, reason: m.message });
          return;
        }
        return this.#emit({ t: "server", msg: m });
      }
      default:
        return this.#emit({ t: "server", msg: m });
    }
  }

  #drop(s: Session): void {
    if (s.closed) return;
    s.closed = true;
    clearTimeout(s.flushTimer); // what was queued is re-sent from the outbox after reconnecting
    s.flushTimer = undefined;
    if (this.#s === s) this.#s = null;
    try {
      s.conn.close();
    } catch {
      // closed
    }
  }

  #lost(s: Session, detail: string, byeReason?: string): void {
    if (s.closed) return;
    const installed = this.#s === s;
    this.#drop(s);
    if (this.#closing || !installed) return; // during the handshake the caller sees the error
    this.#failCommands("lost");
    const final = byeReason !== undefined && NO_RECONNECT.has(byeReason);
    if (byeReason === "banned") this.#fatal = new RefusedError("banned", detail);
    let first = 0;
    if (byeReason === "flooding") {
      // Not final: say what happened and come back, later each time it happens again soon.
      detail = "the server disconnected you for sending too much too fast (flooding)";
      this.#floods = Date.now() - this.#connectedAt < FLOOD_STREAK_MS ? this.#floods + 1 : 1;
      first = Math.min(this.#floods + 1, 8);
    }
    if (!this.#o.reconnect || final) return this.#stop(detail);
    this.#emit({ t: "status", state: "lost", detail });
    this.#reconnectLoop(first);
  }

  /** Reconnects with backoff, starting at attempt `first` (a later start waits longer). */
  async #reconnectLoop(first = 0): Promise<void> {
    for (let attempt = first; !this.#closing; attempt++) {
      const delay = nextDelay(attempt, this.#o.random);
      if (attempt === first) {
        // Shown once; the attempts that follow are silent until one succeeds or gives up.
        this.#emit({ t: "status", state: "reconnecting", detail: "reconnecting…" });
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.#sleep = null;
          resolve();
        }, delay);
        this.#sleep = { timer, resolve };
      });
      if (this.#closing) return;
      try {
        await this.#connect();
        return;
      } catch (e) {
        if (e instanceof HostKeyChangedError) {
          this.#fatal = e;
          return this.#stop("the server's key has changed");
        }
        if (e instanceof RefusedError && e.code !== "full" && e.code !== "throttled") {
          this.#fatal = e;
          return this.#stop(e.message);
        }
        // transient: try again after the next delay
      }
    }
  }

  #checkAlive(): void {
    const s = this.#s;
    if (!s || s.closed) return;
    const idle = Date.now() - s.lastRecv;
    if (idle > DEFAULT_LIMITS.idleCloseMs) this.#lost(s, "the server stopped answering");
    else if (idle > DEFAULT_LIMITS.idlePingMs / 2) this.#send(s, { t: "ping", n: 0 });
  }

  /**
   * Why the client stopped for good after it had connected, when that deserves its own exit
   * code: `HostKeyChangedError` (3) or `RefusedError` (4, e.g. banned); otherwise undefined.
   */
  get fatal(): Error | undefined {
    return this.#fatal;
  }
}

/** Reads whole frames from a connection with a deadline (handshake phase). */
class FrameReader {
  readonly decoder = new FrameDecoder({ min: 1, max: DEFAULT_LIMITS.handshakeFrame });
  #conn: Deno.TcpConn;
  #deadline: number;
  constructor(conn: Deno.TcpConn, deadline: number) {
    this.#conn = conn;
    this.#deadline = deadline;
  }
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

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
