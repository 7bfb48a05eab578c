/**
 * The hub: authenticated users, rooms, members, fan-out and presence (DESIGN.md §2). Pure
 * state: it never sees a socket or a key. Connections call {@linkcode Hub.authenticate},
 * {@linkcode Hub.handle} and {@linkcode Hub.disconnect}; the hub answers through
 * {@linkcode Peer.send} with lines serialised once per event and shared by every recipient.
 * @module
 */

import { ProtocolError } from "../shared/errors.ts";
import { utf8, utf8Length } from "../shared/encoding.ts";
import type { Limits } from "../shared/limits.ts";
import type {
  AuthMessage,
  CmdMessage,
  DmRequest,
  EventKind,
  EventMessage,
  MsgMessage,
  RoomInfo,
  SayMessage,
  WelcomeMessage,
} from "../shared/messages.ts";
import { type Blacklist, checkName, checkRoom, DEFAULT_ROOM, nameKey } from "../shared/names.ts";
import type {
  CommandContext,
  CommandHost,
  HistoryAnswer,
  LineSource,
  ServiceInfo,
  UserView,
} from "./command_host.ts";
import { runCommand } from "./commands.ts";
import { checkText } from "./commands/common.ts";
import { MAX_ROOMS_PER_USER } from "./commands/rooms.ts";
import { formatDuration } from "./duration.ts";
import { ipMatches } from "./ip_prefix.ts";
import type { Ban, Store, StoredMessage } from "./store.ts";
import type { AnswerKind } from "./charge.ts";
import { SortedNames } from "./sorted_names.ts";
import type { TranscriptEntry } from "./transcript.ts";
import type { ModerationRecord } from "./audit.ts";
import { RoomModes } from "./room_modes.ts";

export type { LineSource } from "./command_host.ts";

/** One authenticated-or-authenticating connection as the hub sees it (server/connection.ts). */
export interface Peer {
  /** Unique per connection. */
  readonly id: number;
  /** Remote address. */
  readonly ip: string;
  /** Identity fingerprint `SHA256:…` (proof already verified). */
  readonly fingerprint: string;
  /** b64 raw Ed25519 public key. */
  readonly sigPub: string;
  /** b64 SPKI; `kem_sig` already verified. */
  readonly kemPub?: string;
  /** b64 Ed25519 signature over the KEM key. */
  readonly kemSig?: string;
  /**
   * Enqueues ONE serialised JSON message, as text or as its UTF-8 bytes (shared by every
   * recipient: never changed after the call); never blocks.
   */
  send(line: string | Uint8Array): void;
  /** Enqueues lines produced on demand (history), in order with `send`; never blocks. */
  replay(source: LineSource): void;
  /**
   * How many of `rows` rows of the answer to the request being handled its budget pays for
   * (server/charge.ts); fewer means the answer is cut. Ask before doing the work.
   */
  grant(kind: AnswerKind, rows: number): number;
  /** Sends `bye {reason}` and closes; the server then calls {@linkcode Hub.disconnect}. */
  close(reason: string): void;
}

/** Everything the hub depends on. */
export interface HubOptions {
  /** The database. */
  store: Store;
  /** Limits in force. */
  limits: Limits;
  /** Clock, ms since the epoch. */
  now: () => number;
  /** Server name for `welcome` and `/service`. */
  serverName: string;
  /** Software version. */
  version: string;
  /** The configured message of the day (`/motd text` overrides it in memory). */
  motd: () => string;
  /** Host key fingerprint. */
  hostFingerprint: string;
  /** Operator fingerprints from `--admin`. */
  admins: ReadonlySet<string>;
  /** The current name blacklist. */
  blacklist: () => Blacklist;
  /** Optional `--log` transcript. */
  transcript?: { write(entry: TranscriptEntry): void };
  /** Server start time, ms since the epoch. */
  startedAt: number;
  /** Open connections (authenticated or not). */
  connectionCount: () => number;
  /** Notable events for the operator (logins, logouts, name claims); optional. */
  log?: (level: "debug" | "info" | "warn", message: string, props: Record<string, unknown>) => void;
  /** Moderation actions, for the console and `--log`; optional. */
  audit?: (record: ModerationRecord) => void;
}

/** Most sessions one identity may have at once (devices, scripts). */
export const MAX_SESSIONS_PER_IDENTITY = 8;

/** Result of {@linkcode Hub.authenticate}. */
export type AuthResult = "ok" | "retry" | "fatal";

/** An authenticated connection. */
class Session implements UserView {
  readonly peer: Peer;
  name: string;
  key: string;
  readonly rooms = new Set<string>();
  away: string | undefined = undefined;
  readonly since: number;
  lastActive: number;

