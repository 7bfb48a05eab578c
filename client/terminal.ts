/**
 * The interactive terminal view: line editing with `node:readline` (history, Tab completion),
 * incoming lines printed above the input line without disturbing what is being typed, colours
 * unless disabled, the bell on mentions, Ctrl-C once to clear the line and twice to quit.
 * The terminal is restored on close and at process unload.
 * @module
 */

import process from "node:process";
import readline from "node:readline";
import { complete } from "./completion.ts";
import { formatEvent, shouldBell } from "./render.ts";
import { sanitize } from "../shared/sanitize.ts";
import type { Completions, RenderState, View, ViewEvent } from "./view.ts";

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

/** Parts of the readline interface used here beyond its typed API (present in Node and Deno). */
interface ReadlineInternals {
  prevRows?: number;
  line: string;
  cursor: number;
  _getDisplayPos?: (s: string) => { rows: number; cols: number };
}

/** A line-editing chat view on a terminal. */
export class TerminalView implements View {
  /** Always true. */
  readonly interactive = true;
  readonly #rl: readline.Interface;
  readonly #out: NodeJS.WritableStream;
  readonly #color: boolean;
  readonly #now: () => number;
  readonly #hostPort: string | undefined;
  #completions: Completions = { commands: [], names: [], rooms: [] };
  #roomPrompt = "> ";
  #queue: string[] = [];
  #wake: (() => void) | undefined;
  #ended = false;
  #closed = false;
  #offline = false;
  /** Pending lines not shown yet, by message id. */
  readonly #held = new Map<string, ReturnType<typeof setTimeout>>();
  /** The pending line printed last, while nothing was printed after it: its id and rows. */
  #lastPending: { id: string; rows: number } | undefined;
  #active = false;
  #asking: { resolve: (s: string) => void; reject: (e: Error) => void } | undefined;
  #lastCtrlC = -Infinity;
  readonly #restore = () => this.#restoreTerminal();

  /** Takes over the terminal (raw mode, line editing) until {@link TerminalView.close}. */
  constructor(opts: TerminalViewOptions) {
    this.#color = opts.color;
    this.#now = opts.now ?? Date.now;
    this.#hostPort = opts.hostPort;
    this.#out = opts.output ?? process.stdout;
    this.#rl = readline.createInterface({
      input: opts.input ?? process.stdin,
      output: this.#out,
      terminal: true,
      historySize: opts.historySize ?? 1000,
      removeHistoryDuplicates: true,
      tabSize: 4,
      completer: (line: string) => complete(line, this.#completions),
      prompt: this.#roomPrompt,
    });
    this.#rl.on("line", (line: string) => this.#onLine(line));
    this.#rl.on("close", () => this.#end());
    this.#rl.on("SIGINT", () => this.#onCtrlC());
    globalThis.addEventListener("unload", this.#restore);
  }

