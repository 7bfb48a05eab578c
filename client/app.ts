/**
 * The chat application between a connection and a view: keeps the client-side state (current
 * room, joined rooms, names seen, ignored names, display settings), turns input lines into local
 * commands, room messages or server commands, and decides when the session ends.
 * @module
 */

import { checkName, checkRoom, nameKey } from "../shared/names.ts";
import type { DmDelivery, ErrorMessage, ReplyMessage } from "../shared/messages.ts";
import { DmService, type DmSetup } from "./dm.ts";
import { jsonLine } from "./plain.ts";
import type {
  BellMode,
  ChatClientLike,
  ClientEvent,
  Completions,
  DmEvent,
  DmFailedEvent,
  RenderState,
  View,
  ViewEvent,
} from "./view.ts";

/** Settings for {@link App} and {@link runApp}. */
export interface AppOptions {
  /** The room the user starts in. */
  room: string;
  /** Output is JSON lines (affects nothing here but is passed along by the caller). */
  json: boolean;
  /** Show `HH:MM` timestamps (default true). */
  timestamps?: boolean;
  /** Bell mode (default "mention"). */
  bell?: BellMode;
  /** How long to wait at the end for unacknowledged messages, in ms (default 10 000). */
  drainMs?: number;
  /** Colour is on (the view decides how it renders; kept for callers that pass it along). */
  color?: boolean;
  /**
   * The user's transcript (room messages, events, failures) is appended to this file as JSON
   * lines; the caller opens it (before connecting, so nothing is missed) and closes it.
   */
  log?: Deno.FsFile;
  /** Events that arrived before the application existed; handled first, in order. */
  early?: ClientEvent[];
  /** An event sink whose `push` {@link runApp} points at the application. */
  events?: { push(ev: ClientEvent): void };
  /** What private messages need (identity, pinned peers, server); absent: no private messages. */
  dm?: DmSetup;
}

/** Commands the client handles itself. */
export const LOCAL_COMMANDS: readonly string[] = [
  "help",
  "quit",
  "clear",
  "ignore",
  "unignore",
  "timestamp",
  "bell",
  "me",
  "msg",
  "trust",
  "verify",
  "join",
];

/** Server commands known before the server's own list arrives. */
export const SERVER_COMMANDS: readonly string[] = [
  "service",
  "nick",
  "who",
  "whois",
  "rooms",
  "leave",
  "topic",
  "history",
  "away",
  "back",
  "mode",
  "invite",
  "kick",
  "ban",
  "unban",
  "bans",
  "mute",
  "unmute",
  "motd",
  "op",
  "deop",
];

/** Help for the local commands, shown after the server's list. */
export const LOCAL_HELP = [
  "Client commands:",
  "  /help                     this list",
  "  /quit or <exit chat>      leave (also Ctrl-D, or Ctrl-C twice)",
  "  /join #room               join a room and talk there",
  "  /me action                send an action: * name action",
  "  /msg NAME text            end-to-end encrypted private message to NAME",
  "  /trust NAME               accept NAME's (new) key after checking it: pinned as verified",
  "  /verify NAME              show the safety number to compare with NAME",
  "  /clear                    clear the screen",
  "  /ignore [NAME]            hide messages from NAME (no NAME: list)",
  "  /unignore NAME            show NAME's messages again",
  "  /timestamp on|off         show or hide times",
  "  /bell mention|all|off     when to ring the bell",
  "  //text                    send text that starts with /",
].join("\n");

/** Commands whose last argument is free text: how many words come before it. */
const FREE_TEXT: Readonly<Record<string, number>> = {
  topic: 1,
  away: 0,
  kick: 1,
  mute: 1,
  motd: 0,
};
/** Commands whose first argument is a room; the current room is filled in when it is missing. */
const ROOM_FIRST: ReadonlySet<string> = new Set(["who", "topic", "history", "leave"]);

/** Most arguments a command may carry (PROTOCOL.md: `cmd.args` holds at most 32). */
const MAX_ARGS = 32;
/** Most names remembered per room, and most rooms remembered. */
const MAX_NAMES = 10_000;
/** Most incoming private messages being opened or waiting to be shown at once. */
const DM_INCOMING_MAX = 256;
const MAX_ROOMS = 1_000;
const COMMAND_NAME = /^[a-z][a-z0-9_-]{0,31}$/;