  constructor(peer: Peer, name: string, key: string, now: number) {
    this.peer = peer;
    this.name = name;
    this.key = key;
    this.since = now;
    this.lastActive = now;
  }
  get fingerprint(): string {
    return this.peer.fingerprint;
  }
  get sigPub(): string {
    return this.peer.sigPub;
  }
  get kemPub(): string | undefined {
    return this.peer.kemPub;
  }
  get kemSig(): string | undefined {
    return this.peer.kemSig;
  }
  get ip(): string {
    return this.peer.ip;
  }
}

type EventFields = Pick<EventMessage, "name" | "by" | "reason" | "old" | "text">;

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** A stored message as sent on the wire. */
export function toMsg(m: StoredMessage, replay = false): MsgMessage {
  const out: MsgMessage = {
    t: "msg",
    room: m.room,
    seq: m.seq,
    ts: m.ts,
    from: m.from,
    text: m.text,
    id: m.id,
  };
  if (m.me) out.me = true;
  if (replay) out.replay = true;
  return out;
}

/** Rooms, members, fan-out and presence. See the module doc. */
export class Hub {
  readonly #o: HubOptions;
  readonly #sessions = new Map<number, Session>();
  /** One session per name in use (the first); siblings share its name and identity. */
  readonly #byName = new Map<string, Session>();
  /** Per room, how many member sessions have a sibling in it already (not counted twice). */
  readonly #doubles = new Map<string, number>();
  readonly #modes = new RoomModes();
  readonly #byFp = new Map<string, Set<Session>>();
  readonly #rooms = new Map<string, Set<Session>>([[DEFAULT_ROOM, new Set()]]);
  /** The names of `#rooms`, in order, for listing without sorting. */
  readonly #roomNames = new SortedNames();
  readonly #muted = new Set<string>();
  #motd: string | undefined = undefined;
  #messages = 0;
  #deliveries = 0;
  readonly #host: CommandHost;

  /** A hub with no users; `#lobby` exists. */
  constructor(opts: HubOptions) {
    this.#o = opts;
    this.#host = this.#makeHost();
    this.#roomNames.add(DEFAULT_ROOM);
  }

  // -------------------------------------------------------------------------------------------
  // Connection API

  /**
   * Handles `auth`: sends `welcome` and the joins, or an error, to `peer`. A login the server
   * cannot complete (e.g. its storage is full, so a new name cannot be saved) gets an error
   * saying so, with `retry: false`.
   */
  authenticate(peer: Peer, auth: AuthMessage): AuthResult {
    try {
      return this.#authenticate(peer, auth);
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      this.#sendError(peer, undefined, e.code, `Cannot log in: ${e.message}`, false);
      return "fatal";
    }
  }

  #authenticate(peer: Peer, auth: AuthMessage): AuthResult {
    const o = this.#o;
    this.settle();
    if (this.#sessions.has(peer.id)) {
      this.#sendError(peer, undefined, "bad_message", "Already authenticated.", false);
      return "fatal";
    }
    const ban = this.#banFor(nameKey(auth.name), peer.fingerprint, peer.ip);
    if (ban !== undefined) {
      const why = ban.reason === "" ? "" : `: ${ban.reason}`;
      this.#sendError(peer, undefined, "banned", `You are banned from this server${why}.`, false);
      return "fatal";
    }
    const check = checkName(auth.name, o.blacklist());
    if (!check.ok) {
      this.#sendError(peer, undefined, check.code, check.reason, true);
      return "retry";
    }
    const key = check.key;
    const live = this.#byName.get(key);
    if (live !== undefined && live.fingerprint !== peer.fingerprint) {
      this.#sendError(peer, undefined, "name_taken", `${live.name} is in use right now.`, true);
      return "retry";
    }
    const refused = this.#claim(key, auth.name, peer.fingerprint);
    if (refused !== undefined) {
      this.#sendError(peer, undefined, refused.code, refused.message, true);
      return "retry";
    }
    const rooms: string[] = [];
    const refusedRooms: ProtocolError[] = [];
    for (const r of auth.rooms) {
      if (rooms.length >= MAX_ROOMS_PER_USER) break;
      if (!checkRoom(r).ok || rooms.includes(r)) continue;
      if (!this.#modes.mayJoin(r, peer.fingerprint) && !this.#isOperator(peer.fingerprint)) {
        continue; // invite-only and not invited
      }
      try {
        this.#mayCreate(peer.fingerprint, r);
        rooms.push(r);
      } catch (e) {
        if (!(e instanceof ProtocolError)) throw e;
        refusedRooms.push(e); // told after the welcome; the login goes on
      }
    }
    if (rooms.length === 0) rooms.push(DEFAULT_ROOM);

