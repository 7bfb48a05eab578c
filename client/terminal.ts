/**
 * The interactive terminal view: raw-mode input decoded by key_decoder.ts and edited by
 * line_editor.ts (history, Tab completion, whole grapheme clusters, Alt+Enter, bracketed paste as
 * one message with a question before a long one), an input area at the bottom that incoming
 * lines are printed above, colours unless disabled, the bell on mentions, Ctrl-C once to clear
 * the input and twice to quit. A message over the server's limit is refused before sending and
 * stays in the input. The terminal is restored on close and at process unload.
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
import { rowsOf } from "./text_width.ts";
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
}

/** Two Ctrl-C within this many ms quit. */
export const DOUBLE_CTRL_C_MS = 2_000;

/** A message still unacknowledged after this long is shown as pending. */
export const PENDING_SHOWN_AFTER_MS = 400;

/** After an ESC with nothing behind it for this long, it is the Escape key. */
const ESCAPE_WAIT_MS = 30;

/** A bracketed paste with no input for this long is taken as ended. */
const PASTE_WAIT_MS = 1_000;

const PASTE_ON = "\x1b[?2004h";
const PASTE_OFF = "\x1b[?2004l";

/** A line-editing chat view on a terminal. */
export class TerminalView implements View {
  /** Always true. */
  readonly interactive = true;
  readonly #in: Input;
  readonly #out: Output;
  readonly #color: boolean;
  readonly #now: () => number;
  readonly #hostPort: string | undefined;
  readonly #editor: LineEditor;
  readonly #decoder: DecoderState = newDecoderState();
  #escapeTimer: ReturnType<typeof setTimeout> | undefined;
  #completions: Completions = { commands: [], names: [], rooms: [] };
  #roomPrompt = "> ";
  #prompt = "> ";
  #queue: string[] = [];
  #wake: (() => void) | undefined;
  #ended = false;
  #closed = false;
  #offline = false;
  #textBytes = DEFAULT_LIMITS.textBytes;
  /** Pending lines not shown yet, by message id. */
  readonly #held = new Map<string, ReturnType<typeof setTimeout>>();
  /** The pending line printed last, while nothing was printed after it: its id and rows. */
  #lastPending: { id: string; rows: number } | undefined;
  #active = false;
  /** The input area on the screen: the row the terminal cursor is on, counted from its top. */
  #drawn: { cursorRow: number } | undefined;
  #asking: { resolve: (s: string) => void; reject: (e: Error) => void } | undefined;
  #lastCtrlC = -Infinity;
  readonly #restore = () => this.#restoreTerminal();
  readonly #onData = (chunk: Uint8Array | string) => this.#input(chunk);
  readonly #onEnd = () => this.#end();
  readonly #onResize = () => this.#redraw();
  #resizeListening = false;

  /** Takes over the terminal (raw mode, bracketed paste, line editing) until {@link close}. */
  constructor(opts: TerminalViewOptions) {
    this.#color = opts.color;
    this.#now = opts.now ?? Date.now;
    this.#hostPort = opts.hostPort;
    this.#out = (opts.output ?? process.stdout) as Output;
    this.#in = (opts.input ?? process.stdin) as Input;
    this.#editor = new LineEditor({
      historySize: opts.historySize ?? 1000,
      complete: (before) => complete(before, this.#completions),
      check: (text) => this.#refusal(text),
    });
    if (this.#in.isTTY) this.#in.setRawMode?.(true);
    this.#in.on("data", this.#onData);
    this.#in.on("end", this.#onEnd);
    this.#in.resume();
    this.#out.write(PASTE_ON);
    try {
      Deno.addSignalListener("SIGWINCH", this.#onResize);
      this.#resizeListening = true;
    } catch {
      // No such signal here (Windows): the size is read again at every redraw anyway.
    }
    globalThis.addEventListener("unload", this.#restore);
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

  /** The escape sequence that removes the input area; the cursor ends where it began. */
  #eraseSeq(): string {
    const d = this.#drawn;
    if (d === undefined) return "";
    this.#drawn = undefined;
    return (d.cursorRow > 0 ? `\x1b[${d.cursorRow}A` : "") + "\r\x1b[J";
  }

  /** The escape sequence that draws the input area, leaving the cursor at the editing point. */
  #drawSeq(): string {
    if (!this.#active || this.#closed) return "";
    const { columns, rows } = this.#size();
    const maxRows = Math.max(1, Math.min(rows - 1, Math.max(3, Math.floor(rows / 2))));
    const v = this.#editor.render(columns, this.#prompt, maxRows);
    const up = v.rows.length - 1 - v.cursorRow;
    this.#drawn = { cursorRow: v.cursorRow };
    return v.rows.join("\r\n") + (up > 0 ? `\x1b[${up}A` : "") + "\r" +
      (v.cursorCol > 0 ? `\x1b[${v.cursorCol}C` : "");
  }

  #redraw(): void {
    if (this.#closed) return;
    this.#out.write(this.#eraseSeq() + this.#drawSeq());
  }

  /** Prints `text` (already safe) above the input area. */
  #print(text: string): void {
    this.#lastPending = undefined;
    this.#out.write(this.#eraseSeq() + text.replaceAll("\n", "\r\n") + "\r\n" + this.#drawSeq());
  }

  /**
   * Replaces the pending line of message `id` with `text` when that line is the last one
   * printed (the acknowledgement came late, nothing else came between); false when it is not.
   */
  #replacePending(id: string, text: string): boolean {
    const last = this.#lastPending;
    this.#lastPending = undefined;
    if (last === undefined || last.id !== id || this.#closed || !this.#active) return false;
    this.#out.write(
      this.#eraseSeq() + `\x1b[${last.rows}A\r\x1b[J` + text.replaceAll("\n", "\r\n") + "\r\n" +
        this.#drawSeq(),
    );
    return true;
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
    if (key.ctrl && !key.alt && key.name === "l") return this.clear();
    const r: EditorResult = this.#editor.feed(key);
    switch (r.kind) {
      case "handled":
        if (r.notice !== undefined) this.#print(this.#dim(`(${r.notice})`));
        else this.#redraw();
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
        return;
    }
  }