/** What one input line asks for. */
export type Action =
  | { kind: "none" }
  | { kind: "quit" }
  | { kind: "say"; text: string; me: boolean }
  | { kind: "help" }
  | { kind: "clear" }
  | { kind: "ignore"; name?: string }
  | { kind: "unignore"; name: string }
  | { kind: "timestamp"; on?: boolean }
  | { kind: "bell"; mode?: BellMode }
  | { kind: "join"; room: string }
  | { kind: "dm"; to: string; text: string }
  | { kind: "trust"; name: string }
  | { kind: "verify"; name: string }
  | { kind: "command"; name: string; args: string[] }
  | { kind: "error"; text: string };

function usage(text: string): Action {
  return { kind: "error", text: `usage: ${text}` };
}

/** The answer to `/msg`, `/trust` and `/verify` when private messages are not set up. */
const NO_DM: Action = { kind: "error", text: "private messages are not available yet" };

/**
 * Parses one input line typed while talking in `room`. `<exit chat>` (surrounding white space
 * ignored) and `/quit` quit; `//text` sends `/text`; other `/name args…` lines are local commands
 * or server commands (arguments split on white space, except the free-text tail of topic, away,
 * kick, mute and motd; who, topic, history and leave get `room` when no room is given).
 * `/msg NAME text`, `/trust NAME` and `/verify NAME` are local when `dm` is true, else an error.
 */
export function parseInput(line: string, room: string, dm = false): Action {
  const trimmed = line.trim();
  if (trimmed === "") return { kind: "none" };
  if (trimmed === "<exit chat>") return { kind: "quit" };
  if (!trimmed.startsWith("/")) return { kind: "say", text: line.trimEnd(), me: false };
  if (trimmed.startsWith("//")) return { kind: "say", text: trimmed.slice(1), me: false };
  const m = /^\/(\S+)\s*([\s\S]*)$/.exec(trimmed);
  if (m === null) return { kind: "error", text: "type a command after /, or /help" };
  const name = m[1].toLowerCase();
  const rest = m[2];
  const words = rest.split(/\s+/).filter((w) => w !== "");
  switch (name) {
    case "quit":
      return { kind: "quit" };
    case "help":
      return { kind: "help" };
    case "clear":
      return { kind: "clear" };
    case "me":
      return rest === "" ? usage("/me action") : { kind: "say", text: rest, me: true };
    case "msg": {
      if (!dm) return NO_DM;
      const t = /^(\S+)\s+(\S[\s\S]*)$/.exec(rest);
      return t === null ? usage("/msg NAME text") : { kind: "dm", to: t[1], text: t[2] };
    }
    case "trust":
    case "verify":
      if (!dm) return NO_DM;
      return words.length !== 1 ? usage(`/${name} NAME`) : { kind: name, name: words[0] };
    case "ignore":
      return words.length > 1 ? usage("/ignore [NAME]") : { kind: "ignore", name: words[0] };
    case "unignore":
      return words.length !== 1 ? usage("/unignore NAME") : { kind: "unignore", name: words[0] };
    case "timestamp":
    case "timestamps":
      if (words.length === 0) return { kind: "timestamp" };
      if (words.length === 1 && (words[0] === "on" || words[0] === "off")) {
        return { kind: "timestamp", on: words[0] === "on" };
      }
      return usage("/timestamp on|off");
    case "bell":
      if (words.length === 0) return { kind: "bell" };
      if (words.length === 1 && ["mention", "all", "off"].includes(words[0])) {
        return { kind: "bell", mode: words[0] as BellMode };
      }
      return usage("/bell mention|all|off");
    case "join": {
      if (words.length !== 1) return usage("/join #room");
      const target = words[0].startsWith("#") ? words[0] : `#${words[0]}`;
      const ok = checkRoom(target);
      return ok.ok ? { kind: "join", room: target } : { kind: "error", text: ok.reason };
    }
  }
  if (!COMMAND_NAME.test(name)) return { kind: "error", text: "unknown command; try /help" };
  let tail = rest;
  if (ROOM_FIRST.has(name) && !(words[0] ?? "").startsWith("#")) tail = `${room} ${rest}`.trim();
  const lead = FREE_TEXT[name];
  let args: string[];
  if (lead === undefined) {
    args = tail.split(/\s+/).filter((w) => w !== "");
  } else {
    args = [];
    let s = tail;
    for (let i = 0; i < lead; i++) {
      const w = /^(\S+)\s*/.exec(s);
      if (w === null) break;
      args.push(w[1]);
      s = s.slice(w[0].length);
    }
    if (s !== "") args.push(s);
  }
  if (args.length > MAX_ARGS) return { kind: "error", text: `at most ${MAX_ARGS} arguments` };
  return { kind: "command", name, args };
}