  get #internals(): ReadlineInternals {
    return this.#rl as unknown as ReadlineInternals;
  }

  #dim(text: string): string {
    return this.#color ? `\x1b[2m${text}\x1b[22m` : text;
  }

  /** Removes the prompt and the input from the screen; the cursor ends where the prompt began. */
  #erasePrompt(): void {
    const rows = this.#rl.getCursorPos().rows;
    if (rows > 0) readline.moveCursor(this.#out, 0, -rows);
    readline.cursorTo(this.#out, 0);
    readline.clearScreenDown(this.#out);
  }

  /** Draws the prompt and the partial input again, cursor where it was in the line. */
  #redrawPrompt(): void {
    this.#internals.prevRows = 0;
    this.#rl.prompt(true);
  }

  /** Prints `text` (already safe) above the input line. */
  #print(text: string): void {
    this.#lastPending = undefined;
    if (this.#closed || !this.#active) {
      this.#out.write(text.replaceAll("\n", "\r\n") + "\r\n");
      return;
    }
    this.#erasePrompt();
    this.#out.write(text.replaceAll("\n", "\r\n") + "\r\n");
    this.#redrawPrompt();
  }

  /** Terminal rows `text` takes once printed (each of its lines wraps at the width). */
  #rowsOfText(text: string): number | undefined {
    let rows = 0;
    for (const line of text.split("\n")) {
      const pos = this.#internals._getDisplayPos?.call(this.#rl, line);
      if (pos === undefined) return undefined;
      // A line that fills its last row exactly leaves the cursor on that row.
      rows += pos.cols === 0 && pos.rows > 0 ? pos.rows : pos.rows + 1;
    }
    return rows;
  }

  /**
   * Replaces the pending line of message `id` with `text` when that line is the last one
   * printed (the acknowledgement came late, nothing else came between); false when it is not.
   */
  #replacePending(id: string, text: string): boolean {
    const last = this.#lastPending;
    this.#lastPending = undefined;
    if (last === undefined || last.id !== id || this.#closed || !this.#active) return false;
    this.#erasePrompt();
    readline.moveCursor(this.#out, 0, -last.rows);
    readline.cursorTo(this.#out, 0);
    readline.clearScreenDown(this.#out);
    this.#out.write(text.replaceAll("\n", "\r\n") + "\r\n");
    this.#redrawPrompt();
    return true;
  }

  /** Rows taken by `prompt + line` once submitted (readline left the cursor below them). */
  #rowsOf(line: string): number {
    const pos = this.#internals._getDisplayPos?.call(this.#rl, this.#rl.getPrompt() + line);
    if (pos !== undefined) return pos.rows + 1;
    const cols = (this.#out as { columns?: number }).columns ?? 80;
    return Math.floor((this.#rl.getPrompt().length + line.length) / Math.max(cols, 1)) + 1;
  }

  #onLine(line: string): void {
    const asking = this.#asking;
    if (asking !== undefined) {
      this.#asking = undefined;
      this.#rl.setPrompt(this.#roomPrompt);
      asking.resolve(line.trim());
      this.#rl.prompt();
      return;
    }
    // Chat lines are shown again by the application (pending, then acknowledged), so their
    // echo is removed; commands stay visible as typed.
    const command = /^\s*\/(?!\/|me\s)/.test(line);
    if (!command && this.#active) {
      readline.moveCursor(this.#out, 0, -this.#rowsOf(line));
      readline.cursorTo(this.#out, 0);
      readline.clearScreenDown(this.#out);
    }
    this.#queue.push(line);
    this.#wake?.();
    this.#redrawPrompt();
  }

  #onCtrlC(): void {
    const now = this.#now();
    if (now - this.#lastCtrlC < DOUBLE_CTRL_C_MS) {
      this.#end();
      return;
    }
    this.#lastCtrlC = now;
    this.#rl.write(null, { ctrl: true, name: "e" });
    this.#rl.write(null, { ctrl: true, name: "u" });
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
    const input = process.stdin as { isTTY?: boolean; setRawMode?: (raw: boolean) => void };
    try {
      if (input.isTTY) input.setRawMode?.(false);
    } catch {
      // The terminal is gone; nothing to restore.
    }
  }

  /** Prints the event above the input line, and rings the bell when the bell mode says so. */
  show(ev: ViewEvent, state: RenderState): void {
    if (ev.t === "status") this.#offline = ev.state === "lost" || ev.state === "reconnecting";
    if (ev.t === "welcome") this.#offline = false;
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
      const rows = this.#rowsOfText(text);
      if (rows !== undefined) this.#lastPending = { id: ev.id, rows };
    }
    if (shouldBell(ev, state)) this.#out.write("\x07");
  }

  /** Prompts for a name; rejects when input ends first. */
  askName(reason?: string): Promise<string> {
    if (this.#ended) return Promise.reject(new Error("input ended before a name was chosen"));
    if (reason !== undefined && reason !== "") {
      const msg = `! ${sanitize(reason)}`;
      this.#print(this.#color ? `\x1b[31m${msg}\x1b[39m` : msg);
    }
    const where = this.#hostPort !== undefined ? ` on ${sanitize(this.#hostPort)}` : "";
    this.#print(
      `Choose a name${where} (2–16 ASCII letters, digits, _ or -, starting with a letter):`,
    );
    this.#active = true;
    return new Promise<string>((resolve, reject) => {
      this.#asking = { resolve, reject };
      this.#rl.setPrompt("name> ");
      this.#rl.prompt();
    });
  }

  /** Lines the user enters; ends on Ctrl-D, a double Ctrl-C, end of input or close. */
  async *lines(): AsyncGenerator<string, void, void> {
    if (!this.#active) {
      this.#active = true;
      if (this.#asking === undefined) this.#rl.prompt();
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

  /** Shows `room` in the prompt. */
  setRoom(room: string): void {
    const prompt = `${sanitize(room)}> `;
    if (prompt === this.#roomPrompt) return;
    this.#roomPrompt = prompt;
    if (this.#asking !== undefined || this.#closed) return;
    if (this.#active) this.#erasePrompt();
    this.#rl.setPrompt(prompt);
    if (this.#active) this.#redrawPrompt();
  }

  /** Clears the screen and draws the prompt at the top. */
  clear(): void {
    if (this.#closed) return;
    this.#out.write("\x1b[2J\x1b[3J\x1b[H");
    if (this.#active) this.#redrawPrompt();
  }

  /** Ends input, removes the prompt and gives the terminal back in its normal mode. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    for (const timer of this.#held.values()) clearTimeout(timer);
    this.#held.clear();
    if (this.#active) this.#erasePrompt();
    this.#closed = true;
    this.#end();
    this.#rl.close();
    this.#restoreTerminal();
    globalThis.removeEventListener("unload", this.#restore);
    return Promise.resolve();
  }
}
