/**
 * The windows of the interactive client: a status window (always number 1) for server notices
 * and local messages, one window per joined room and one per private conversation, each with its
 * own bounded scrollback, scroll position, unread count, activity level (the hotlist) and unread
 * marker; which window an event belongs to; switching and closing. Pure: the terminal view draws
 * it, the application opens and closes windows as rooms are joined and left.
 * @module
 */

import { nameKey } from "../shared/names.ts";
import { isHidden, isMention } from "./render.ts";
import { Scrollback } from "./scrollback.ts";
import type { RenderState, ViewEvent, Where } from "./view.ts";

/** What a window shows: the status window, a room, or a private conversation with a name. */
export type WindowKind = "status" | "room" | "query";

/**
 * How much happened in a window while it was not shown: nothing, events (joins, leaves),
 * messages, or a mention of the user / a private message (the hotlist's highlight).
 */
export const Level = { None: 0, Activity: 1, Message: 2, Highlight: 3 } as const;
/** One of the {@link Level} values. */
export type Level = typeof Level[keyof typeof Level];

/** Most windows open at once (the status window included). */
export const MAX_WINDOWS = 64;

/** One window. */
export class ChatWindow {
  /** Status, room or conversation. */
  readonly kind: WindowKind;
  /** Room name (with `#`), the other person's name, or "status". */
  name: string;
  /** The lines shown in the window. */
  readonly scrollback: Scrollback;
  /** Messages that arrived while the window was not shown. */
  unread = 0;
  /** The highest {@link Level} reached while the window was not shown. */
  level: Level = Level.None;
  /**
   * The unread marker: drawn above the line with this arrival number, the first line that
   * counted (someone else's message or event) since the user last left the window; -1: no
   * marker (nothing came, or the window was never left). Own lines never set it.
   */
  newFrom = -1;
  /** The user has left this window at least once (its marker is tracked from then on). */
  left = false;
  /** Rows scrolled up from the bottom (0: following new lines). */
  scroll = 0;
  /** A short mark shown after the name in the status line (a private room, say); "" for none. */
  badge = "";
  /** Older history is being fetched for this window. */
  fetching = false;
  /** The server has no older history for this window (or the scrollback holds no more). */
  historyDone = false;
  /** State the input line keeps per window (its draft, its history position). */
  input: unknown = undefined;

  /** A window of `kind` named `name` with a scrollback of the given bounds. */
  constructor(kind: WindowKind, name: string, maxLines?: number, maxChars?: number) {
    this.kind = kind;
    this.name = name;
    this.scrollback = new Scrollback(maxLines, maxChars);
  }
}

/** One entry of the hotlist / status line. */
export interface WindowInfo {
  /** The window's number (1 is the status window). */
  n: number;
  /** Its name. */
  name: string;
  /** Its kind. */
  kind: WindowKind;
  /** Unread messages. */
  unread: number;
  /** Activity level while not shown. */
  level: Level;
  /** True for the window shown. */
  current: boolean;
  /** Its badge ("" for none). */
  badge: string;
}

/** Settings for {@link WindowList}. */
export interface WindowListOptions {
  /** Lines kept per window. */
  maxLines?: number;
  /** Characters kept per window. */
  maxChars?: number;
  /** Windows open at most (default {@link MAX_WINDOWS}). */
  maxWindows?: number;
}

/** The user's name and what hides a message, as the routing needs them. */
export type RouteState = Pick<RenderState, "me" | "ignored">;

/** The windows, in order; the first is the status window. */
export class WindowList {
  readonly #list: ChatWindow[];
  readonly #opts: WindowListOptions;
  readonly #max: number;
  #current: ChatWindow;
  /** The window shown before the current one. */
  #previous: ChatWindow | undefined;
  /** Called after anything shown changed (lines, switch, hotlist). */
  onChange: () => void = () => {};
  /** Called after the current window changed. */
  onSwitch: () => void = () => {};
  /** Called when the user scrolls past the top of `w`: older history is wanted. */
  onNeedHistory: (w: ChatWindow) => void = () => {};

  /** A list holding only the status window. */
  constructor(opts: WindowListOptions = {}) {
    this.#opts = opts;
    this.#max = Math.max(1, opts.maxWindows ?? MAX_WINDOWS);
    const status = new ChatWindow("status", "status", opts.maxLines, opts.maxChars);
    this.#list = [status];
    this.#current = status;
  }

  /** Every window, in order (number = index + 1). */
  get all(): readonly ChatWindow[] {
    return this.#list;
  }

  /** The status window. */
  get status(): ChatWindow {
    return this.#list[0];
  }

