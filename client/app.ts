/**
 * The chat application between a connection and a view: feeds connection events to the state,
 * the transcript and the view, carries out what input lines ask for, and decides when the
 * session ends. The state lives in app_state.ts, input parsing in input.ts, the receiving side of
 * private messages in dm_inbox.ts.
 * @module
 */

import { nameKey } from "../shared/names.ts";
import type { ErrorMessage, ReplyMessage, ServerMessage } from "../shared/messages.ts";
import { AppState, commandsInHelp, namesInData } from "./app_state.ts";
import { DmInbox } from "./dm_inbox.ts";
import { DmService, type DmSetup } from "./dm.ts";
import { errorText } from "./errors.ts";
import { type Action, LOCAL_HELP, localHelp, NO_DM_TEXT, parseInput } from "./input.ts";
import { NoticeFilter } from "./notices.ts";
import { AppSettings, memorySettings, type SettingsStore } from "./app_settings.ts";
import { Transcript } from "./transcript.ts";
import type { ChatWindow, WindowList } from "./windows.ts";
import type {
  BellMode,
  ChatClientLike,
  ClientEvent,
  DmEvent,
  DmFailedEvent,
  View,
  ViewEvent,
} from "./view.ts";

const DAY_MS = 86_400_000;

/** Private messages held while offline, at most. */
export const DM_QUEUE_MAX = 50;

/** Messages asked for per page of older history (scrolling past the top of a room's window). */
export const HISTORY_PAGE = 50;

/** What the status window says when the user is in no room. */
export const NO_ROOM_HINT =
  "you are in no room: /join #room to talk, /query NAME for a private conversation, /help for more";

/** What plain text typed in the status window gets. */
export const STATUS_WINDOW_HINT =
  "this is the status window: /join #room or /win N (Alt+N) to talk in a room, /query NAME";

/** What /win, /query and /close answer outside the interactive terminal. */
export const NO_WINDOWS_TEXT = "windows exist only in the interactive terminal";

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
  /** The interactive view's windows (the view draws them, the application opens and closes). */
  windows?: WindowList;
  /** The settings (default: in memory only, from `timestamps` and `bell`). */
  settings?: SettingsStore;
  /** The server as `host:port`, which per-server settings belong to (default `dm.hostPort`). */
  hostPort?: string;
}

/** Drives one chat session: feed it connection events with `onEvent`, then `run` it. */
export class App {
  /** The client-side state. */
  readonly state: AppState;
  readonly #settings: AppSettings;
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
  readonly #transcript: Transcript;
  readonly #dmSetup: DmSetup | undefined;
  #dm: DmService | undefined;
  #dmStart: (svc: DmService) => void = () => {};
  readonly #inbox: DmInbox;
  readonly #notices = new NoticeFilter();
  /** The connection is down (lost, reconnecting): private messages are held. */
  #offline = false;
  /** Private messages typed while offline, sent in order once connected again. */
  readonly #dmQueue: { to: string; text: string }[] = [];
  #flushing = false;
  readonly #windows: WindowList | undefined;
  /** The rooms joined as last seen: a room missing now was left and its window closes. */
  #joined = new Set<string>();
  /** The window of the start room was shown once. */
  #startShown = false;