function isName(v: unknown): v is string {
  return typeof v === "string" && v.length > 0 && v.length <= 64;
}

/**
 * Names found in a reply's `data`: an array of names or of objects with a `name`, or an object
 * holding such an array under `names`, `members`, `users` or `rooms`. At most 10 000.
 */
export function namesInData(data: unknown): string[] {
  let list: unknown = data;
  if (typeof data === "object" && data !== null && !Array.isArray(data)) {
    const o = data as Record<string, unknown>;
    list = o.names ?? o.members ?? o.users ?? o.rooms ?? o.commands;
  }
  if (!Array.isArray(list)) return [];
  const out: string[] = [];
  for (const item of list.slice(0, MAX_NAMES)) {
    if (isName(item)) out.push(item);
    else if (
      typeof item === "object" && item !== null && isName((item as { name?: unknown }).name)
    ) {
      out.push((item as { name: string }).name);
    }
  }
  return out;
}

/** Command names in a help reply: from its data, or from lines of its text that start with `/name`. */
export function commandsInHelp(reply: ReplyMessage): string[] {
  const found = namesInData(reply.data).map((n) => n.replace(/^\//, ""));
  for (const line of (reply.text ?? "").split("\n")) {
    const m = /^\s*\/([a-z][a-z0-9_-]*)/.exec(line);
    if (m !== null) found.push(m[1]);
  }
  return found.filter((n) => COMMAND_NAME.test(n));
}

/** Client-side state: who the user is, where they talk, whom they ignore, what they see. */
export class AppState {
  /** The room plain text is sent to. */
  room: string;
  /** The user's current name ("" before welcome). */
  me = "";
  /** Show timestamps. */
  timestamps: boolean;
  /** Bell mode. */
  bell: BellMode;
  /** Rooms the user is in. */
  readonly rooms: Set<string> = new Set();
  /** Rooms seen anywhere (for completion). */
  readonly knownRooms: Set<string> = new Set();
  /** Ignored name keys. */
  readonly ignored: Set<string> = new Set();
  /** Command names for completion. */
  readonly commands: Set<string> = new Set([...LOCAL_COMMANDS, ...SERVER_COMMANDS]);
  readonly #names = new Map<string, Map<string, string>>();

  /** Starts in `room` with the given display settings. */
  constructor(room: string, opts: { timestamps?: boolean; bell?: BellMode } = {}) {
    this.room = room;
    this.timestamps = opts.timestamps ?? true;
    this.bell = opts.bell ?? "mention";
    this.knownRooms.add(room);
  }

  /** Records that `name` is in `room` (only valid names: completion writes them into the input). */
  addName(room: string, name: string): void {
    if (!checkName(name).ok) return;
    let m = this.#names.get(room);
    if (m === undefined) {
      if (this.#names.size >= MAX_ROOMS) return;
      m = new Map();
      this.#names.set(room, m);
    }
    if (m.size < MAX_NAMES) m.set(nameKey(name), name);
  }

  /** Records that `name` left `room` (every room when `room` is undefined). */
  removeName(room: string | undefined, name: string): void {
    const key = nameKey(name);
    if (room !== undefined) this.#names.get(room)?.delete(key);
    else for (const m of this.#names.values()) m.delete(key);
  }

  /** Names seen in `room`, sorted. */
  namesIn(room: string): string[] {
    return [...(this.#names.get(room)?.values() ?? [])].sort();
  }

  /** Remembers a room name for completion. */
  addRoom(room: string): void {
    if (this.knownRooms.size < MAX_ROOMS && checkRoom(room).ok) this.knownRooms.add(room);
  }

  /** Marks `room` as joined and makes it the current room. */
  enter(room: string): void {
    this.rooms.add(room);
    this.addRoom(room);
    this.room = room;
  }

  /** Marks `room` as left; the current room moves to another joined room if there is one. */
  exit(room: string): void {
    this.rooms.delete(room);
    this.#names.delete(room);
    if (this.room === room) {
      const other = [...this.rooms][0];
      if (other !== undefined) this.room = other;
    }
  }

  #isMe(name: string | undefined): boolean {
    return name !== undefined && this.me !== "" && nameKey(name) === nameKey(this.me);
  }

  /** Updates the state from a connection event. */
  apply(ev: ClientEvent): void {
    if (ev.t === "welcome") {
      this.me = ev.msg.name;
      const rooms = ev.msg.rooms.map((r) => r.name).filter((r) => checkRoom(r).ok);
      this.rooms.clear();
      for (const r of rooms) {
        this.rooms.add(r);
        this.addRoom(r);
      }
      if (rooms.length > 0 && !this.rooms.has(this.room)) this.room = rooms[0];
      return;
    }
    if (ev.t !== "server") return;
    const m = ev.msg;
    if (m.t === "msg") {
      this.addName(m.room, m.from);
      return;
    }
    if (m.t !== "event") return;
    const name = m.name;
    if (name === undefined) return;
    switch (m.kind) {
      case "join":
        if (m.room === undefined) return;
        this.addName(m.room, name);
        this.addRoom(m.room);
        if (this.#isMe(name)) this.rooms.add(m.room);
        return;
      case "leave":
      case "kick":
      case "ban":
        if (this.#isMe(name)) {
          if (m.room !== undefined) this.exit(m.room);
        } else {
          this.removeName(m.room, name);
        }
        return;
      case "nick":
        if (m.old === undefined) return;
        if (this.#isMe(m.old)) this.me = name;
        for (const [room, names] of this.#names) {
          if (names.delete(nameKey(m.old))) this.addName(room, name);
        }
        return;
    }
  }

  /** What a view needs to render. */
  renderState(): RenderState {
    return { me: this.me, timestamps: this.timestamps, ignored: this.ignored, bell: this.bell };
  }

  /** Tab-completion candidates: commands, names in the current room, known rooms. */
  completions(): Completions {
    return {
      commands: [...this.commands].sort(),
      names: this.namesIn(this.room),
      rooms: [...this.knownRooms].sort(),
    };
  }
}

/** Drives one chat session: feed it connection events with `onEvent`, then `run` it. */
export class App {
  /** The client-side state. */
  readonly state: AppState;
  readonly #view: View;
  readonly #drainMs: number;
  #client: ChatClientLike | undefined;
  #welcomed = false;
  #seeded = false;
  #quitting = false;
  #failed = 0;
  #onClosed: (() => void) | undefined;
  #closedByPeer = false;
  #onSettled: (() => void) | undefined;
  #welcomeMotd: string | undefined;
  #log: Deno.FsFile | undefined;
  readonly #dmSetup: DmSetup | undefined;
  #dm: DmService | undefined;
  #dmStart: (svc: DmService) => void = () => {};
  readonly #dmReady: Promise<DmService>;
  /** Incoming private messages are opened at once and shown in arrival order. */
  #dmChain: Promise<void> = Promise.resolve();
  readonly #dmBusy = new Set<Promise<unknown>>();
  /** Incoming private messages being opened or waiting to be shown. */
  #dmIncoming = 0;
  /** Whether the notice about dropped incoming messages is due (once per overload). */
  #dmDropNotice = true;

  /** An application showing on `view`. */
  constructor(view: View, opts: AppOptions) {
    this.#view = view;
    this.#dmSetup = opts.dm;
    this.#dmReady = new Promise((resolve) => this.#dmStart = resolve);
    this.#log = opts.log;
    this.#drainMs = opts.drainMs ?? 10_000;
    this.state = new AppState(opts.room, opts);
    view.setRoom(this.state.room);
    view.setCompletions(this.state.completions());
  }

  #show(ev: ViewEvent): void {
    this.#view.show(ev, this.state.renderState());
  }

  #info(text: string, level: "info" | "error" = "info"): void {
    this.#show({ t: "local", level, text });
  }

  #refresh(): void {
    this.#view.setRoom(this.state.room);
    this.#view.setCompletions(this.state.completions());
  }

  #transcript(ev: ClientEvent): void {
    if (ev.t === "server" && (ev.msg.t === "msg" || ev.msg.t === "event")) this.#record(ev.msg);
    else if (ev.t === "failed") {
      this.#record({
        t: "failed",
        ts: Date.now(),
        room: ev.room,
        text: ev.text,
        reason: ev.reason,
      });
    }
  }

  /** Appends one JSON line to the --log transcript, if there is one. */
  #record(rec: unknown): void {
    const f = this.#log;
    if (f === undefined) return;
    const bytes = new TextEncoder().encode(jsonLine(rec) + "\n");
    try {
      for (let off = 0; off < bytes.length;) off += f.writeSync(bytes.subarray(off));
    } catch (e) {
      this.#log = undefined;
      f.close();
      this.#info(`transcript stopped: ${e instanceof Error ? e.message : String(e)}`, "error");
    }
  }

  /** Shows a private-message event and writes it to the transcript. */
  #showDm(ev: DmEvent | DmFailedEvent): void {
    if (ev.t === "dm") {
      const { id, ts, from, to, text } = ev;
      this.#record({ t: "dm", ts, id, from, to, text });
    } else {
      this.#record({ t: "dm_failed", ts: Date.now(), to: ev.to, text: ev.text, reason: ev.reason });
    }
    this.#show(ev);
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#dmBusy.add(p);
    const done = () => this.#dmBusy.delete(p);
    p.then(done, done);
    return p;
  }

  /**
   * Opens an incoming private message once the service exists and shows it, or the failure, in
   * arrival order. At most {@link DM_INCOMING_MAX} are in hand at once; more are dropped (with one
   * notice per overload) before any work is done for them.
   */
  #incoming(d: DmDelivery): void {
    if (this.#dmIncoming >= DM_INCOMING_MAX) {
      if (this.#dmDropNotice) {
        this.#dmDropNotice = false;
        this.#info("too many private messages at once: dropping some unread", "error");
      }
      return;
    }
    this.#dmIncoming++;
    const opened = this.#dmReady.then((svc) => svc.open(d));
    this.#dmChain = this.#track(
      this.#dmChain.then(async () => {
        const r = await opened.finally(() => {
          if (--this.#dmIncoming === 0) this.#dmDropNotice = true;
        });
        if (r.ok) {
          const me = this.state.me !== "" ? this.state.me : this.#client?.name ?? "";
          this.#showDm({
            t: "dm",
            id: r.id,
            ts: r.ts,
            from: r.from,
            to: me,
            text: r.text,
            out: false,
          });
        } else if (!this.state.ignored.has(nameKey(d.from))) {
          this.#record({ t: "dm_error", ts: d.ts, id: d.id, from: d.from });
          this.#info(`cannot decrypt message from ${d.from}`, "error");
        }
      }).catch((e) =>
        this.#info(`private message: ${e instanceof Error ? e.message : e}`, "error")
      ),
    );
  }

  /** Waits at most `ms` for private messages being sent or opened. */
  async #dmIdle(ms: number): Promise<void> {
    if (this.#dmBusy.size === 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.allSettled([...this.#dmBusy]),
      new Promise((r) => timer = setTimeout(r, ms)),
    ]);
    clearTimeout(timer);
  }

  /** Handles one event from the connection: update the state, then show it. */
  onEvent(ev: ClientEvent): void {
    if (ev.t === "server" && ev.msg.t === "dm" && this.#dmSetup !== undefined) {
      // An ignored sender's message is dropped before any work: no lookup, no decrypt, no pin.
      if (!this.state.ignored.has(nameKey(ev.msg.from))) this.#incoming(ev.msg);
      return;
    }
    this.#transcript(ev);
    const before = this.state.room;
    this.state.apply(ev);
    if (ev.t === "server") {
      const m = ev.msg;
      // Replies that reach here answer no pending command (e.g. after a timeout): shown too.
      // The MOTD event right after welcome repeats what the welcome already showed.
      const repeat = m.t === "event" && m.kind === "motd" && m.text === this.#welcomeMotd;
      if (m.t === "event" && m.kind === "motd") this.#welcomeMotd = undefined;
      if (m.t !== "ping" && m.t !== "pong" && !repeat) this.#show(ev);
    } else {
      if (ev.t === "welcome") this.#welcomeMotd = ev.msg.server.motd;
      this.#show(ev);
    }
    if (ev.t === "failed") this.#failed++;
    if (ev.t === "welcome") {
      this.#welcomed = true;
      this.#seed();
    }
    if (ev.t === "status" && ev.state === "closed" && !this.#quitting) {
      this.#closedByPeer = true;
      this.#onClosed?.();
    }
    if (ev.t === "acked" || ev.t === "failed" || ev.t === "status") this.#onSettled?.();
    if (this.state.room !== before) this.#info(`now talking in ${this.state.room}`);
    this.#refresh();
  }

  /** Interactive only: quietly fetch the command list and the current room's names. */
  #seed(): void {
    const c = this.#client;
    if (c === undefined || !this.#welcomed || this.#seeded || !this.#view.interactive) return;
    this.#seeded = true;
    const room = this.state.room;
    c.command("help", [], true).then((r) => this.#harvest("help", [], r), () => {});
    c.command("who", [room], true).then((r) => this.#harvest("who", [room], r), () => {});
  }

  #harvest(name: string, args: string[], r: ReplyMessage | ErrorMessage): void {
    if (r.t !== "reply") return;
    if (name === "help") { for (const c of commandsInHelp(r)) this.state.commands.add(c); }
    if (name === "who") {
      const room = args[0] ?? this.state.room;
      for (const n of namesInData(r.data)) this.state.addName(room, n);
    }
    if (name === "rooms") { for (const n of namesInData(r.data)) this.state.addRoom(n); }
    this.#refresh();
  }

  async #command(name: string, args: string[]): Promise<ReplyMessage | ErrorMessage> {
    const c = this.#client!;
    let r: ReplyMessage | ErrorMessage;
    try {
      r = await c.command(name, args);
    } catch (e) {
      r = {
        t: "error",
        code: "failed",
        message: `/${name} failed: ${e instanceof Error ? e.message : String(e)}`,
      };
    }
    this.#harvest(name, args, r);
    return r;
  }

  async #perform(a: Action): Promise<void> {
    const c = this.#client!;
    const s = this.state;
    switch (a.kind) {
      case "none":
      case "quit":
        return;
      case "error":
        return this.#info(a.text, "error");
      case "say":
        c.say(s.room, a.text, a.me);
        return;
      case "clear":
        return this.#view.clear();
      case "help": {
        const r = await this.#command("help", []);
        this.#show({ t: "server", msg: r });
        return this.#info(LOCAL_HELP);
      }
      case "ignore":
        if (a.name === undefined) {
          const list = [...s.ignored].sort().join(", ");
          return this.#info(list === "" ? "you ignore nobody" : `you ignore: ${list}`);
        }
        s.ignored.add(nameKey(a.name));
        return this.#info(`ignoring ${a.name}`);
      case "unignore":
        if (!s.ignored.delete(nameKey(a.name))) {
          return this.#info(`you were not ignoring ${a.name}`, "error");
        }
        return this.#info(`no longer ignoring ${a.name}`);
      case "timestamp":
        if (a.on !== undefined) s.timestamps = a.on;
        return this.#info(`timestamps ${s.timestamps ? "on" : "off"}`);
      case "bell":
        if (a.mode !== undefined) s.bell = a.mode;
        return this.#info(`bell: ${s.bell}`);
      case "dm": {
        const svc = this.#dm;
        if (svc === undefined) return this.#info("private messages are not available yet", "error");
        const r = await this.#track(svc.send(a.to, a.text));
        if (r.ok) {
          const me = s.me !== "" ? s.me : c.name;
          this.#showDm({
            t: "dm",
            id: r.id,
            ts: r.ts,
            from: me,
            to: r.to,
            text: r.text,
            out: true,
          });
        } else {
          this.#failed++;
          this.#showDm({ t: "dm_failed", to: r.to, text: r.text, reason: r.reason });
        }
        return;
      }
      case "trust":
      case "verify": {
        const svc = this.#dm;
        if (svc === undefined) return this.#info("private messages are not available yet", "error");
        const r = await this.#track(a.kind === "trust" ? svc.trust(a.name) : svc.verify(a.name));
        return this.#info(r.text, r.ok ? "info" : "error");
      }
      case "join": {
        if (s.rooms.has(a.room)) {
          s.room = a.room;
          this.#refresh();
          return this.#info(`now talking in ${a.room}`);
        }
        const r = await this.#command("join", [a.room]);
        this.#show({ t: "server", msg: r });
        if (r.t === "reply") {
          s.enter(a.room);
          this.#refresh();
          this.#info(`now talking in ${a.room}`);
        }
        return;
      }
      case "command": {
        const r = await this.#command(a.name, a.args);
        this.#show({ t: "server", msg: r });
        if (r.t === "reply" && a.name === "leave" && a.args[0] !== undefined) {
          const was = s.room;
          s.exit(a.args[0]);
          if (s.room !== was) this.#info(`now talking in ${s.room}`);
          this.#refresh();
        }
        return;
      }
    }
  }

  /** Handles one input line; resolves when it is done, with true when the user quits. */
  async handleLine(line: string): Promise<boolean> {
    const a = parseInput(line, this.state.room, this.#dmSetup !== undefined);
    if (a.kind === "quit") return true;
    await this.#perform(a);
    return false;
  }

  /** Waits until nothing is pending, the connection is gone, or `ms` pass; true when drained. */
  #drain(ms: number): Promise<boolean> {
    const c = this.#client!;
    return new Promise((resolve) => {
      const check = () => {
        if (c.pendingCount() > 0 && !this.#closedByPeer) return;
        clearTimeout(timer);
        this.#onSettled = undefined;
        resolve(c.pendingCount() === 0);
      };
      const timer = setTimeout(() => {
        this.#onSettled = undefined;
        resolve(c.pendingCount() === 0);
      }, ms);
      this.#onSettled = check;
      check();
    });
  }

  /**
   * Reads input lines until the user quits, input ends or the connection closes for good; then
   * closes the connection and the view. In plain mode, commands run one after another and the
   * end waits (at most `drainMs`) for every message to be acknowledged or reported as failed.
   * Resolves with the exit code: 0, or 1 when the connection was closed by the other side or a
   * message was not delivered (plain mode).
   */
  async run(client: ChatClientLike): Promise<number> {
    this.#client = client;
    if (this.#dmSetup !== undefined) {
      this.#dm = new DmService({
        ...this.#dmSetup,
        transport: {
          get name() {
            return client.name;
          },
          command: (name, args, auto) => client.command(name, args, auto),
          sendDm: (to, envelope, id) =>
            client.sendDm?.(to, envelope, id) ??
              Promise.resolve({
                t: "error",
                id,
                code: "unsupported",
                message: "this connection cannot send private messages",
              }),
        },
      });
      this.#dmStart(this.#dm);
    }
    const interactive = this.#view.interactive;
    this.#seed();
    const closed = new Promise<"closed">((resolve) => {
      this.#onClosed = () => resolve("closed");
      if (this.#closedByPeer) resolve("closed");
    });
    let code = 0;
    try {
      const it = this.#view.lines()[Symbol.asyncIterator]();
      for (;;) {
        const r = await Promise.race([it.next(), closed]);
        if (r === "closed") {
          code = 1;
          break;
        }
        if (r.done) break;
        const a = parseInput(r.value, this.state.room, this.#dmSetup !== undefined);
        if (a.kind === "quit") break;
        const p = this.#perform(a);
        if (!interactive) await p;
        else {
          p.catch((e) => this.#info(e instanceof Error ? e.message : String(e), "error"));
        }
      }
      await this.#dmIdle(interactive ? Math.min(this.#drainMs, 1_000) : this.#drainMs);
      if (!this.#closedByPeer) {
        const drained = await this.#drain(
          interactive ? Math.min(this.#drainMs, 1_000) : this.#drainMs,
        );
        if (!drained) {
          this.#info(`${client.pendingCount()} message(s) not confirmed by the server`, "error");
        }
        if (!interactive && (!drained || this.#failed > 0)) code = 1;
      } else if (!interactive && this.#failed > 0) {
        code = 1;
      }
    } finally {
      this.#onClosed = undefined;
      if (!this.#closedByPeer) {
        this.#quitting = true;
        await client.close("quit").catch(() => {});
      }
      await this.#view.close();
      this.#log = undefined;
    }
    return code;
  }
}

/**
 * Runs a session with a fresh {@link App}: handles `opts.early` first, points `opts.events.push`
 * at the application, and resolves with the exit code of {@link App.run}.
 */
export function runApp(client: ChatClientLike, view: View, opts: AppOptions): Promise<number> {
  const app = new App(view, opts);
  for (const ev of opts.early?.splice(0) ?? []) app.onEvent(ev);
  if (opts.events !== undefined) opts.events.push = (ev) => app.onEvent(ev);
  return app.run(client);
}
