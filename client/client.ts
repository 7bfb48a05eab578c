/**
 * The client's connection: connect, handshake, pin check, authenticate, read
 * events, and reconnect with resume and a bounded outbox so nothing typed is
 * lost silently.
 * @module
 */

import type { ChatClientLike, ClientEvent } from "./view.ts";
import { ConnectError, errorText, HostKeyChangedError, RefusedError } from "./errors.ts";
import { normalizeHostPort } from "./known_servers.ts";
import { afterFlood, nextDelay, NO_RECONNECT } from "./backoff.ts";
import {
  type ClientOptions,
  MAX_ADDRESSES,
  ROOM_PING_MS,
  type ServerAddress,
} from "./client_options.ts";
import { dialSession, readSession } from "./connect.ts";
import { Outbox, type Outgoing, ResumePoints, sayMessage } from "./outbox.ts";
import { type Answer, PendingRequests } from "./requests.ts";
import type { Session } from "./session.ts";
import { DEFAULT_LIMITS } from "../shared/limits.ts";
import {
  type AckMessage,
  DM_ACK_MAX,
  type ErrorMessage,
  newId,
  type ReplyMessage,
  type RoomInfo,
  type ServerMessage,
} from "../shared/messages.ts";
import { DEFAULT_ROOM } from "../shared/names.ts";
import { PrivateRooms } from "./private_rooms.ts";

export { type ClientOptions, MAX_ADDRESSES, type ServerAddress };

/** How often the keep-alive looks at the session (ms). */
const KEEPALIVE_TICK_MS = 5000;

/** A chat connection that survives drops (see DESIGN.md §1, Reconnection). */
export class ChatClient implements ChatClientLike {
  #o:
    & Required<
      Omit<
        ClientOptions,
        "rooms" | "expectedFingerprint" | "hintArgs" | "fallbacks" | "knownUsers" | "dmQueue"
      >
    >
    & Pick<ClientOptions, "dmQueue">
    & Pick<ClientOptions, "expectedFingerprint" | "hintArgs">
    & { rooms: string[] };
  /** Every address, normalised, in the order given; `#at` is the one used last. */
  #addrs: (ServerAddress & { hostPort: string })[];
  #at = 0;
  /** The addresses as given on the command line, for hints. */
  #target: string;
  #name = "";
  #s: Session | null = null;
  #outbox: Outbox;
  #requests = new PendingRequests();
  #rooms: Set<string>;
  #resume = new ResumePoints();
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
  /** Flooding disconnects in a row, each soon after connecting (see `afterFlood`). */
  #floods = 0;
  /** Private rooms: kinds, sender keys, sealing and opening. */
  readonly #private: PrivateRooms;
  /** The server of the current session keeps private messages for offline users. */
  #queueOffered = false;
  /** Queue numbers to acknowledge with the next `dm_ack`. */
  #acks: number[] = [];

