/**
 * The application's window routing in the interactive terminal: windows follow the rooms joined,
 * a user's away, back and nick go to the window where they matter, a line typed in a window goes
 * to its room or conversation, `/win`, `/query` and `/close`, and older history for a room's
 * window scrolled past its top. Without windows (plain mode) lines go to the current room.
 * @module
 */

import { nameKey } from "../shared/names.ts";
import type { ServerMessage } from "../shared/messages.ts";
import type { AppState } from "./app_state.ts";
import { type Action, NO_DM_TEXT, parseInput } from "./input.ts";
import { type ChatWindow, WindowList } from "./windows.ts";
import type { ChatClientLike, ClientEvent, Where } from "./view.ts";

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

/** What {@link WindowRouter} works with. */
export interface WindowRouterDeps {
  /** The view's windows (the view draws them); undefined without the interactive terminal. */
  windows: WindowList | undefined;
  /** The application's state (the current room follows the window shown). */
  state: AppState;
  /** Private messages are available. */
  dm: boolean;
  /** The connection, once there is one. */
  client(): ChatClientLike | undefined;
  /** The user's name. */
  me(): string;
  /** Shows a local line. */
  info(text: string, level?: "info" | "error"): void;
  /** Called after the user switched to another window. */
  switched(): void;
  /** Leaves `room` (what `/close` does in a room's window). */
  leave(room: string): Promise<void>;
}

/** Routes between the application and the view's windows; see the module documentation. */
export class WindowRouter {
  readonly #d: WindowRouterDeps;
  /** The rooms joined as last seen: a room missing now was left and its window closes. */
  #joined = new Set<string>();
  /** The window of the start room was shown once. */
  #startShown = false;

  /** A router over `deps.windows`, which it tells how to switch and fetch history. */
  constructor(deps: WindowRouterDeps) {
    this.#d = deps;
    const wl = deps.windows;
    if (wl !== undefined) {
      wl.onSwitch = () => {
        const w = wl.current;
        if (w.kind === "room") deps.state.room = w.name;
        deps.switched();
      };
      wl.onNeedHistory = (w) => this.#olderHistory(w);
    }
  }

  /** The view's windows; undefined without the interactive terminal. */
  get windows(): WindowList | undefined {
    return this.#d.windows;
  }

  /**
   * Windows follow the rooms: a room joined gets a window, a room left loses its own (leaving
   * the last one shows the status window with a hint). After the first welcome (`welcomed`),
   * the start room's window is shown once.
   */
  sync(welcomed: boolean): void {
    const wl = this.#d.windows;
    if (wl === undefined) return;
    const s = this.#d.state;
    const left = [...this.#joined].filter((r) => !s.rooms.has(r));
    this.#joined = new Set(s.rooms);
    const closed = wl.syncRooms(s.rooms, left);
    for (const w of wl.all) {
      if (w.kind === "room") {
        w.badge = this.#d.client()?.isPrivate?.(w.name) === true ? "[e2e]" : "";
      }
    }
    if (!this.#startShown && welcomed) {
      this.#startShown = true;
      const start = wl.room(s.room);
      if (start !== undefined) wl.focus(start);
    }
    if (closed && s.rooms.size === 0 && wl.current === wl.status) this.#d.info(NO_ROOM_HINT);
  }

  /** Asks the server, as an automatic request, for the page of history before `w`'s oldest. */
  #olderHistory(w: ChatWindow): void {
    const c = this.#d.client();
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

  /**
   * A user's away, back or nick change (no room; older servers tag it with a shared room) is
   * shown in the window shown when that user is in its room, else in its room or the current
   * window. A nick change renames the conversation with that user. Returns the event to show.
   */
  placeNotice(ev: ClientEvent, m: ServerMessage): ClientEvent {
    const wl = this.#d.windows;
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
    const here = this.#d.state.namesIn(cur.name).some((n) => nameKey(n) === nameKey(m.name!));
    return here ? { t: "server", msg: { ...m, room: cur.name } } : ev;
  }

  /**
   * What `line` asks for, typed in the window shown: plain text goes to its room or, in a
   * conversation, to the other person; the status window takes only commands.
   */
  parse(line: string): Action {
    const w = this.#d.windows?.current;
    const room = w === undefined || w.kind === "room" ? this.#d.state.room : "";
    const a = parseInput(line, room, this.#d.dm);
    if (w === undefined || a.kind !== "say" || w.kind === "room") return a;
    if (w.kind === "status") return { kind: "error", text: STATUS_WINDOW_HINT };
    if (!this.#d.dm) return { kind: "error", text: NO_DM_TEXT };
    return { kind: "dm", to: w.name, text: a.me ? `* ${this.#d.me()} ${a.text}` : a.text };
  }

  /** Carries out `/win`, `/query` or `/close`. */
  perform(a: Extract<Action, { kind: "win" | "query" | "close" }>): void | Promise<void> {
    const wl = this.#d.windows;
    if (wl === undefined) return this.#d.info(NO_WINDOWS_TEXT, "error");
    switch (a.kind) {
      case "win": {
        const w = wl.find(a.spec);
        if (w === undefined) return this.#d.info(`there is no window ${a.spec}`, "error");
        return wl.focus(w);
      }
      case "query": {
        if (!this.#d.dm) return this.#d.info(NO_DM_TEXT, "error");
        const w = wl.openQuery(a.name);
        if (w === undefined) return this.#d.info("too many windows: /close some first", "error");
        wl.focus(w);
        return this.#d.info(
          `private conversation with ${a.name}: what you type here goes to them`,
        );
      }
      case "close": {
        const w = wl.current;
        if (w.kind === "status") return this.#d.info("the status window stays open", "error");
        if (w.kind === "query") return wl.close(w);
        return this.#d.leave(w.name);
      }
    }
  }

  /** Where the window shown is (what a line typed now answers to); undefined without windows. */
  typedIn(): Where | undefined {
    const w = this.#d.windows?.current;
    return w === undefined ? undefined : WindowList.whereOf(w);
  }

  /** Shows `room`'s window; false when it has none (or there are no windows). */
  focusRoom(room: string): boolean {
    const w = this.#d.windows?.room(room);
    if (w === undefined) return false;
    this.#d.windows!.focus(w);
    return true;
  }
}
