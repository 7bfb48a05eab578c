/**
 * The interactive terminal view: raw-mode input decoded by key_decoder.ts and edited by
 * line_editor.ts (history, Tab completion, whole grapheme clusters, Alt+Enter, bracketed paste as
 * one message with a question before a long one), one line editor per window; a full screen in
 * the terminal's alternate screen (screen.ts) showing the current window of windows.ts, a status
 * line with every window and the input rows; window keys (Alt+1…Alt+0, Alt+←/→, Ctrl+P/N,
 * PgUp/PgDn); colours unless disabled, the bell on mentions, Ctrl-C once to clear the input and
 * twice to quit, Ctrl-Z to suspend (the terminal given back, the process stopped, everything
 * drawn again on SIGCONT; the connection is the client's affair). A message over the server's
 * limit is refused before sending and stays in the input. The terminal is restored on close and at
 * process unload.
 * @module
 */

import process from "node:process";
import { complete } from "./completion.ts";
import { inputRefusal } from "./input.ts";
import {
  decodeKeys,
  type DecoderState,
  flushKeys,
  type Key,
  newDecoderState,
} from "./key_decoder.ts";
import { type EditorResult, LineEditor } from "./line_editor.ts";
import { formatEvent, shouldBell } from "./render.ts";
import { cellWidth, stripSgr, wrap } from "./cells.ts";
import {
  composeFrame,
  contentHeight,
  ENTER_SCREEN,
  LEAVE_SCREEN,
  statusLine,
  viewport,
} from "./screen.ts";
import { suspendRefusal } from "./suspend.ts";
import { type ChatWindow, WindowList } from "./windows.ts";
import { DEFAULT_LIMITS } from "../shared/limits.ts";
import { sanitize } from "../shared/sanitize.ts";
import type { Completions, RenderState, View, ViewEvent } from "./view.ts";

/** The terminal input stream (a TTY stream in raw mode, or any readable stream in tests). */
type Input = NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => void };
/** The terminal output stream. */
type Output = NodeJS.WritableStream & { columns?: number; rows?: number };

/** Settings for {@link TerminalView}. */
export interface TerminalViewOptions {
  /** Use ANSI colours and styles. */
  color: boolean;
  /** Input stream (default `process.stdin`). */
  input?: NodeJS.ReadableStream;
  /** Output stream (default `process.stdout`). */
  output?: NodeJS.WritableStream;
  /** Clock in ms since the epoch (default `Date.now`). */
  now?: () => number;
  /** Lines of input history kept (default 1000). */
  historySize?: number;
  /** The server's `host:port`, named when asking for a name. */
  hostPort?: string;
  /** The windows shown (default: a new list). */
  windows?: WindowList;
}

/** Two Ctrl-C within this many ms quit. */
export const DOUBLE_CTRL_C_MS = 2_000;

/** After an ESC with nothing behind it for this long, it is the Escape key. */
const ESCAPE_WAIT_MS = 30;

/** A bracketed paste with no input for this long is taken as ended. */
const PASTE_WAIT_MS = 1_000;

/**
 * After stopping itself, the view takes the terminal back on SIGCONT, or after this long when no
 * stop came (a process group no shell watches ignores SIGTSTP).
 */
const SUSPEND_CHECK_MS = 300;

const PASTE_ON = "\x1b[?2004h";
const PASTE_OFF = "\x1b[?2004l";

/** Where the line of an event goes: its time, hanging indent, id and room seq. */
function lineMeta(ev: ViewEvent, now: number): { ts: number; id?: string; seq?: number } {
  if (ev.t === "server") {
    const m = ev.msg;
    // A message stored without an id (`""`) replaces nothing.
    if (m.t === "msg") return { ts: m.ts, id: m.id === "" ? undefined : m.id, seq: m.seq };
    if (m.t === "event") return { ts: m.ts };
    return { ts: now };
  }
  if (ev.t === "pending" || ev.t === "failed") return { ts: now, id: ev.id };
  if (ev.t === "dm") return { ts: ev.ts, id: ev.id };
  return { ts: now };
}