  /** The window shown. */
  get current(): ChatWindow {
    return this.#current;
  }

  /** The number of `w` (1-based), or 0 when it is not open. */
  numberOf(w: ChatWindow): number {
    return this.#list.indexOf(w) + 1;
  }

  /** The window of `room`, if open. */
  room(room: string): ChatWindow | undefined {
    return this.#list.find((w) => w.kind === "room" && w.name === room);
  }

  /** The conversation with `name` (ASCII case ignored), if open. */
  query(name: string): ChatWindow | undefined {
    const key = nameKey(name);
    return this.#list.find((w) => w.kind === "query" && nameKey(w.name) === key);
  }

  #open(kind: "room" | "query", name: string): ChatWindow | undefined {
    const found = kind === "room" ? this.room(name) : this.query(name);
    if (found !== undefined) return found;
    if (this.#list.length >= this.#max) return undefined;
    const w = new ChatWindow(kind, name, this.#opts.maxLines, this.#opts.maxChars);
    this.#list.push(w);
    this.onChange();
    return w;
  }

  /** Opens the window of `room` (or finds it); undefined when {@link MAX_WINDOWS} are open. */
  openRoom(room: string): ChatWindow | undefined {
    return this.#open("room", room);
  }

  /** Opens the conversation with `name` (or finds it); undefined when too many are open. */
  openQuery(name: string): ChatWindow | undefined {
    return this.#open("query", name);
  }

  /**
   * Shows `w`: the window left starts looking for its next unread marker; `w` is read, and
   * keeps the marker above what came while it was not shown.
   */
  focus(w: ChatWindow): void {
    if (w === this.#current || !this.#list.includes(w)) return;
    this.#leave(this.#current);
    this.#previous = this.#current;
    this.#current = w;
    w.unread = 0;
    w.level = Level.None;
    this.onSwitch();
    this.onChange();
  }

  /** `w` is no longer shown: its old marker goes, lines that count from now on place a new one. */
  #leave(w: ChatWindow): void {
    w.newFrom = -1;
    w.left = true;
    w.scroll = 0;
  }

  /** Shows window number `n` (1-based); false when there is none. */
  focusNumber(n: number): boolean {
    const w = this.#list[n - 1];
    if (w === undefined) return false;
    this.focus(w);
    return true;
  }

  /** Shows the window `steps` after the current one (negative: before), wrapping around. */
  cycle(steps: number): void {
    const n = this.#list.length;
    const i = this.#list.indexOf(this.#current);
    this.focus(this.#list[(((i + steps) % n) + n) % n]);
  }

  /**
   * Finds a window by what the user typed: its number, a room name (`#dev`), a conversation's
   * name, or "status".
   */
  find(spec: string): ChatWindow | undefined {
    if (/^\d{1,3}$/.test(spec)) return this.#list[Number(spec) - 1];
    if (spec === "status") return this.status;
    if (spec.startsWith("#")) return this.room(spec);
    return this.query(spec) ?? this.room(`#${spec}`);
  }

  /**
   * Closes `w` (never the status window). When it was shown, the window shown before it is
   * shown again, else the one that takes its number, else the one before it.
   */
  close(w: ChatWindow): void {
    const i = this.#list.indexOf(w);
    if (i <= 0) return;
    this.#list.splice(i, 1);
    if (this.#previous === w) this.#previous = undefined;
    if (this.#current === w) {
      const back = this.#previous;
      this.#previous = undefined;
      this.#current = back !== undefined && this.#list.includes(back)
        ? back
        : this.#list[i] ?? this.#list[i - 1];
      this.#current.unread = 0;
      this.#current.level = Level.None;
      this.onSwitch();
    }
    this.onChange();
  }

  /**
   * Makes the room windows follow the rooms: closes the windows of the rooms `left`, opens the
   * missing windows of the rooms `joined` (not shown). True when a window was closed.
   */
  syncRooms(joined: Iterable<string>, left: Iterable<string> = []): boolean {
    let closed = false;
    for (const r of left) {
      const w = this.room(r);
      if (w !== undefined) {
        this.close(w);
        closed = true;
      }
    }
    for (const r of joined) this.openRoom(r);
    return closed;
  }

  /** The hotlist entries of every window, in order. */
  infos(): WindowInfo[] {
    return this.#list.map((w, i) => ({
      n: i + 1,
      name: w.name,
      kind: w.kind,
      unread: w.unread,
      level: w.level,
      current: w === this.#current,
      badge: w.badge,
    }));
  }

