/**
 * The chat application between a connection and a view: feeds connection events to the state,
 * the transcript and the view, carries out what input lines ask for, and decides when the
 * session ends. The state lives in app_state.ts, input parsing in input.ts, window routing in
 * app_windows.ts, the receiving side of private messages in dm_inbox.ts, the sending side in
 * dm_outgoing.ts.
 * @module
 */

import { nameKey } from "../shared/names.ts";
import type { ErrorMessage, ReplyMessage } from "../shared/messages.ts";
import { AppState, commandsInHelp, namesInData } from "./app_state.ts";
import { WindowRouter } from "./app_windows.ts";
import { DmInbox } from "./dm_inbox.ts";
import { DmOutgoing } from "./dm_outgoing.ts";
import { DmService, type DmSetup } from "./dm.ts";
import { errorText } from "./errors.ts";
import { type Action, LOCAL_HELP, localHelp, NO_DM_TEXT } from "./input.ts";
import { NoticeFilter, OwnEchoes } from "./notices.ts";
import { AppSettings, memorySettings, type SettingsStore } from "./app_settings.ts";
import { Transcript } from "./transcript.ts";
import type { WindowList } from "./windows.ts";
import type {
  BellMode,
  ChatClientLike,
  ClientEvent,
  DmEvent,
  DmFailedEvent,
  View,
  ViewEvent,
  Where,
} from "./view.ts";