    // The same identity may be connected more than once (another device, a script): each
    // session stays and receives; presence shows the name once.
    let fps = this.#byFp.get(peer.fingerprint);
    if (fps !== undefined && fps.size >= MAX_SESSIONS_PER_IDENTITY) {
      this.#sendError(
        peer,
        undefined,
        "too_many_sessions",
        `Your identity is already connected ${MAX_SESSIONS_PER_IDENTITY} times, the most a ` +
          "server allows.",
        false,
      );
      return "fatal";
    }

    const now = o.now();
    const s = new Session(peer, auth.name, key, now);
    this.#sessions.set(peer.id, s);
    if (live === undefined) this.#byName.set(key, s);
    if (fps === undefined) this.#byFp.set(peer.fingerprint, fps = new Set());
    fps.add(s);

    const motd = this.#currentMotd();
    const welcome: WelcomeMessage = {
      t: "welcome",
      name: auth.name,
      fingerprint: peer.fingerprint,
      server: { name: o.serverName, version: o.version, motd },
      limits: {
        textBytes: o.limits.textBytes,
        envelopeBytes: o.limits.envelopeBytes,
        recordPlaintext: o.limits.recordPlaintext,
        historyOnJoin: o.limits.historyOnJoin,
        historyMax: o.limits.historyMax,
        historyKept: o.limits.historyKept,
        resumeMax: o.limits.resumeMax,
        rateBurst: o.limits.rateBurst,
        ratePerSecond: o.limits.ratePerSecond,
        idlePingMs: o.limits.idlePingMs,
        idleCloseMs: o.limits.idleCloseMs,
        maxRooms: MAX_ROOMS_PER_USER,
        quietRoomMembers: o.limits.quietRoomMembers,
      },
      rooms: rooms.map((r) => ({
        name: r,
        topic: o.store.topic(r),
        members: this.#count(r) + (this.#sibling(s, r) === undefined ? 1 : 0),
      })),
    };
    let line = JSON.stringify(welcome);
    if (utf8Length(line) > o.limits.recordPlaintext) {
      // Long topics or MOTD must not keep anyone out: they are also available by command.
      welcome.rooms = welcome.rooms.map((r) => ({ ...r, topic: "" }));
      welcome.server = { ...welcome.server, motd: "" };
      line = JSON.stringify(welcome);
    }
    peer.send(line);
    for (const r of rooms) {
      const from = auth.resume?.[r];
      this.#enter(
        s,
        r,
        from !== undefined
          ? this.#history(peer, r, from, o.limits.resumeMax).replay
          : this.#recent(peer, r, o.limits.historyOnJoin).replay,
      );
    }
    if (motd !== "") {
      peer.send(JSON.stringify({ t: "event", ts: o.now(), kind: "motd", text: motd }));
    }
    for (const e of refusedRooms) this.#sendError(peer, undefined, e.code, e.message);
    o.log?.("info", "login", { ip: peer.ip, name: auth.name, fingerprint: peer.fingerprint });
    return "ok";
  }

  /** A request from an authenticated peer; unknown peers are ignored. */
  handle(peerId: number, msg: SayMessage | DmRequest | CmdMessage): void {
    const s = this.#sessions.get(peerId);
    if (s === undefined) return;
    s.lastActive = this.#o.now();
    try {
      if (msg.t === "say") this.#say(s, msg);
      else {
        this.settle();
        if (msg.t === "dm") this.#dm(s, msg);
        else this.#cmd(s, msg);
      }
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      this.#sendError(s.peer, msg.id, e.code, e.message);
    }
  }

  /**
   * The peer is gone; `reason` goes into the leave events ("replaced": none), `detail` (default
   * `reason`) into the operator's log. Idempotent.
   */
  disconnect(peerId: number, reason: string, detail = reason): void {
    const s = this.#sessions.get(peerId);
    if (s === undefined) return;
    this.settle();
    this.#drop(s, reason === "replaced" ? undefined : reason, detail);
  }

  /**
   * Commits the messages said so far and relays them, so that whatever is sent or changed next
   * comes after them (messages are otherwise stored and relayed once per event-loop turn).
   */
  settle(): void {
    this.#o.store.flush();
  }

  /** True while someone is connected under the name with case-folded `key`. */
  nameInUse(key: string): boolean {
    return this.#byName.has(key);
  }

  /** True while `room` has members (and always for the default room). */
  roomIsLive(room: string): boolean {
    return this.#rooms.has(room);
  }

  /** True if a ban in force covers the address `ip`. */
  isIpBanned(ip: string): boolean {
    return this.#o.store.bans().some((b) => b.kind === "ip" && ipMatches(ip, b.target));
  }

  /**
   * Operator console: plain text is an announcement to everyone; `/command args` runs a command
   * of the table as an operator (by "console"), plus `/say #room text` and `/stats`. Returns
   * the text to print.
   */
  consoleLine(line: string): string {
    const text = line.trim();
    if (text === "") return "";
    this.settle();
    if (!text.startsWith("/")) {
      try {
        checkText(text, this.#o.limits.textBytes, "announcement");
      } catch (e) {
        if (e instanceof ProtocolError) return `error (${e.code}): ${e.message}`;
        throw e;
      }
      this.#event(undefined, "announce", { by: "console", text });
      return `Announced to ${this.#sessions.size} users.`;
    }
    const [name, ...args] = text.slice(1).split(/\s+/);
    const lower = name.toLowerCase();
    try {
      if (lower === "stats") return this.#stats();
      if (lower === "say") return this.#consoleSay(args);
      const result = runCommand(
        { host: this.#host, by: "console", operator: true, admin: true },
        lower,
        args,
      );
      if (lower === "help" && args.length === 0) {
        return result.text + "\n  /say #room text  Send a message as server\n" +
          "  /stats  Connections, users, rooms, messages relayed\n" +
          "  plain text  Announce to everyone";
      }
      return result.text;
    } catch (e) {
      if (e instanceof ProtocolError) return `error (${e.code}): ${e.message}`;
      throw e;
    }
  }

  /** Server shutdown: `close("shutdown")` for every authenticated peer. */
  shutdown(): void {
    this.settle();
    for (const s of [...this.#sessions.values()]) {
      this.#drop(s, undefined, "shutdown");
      s.peer.close("shutdown");
    }
  }

  // -------------------------------------------------------------------------------------------
  // Requests

  #say(s: Session, m: SayMessage): void {
    const o = this.#o;
    try {
      if (!s.rooms.has(m.room)) throw new ProtocolError("not_in_room", `You are not in ${m.room}.`);
      if (this.#muted.has(s.fingerprint)) {
        throw new ProtocolError("muted", "You are muted; your message was not sent.");
      }
      checkText(m.text, o.limits.textBytes, "message");
    } catch (e) {
      // A resent id is answered with the original even when the resend itself is refused.
      const prev = o.store.findById(s.fingerprint, m.id);
      if (prev === undefined) throw e;
      s.peer.send(JSON.stringify(toMsg(prev)));
      return;
    }
    // Stored with the other messages of this turn in one transaction; relayed once committed.
    o.store.append({
      room: m.room,
      ts: o.now(),
      from: s.name,
      text: m.text,
      me: m.me === true,
      id: m.id,
      senderFp: s.fingerprint,
    }, (r) => {
      if (!r.ok) {
        const e = r.error;
        if (e instanceof ProtocolError) this.#sendError(s.peer, m.id, e.code, e.message);
        else this.#sendError(s.peer, m.id, "internal", "The server could not store the message.");
      } else if (r.duplicate) s.peer.send(JSON.stringify(toMsg(r.message)));
      else this.#relay(r.message);
    });
  }

  #relay(stored: StoredMessage): void {
    const line = utf8.encode(JSON.stringify(toMsg(stored))); // once for every member
    const members = this.#rooms.get(stored.room);
    this.#messages++;
    if (members !== undefined) {
      for (const member of members) member.peer.send(line);
      this.#deliveries += members.size;
    }
    this.#o.transcript?.write({
      ts: stored.ts,
      room: stored.room,
      kind: stored.me ? "me" : "msg",
      from: stored.from,
      text: stored.text,
    });
  }

  #dm(s: Session, m: DmRequest): void {
    if (this.#muted.has(s.fingerprint)) {
      throw new ProtocolError("muted", "You are muted; your private message was not sent.");
    }
    const max = Math.ceil(this.#o.limits.envelopeBytes / 3) * 4;
    if (m.envelope.length > max) {
      throw new ProtocolError("too_long", `The private message is larger than the limit.`);
    }
    if (m.envelope.length === 0 || m.envelope.length % 4 !== 0 || !B64.test(m.envelope)) {
      throw new ProtocolError("bad_envelope", "The private message is not base64.");
    }
    if (s.kemPub === undefined) {
      // Nobody could answer, and the recipient's client could not look the sender's key up.
      throw new ProtocolError(
        "dm_key_required",
        "You have no private-message key, so you cannot send private messages.",
      );
    }
    const key = nameKey(m.to);
    const to = this.#byName.get(key);
    if (to === undefined) {
      if (this.#o.store.ownerOf(key) !== undefined) {
        throw new ProtocolError("offline", `${m.to} is not connected.`);
      }
      throw new ProtocolError("no_such_user", `There is no user called ${m.to}.`);
    }
    const line = JSON.stringify({
      t: "dm",
      id: m.id,
      from: s.name,
      ts: this.#o.now(),
      envelope: m.envelope,
    });
    for (const t of this.#siblings(to)) {
      t.peer.send(line);
      this.#deliveries++;
    }
    s.peer.send(JSON.stringify({ t: "ack", id: m.id }));
  }

  #cmd(s: Session, m: CmdMessage): void {
    const ctx: CommandContext = {
      host: this.#host,
      user: s,
      by: s.name,
      byFingerprint: s.fingerprint,
      operator: this.#isOperator(s.fingerprint),
      admin: this.#o.admins.has(s.fingerprint),
    };
    const r = runCommand(ctx, m.name, m.args);
    if (r.replay !== undefined) s.peer.replay(r.replay);
    const reply: Record<string, unknown> = { t: "reply", id: m.id, text: r.text };
    if (r.data !== undefined) reply.data = r.data;
    s.peer.send(JSON.stringify(reply));
  }

  #consoleSay(args: string[]): string {
    if (args.length < 2) return "usage: /say #room text";
    const room = args[0];
    const ok = checkRoom(room);
    if (!ok.ok) return `error (bad_args): ${ok.reason}`;
    const text = args.slice(1).join(" ");
    checkText(text, this.#o.limits.textBytes, "message");
    const stored = this.#o.store.appendMessage({
      room,
      ts: this.#o.now(),
      from: "server",
      text,
      me: false,
      id: "",
      senderFp: "",
    });
    this.#relay(stored);
    const n = this.#rooms.get(room)?.size ?? 0;
    return `Said in ${room} (seq ${stored.seq}) to ${n} members.`;
  }

  #stats(): string {
    const i = this.#info();
    return [
      `connections: ${i.connections}`,
      `users: ${i.users}`,
      `rooms: ${i.rooms}`,
      `messages relayed: ${i.messages}`,
      `deliveries: ${i.deliveries}`,
      `uptime: ${formatDuration(this.#o.now() - i.startedAt)}`,
    ].join("\n");
  }

  // -------------------------------------------------------------------------------------------
  // State changes

  /** Adds `s` to `room`, sends it `history` (replay), then announces the join to everyone. */
  #enter(s: Session, room: string, history: LineSource): void {
    s.peer.replay(history);
    let members = this.#rooms.get(room);
    if (members === undefined) {
      this.#rooms.set(room, members = new Set());
      this.#roomNames.add(room);
      this.#modes.open(room, s.fingerprint); // the first member of a new room is its operator
    }
    const present = this.#sibling(s, room) !== undefined;
    members.add(s);
    s.rooms.add(room);
    if (present) this.#doubles.set(room, (this.#doubles.get(room) ?? 0) + 1);
    // A second session of a name already present: only that session hears its join.
    this.#event(room, "join", { name: s.name }, present ? s : this.#presenceTo(members, s));
  }

  /** Removes `s` from `room`; with a reason, announces the leave to the remaining members. */
  #exit(s: Session, room: string, reason: string | undefined): void {
    const members = this.#rooms.get(room);
    s.rooms.delete(room);
    if (members === undefined) return;
    const to = this.#presenceTo(members, null);
    if (!members.delete(s)) return;
    if (this.#sibling(s, room) !== undefined) {
      // The name stays present through another session: nobody hears a leave.
      const d = (this.#doubles.get(room) ?? 1) - 1;
      if (d > 0) this.#doubles.set(room, d);
      else this.#doubles.delete(room);
      return;
    }
    if (reason !== undefined) this.#event(room, "leave", { name: s.name, reason }, to);
    if (members.size === 0 && room !== DEFAULT_ROOM) {
      this.#rooms.delete(room);
      this.#roomNames.delete(room);
      this.#modes.close(room);
    }
  }

  /** Another session of `s`'s identity under the same name in `room`, if any. */
  #sibling(s: Session, room: string): Session | undefined {
    for (const o of this.#byFp.get(s.fingerprint) ?? []) {
      if (o !== s && o.key === s.key && o.rooms.has(room)) return o;
    }
    return undefined;
  }

  /** Every connected session of `s`'s identity under the same name, `s` included. */
  #siblings(s: Session): Session[] {
    return [...this.#byFp.get(s.fingerprint) ?? [s]].filter((o) => o.key === s.key);
  }

  /** Names present in `room` (a name connected twice counts once). */
  #count(room: string): number {
    return (this.#rooms.get(room)?.size ?? 0) - (this.#doubles.get(room) ?? 0);
  }

  /** Forgets `s` entirely; leave events carry `reason` (none when undefined). */
  #drop(s: Session, reason: string | undefined, detail = reason ?? "closed"): void {
    if (this.#sessions.get(s.peer.id) !== s) return;
    this.#o.log?.("info", "logout", {
      ip: s.peer.ip,
      name: s.name,
      fingerprint: s.fingerprint,
      reason: detail,
    });
    this.#sessions.delete(s.peer.id);
    const fps = this.#byFp.get(s.fingerprint);
    if (fps !== undefined) {
      fps.delete(s);
      if (fps.size === 0) this.#byFp.delete(s.fingerprint);
    }
    this.#unname(s);
    for (const room of [...s.rooms]) this.#exit(s, room, reason);
  }

  /**
   * Who hears a presence event (join, leave, away, back) in a room with `members` (counted with
   * the user it is about): everyone (undefined), or only `self` once the room is quiet
   * (`null`: nobody, e.g. the user is leaving).
   */
  #presenceTo(members: Set<Session>, self: Session | null): Session | null | undefined {
    return members.size > this.#o.limits.quietRoomMembers ? self : undefined;
  }

  /**
   * Serialises one event once and sends it to `room`'s members (everyone if no room), or only
   * to `only` when given (`null`: to nobody; the transcript still records it).
   */
  #event(
    room: string | undefined,
    kind: EventKind,
    f: EventFields,
    only?: Session | null,
  ): void {
    const ts = this.#o.now();
    const ev: EventMessage = { t: "event", ts, kind, ...f };
    if (room !== undefined) ev.room = room;
    const to = only !== undefined
      ? (only === null ? [] : [only])
      : room === undefined
      ? this.#sessions.values()
      : this.#rooms.get(room)?.values();
    if (to !== undefined) {
      const line = utf8.encode(JSON.stringify(ev)); // once for every recipient
      for (const s of to) {
        s.peer.send(line);
        this.#deliveries++;
      }
    }
    const entry: TranscriptEntry = { ts, kind };
    if (room !== undefined) entry.room = room;
    if (f.name !== undefined) entry.name = f.name;
    if (f.by !== undefined) entry.by = f.by;
    if (f.reason !== undefined) entry.reason = f.reason;
    if (f.text !== undefined) entry.text = f.text;
    if (f.old !== undefined) entry.from = f.old;
    this.#o.transcript?.write(entry);
  }

  #sendError(peer: Peer, id: string | undefined, code: string, message: string, retry?: boolean) {
    const e: Record<string, unknown> = { t: "error" };
    if (id !== undefined) e.id = id;
    e.code = code;
    e.message = message;
    if (retry !== undefined) e.retry = retry;
    peer.send(JSON.stringify(e));
  }

  #banFor(key: string, fp: string, ip: string): Ban | undefined {
    return this.#o.store.bans().find((b) =>
      (b.kind === "name" && b.target === key) ||
      (b.kind === "fingerprint" && b.target === fp) ||
      (b.kind === "ip" && ipMatches(ip, b.target))
    );
  }

  #isOperator(fp: string): boolean {
    return this.#o.admins.has(fp) || this.#o.store.isOp(fp);
  }

  #currentMotd(): string {
    return this.#motd ?? this.#o.motd();
  }

  #info(): ServiceInfo {
    return {
      serverName: this.#o.serverName,
      version: this.#o.version,
      startedAt: this.#o.startedAt,
      hostFingerprint: this.#o.hostFingerprint,
      connections: this.#o.connectionCount(),
      users: this.#byName.size,
      rooms: this.#rooms.size,
      messages: this.#messages,
      deliveries: this.#deliveries,
    };
  }

  #roomInfo(room: string): RoomInfo {
    return {
      name: room,
      topic: this.#o.store.topic(room),
      members: this.#count(room),
    };
  }

  /** `s` no longer answers to its name: a sibling (if any) becomes the name's session. */
  #unname(s: Session): void {
    if (this.#byName.get(s.key) !== s) return;
    const next = [...this.#byFp.get(s.fingerprint) ?? []].find((o) => o !== s && o.key === s.key);
    if (next === undefined) this.#byName.delete(s.key);
    else this.#byName.set(s.key, next);
  }

  #session(u: UserView): Session {
    if (!(u instanceof Session) || this.#sessions.get(u.peer.id) !== u) {
      throw new ProtocolError("no_such_user", `${u.name} is not connected.`);
    }
    return u;
  }

  #makeHost(): CommandHost {
    const o = this.#o;
    return {
      limits: o.limits,
      now: () => o.now(),
      info: () => this.#info(),
      users: () => {
        const byName = this.#byName; // one session per name in use
        return { size: byName.size, [Symbol.iterator]: () => byName.values() };
      },
      user: (name) => this.#byName.get(nameKey(name)),
      ownerFingerprint: (name) =>
        this.#byName.get(nameKey(name))?.fingerprint ?? o.store.ownerOf(nameKey(name))?.fingerprint,
      rooms: () => {
        const names = this.#roomNames;
        const info = (r: string) => this.#roomInfo(r);
        return {
          size: names.size,
          *[Symbol.iterator]() {
            for (const r of names) yield info(r);
          },
        };
      },
      members: (room) => {
        const m = this.#rooms.get(room);
        if (m === undefined || !this.#doubles.has(room)) return m;
        return {
          size: this.#count(room),
          *[Symbol.iterator]() {
            const seen = new Set<string>(); // a name connected twice is listed once
            for (const s of m) {
              if (!seen.has(s.key)) yield s;
              seen.add(s.key);
            }
          },
        };
      },
      isOperator: (fp) => this.#isOperator(fp),
      isAdmin: (fp) => o.admins.has(fp),
      nick: (u, name) => this.#nick(this.#session(u), name),
      releaseName: (u, name) => {
        const s = this.#session(u);
        const key = nameKey(name);
        for (const mine of this.#byFp.get(s.fingerprint) ?? []) {
          if (mine.key === key) {
            throw new ProtocolError(
              "name_in_use",
              `You are using ${name}; switch to another name with /nick first.`,
            );
          }
        }
        if (!o.store.releaseName(key, s.fingerprint)) {
          throw new ProtocolError("not_owner", `You do not own the name ${name}.`);
        }
      },
      join: (u, room) => {
        const s = this.#session(u);
        this.#mayCreate(s.fingerprint, room);
        this.#enter(s, room, this.#recent(s.peer, room, o.limits.historyOnJoin).replay);
        return this.#roomInfo(room);
      },
      leave: (u, room, reason) => {
        const s = this.#session(u);
        if (!s.rooms.has(room)) return;
        s.peer.send(
          JSON.stringify({ t: "event", room, ts: o.now(), kind: "leave", name: s.name, reason }),
        );
        this.#exit(s, room, reason);
      },
      topic: (room) => o.store.topic(room),
      setTopic: (room, text, by) => {
        const fp = this.#byName.get(nameKey(by))?.fingerprint; // undefined: the console
        if (fp !== undefined && !o.store.upkeep.charge(fp, "topic", o.limits.topicsPerDay)) {
          throw new ProtocolError(
            "topic_limit",
            `You have set ${o.limits.topicsPerDay} topics today, the most allowed; try again ` +
              "tomorrow.",
          );
        }
        o.store.setTopic(room, text, by);
        this.#event(room, "topic", { by, text });
      },
      setAway: (u, text) => {
        const s = this.#session(u);
        const sibs = this.#siblings(s);
        for (const x of sibs) x.away = text;
        for (const room of new Set(sibs.flatMap((x) => [...x.rooms]))) {
          const to = this.#presenceTo(this.#rooms.get(room) ?? new Set(), s);
          if (text === undefined) this.#event(room, "back", { name: s.name }, to);
          else this.#event(room, "away", { name: s.name, text }, to);
        }
      },
      history: (room, n, u) => this.#recent(u && this.#session(u).peer, room, n),
      charge: (u, kind, rows) => u === undefined ? rows : this.#session(u).peer.grant(kind, rows),
      kick: (u, by, reason) => {
        const s = this.#session(u);
        const sibs = this.#siblings(s);
        for (const room of new Set(sibs.flatMap((x) => [...x.rooms]))) {
          this.#event(room, "kick", { name: s.name, by, ...(reason === "" ? {} : { reason }) });
        }
        for (const x of sibs) {
          this.#drop(x, `kicked by ${by}`);
          x.peer.close("kicked");
        }
      },
      ban: (b) => {
        o.store.addBan(b);
        let closed = 0;
        const told = new Set<string>(); // room and name, once for a name connected twice
        for (const s of [...this.#sessions.values()]) {
          const hit = (b.kind === "name" && s.key === b.target) ||
            (b.kind === "fingerprint" && s.fingerprint === b.target) ||
            (b.kind === "ip" && ipMatches(s.peer.ip, b.target));
          if (!hit) continue;
          for (const room of s.rooms) {
            if (told.has(`${room} ${s.key}`)) continue;
            told.add(`${room} ${s.key}`);
            this.#event(room, "ban", {
              name: s.name,
              by: b.by,
              ...(b.reason === "" ? {} : { reason: b.reason }),
            });
          }
          this.#drop(s, "banned");
          s.peer.close("banned");
          closed++;
        }
        return closed;
      },
      unban: (target) => o.store.removeBan(target),
      bans: () => o.store.bans(),
      mute: (fp, by) => {
        this.#muted.add(fp);
        const told = new Set<string>(); // room and name, once for a name connected twice
        for (const s of this.#byFp.get(fp) ?? []) {
          for (const room of s.rooms) {
            if (told.has(`${room} ${s.key}`)) continue;
            told.add(`${room} ${s.key}`);
            this.#event(room, "mute", { name: s.name, by });
          }
        }
      },
      unmute: (fp) => this.#muted.delete(fp),
      isMuted: (fp) => this.#muted.has(fp),
      motd: () => this.#currentMotd(),
      setMotd: (text) => {
        this.#motd = text;
      },
      addOp: (fp) => o.store.addOp(fp),
      removeOp: (fp) => o.store.removeOp(fp),
      audit: (r) => o.audit?.(r),
      roomModes: this.#modes,
      kickFromRoom: (u, room, by, reason) => {
        const sibs = this.#siblings(this.#session(u)).filter((x) => x.rooms.has(room));
        if (sibs.length === 0) return;
        this.#event(room, "kick", { name: u.name, by, ...(reason === "" ? {} : { reason }) });
        for (const x of sibs) this.#exit(x, room, `kicked by ${by}`);
      },
      announceMode: (room, by, text) => this.#event(room, "mode", { by, text }),
      tellOp: (fp, kind, by) => {
        for (const s of this.#byFp.get(fp) ?? []) {
          s.peer.send(JSON.stringify({ t: "event", ts: o.now(), kind, name: s.name, by }));
        }
      },
    };
  }

  /**
   * Claims `name` for `fp` (stored before it returns); the error to answer with when the name
   * belongs to another identity or `fp` already owns as many names as it may. A returning
   * owner costs one lookup.
   */
  #claim(key: string, name: string, fp: string): ProtocolError | undefined {
    const { store, limits } = this.#o;
    const owner = store.ownerOf(key);
    const other = () =>
      new ProtocolError(
        "name_owned",
        `The name ${name} belongs to another identity. Please choose another name.`,
      );
    if (owner !== undefined) {
      if (owner.fingerprint !== fp) return other();
      this.#touch(key);
      return undefined;
    }
    if (store.namesOwnedBy(fp) >= limits.namesPerIdentity) {
      return new ProtocolError(
        "name_limit",
        `Your identity already owns ${limits.namesPerIdentity} names, the most a server keeps ` +
          "for one identity. Use one of them.",
      );
    }
    if (store.claimName(key, name, fp) === "owned_by_other") return other();
    this.#o.log?.("info", "name claimed", { name, fingerprint: fp });
    return undefined;
  }

  /** Notes that the name `key` is used (so it does not expire); a failed write does not matter. */
  #touch(key: string): void {
    try {
      this.#o.store.upkeep.touchName(key);
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
    }
  }

  /**
   * Allows `fp` to enter `room`: a room that is live or stored costs nothing; a new one counts
   * against the identity's `roomsPerDay` (ProtocolError `room_limit` beyond it).
   */
  #mayCreate(fp: string, room: string): void {
    const { store, limits } = this.#o;
    if (this.#rooms.has(room) || store.upkeep.roomExists(room)) return;
    if (!store.upkeep.charge(fp, "room", limits.roomsPerDay)) {
      throw new ProtocolError(
        "room_limit",
        `You have created ${limits.roomsPerDay} rooms today, the most allowed; ${room} was not ` +
          "created. Join an existing room or try again tomorrow.",
      );
    }
  }

  /** The last `n` messages of `room` as a replay source, charged to `peer`. */
  #recent(peer: Peer | undefined, room: string, n: number): HistoryAnswer {
    return this.#history(peer, room, this.#o.store.lastSeq(room) - n, n);
  }

  /**
   * Messages of `room` with `seq` above `after`, at most `max`, read from the store a batch at
   * a time as the connection drains (marked `replay`). Messages stored after this call are not
   * included: they go out live. The rows are charged to `peer` before any is read; when its
   * budget is short, only the newest rows it pays for are sent.
   */
  #history(peer: Peer | undefined, room: string, after: number, max: number): HistoryAnswer {
    const store = this.#o.store;
    const upTo = store.lastSeq(room);
    let cursor = Math.max(0, after);
    let left = Math.max(0, Math.min(max, upTo - cursor));
    const wanted = left;
    const granted = peer === undefined ? left : peer.grant("replay", left);
    if (granted < left) {
      cursor = upTo - granted;
      left = granted;
    }
    const replay: LineSource = {
      next: (n) => {
        const out: string[] = [];
        if (left <= 0) return out;
        const rows = store.after(room, cursor, Math.min(n, left));
        if (rows.length === 0) left = 0;
        for (const m of rows) {
          if (m.seq > upTo) {
            left = 0;
            break;
          }
          out.push(JSON.stringify(toMsg(m, true)));
          cursor = m.seq;
          left--;
        }
        return out;
      },
    };
    return { replay, shown: granted, wanted };
  }

  #nick(s: Session, name: string): void {
    const o = this.#o;
    const check = checkName(name, o.blacklist());
    if (!check.ok) throw new ProtocolError(check.code, check.reason);
    const key = check.key;
    if (o.store.bans().some((b) => b.kind === "name" && b.target === key)) {
      throw new ProtocolError("banned", `The name ${name} is banned.`);
    }
    const live = this.#byName.get(key);
    if (live !== undefined && live.key !== s.key) {
      throw new ProtocolError("name_taken", `${live.name} is in use right now.`);
    }
    const refused = this.#claim(key, name, s.fingerprint);
    if (refused !== undefined) throw refused;
    const old = s.name;
    if (name === old) return;
    // Every session under the old name is renamed together: presence stays one name.
    const sibs = this.#siblings(s);
    this.#byName.delete(s.key);
    for (const x of sibs) {
      x.name = name;
      x.key = key;
    }
    this.#byName.set(key, s);
    for (const room of new Set(sibs.flatMap((x) => [...x.rooms]))) {
      this.#event(room, "nick", { name, old });
    }
  }
}
