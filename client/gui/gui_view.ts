/**
 * The browser view of `chat gui`: a {@link View} whose screen is every open tab of the local
 * page. Events go to all tabs as they happen and are kept (a bounded backlog) for tabs opened
 * later; questions (trust this server, choose a name) are dialogs answered by whichever tab
 * answers first; input lines come from any tab. When the last tab closes, input ends after a
 * grace period unless a tab comes back.
 * @module
 */

import { isHidden } from "../render.ts";
import type { Completions, RenderState, View, ViewEvent, Where } from "../view.ts";
import type { FromPage, GuiState, PeerInfo, Prompt, ToPage } from "./wire.ts";
import { parseFromPage } from "./wire.ts";

/** Events kept for tabs opened later, at most. */
export const BACKLOG_MAX = 5_000;
/** Input lines waiting to be handled, at most (more are refused with an error). */
export const INPUT_QUEUE_MAX = 1_000;
/** Bytes waiting to be sent to one tab, at most; a tab that far behind is closed (it reconnects). */
export const TAB_BUFFER_MAX = 16 * 1024 * 1024;
/** How long the process waits after the last tab closed, by default (ms). */
export const LINGER_MS = 30_000;
/** How long the process waits for the first tab, by default (ms). */
export const FIRST_TAB_MS = 300_000;

/** What the view asks of the rest of the program. */
export interface GuiViewDeps {
  /** The session state to draw (called after every change). */
  state(): GuiState;
  /** A peer's pinned key and safety number. */
  peer(name: string): Promise<PeerInfo>;
  /** Fetches the last `n` messages of `room` before seq `before` (they arrive as replays). */
  history(room: string, n: number, before: number | null): void;
  /** Grace period after the last tab closed (default {@link LINGER_MS}). */
  lingerMs?: number;
  /** Wait for the first tab (default {@link FIRST_TAB_MS}). */
  firstTabMs?: number;
}

interface OpenPrompt {
  id: number;
  prompt: Prompt;
  answer(value: string): void;
  fail(e: Error): void;
}

/** The view over the browser tabs connected to the local page. */
export class GuiView implements View {
  /** Interactive: the application seeds completion and runs commands concurrently. */
  readonly interactive = true;
  /** The page draws nick colours from the settings it is sent: `/set colors` shows at once. */
  readonly liveColors = true;
  readonly #deps: GuiViewDeps;
  readonly #tabs = new Set<WebSocket>();
  readonly #backlog: ToPage[] = [];
  readonly #prompts = new Map<number, OpenPrompt>();
  #nextPrompt = 1;
  /** Input lines waiting, each with the conversation it was typed in. */
  readonly #queue: { line: string; where: Where }[] = [];
  /** The conversation of the line last given by `lines()`. */
  #typedIn: Where | undefined;
  #wake: (() => void) | undefined;
  #ended = false;
  #closed = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #room = "";
  /** The conversation the user last typed in (where answers without a room are shown). */
  #where = "";
  /** The room the last queued line was typed in (the current room once the queue is empty). */
  #planned = "";
  #lastState = "";
  #statePending = false;
  /** Text of a "now talking in" line the view caused by switching rooms: not shown. */
  #quietSwitch: string | undefined;
  #server = "";

  /** A view with no tab yet; it waits for the first one at most `firstTabMs`. */
  constructor(deps: GuiViewDeps) {
    this.#deps = deps;
    this.#arm(deps.firstTabMs ?? FIRST_TAB_MS);
  }

  /** Number of tabs connected now. */
  get tabs(): number {
    return this.#tabs.size;
  }

  /** Names the server shown in prompts. */
  setServer(hostPort: string): void {
    this.#server = hostPort;
  }