/** Cells before the text column of a rendered line: after `name: `, `-- `, `! ` or the clock. */
function textColumn(ev: ViewEvent, text: string): number {
  const first = stripSgr(text.split("\n")[0]);
  if (
    (ev.t === "server" && ev.msg.t === "msg") || ev.t === "pending" || ev.t === "dm"
  ) {
    const m = /^(\d\d:\d\d )?(\[[^\]]*\] )?(\* \S+ |[^:]+: )/.exec(first);
    if (m !== null) return cellWidth(m[0]);
  }
  return cellWidth(/^(\d\d:\d\d )?(-- |! | {2})?/.exec(first)?.[0] ?? "");
}

/** A full-screen chat view with windows on a terminal. */
export class TerminalView implements View {
  /** Always true. */
  readonly interactive = true;
  /** The windows shown. */
  readonly windows: WindowList;
  readonly #in: Input;
  readonly #out: Output;
  readonly #color: boolean;
  readonly #now: () => number;
  readonly #hostPort: string | undefined;
  readonly #historySize: number;
  readonly #decoder: DecoderState = newDecoderState();
  #escapeTimer: ReturnType<typeof setTimeout> | undefined;
  #completions: Completions = { commands: [], names: [], rooms: [] };
  #queue: string[] = [];
  #wake: (() => void) | undefined;
  #ended = false;
  #closed = false;
  #offline = false;
  #me = "";
  #textBytes = DEFAULT_LIMITS.textBytes;
  #asking: { resolve: (s: string) => void; reject: (e: Error) => void } | undefined;
  #lastCtrlC = -Infinity;
  /** A redraw is scheduled (many events in one turn draw once). */
  #drawPending = false;
  /** The current window showed its first line at the last draw. */
  #atTop = false;
  /** Content rows at the last draw (one page). */
  #page = 10;
  readonly #restore = () => this.#restoreTerminal();
  readonly #onData = (chunk: Uint8Array | string) => this.#input(chunk);
  readonly #onEnd = () => this.#end();
  readonly #onResize = () => this.#draw();
  #resizeListening = false;
  /** Suspended by Ctrl-Z: the terminal is the shell's until SIGCONT. */
  #suspended = false;
  #resumeTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #onCont = () => this.#resume();
  #contListening = false;

  /** Takes over the terminal (raw mode, alternate screen, bracketed paste) until {@link close}. */
  constructor(opts: TerminalViewOptions) {
    this.#color = opts.color;
    this.#now = opts.now ?? Date.now;
    this.#hostPort = opts.hostPort;
    this.#historySize = opts.historySize ?? 1000;
    this.windows = opts.windows ?? new WindowList();
    this.windows.onChange = () => this.#schedule();
    this.#out = (opts.output ?? process.stdout) as Output;
    this.#in = (opts.input ?? process.stdin) as Input;
    if (this.#in.isTTY) this.#in.setRawMode?.(true);
    this.#in.on("data", this.#onData);
    this.#in.on("end", this.#onEnd);
    this.#in.resume();
    this.#out.write(ENTER_SCREEN + PASTE_ON);
    try {
      Deno.addSignalListener("SIGWINCH", this.#onResize);
      this.#resizeListening = true;
    } catch {
      // No such signal here (Windows): the size is read again at every redraw anyway.
    }
    globalThis.addEventListener("unload", this.#restore);
    this.#schedule();
  }

  /** The line editor of window `w` (each window keeps its own input and history). */
  #editorOf(w: ChatWindow): LineEditor {
    if (!(w.input instanceof LineEditor)) {
      w.input = new LineEditor({
        historySize: this.#historySize,
        complete: (before) => complete(before, this.#completions),
        check: (text) => this.#refusal(text),
      });
    }
    return w.input as LineEditor;
  }

  get #editor(): LineEditor {
    return this.#editorOf(this.windows.current);
  }

  #dim(text: string): string {
    return this.#color ? `\x1b[2m${text}\x1b[22m` : text;
  }

  #red(text: string): string {
    return this.#color ? `\x1b[31m${text}\x1b[39m` : text;
  }