  /** Creates a client; call `start()` to connect. */
  constructor(opts: ClientOptions) {
    this.#o = {
      reconnect: true,
      random: Math.random,
      timeoutMs: 10_000,
      outboxMax: 200,
      roomRecords: true,
      roomPingMs: ROOM_PING_MS,
      ...opts,
      rooms: opts.rooms ?? [DEFAULT_ROOM],
    };
    this.#rooms = new Set(this.#o.rooms);
    this.#outbox = new Outbox(this.#o.outboxMax);
    const addrs = [{ host: opts.host, port: opts.port }, ...opts.fallbacks ?? []];
    if (addrs.length > MAX_ADDRESSES) {
      throw new RangeError(`at most ${MAX_ADDRESSES} addresses, got ${addrs.length}`);
    }
    this.#addrs = addrs.map((a) => ({ ...a, hostPort: normalizeHostPort(a.host, a.port) }));
    if (new Set(this.#addrs.map((a) => a.hostPort)).size !== addrs.length) {
      throw new TypeError("an address is given twice");
    }
    this.#target = this.#addrs.map((a) => a.hostPort).join(",");
    this.#done = new Promise((r) => this.#resolveDone = r);
    const name = () => this.#name;
    this.#private = new PrivateRooms({
      transport: {
        get name() {
          return name();
        },
        command: (name, args, auto) => this.command(name, args, auto),
      },
      identity: opts.identity,
      knownUsers: opts.knownUsers ?? { lookup: () => undefined },
      hostPort: this.#addrs[0].hostPort,
      notice: (message) =>
        this.#emit({ t: "server", msg: { t: "error", code: "private_room", message } }),
    });
  }

  /** Current name (after welcome). */
  get name(): string {
    return this.#name;
  }

  /** Rooms currently joined. */
  get rooms(): string[] {
    return [...this.#rooms];
  }

  /** True when `room` is a private (end-to-end encrypted) room, as far as the client knows. */
  isPrivate(room: string): boolean {
    return this.#private.isPrivate(room);
  }

  /** Sender-key requests sent on the client's own so far (diagnostics and tests). */
  get keyRequests(): number {
    return this.#private.keyRequests;
  }

  /** Resolves when the client has stopped for good. */
  get done(): Promise<void> {
    return this.#done;
  }

  /** The address of the current (or last) connection, `host:port`. */
  get hostPort(): string {
    return this.#addrs[this.#at].hostPort;
  }

  /**
   * Connects and authenticates once, trying the addresses in order; rejects with
   * `HostKeyChangedError`, `RefusedError` or `ConnectError` if that first attempt fails.
   * Afterwards the client reads in the background and reconnects by itself.
   */
  async start(): Promise<void> {
    for (let attempt = 1;; attempt++) {
      this.#asked = false;
      try {
        await this.#connectAny(0, true);
        break;
      } catch (e) {
        // The user may take longer to answer a question than the server's handshake deadline:
        // then connect again, with the answers kept (the key is pinned, the name remembered).
        if (!(e instanceof ConnectError) || !this.#asked || attempt >= 3) throw e;
      }
    }
    this.#keepalive = setInterval(
      () => this.#checkAlive(),
      Math.min(KEEPALIVE_TICK_MS, this.#o.roomPingMs),
    );
  }

  /** Queues a room message; it is sent now or after reconnecting. */
  say(room: string, text: string, me = false): string {
    const id = newId();
    if (this.#closing) {
      this.#emit({ t: "failed", id, room, text, reason: "client is closing" });
      return id;
    }
    const refusal = this.#outbox.refusal(text, this.#textBytes);
    if (refusal !== undefined) {
      this.#emit({ t: "failed", id, room, text, reason: refusal });
      return id;
    }
    const m: Outgoing = { id, room, text, me };
    this.#outbox.add(m);
    this.#emit({ t: "pending", id, room, text, me });
    if (this.#private.isPrivate(room)) {
      // Sealed once (keys given first), then sent, and re-sent as is after a reconnection.
      m.sealing = true;
      this.#private.seal(room, id, text, me).then((sealed) => {
        m.sealing = false;
        m.sealed = sealed;
        if (this.#s && this.#outbox.has(id)) this.#sendSay(this.#s, m);
      }, (e) => {
        if (this.#outbox.take(id) === undefined) return;
        this.#emit({ t: "failed", id, room, text, reason: errorText(e) });
      });
      return id;
    }
    if (this.#s) this.#sendSay(this.#s, m);
    return id;
  }

  /**
   * Runs a server command; settles with the reply or an error (never rejects). `auto` marks a
   * request the client makes on its own, not the user (a key lookup, a completion list).
   */
  command(name: string, args: string[], auto = false): Promise<ReplyMessage | ErrorMessage> {
    const r = this.#request<ReplyMessage>((id) =>
      auto ? { t: "cmd", id, name, args, auto } : { t: "cmd", id, name, args }
    );
    if (name !== "join" && name !== "rooms") return r;
    return r.then((m) => {
      // Room kinds, so no change of kind goes unnoticed.
      const infos = m.t !== "reply" ? [] : name === "join" ? [m.data] : m.data;
      if (Array.isArray(infos)) this.#noteRooms(infos.filter(isRoomInfo));
      return m;
    });
  }

  #noteRooms(infos: RoomInfo[]): void {
    for (const message of this.#private.noteRooms(infos)) {
      this.#emit({ t: "server", msg: { t: "error", code: "room_kind", message } });
    }
  }

  /**
   * Sends a sealed private-message envelope (base64) to `to`; settles with the server's `ack`
   * or an error such as `offline` (never rejects). `id` must be the one inside the envelope.
   */
  sendDm(to: string, envelope: string, id: string = newId()): Promise<AckMessage | ErrorMessage> {
    return this.#request(() => ({ t: "dm", id, to, envelope }), id);
  }

  /**
   * Acknowledges deliveries from the offline queue by their `q`; sent together at the end of
   * this turn, {@link DM_ACK_MAX} to a message. Dropped when not connected (the server delivers
   * them again next time, and the replay protection keeps them from being shown twice).
   */
  ackDms(q: number[]): void {
    if (!this.#queueOffered) return;
    if (this.#acks.length === 0) {
      queueMicrotask(() => {
        const acks = this.#acks.splice(0);
        const s = this.#s;
        if (s === null || s.closed) return;
        while (acks.length > 0) s.send({ t: "dm_ack", q: acks.splice(0, DM_ACK_MAX) });
      });
    }
    this.#acks.push(...q);
  }

  #request<T extends Answer>(
    build: (id: string) => Record<string, unknown>,
    id: string = newId(),
  ): Promise<T | ErrorMessage> {
    return new Promise((resolve) => {
      if (!this.#s) {
        resolve({ t: "error", id, code: "offline", message: "not connected; try again shortly" });
        return;
      }
      const request = build(id);
      if (!this.#s.send(request)) {
        resolve({ t: "error", id, code: "too_long", message: "the request is too large to send" });
        return;
      }
      this.#requests.wait(id, this.#o.timeoutMs, resolve as (m: Answer) => void);
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
      s.send({ t: "bye", reason });
      s.flush(); // now, so the write below is the one waited for
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
    this.#outbox.failAll((ev) => this.#emit(ev));
    this.#requests.failAll("closed");
    this.#emit({ t: "status", state: "closed", detail });
    this.#resolveDone();
  }

  #emit(ev: ClientEvent): void {
    this.#o.onEvent(ev);
  }

  #sendSay(s: Session, m: Outgoing): void {
    if (m.sealing) return; // sent once sealed
    m.sent = true;
    s.send(sayMessage(m));
  }

  /**
   * Tries every address once, in order from index `from` (wrapping around), until one welcomes.
   * An address that cannot be reached, or refuses as `full` or `throttled`, passes the turn to
   * the next; a changed key or any other refusal ends the round at once. When every address
   * failed, the last refusal is thrown, else one `ConnectError` naming each failure.
   */
  async #connectAny(from: number, announce: boolean): Promise<void> {
    const n = this.#addrs.length;
    const failures: string[] = [];
    let refused: RefusedError | undefined;
    for (let k = 0; k < n; k++) {
      const i = (from + k) % n;
      this.#at = i;
      if (announce) {
        this.#emit({ t: "status", state: "connecting", detail: this.#addrs[i].hostPort });
      }
      try {
        return await this.#connect(this.#addrs[i]);
      } catch (e) {
        if (e instanceof RefusedError && (e.code === "full" || e.code === "throttled")) {
          refused = e;
        } else if (!(e instanceof ConnectError) || this.#closing) {
          throw e;
        }
        failures.push(errorText(e));
        if (n === 1) throw e;
      }
    }
    throw refused ?? new ConnectError(failures.join("; "));
  }

  /** One full connection attempt to `addr`; installs the session on success. */
  async #connect(addr: ServerAddress & { hostPort: string }): Promise<void> {
    const hostPort = addr.hostPort;
    const s = await dialSession(addr, this.#o.timeoutMs, {
      target: this.#target,
      listPins: () =>
        this.#addrs.flatMap((a) => {
          const fp = a.hostPort === hostPort ? undefined : this.#o.knownServers.lookup(a.hostPort);
          return fp === undefined ? [] : [[a.hostPort, fp] as [string, string]];
        }),
      identity: this.#o.identity,
      knownServers: this.#o.knownServers,
      trustNewServer: this.#o.trustNewServer,
      expected: this.#o.expectedFingerprint,
      hintArgs: this.#o.hintArgs,
      roomRecords: this.#o.roomRecords,
      asking: () => this.#asked = true,
      knownName: () => this.#name || this.#wantedName,
      chooseName: (reason) => this.#ask(reason),
      rooms: () => [...this.#rooms],
      resume: () => this.#resume.resume(this.#rooms),
      onLost: (s, detail) => this.#lost(s, detail),
      onWelcome: (s, m, early) => {
        this.#name = m.name;
        this.#rooms = new Set(m.rooms.map((r) => r.name));
        this.#textBytes = m.limits.textBytes ?? DEFAULT_LIMITS.textBytes;
        this.#queueOffered = m.limits.dmQueueDays !== undefined;
        this.#emit({ t: "welcome", msg: m });
        this.#noteRooms(m.rooms);
        for (const e of early) this.#dispatch(s, e);
      },
    });
    if (this.#closing || s.closed) {
      s.close();
      throw new ConnectError(
        `${hostPort}: ${
          this.#closing ? "the client is closing" : "the server closed the connection after welcome"
        }`,
      );
    }
    this.#s = s;
    this.#connectedAt = Date.now();
    this.#emit({ t: "status", state: "connected", detail: hostPort });
    readSession(s, (m) => this.#dispatch(s, m), (detail) => this.#lost(s, detail));
    for (const m of this.#outbox.values()) this.#sendSay(s, m);
    // The first dm_ack of a session asks for what the server queued (an older server offers
    // no queue and would not know the message).
    if (this.#o.dmQueue === true && this.#queueOffered) s.send({ t: "dm_ack", q: [] });
  }

  async #ask(reason?: string): Promise<string> {
    this.#asked = true;
    this.#wantedName = await this.#o.chooseName(reason);
    return this.#wantedName;
  }

  #dispatch(s: Session, m: ServerMessage): void {
    switch (m.t) {
      case "ping":
        s.send({ t: "pong", n: m.n });
        return;
      case "pong": {
        // Room records queued before this pong have not all come: someone withholds them.
        const room = s.behind(m);
        if (room === undefined) return;
        return this.#lost(s, `withheld: room records of ${room} did not arrive; resuming`);
      }
      case "rkey":
        return s.installRoomKey(m);
      case "bye":
        return this.#lost(s, `server said goodbye (${m.reason})`, m.reason);
      case "msg": {
        if (m.sealed !== undefined || m.key !== undefined) {
          // Opened in arrival order; a key shows nothing, a line shows its text or why not.
          const fresh = this.#resume.see(m.room, m.seq, m.replay);
          this.#private.receive(m).then((out) => {
            if (out === null) return;
            if (fresh) this.#emit({ t: "server", msg: out });
            if (this.#outbox.take(m.id) !== undefined) {
              this.#emit({ t: "acked", id: m.id, msg: out });
            }
          });
          return;
        }
        // A live copy of a message already seen acknowledges a re-send: it is not shown again.
        if (this.#resume.see(m.room, m.seq, m.replay)) this.#emit({ t: "server", msg: m });
        if (this.#outbox.take(m.id) !== undefined) this.#emit({ t: "acked", id: m.id, msg: m });
        return;
      }
      case "event":
        this.#private.onEvent(m);
        if (m.kind === "keyreq") return; // answered by the client, not shown
        if (m.name === this.#name && m.room) {
          if (m.kind === "join") this.#rooms.add(m.room);
          if (m.kind === "leave" || m.kind === "kick" || m.kind === "ban") {
            this.#rooms.delete(m.room);
            this.#resume.forget(m.room);
            s.dropRoom(m.room); // its room records end here
          }
        }
        if (m.kind === "nick" && m.old === this.#name && m.name) this.#name = m.name;
        return this.#emit({ t: "server", msg: m });
      case "ack":
      case "reply":
      case "error": {
        if (this.#requests.settle(m)) return;
        const o = m.t === "error" && m.id !== undefined ? this.#outbox.take(m.id) : undefined;
        if (o && m.t === "error") {
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
    if (!s.close()) return;
    if (this.#s === s) this.#s = null;
  }

  #lost(s: Session, detail: string, byeReason?: string): void {
    if (s.closed) return;
    const installed = this.#s === s;
    this.#drop(s);
    if (this.#closing || !installed) return; // during the handshake the caller sees the error
    this.#requests.failAll("lost");
    const final = byeReason !== undefined && NO_RECONNECT.has(byeReason);
    if (byeReason === "banned") this.#fatal = new RefusedError("banned", detail);
    let first = 0;
    if (byeReason === "flooding") {
      // Not final: say what happened and come back, later each time it happens again soon.
      detail = "the server disconnected you for sending too much too fast (flooding)";
      ({ floods: this.#floods, first } = afterFlood(this.#floods, Date.now() - this.#connectedAt));
    }
    if (!this.#o.reconnect || final) return this.#stop(detail);
    this.#emit({ t: "status", state: "lost", detail });
    this.#reconnectLoop(first);
  }

  /**
   * Reconnects with backoff, starting at attempt `first` (a later start waits longer). Each
   * attempt tries every address once, beginning with the one after the address just lost.
   */
  async #reconnectLoop(first = 0): Promise<void> {
    for (let attempt = first; !this.#closing; attempt++) {
      const delay = nextDelay(attempt, this.#o.random);
      const secs = delay < 10_000 ? (delay / 1000).toFixed(1) : String(Math.round(delay / 1000));
      const next = (this.#at + 1) % this.#addrs.length;
      const where = this.#addrs.length > 1 ? ` at ${this.#addrs[next].hostPort}` : "";
      this.#emit({
        t: "status",
        state: "reconnecting",
        detail: `next attempt${where} in ${secs} s (/reconnect tries now)`,
      });
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.#sleep = null;
          resolve();
        }, delay);
        this.#sleep = { timer, resolve };
      });
      if (this.#closing) return;
      try {
        await this.#connectAny(next, false);
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

  /**
   * Ends the wait before the next reconnection attempt, so it starts now; false when the client
   * is not waiting to reconnect (connected, connecting or closed).
   */
  reconnectNow(): boolean {
    const sleep = this.#sleep;
    if (sleep === null || this.#closing) return false;
    clearTimeout(sleep.timer);
    this.#sleep = null;
    sleep.resolve();
    return true;
  }

  #checkAlive(): void {
    const s = this.#s;
    if (!s || s.closed) return;
    const now = Date.now();
    const idle = now - s.lastRecv;
    if (idle > DEFAULT_LIMITS.idleCloseMs) this.#lost(s, "the server stopped answering");
    else if (idle > DEFAULT_LIMITS.idlePingMs / 2) s.ping();
    // Holding room keys, ping on a clock, not on silence: the pong shows withheld room records.
    else if (s.holdsRoomKeys && now - s.lastPing >= this.#o.roomPingMs) s.ping();
  }

  /**
   * Why the client stopped for good after it had connected, when that deserves its own exit
   * code: `HostKeyChangedError` (3) or `RefusedError` (4, e.g. banned); otherwise undefined.
   */
  get fatal(): Error | undefined {
    return this.#fatal;
  }
}

function isRoomInfo(x: unknown): x is RoomInfo {
  const r = x as RoomInfo | null;
  return typeof r === "object" && r !== null && typeof r.name === "string";
}