const DAY_MS = 86_400_000;

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
   * What keeps colours off in this run whatever the settings say (`--no-color`, `NO_COLOR`), for
   * `/set colors` to tell; undefined when nothing does.
   */
  noColor?: string;
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
  readonly #outgoing: DmOutgoing;
  readonly #router: WindowRouter;
  readonly #echoes = new OwnEchoes();

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
    this.#outgoing = new DmOutgoing({
      service: () => this.#dm!,
      track: (p) => this.#inbox.track(p),
      me: () => this.#me(),
      show: (ev) => this.#showDm(ev),
      failed: () => this.#failed++,
      info: (text, level) => this.#info(text, level),
    });
    this.#drainMs = opts.drainMs ?? 10_000;
    this.state = new AppState(opts.room, opts);
    this.#settings = new AppSettings({
      state: this.state,
      hostPort: opts.hostPort ?? opts.dm?.hostPort ?? "",
      remember: view.interactive,
      liveColors: view.liveColors === true,
      noColor: opts.noColor,
      command: (name, args, auto) =>
        this.#client === undefined
          ? Promise.resolve({ t: "error", code: "offline", message: "not connected yet" })
          : auto
          ? this.#client.command(name, args, true)
          : this.#command(name, args),
      pinned: (name) => opts.dm?.knownUsers.lookup(opts.dm.hostPort, name),
      info: (text, level, where) => this.#info(text, level, where),
    }, opts.settings ?? memorySettings(opts));
    this.#router = new WindowRouter({
      windows: opts.windows,
      state: this.state,
      dm: opts.dm !== undefined,
      client: () => this.#client,
      me: () => this.#me(),
      info: (text, level) => this.#info(text, level),
      switched: () => this.#view.setCompletions(this.state.completions()),
      leave: (room) => this.#perform({ kind: "command", name: "leave", args: [room] }),
    });
    view.setRoom(this.state.room, false);
    view.setCompletions(this.state.completions());
  }

  #show(ev: ViewEvent): void {
    this.#view.show(ev, this.state.renderState());
  }

  #info(text: string, level: "info" | "error" = "info", where?: Where): void {
    this.#show(
      where === undefined ? { t: "local", level, text } : { t: "local", level, text, where },
    );
  }

  /** Shows a command's reply or error where it belongs (`where`: see {@link Where}). */
  #answer(msg: ReplyMessage | ErrorMessage, where: Where | undefined): void {
    this.#show(where === undefined ? { t: "server", msg } : { t: "server", msg, where });
  }

  #refresh(): void {
    this.#settings.trackRooms();
    this.#router.sync(this.#welcomed);
    this.#view.setRoom(this.state.room, this.#client?.isPrivate?.(this.state.room) === true);
    this.#view.setCompletions(this.state.completions());
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
        ((m.kind === "motd" && m.text === this.#welcomeMotd) || !this.#notices.show(m) ||
          this.#echoes.isEcho(m, Date.now()));
      if (m.t === "event" && m.kind === "motd") this.#welcomeMotd = undefined;
      if (m.t !== "ping" && m.t !== "pong" && !repeat) this.#show(this.#router.placeNotice(ev, m));
    } else {
      if (ev.t === "welcome") this.#welcomeMotd = ev.msg.server.motd;
      this.#show(ev);
    }
    if (ev.t === "failed") this.#failed++;
    if (ev.t === "status") this.#outgoing.status(ev.state, this.#dm !== undefined);
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
    if (this.state.room !== before && this.#router.windows === undefined) {
      this.#info(`now talking in ${this.state.room}`);
    }
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
    if (name === "nick") this.#renamed(r);
    this.#refresh();
  }

  /** The reply to the user's `/nick NEW`: the user is NEW now (also when no event says so). */
  #renamed(r: ReplyMessage): void {
    const d = r.data as { name?: unknown; old?: unknown } | undefined;
    if (typeof d?.name !== "string" || typeof d.old !== "string") return;
    if (nameKey(this.state.me) === nameKey(d.old)) this.state.me = d.name;
  }

  async #command(name: string, args: string[]): Promise<ReplyMessage | ErrorMessage> {
    const c = this.#client!;
    // To a person, the reply says what the command did: its own event (join, nick, …) is not
    // shown too. Scripts (plain and JSON lines) get every event.
    const echo = this.#view.interactive ? this.#echoes.expect(name, args, this.#me()) : -1;
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
    this.#echoes.settled(echo, r.t === "reply", Date.now());
    this.#harvest(name, args, r);
    return r;
  }

  /**
   * Carries out `a`, typed `where` (see {@link Where}): its answers are shown there, the answer
   * to a `/join` in the room joined.
   */
  async #perform(a: Action, where?: Where): Promise<void> {
    const c = this.#client!;
    const s = this.state;
    const info = (text: string, level: "info" | "error" = "info") => this.#info(text, level, where);
    switch (a.kind) {
      case "none":
      case "quit":
        return;
      case "error":
        return info(a.text, "error");
      case "say":
        c.say(s.room, a.text, a.me);
        return;
      case "win":
      case "query":
      case "close":
        return this.#router.perform(a);
      case "clear":
        return this.#view.clear();
      case "reconnect":
        return c.reconnectNow?.()
          ? info("reconnecting now")
          : info("not waiting to reconnect (connected, or connecting now)", "error");
      case "help": {
        if (a.topic !== undefined) {
          const local = localHelp(a.topic);
          if (local !== undefined) return info(local);
          const r = await this.#command("help", [a.topic]);
          if (r.t === "error" && r.code === "unknown_command") {
            return info(`there is no command /${a.topic}; /help lists them all`, "error");
          }
          return this.#answer(r, where);
        }
        const r = await this.#command("help", []);
        this.#answer(r, where);
        return info(LOCAL_HELP);
      }
      case "set":
      case "ignore":
      case "unignore":
      case "timestamp":
      case "bell":
        await this.#settings.perform(a, info);
        return;
      case "dm":
        if (this.#dm === undefined) return info(NO_DM_TEXT, "error");
        return this.#outgoing.submit(a.to, a.text);
      case "trust":
      case "verify": {
        const svc = this.#dm;
        if (svc === undefined) return info(NO_DM_TEXT, "error");
        const r = await this.#inbox.track(
          a.kind === "trust" ? svc.trust(a.name) : svc.verify(a.name),
        );
        return info(r.text, r.ok ? "info" : "error");
      }
      case "join": {
        if (s.rooms.has(a.room) && a.private !== true) {
          s.room = a.room;
          this.#refresh();
          if (this.#router.focusRoom(a.room)) return;
          return info(`now talking in ${a.room}`);
        }
        const r = await this.#command("join", a.private ? [a.room, "--private"] : [a.room]);
        // The answer of a join goes to the room's window (shown next), an error where typed.
        this.#answer(r, r.t === "reply" ? a.room : where);
        if (r.t === "reply") {
          s.enter(a.room);
          this.#refresh();
          if (!this.#router.focusRoom(a.room)) info(`now talking in ${a.room}`);
        }
        return;
      }
      case "command": {
        const r = await this.#command(a.name, a.args);
        if (r.t === "error" && r.code === "unknown_command" && this.#view.interactive) {
          // Said as /help NAME says it (scripts keep the server's error and its code).
          return info(`there is no command /${a.name}; /help lists them all`, "error");
        }
        this.#answer(r, where);
        if (r.t === "reply" && a.name === "leave" && a.args[0] !== undefined) {
          const was = s.room;
          s.exit(a.args[0]);
          if (s.room !== was && this.#router.windows === undefined) {
            info(`now talking in ${s.room}`);
          }
          this.#refresh();
        }
        return;
      }
    }
  }

  /** Handles one input line; resolves when it is done, with true when the user quits. */
  async handleLine(line: string): Promise<boolean> {
    const where = this.#typedIn();
    const a = this.#router.parse(line);
    if (a.kind === "quit") return true;
    await this.#perform(a, where);
    return false;
  }

  /** Where the line just read was typed: the view knows, else the window shown, if any. */
  #typedIn(): Where | undefined {
    return this.#view.typedIn?.() ?? this.#router.typedIn();
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
        const where = this.#typedIn();
        const a = this.#router.parse(r.value);
        if (a.kind === "quit") break;
        const p = this.#perform(a, where);
        if (!interactive) await p;
        else {
          p.catch((e) => this.#info(errorText(e), "error", where));
        }
      }
      if (this.#outgoing.held > 0 && !this.#closedByPeer) {
        // Plain mode at the end of input: give the connection the drain time to come back.
        const end = Date.now() + (interactive ? Math.min(this.#drainMs, 1_000) : this.#drainMs);
        while (this.#outgoing.busy && Date.now() < end) {
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      this.#outgoing.failHeld("not sent: the connection did not come back in time");
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