  #submit(line: string): void {
    const asking = this.#asking;
    if (asking !== undefined) {
      this.#asking = undefined;
      this.#prompt = this.#roomPrompt;
      this.#redraw();
      asking.resolve(line.trim());
      return;
    }
    // Chat lines are shown by the application (pending, then acknowledged); commands stay
    // visible as typed.
    const command = /^\s*\/(?!\/|me\s)/.test(line);
    if (command && this.#active) {
      this.#print(sanitize(this.#prompt) + line.split("\n").map(sanitize).join("\n"));
    } else {
      this.#redraw();
    }
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

  #restoreTerminal(): void {
    try {
      this.#out.write(PASTE_OFF);
      if (this.#in.isTTY) this.#in.setRawMode?.(false);
    } catch {
      // The terminal is gone; nothing to restore.
    }
  }

  /** Prints the event above the input area, and rings the bell when the bell mode says so. */
  show(ev: ViewEvent, state: RenderState): void {
    if (ev.t === "status") this.#offline = ev.state === "lost" || ev.state === "reconnecting";
    if (ev.t === "welcome") {
      this.#offline = false;
      this.#textBytes = ev.msg.limits.textBytes ?? DEFAULT_LIMITS.textBytes;
    }
    if ((ev.t === "acked" || ev.t === "failed") && this.#held.has(ev.id)) {
      clearTimeout(this.#held.get(ev.id));
      this.#held.delete(ev.id);
    }
    if (ev.t === "pending" && !this.#offline) {
      // Usually the acknowledged line follows within milliseconds: show the pending one only
      // if it does not, so a message is not printed twice.
      this.#held.set(
        ev.id,
        setTimeout(() => {
          this.#held.delete(ev.id);
          this.#render(ev, state);
        }, PENDING_SHOWN_AFTER_MS),
      );
      return;
    }
    this.#render(ev, state);
  }

  #render(ev: ViewEvent, state: RenderState): void {
    if (this.#closed) return;
    const text = formatEvent(ev, state, { color: this.#color, now: this.#now() });
    if (text === null) return;
    // A late acknowledgement: the message replaces its pending line instead of repeating it.
    if (ev.t === "server" && ev.msg.t === "msg" && this.#replacePending(ev.msg.id, text)) return;
    this.#print(text);
    if (ev.t === "pending") {
      this.#lastPending = { id: ev.id, rows: rowsOf(text, this.#size().columns) };
    }
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
    this.#active = true;
    return new Promise<string>((resolve, reject) => {
      this.#asking = { resolve, reject };
      this.#prompt = "name> ";
      this.#redraw();
    });
  }

  /** Lines the user enters; ends on Ctrl-D, a double Ctrl-C, end of input or close. */
  async *lines(): AsyncGenerator<string, void, void> {
    if (!this.#active) {
      this.#active = true;
      this.#redraw();
    }
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

  /** Shows `room` in the prompt, marked `[e2e]` when it is private. */
  setRoom(room: string, isPrivate = false): void {
    const prompt = `${sanitize(room)}${isPrivate ? "[e2e]" : ""}> `;
    if (prompt === this.#roomPrompt) return;
    this.#roomPrompt = prompt;
    if (this.#asking !== undefined || this.#closed) return;
    this.#prompt = prompt;
    this.#redraw();
  }

  /** Clears the screen and draws the input area at the top. */
  clear(): void {
    if (this.#closed) return;
    this.#drawn = undefined;
    this.#out.write("\x1b[2J\x1b[3J\x1b[H" + this.#drawSeq());
  }

  /** Ends input, removes the input area and gives the terminal back in its normal mode. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    for (const timer of this.#held.values()) clearTimeout(timer);
    this.#held.clear();
    clearTimeout(this.#escapeTimer);
    this.#out.write(this.#eraseSeq());
    this.#closed = true;
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