  /** Columns and rows of the terminal. */
  #size(): { columns: number; rows: number } {
    if (this.#out === (process.stdout as unknown)) {
      try {
        return Deno.consoleSize();
      } catch {
        // Not a terminal: fall through.
      }
    }
    return { columns: this.#out.columns ?? 80, rows: this.#out.rows ?? 24 };
  }

  /** Why `text` may not be sent: a message over the server's limit (bytes or lines). */
  #refusal(text: string): string | undefined {
    return this.#asking === undefined ? inputRefusal(text, this.#textBytes) : undefined;
  }

  /** The prompt of the window shown. */
  #prompt(): string {
    if (this.#asking !== undefined) return "name> ";
    const w = this.windows.current;
    return `${sanitize(w.name)}${w.badge}> `;
  }

  /** Draws once the current turn's events are in. */
  #schedule(): void {
    if (this.#drawPending || this.#closed) return;
    this.#drawPending = true;
    queueMicrotask(() => {
      this.#drawPending = false;
      this.#draw();
    });
  }

  /** Draws the whole screen: the current window, the status line, the input rows. */
  #draw(): void {
    if (this.#closed || this.#suspended) return;
    const { columns, rows } = this.#size();
    const width = Math.max(1, columns);
    const height = Math.max(3, rows);
    const w = this.windows.current;
    const input = this.#editor.render(width, this.#prompt(), Math.floor(height / 2));
    const ch = contentHeight(input, height);
    this.#page = Math.max(1, ch - 1);
    const vp = viewport(w, width, ch, w.scroll, { color: this.#color });
    w.scroll = vp.scroll;
    this.#atTop = vp.atTop;
    const state = this.#offline ? " [offline]" : "";
    const left = `[${sanitize(this.#me || "?")}]${state}`;
    const right = w.scroll > 0 ? "-MORE-" : "";
    const status = statusLine(this.windows.infos(), width, left, right, this.#color);
    this.#out.write(composeFrame({ width, height, content: vp.rows, status, input }));
  }

  /** Shows `text` (already safe) as a line in the window shown. */
  #print(text: string): void {
    const w = this.windows.current;
    this.#keepPlace(w, text);
    this.windows.add(w, { text, ts: this.#now(), indent: 0 }, 0);
  }

  /** While `w` is scrolled up, a new line at its bottom does not move what is shown. */
  #keepPlace(w: ChatWindow, text: string): void {
    if (w !== this.windows.current || w.scroll === 0) return;
    const width = Math.max(1, this.#size().columns);
    for (const part of text.split("\n")) w.scroll += wrap(part, width).length;
  }

  #input(chunk: Uint8Array | string): void {
    if (this.#closed) return;
    clearTimeout(this.#escapeTimer);
    this.#escapeTimer = undefined;
    for (const key of decodeKeys(chunk, this.#decoder)) this.#key(key);
    const inPaste = this.#decoder.paste !== undefined;
    if (this.#decoder.pending !== "" || inPaste) {
      // A lone ESC is the Escape key after a short pause; a paste whose end marker never
      // comes ends after a long one, so that input cannot stay swallowed.
      this.#escapeTimer = setTimeout(() => {
        this.#escapeTimer = undefined;
        for (const key of flushKeys(this.#decoder, inPaste)) this.#key(key);
      }, inPaste ? PASTE_WAIT_MS : ESCAPE_WAIT_MS);
    }
  }

  #key(key: Key): void {
    if (this.#closed || this.#ended) return;
    if (key.ctrl && !key.alt && key.name === "l") {
      this.#out.write("\x1b[2J");
      return this.#draw();
    }
    if (key.ctrl && !key.alt && key.name === "z") return this.#suspend();
    const r: EditorResult = this.#editor.feed(key);
    switch (r.kind) {
      case "handled":
        if (r.notice !== undefined) this.#print(this.#dim(`(${r.notice})`));
        else this.#schedule();
        return;
      case "submit":
        return this.#submit(r.text);
      case "refused":
        return this.#print(this.#red(`! ${r.reason}`));
      case "candidates":
        return this.#print(r.items.map(sanitize).join("  "));
      case "interrupt":
        return this.#onCtrlC();
      case "eof":
        return this.#end();
      case "unhandled":
        return this.#windowKey(key);
    }
  }

  /** Keys for windows: switching, scrolling. */
  #windowKey(key: Key): void {
    const wl = this.windows;
    const w = wl.current;
    const { name, ctrl = false, alt = false } = key;
    if (alt && !ctrl && name === "digit" && key.n !== undefined) {
      wl.focusNumber(key.n === 0 ? 10 : key.n);
    } else if ((alt && name === "left") || (ctrl && !alt && name === "p")) {
      wl.cycle(-1);
    } else if ((alt && name === "right") || (ctrl && !alt && name === "n")) {
      wl.cycle(1);
    } else if (name === "pageup" && !ctrl && !alt) {
      w.scroll += this.#page;
      this.#draw();
      if (this.#atTop && w.kind === "room") wl.onNeedHistory(w);
    } else if (name === "pagedown" && !ctrl && !alt) {
      w.scroll = Math.max(0, w.scroll - this.#page);
      this.#draw();
    }
  }

  #submit(line: string): void {
    const asking = this.#asking;
    if (asking !== undefined) {
      this.#asking = undefined;
      this.#schedule();
      asking.resolve(line.trim());
      return;
    }
    // Chat lines are shown by the application (pending, then acknowledged); commands stay
    // visible as typed.
    const command = /^\s*\/(?!\/|me\s)/.test(line);
    if (command) {
      this.#print(this.#dim(this.#prompt() + line.split("\n").map(sanitize).join("\n")));
    }
    this.windows.current.scroll = 0;
    this.#schedule();
    this.#queue.push(line);
    this.#wake?.();
  }

  #onCtrlC(): void {
    const now = this.#now();
    if (now - this.#lastCtrlC < DOUBLE_CTRL_C_MS) {
      this.#end();
      return;
    }
    this.#lastCtrlC = now;
    this.#editor.clear();
    this.#print(this.#dim(`(Ctrl-C again within ${DOUBLE_CTRL_C_MS / 1000} s to quit)`));
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#wake?.();
    const asking = this.#asking;
    this.#asking = undefined;
    asking?.reject(new Error("input ended before a name was chosen"));
  }

  /**
   * Ctrl-Z: gives the terminal back (bracketed paste off, main screen, normal mode) and stops the
   * process as the terminal would (SIGTSTP); {@link #resume} takes it again.
   */
  #suspend(): void {
    const why = suspendRefusal();
    if (why !== undefined) return this.#print(this.#dim(`(${why})`));
    try {
      if (!this.#contListening) Deno.addSignalListener("SIGCONT", this.#onCont);
      this.#contListening = true;
    } catch {
      // No SIGCONT here: the check below takes the terminal back.
    }
    this.#suspended = true;
    this.#restoreTerminal();
    try {
      Deno.kill(Deno.pid, "SIGTSTP");
    } catch {
      // Not allowed or not available: the check below takes the terminal back.
    }
    clearTimeout(this.#resumeTimer);
    this.#resumeTimer = setTimeout(() => this.#resume(), SUSPEND_CHECK_MS);
  }

  /** Takes the terminal back after a suspend and draws everything again. */
  #resume(): void {
    clearTimeout(this.#resumeTimer);
    this.#resumeTimer = undefined;
    if (!this.#suspended || this.#closed) return;
    this.#suspended = false;
    try {
      if (this.#in.isTTY) this.#in.setRawMode?.(true);
      this.#out.write(ENTER_SCREEN + PASTE_ON);
    } catch {
      // The terminal is gone: the input's end closes the client.
    }
    this.#draw();
  }

  #restoreTerminal(): void {
    try {
      this.#out.write(PASTE_OFF + LEAVE_SCREEN);
      if (this.#in.isTTY) this.#in.setRawMode?.(false);
    } catch {
      // The terminal is gone; nothing to restore.
    }
  }

  /** Puts the event in its window, and rings the bell when the bell mode says so. */
  show(ev: ViewEvent, state: RenderState): void {
    if (this.#closed) return;
    this.#me = state.me;
    if (ev.t === "status") this.#offline = ev.state === "lost" || ev.state === "reconnecting";
    if (ev.t === "welcome") {
      this.#offline = false;
      this.#textBytes = ev.msg.limits.textBytes ?? DEFAULT_LIMITS.textBytes;
    }
    const w = this.windows.route(ev, state);
    const inRoom = w.kind === "room" && (ev.t === "pending" ||
      (ev.t === "server" && ev.msg.t === "msg" && ev.msg.room === w.name));
    const roomTag = !(inRoom || (w.kind === "query" && ev.t === "dm"));
    const now = this.#now();
    const text = formatEvent(ev, state, { color: this.#color, now, roomTag });
    if (text === null) {
      if (ev.t === "status" || ev.t === "welcome") this.#schedule();
      return;
    }
    this.#keepPlace(w, text);
    this.windows.add(
      w,
      { text, indent: textColumn(ev, text), ...lineMeta(ev, now) },
      WindowList.levelOf(ev, state),
    );
    if (shouldBell(ev, state)) this.#out.write("\x07");
  }

  /** Prompts for a name; rejects when input ends first. */
  askName(reason?: string): Promise<string> {
    if (this.#ended) return Promise.reject(new Error("input ended before a name was chosen"));
    if (reason !== undefined && reason !== "") this.#print(this.#red(`! ${sanitize(reason)}`));
    const where = this.#hostPort !== undefined ? ` on ${sanitize(this.#hostPort)}` : "";
    this.#print(
      `Choose a name${where} (2–16 ASCII letters, digits, _ or -, starting with a letter):`,
    );
    return new Promise<string>((resolve, reject) => {
      this.#asking = { resolve, reject };
      this.#schedule();
    });
  }

  /** Lines the user enters; ends on Ctrl-D, a double Ctrl-C, end of input or close. */
  async *lines(): AsyncGenerator<string, void, void> {
    for (;;) {
      const line = this.#queue.shift();
      if (line !== undefined) {
        yield line;
        continue;
      }
      if (this.#ended) return;
      await new Promise<void>((resolve) => this.#wake = resolve);
      this.#wake = undefined;
    }
  }

  /** Replaces the Tab-completion candidates. */
  setCompletions(c: Completions): void {
    this.#completions = c;
  }

  /** Marks `room`'s window `[e2e]` when it is private (the prompt follows the window shown). */
  setRoom(room: string, isPrivate = false): void {
    const w = this.windows.room(room);
    if (w !== undefined) w.badge = isPrivate ? "[e2e]" : "";
    this.#schedule();
  }

  /** Empties the window shown. */
  clear(): void {
    if (this.#closed) return;
    const w = this.windows.current;
    w.scrollback.clear();
    w.scroll = 0;
    this.#out.write("\x1b[2J");
    this.#schedule();
  }

  /** Ends input, leaves the alternate screen and gives the terminal back in its normal mode. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    clearTimeout(this.#escapeTimer);
    clearTimeout(this.#resumeTimer);
    this.#closed = true;
    if (this.#contListening) Deno.removeSignalListener("SIGCONT", this.#onCont);
    this.#end();
    this.#in.off("data", this.#onData);
    this.#in.off("end", this.#onEnd);
    this.#in.pause();
    if (this.#resizeListening) Deno.removeSignalListener("SIGWINCH", this.#onResize);
    this.#restoreTerminal();
    globalThis.removeEventListener("unload", this.#restore);
    return Promise.resolve();
  }
}