  #arm(ms: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#end("no browser tab is open"), ms);
  }

  #end(why: string): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#ended = true;
    for (const p of this.#prompts.values()) p.fail(new Error(`not answered: ${why}`));
    this.#prompts.clear();
    this.#wake?.();
  }

  #send(ws: WebSocket, m: ToPage): void {
    if (ws.readyState !== WebSocket.OPEN) return;
    if (ws.bufferedAmount > TAB_BUFFER_MAX) return ws.close(1013, "too far behind");
    ws.send(JSON.stringify(m));
  }

  #broadcast(m: ToPage, keep: boolean): void {
    if (keep) {
      this.#backlog.push(m);
      if (this.#backlog.length > BACKLOG_MAX) this.#backlog.splice(0, this.#backlog.length >> 2);
    }
    for (const ws of this.#tabs) this.#send(ws, m);
  }

  /** Takes a WebSocket of a tab that passed the local server's checks. */
  attach(ws: WebSocket): void {
    if (this.#closed) {
      ws.onopen = () => ws.close(1001, "closing");
      return;
    }
    ws.onopen = () => {
      this.#tabs.add(ws);
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#send(ws, { k: "state", state: this.#deps.state() });
      for (const m of this.#backlog) this.#send(ws, m);
      for (const p of this.#prompts.values()) {
        this.#send(ws, { k: "prompt", id: p.id, prompt: p.prompt });
      }
    };
    ws.onmessage = (e) => {
      if (typeof e.data !== "string") return ws.close(1003, "text only");
      let m: FromPage;
      try {
        m = parseFromPage(e.data);
      } catch (err) {
        return ws.close(1008, err instanceof RangeError ? "too long" : "bad message");
      }
      this.#handle(ws, m);
    };
    ws.onclose = () => {
      if (!this.#tabs.delete(ws)) return;
      if (this.#tabs.size === 0 && !this.#ended && !this.#closed) {
        this.#arm(this.#deps.lingerMs ?? LINGER_MS);
      }
    };
    ws.onerror = () => {};
  }

  #handle(ws: WebSocket, m: FromPage): void {
    switch (m.k) {
      case "line": {
        const lines: string[] = [];
        const st = this.#deps.state();
        const at = this.#queue.length === 0 ? this.#room : this.#planned;
        const room = m.conv?.startsWith("#") ? m.conv : null;
        if (room !== null && room !== at && st.rooms.includes(room)) {
          lines.push(`/join ${room}`);
          this.#quietSwitch = `now talking in ${room}`;
        }
        if (room !== null) this.#planned = room;
        if (m.conv !== null) this.#where = m.conv;
        lines.push(m.text);
        const where = this.#where || at;
        if (this.#queue.length + lines.length > INPUT_QUEUE_MAX) {
          this.#send(ws, {
            k: "ev",
            ev: { t: "local", level: "error", text: "too much input waiting: not sent" },
            at: Date.now(),
            where: this.#where || this.#room,
          });
          return;
        }
        this.#queue.push(...lines.map((line) => ({ line, where })));
        this.#wake?.();
        return;
      }
      case "answer": {
        const p = this.#prompts.get(m.id);
        if (p === undefined) return;
        this.#prompts.delete(m.id);
        this.#broadcast({ k: "prompt_done", id: m.id }, false);
        p.answer(m.value);
        return;
      }
      case "history":
        return this.#deps.history(m.room, m.n, m.before);
      case "peer":
        this.#deps.peer(m.name).then((peer) => this.#send(ws, { k: "peer", peer }), () => {});
        return;
    }
  }

  #ask(prompt: Prompt): Promise<string> {
    if (this.#ended || this.#closed) return Promise.reject(new Error("the page is closed"));
    const id = this.#nextPrompt++;
    return new Promise((resolve, reject) => {
      this.#prompts.set(id, { id, prompt, answer: resolve, fail: reject });
      this.#broadcast({ k: "prompt", id, prompt }, false);
    });
  }

  /** Asks whether to trust an unknown server's key; true when the user said so. */
  async askTrust(server: string, fingerprint: string): Promise<boolean> {
    const a = await this.#ask({ kind: "trust", server, fingerprint });
    return a === "yes" || a === fingerprint;
  }

  /** Asks for a name in a dialog, with the reason the last one was refused. */
  askName(reason?: string): Promise<string> {
    const prompt: Prompt = reason === undefined
      ? { kind: "name", server: this.#server }
      : { kind: "name", server: this.#server, reason };
    return this.#ask(prompt).then((v) => v.trim());
  }

  /** Sends the event to every tab (and keeps it for later tabs) unless it is hidden. */
  show(ev: ViewEvent, state: RenderState): void {
    if (isHidden(ev, state)) return;
    if (ev.t === "local" && this.#quietSwitch !== undefined && ev.text === this.#quietSwitch) {
      this.#quietSwitch = undefined;
      this.#pushState();
      return;
    }
    // An answer goes to the conversation it was typed in; other events name theirs or go to
    // where the user last typed.
    const where = ev.t === "local" || ev.t === "server" ? ev.where : undefined;
    this.#broadcast(
      { k: "ev", ev, at: Date.now(), where: where || this.#where || this.#room },
      true,
    );
    this.#pushState();
  }

  /** Sends the state if it changed; the calls of one turn (an event, its refresh) send it once. */
  #pushState(): void {
    if (this.#statePending) return;
    this.#statePending = true;
    queueMicrotask(() => {
      this.#statePending = false;
      if (this.#closed) return;
      const state = this.#deps.state();
      const text = JSON.stringify(state);
      if (text === this.#lastState) return;
      this.#lastState = text;
      this.#broadcast({ k: "state", state }, false);
    });
  }

  /** Input lines from the tabs; ends when the last tab has been gone for the grace period. */
  async *lines(): AsyncGenerator<string, void, void> {
    for (;;) {
      while (this.#queue.length > 0) {
        const { line, where } = this.#queue.shift()!;
        this.#typedIn = where;
        yield line;
        if (this.#closed) return;
      }
      if (this.#ended || this.#closed) return;
      await new Promise<void>((r) => this.#wake = r);
      this.#wake = undefined;
    }
  }

  /** The conversation the line last given by `lines()` was typed in (`#room`, `@name`). */
  typedIn(): Where | undefined {
    return this.#typedIn;
  }

  /** Sends the new state (completion candidates are part of it). */
  setCompletions(_c: Completions): void {
    this.#pushState();
  }

  /** Remembers the current room and sends the new state. */
  setRoom(room: string): void {
    this.#room = room;
    if (this.#where.startsWith("#")) this.#where = room;
    this.#pushState();
  }

  /** Clears every tab's messages and the backlog. */
  clear(): void {
    this.#backlog.length = 0;
    this.#broadcast({ k: "clear" }, false);
  }

  /** Says goodbye to every tab, closes them and ends input. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    this.#end("closing");
    for (const ws of this.#tabs) {
      this.#send(ws, { k: "bye", text: "chat has quit; this page no longer works" });
      try {
        ws.close(1001, "closing");
      } catch {
        // already closing
      }
    }
    this.#tabs.clear();
    return Promise.resolve();
  }
}