  /**
   * The open window `where` names (`#room`, `@name`, "" for the status window); undefined for
   * none (`where` undefined, or a window since closed).
   */
  at(where: Where | undefined): ChatWindow | undefined {
    if (where === undefined) return undefined;
    if (where === "") return this.status;
    if (where.startsWith("#")) return this.room(where);
    return where.startsWith("@") ? this.query(where.slice(1)) : undefined;
  }

  /** Where `w` is, as {@link at} takes it. */
  static whereOf(w: ChatWindow): Where {
    return w.kind === "status" ? "" : w.kind === "room" ? w.name : `@${w.name}`;
  }

  /**
   * The window an event belongs in: room messages and room events in the room's window (the
   * status window when it is not open), private messages in the conversation with the other
   * person (opened for it), connection and server notices in the status window, command
   * answers and local messages in the window they name (`where`: the one the command was typed
   * in, or the room it joined) while it is open, else in the window shown.
   */
  route(ev: ViewEvent, state: RouteState): ChatWindow {
    const roomOr = (room: string | undefined, other: ChatWindow) =>
      room === undefined ? other : this.room(room) ?? this.status;
    switch (ev.t) {
      case "server": {
        const m = ev.msg;
        if (m.t === "msg") return this.openRoom(m.room) ?? this.status;
        if (m.t === "event") {
          const aboutMe = state.me !== "" && nameKey(m.name ?? "") === nameKey(state.me);
          const gone = m.kind === "leave" || m.kind === "kick" || m.kind === "ban";
          if (aboutMe && gone) return this.status;
          if (aboutMe && m.kind === "join" && m.room !== undefined) {
            return this.openRoom(m.room) ?? this.status;
          }
          if (
            m.room === undefined && (m.kind === "away" || m.kind === "back" || m.kind === "nick")
          ) {
            return this.#current;
          }
          return roomOr(m.room, this.status);
        }
        if (m.t === "welcome" || m.t === "bye" || m.t === "dm") return this.status;
        return this.at(ev.where) ?? this.#current;
      }
      case "welcome":
      case "status":
        return this.status;
      case "pending":
      case "failed":
        return this.room(ev.room) ?? this.#current;
      case "acked":
        return this.#current;
      case "local":
        return this.at(ev.where) ?? this.#current;
      case "dm":
        return this.openQuery(ev.out ? ev.to : ev.from) ?? this.status;
      case "dm_failed":
        return this.query(ev.to) ?? this.#current;
    }
  }

  /** How much an event in a window not shown counts for the hotlist. */
  static levelOf(ev: ViewEvent, state: RouteState): Level {
    if (isHidden(ev, state)) return Level.None;
    if (ev.t === "dm") return ev.out ? Level.None : Level.Highlight;
    if (ev.t === "failed" || ev.t === "dm_failed") return Level.Highlight;
    if (ev.t !== "server") return ev.t === "status" ? Level.Activity : Level.None;
    const m = ev.msg;
    if (m.t === "msg") {
      if (m.replay === true || nameKey(m.from) === nameKey(state.me)) return Level.None;
      return isMention(m.text, state.me) ? Level.Highlight : Level.Message;
    }
    if (m.t === "event") {
      const aboutMe = state.me !== "" && nameKey(m.name ?? "") === nameKey(state.me);
      if (aboutMe && (m.kind === "kick" || m.kind === "ban" || m.kind === "mute")) {
        return Level.Highlight;
      }
      // The user's own joins, leaves, away and name changes are nothing new to them.
      const mine = aboutMe && m.by === undefined;
      return mine ? Level.None : Level.Activity;
    }
    return Level.Activity;
  }

  /**
   * Puts a rendered line in `w`, counting it as unread there when `w` is not shown (and placing
   * the unread marker above the first such line). A line of {@link Level.None} (the user's own,
   * a replay), one that replaces another (same id) or one too old to keep counts for nothing.
   */
  add(
    w: ChatWindow,
    line: Parameters<Scrollback["add"]>[0],
    level: Level,
  ): void {
    const r = w.scrollback.add(line);
    if (r === "dropped" && line.seq !== undefined) w.historyDone = true;
    if (r === "added" && w !== this.#current && level > Level.None) {
      // The marker goes above the first line that counts since the user left (appended, not
      // older history put in place).
      if (
        w.left && w.newFrom < 0 && w.scrollback.lines.at(-1)?.serial === w.scrollback.lastSerial
      ) {
        w.newFrom = w.scrollback.lastSerial;
      }
      if (level >= Level.Message) w.unread++;
      if (level > w.level) w.level = level;
    }
    this.onChange();
  }
}