  /** An application showing on `view`. */
  constructor(view: View, opts: AppOptions) {
    this.#view = view;
    this.#dmSetup = opts.dm;
    const dmReady = new Promise<DmService>((resolve) => this.#dmStart = resolve);
    this.#transcript = new Transcript(opts.log, (text) => this.#info(text, "error"));
    this.#inbox = new DmInbox({
      open: (d) => dmReady.then((svc) => svc.open(d)),
      isIgnored: (name) => this.state.ignored.has(nameKey(name)),
      me: () => this.#me(),
      show: (ev) => this.#showDm(ev),
      record: (rec) => this.#transcript.record(rec),
      error: (text) => this.#info(text, "error"),
      ack: (q) => this.#client?.ackDms?.([q]),
    });
    this.#drainMs = opts.drainMs ?? 10_000;
    this.state = new AppState(opts.room, opts);
    this.#settings = new AppSettings({
      state: this.state,
      hostPort: opts.hostPort ?? opts.dm?.hostPort ?? "",
      remember: view.interactive,
      command: (name, args, auto) =>
        this.#client === undefined
          ? Promise.resolve({ t: "error", code: "offline", message: "not connected yet" })
          : auto
          ? this.#client.command(name, args, true)
          : this.#command(name, args),
      pinned: (name) => opts.dm?.knownUsers.lookup(opts.dm.hostPort, name),
      info: (text, level) => this.#info(text, level),
    }, opts.settings ?? memorySettings(opts));
    this.#windows = opts.windows;
    if (this.#windows !== undefined) {
      const wl = this.#windows;
      wl.onSwitch = () => {
        const w = wl.current;
        if (w.kind === "room") this.state.room = w.name;
        this.#view.setCompletions(this.state.completions());
      };
      wl.onNeedHistory = (w) => this.#olderHistory(w);
    }
    view.setRoom(this.state.room, false);
    view.setCompletions(this.state.completions());
  }

  #show(ev: ViewEvent): void {
    this.#view.show(ev, this.state.renderState());
  }

  #info(text: string, level: "info" | "error" = "info"): void {
    this.#show({ t: "local", level, text });
  }

  #refresh(): void {
    this.#settings.trackRooms();
    this.#syncWindows();
    this.#view.setRoom(this.state.room, this.#client?.isPrivate?.(this.state.room) === true);
    this.#view.setCompletions(this.state.completions());
  }

  /**
   * Windows follow the rooms: a room joined gets a window, a room left loses its own (leaving
   * the last one shows the status window with a hint).
   */
  #syncWindows(): void {
    const wl = this.#windows;
    if (wl === undefined) return;
    const s = this.state;
    const left = [...this.#joined].filter((r) => !s.rooms.has(r));
    this.#joined = new Set(s.rooms);
    const closed = wl.syncRooms(s.rooms, left);
    for (const w of wl.all) {
      if (w.kind === "room") w.badge = this.#client?.isPrivate?.(w.name) === true ? "[e2e]" : "";
    }
    if (!this.#startShown && this.#welcomed) {
      this.#startShown = true;
      const start = wl.room(s.room);
      if (start !== undefined) wl.focus(start);
    }
    if (closed && s.rooms.size === 0 && wl.current === wl.status) this.#info(NO_ROOM_HINT);
  }

  /** Asks the server, as an automatic request, for the page of history before `w`'s oldest. */
  #olderHistory(w: ChatWindow): void {
    const c = this.#client;
    if (c === undefined || w.kind !== "room" || w.fetching || w.historyDone) return;
    w.fetching = true;
    const oldest = w.scrollback.oldestSeq;
    const args = [w.name, String(HISTORY_PAGE), ...(oldest === undefined ? [] : [String(oldest)])];
    c.command("history", args, true).then((r) => {
      w.fetching = false;
      if (r.t === "error") {
        if (r.code !== "rate_limited") w.historyDone = true;
        return;
      }
      const d = r.data as { shown?: unknown; wanted?: unknown } | undefined;
      if (typeof d?.wanted === "number" && d.wanted < HISTORY_PAGE) w.historyDone = true;
      if (oldest === undefined || d?.shown === 0) w.historyDone = true;
    }, () => {
      w.fetching = false;
    });
  }

  /** The user's name: from the welcome, else the connection's. */
  #me(): string {
    return this.state.me !== "" ? this.state.me : this.#client?.name ?? "";
  }

  /** Shows a private-message event and writes it to the transcript. */
  #showDm(ev: DmEvent | DmFailedEvent): void {
    this.#transcript.dm(ev);
    this.#show(ev);
  }

  /** Handles one event from the connection: update the state, then show it. */
  onEvent(ev: ClientEvent): void {
    if (ev.t === "server" && ev.msg.t === "dm" && this.#dmSetup !== undefined) {
      this.#inbox.receive(ev.msg);
      return;
    }
    this.#transcript.event(ev);
    const before = this.state.room;
    this.state.apply(ev);
    this.#settings.observe(ev);
    if (ev.t === "server") {
      const m = ev.msg;
      // Replies that reach here answer no pending command (e.g. after a timeout): shown too.
      // The MOTD event right after welcome repeats what the welcome already showed.
      const repeat = m.t === "event" &&
        ((m.kind === "motd" && m.text === this.#welcomeMotd) || !this.#notices.show(m));
      if (m.t === "event" && m.kind === "motd") this.#welcomeMotd = undefined;
      if (m.t !== "ping" && m.t !== "pong" && !repeat) this.#show(this.#placeNotice(ev, m));
    } else {
      if (ev.t === "welcome") this.#welcomeMotd = ev.msg.server.motd;
      this.#show(ev);
    }
    if (ev.t === "failed") this.#failed++;
    if (ev.t === "status") {
      this.#offline = ev.state === "lost" || ev.state === "reconnecting";
      if (ev.state === "connected" && this.#dm !== undefined) {
        this.#flushDms().catch((e) => this.#info(errorText(e), "error"));
      }
      if (ev.state === "closed") this.#failHeldDms("the connection did not come back");
    }
    if (ev.t === "welcome") {
      const days = ev.msg.limits.dmQueueDays;
      // Ids are remembered as long as this server may keep a message queued, and 2 days more.
      if (days !== undefined && days > 0) this.#dmSetup?.seen?.keepAtLeast((days + 2) * DAY_MS);
      this.#welcomed = true;
      this.#seed();
    }
    if (ev.t === "status" && ev.state === "closed" && !this.#quitting) {
      this.#closedByPeer = true;
      this.#onClosed?.();
    }
    if (ev.t === "acked" || ev.t === "failed" || ev.t === "status") this.#onSettled?.();
    if (this.state.room !== before && this.#windows === undefined) {
      this.#info(`now talking in ${this.state.room}`);
    }
    this.#refresh();
  }

  /**
   * A user's away, back or nick change (no room; older servers tag it with a shared room) is
   * shown in the window shown when that user is in its room, else in its room or the current
   * window. A nick change renames the conversation with that user.
   */
  #placeNotice(ev: ClientEvent, m: ServerMessage): ClientEvent {
    const wl = this.#windows;
    if (wl === undefined || m.t !== "event" || m.name === undefined) return ev;
    if (m.kind === "nick" && m.old !== undefined) {
      const q = wl.query(m.old);
      if (q !== undefined && wl.query(m.name) === undefined) q.name = m.name;
    }
    if (m.kind !== "away" && m.kind !== "back" && m.kind !== "nick") return ev;
    const cur = wl.current;
    if (cur.kind === "query" && nameKey(cur.name) === nameKey(m.name)) {
      return { t: "server", msg: { ...m, room: undefined } };
    }
    if (cur.kind !== "room" || cur.name === m.room) return ev;
    const here = this.state.namesIn(cur.name).some((n) => nameKey(n) === nameKey(m.name!));
    return here ? { t: "server", msg: { ...m, room: cur.name } } : ev;
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
        message: `/${name} failed: ${errorText(e)}`,
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
      case "win": {
        const wl = this.#windows;
        if (wl === undefined) return this.#info(NO_WINDOWS_TEXT, "error");
        const w = wl.find(a.spec);
        if (w === undefined) return this.#info(`there is no window ${a.spec}`, "error");
        return wl.focus(w);
      }
      case "query": {
        const wl = this.#windows;
        if (wl === undefined) return this.#info(NO_WINDOWS_TEXT, "error");
        if (this.#dmSetup === undefined) return this.#info(NO_DM_TEXT, "error");
        const w = wl.openQuery(a.name);
        if (w === undefined) return this.#info("too many windows: /close some first", "error");
        wl.focus(w);
        return this.#info(`private conversation with ${a.name}: what you type here goes to them`);
      }
      case "close": {
        const wl = this.#windows;
        if (wl === undefined) return this.#info(NO_WINDOWS_TEXT, "error");
        const w = wl.current;
        if (w.kind === "status") return this.#info("the status window stays open", "error");
        if (w.kind === "query") return wl.close(w);
        return this.#perform({ kind: "command", name: "leave", args: [w.name] });
      }
      case "clear":
        return this.#view.clear();
      case "reconnect":
        return c.reconnectNow?.()
          ? this.#info("reconnecting now")
          : this.#info("not waiting to reconnect (connected, or connecting now)", "error");
      case "help": {
        if (a.topic !== undefined) {
          const local = localHelp(a.topic);
          if (local !== undefined) return this.#info(local);
          const r = await this.#command("help", [a.topic]);
          if (r.t === "error" && r.code === "unknown_command") {
            return this.#info(`there is no command /${a.topic}; /help lists them all`, "error");
          }
          return this.#show({ t: "server", msg: r });
        }
        const r = await this.#command("help", []);
        this.#show({ t: "server", msg: r });
        return this.#info(LOCAL_HELP);
      }
      case "set":
      case "ignore":
      case "unignore":
      case "timestamp":
      case "bell":
        await this.#settings.perform(a);
        return;
      case "dm": {
        if (this.#dm === undefined) return this.#info(NO_DM_TEXT, "error");
        if (!this.#offline) return this.#sendDm(a.to, a.text);
        if (this.#dmQueue.length >= DM_QUEUE_MAX) {
          this.#failed++;
          return this.#showDm({
            t: "dm_failed",
            to: a.to,
            text: a.text,
            reason: `offline, and ${DM_QUEUE_MAX} private messages are already waiting`,
          });
        }
        this.#dmQueue.push({ to: a.to, text: a.text });
        return this.#info(`private message to ${a.to} held: sent when the connection is back`);
      }
      case "trust":
      case "verify": {
        const svc = this.#dm;
        if (svc === undefined) return this.#info(NO_DM_TEXT, "error");
        const r = await this.#inbox.track(
          a.kind === "trust" ? svc.trust(a.name) : svc.verify(a.name),
        );
        return this.#info(r.text, r.ok ? "info" : "error");
      }
      case "join": {
        if (s.rooms.has(a.room) && a.private !== true) {
          s.room = a.room;
          this.#refresh();
          const w = this.#windows?.room(a.room);
          if (w !== undefined) return this.#windows!.focus(w);
          return this.#info(`now talking in ${a.room}`);
        }
        const r = await this.#command("join", a.private ? [a.room, "--private"] : [a.room]);
        this.#show({ t: "server", msg: r });
        if (r.t === "reply") {
          s.enter(a.room);
          this.#refresh();
          const w = this.#windows?.room(a.room);
          if (w !== undefined) this.#windows!.focus(w);
          else this.#info(`now talking in ${a.room}`);
        }
        return;
      }
      case "command": {
        const r = await this.#command(a.name, a.args);
        this.#show({ t: "server", msg: r });
        if (r.t === "reply" && a.name === "leave" && a.args[0] !== undefined) {
          const was = s.room;
          s.exit(a.args[0]);
          if (s.room !== was && this.#windows === undefined) this.#info(`now talking in ${s.room}`);
          this.#refresh();
        }
        return;
      }
    }
  }

  /** Seals and sends one private message, then shows it or its failure. */
  async #sendDm(to: string, text: string): Promise<void> {
    const r = await this.#inbox.track(this.#dm!.send(to, text));
    if (r.ok) {
      this.#showDm({
        t: "dm",
        id: r.id,
        ts: r.ts,
        from: this.#me(),
        to: r.to,
        text: r.text,
        out: true,
        ...(r.queued ? { queued: true } : {}),
      });
    } else {
      this.#failed++;
      this.#showDm({ t: "dm_failed", to: r.to, text: r.text, reason: r.reason });
    }
  }

  /** Sends the private messages held while offline, in order, until offline again. */
  async #flushDms(): Promise<void> {
    if (this.#flushing) return;
    this.#flushing = true;
    try {
      while (!this.#offline && this.#dmQueue.length > 0) {
        const m = this.#dmQueue.shift()!;
        await this.#sendDm(m.to, m.text);
      }
    } finally {
      this.#flushing = false;
    }
  }

  /** Reports the private messages still held as not delivered. */
  #failHeldDms(why: string): void {
    for (const m of this.#dmQueue.splice(0)) {
      this.#failed++;
      this.#showDm({ t: "dm_failed", to: m.to, text: m.text, reason: why });
    }
  }

  /**
   * What `line` asks for, typed in the window shown: plain text goes to its room or, in a
   * conversation, to the other person; the status window takes only commands.
   */
  #parse(line: string): Action {
    const w = this.#windows?.current;
    const room = w === undefined || w.kind === "room" ? this.state.room : "";
    const a = parseInput(line, room, this.#dmSetup !== undefined);
    if (w === undefined || a.kind !== "say" || w.kind === "room") return a;
    if (w.kind === "status") return { kind: "error", text: STATUS_WINDOW_HINT };
    if (this.#dmSetup === undefined) return { kind: "error", text: NO_DM_TEXT };
    return { kind: "dm", to: w.name, text: a.me ? `* ${this.#me()} ${a.text}` : a.text };
  }

  /** Handles one input line; resolves when it is done, with true when the user quits. */
  async handleLine(line: string): Promise<boolean> {
    const a = this.#parse(line);
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
        const a = this.#parse(r.value);
        if (a.kind === "quit") break;
        const p = this.#perform(a);
        if (!interactive) await p;
        else {
          p.catch((e) => this.#info(errorText(e), "error"));
        }
      }
      if (this.#dmQueue.length > 0 && !this.#closedByPeer) {
        // Plain mode at the end of input: give the connection the drain time to come back.
        const end = Date.now() + (interactive ? Math.min(this.#drainMs, 1_000) : this.#drainMs);
        while ((this.#dmQueue.length > 0 || this.#flushing) && Date.now() < end) {
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      this.#failHeldDms("not sent: the connection did not come back in time");
      await this.#inbox.idle(interactive ? Math.min(this.#drainMs, 1_000) : this.#drainMs);
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
      this.#transcript.detach();
      await this.#settings.idle();
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
