/**
 * What the operator sees on the server's terminal: answers to console commands and notices of
 * what happens (connections, moderation, warnings). Every line passes through the shared
 * sanitizer (shared/sanitize.ts) first, so text a user chose (names, topics, away texts, ban
 * reasons) is shown visibly and never acts on the terminal. With a prompt, a notice erases the
 * prompt line, prints, and draws the prompt again.
 * @module
 */

import { sanitize, sanitizeMultiline } from "../shared/sanitize.ts";

/** The operator console's prompt. */
export const CONSOLE_PROMPT = "chat> ";

/** The one-line hint shown when the console starts. */
export const CONSOLE_HINT = "type /help for operator commands, plain text to announce to everyone";

/** Where a {@linkcode ConsoleScreen} writes. */
export interface ConsoleScreenOptions {
  /** Writes answers and the prompt (stdout). */
  out: (text: string) => void;
  /** Writes notices (stderr). */
  err: (text: string) => void;
  /** True when an operator types on this terminal: show a prompt. */
  interactive: boolean;
}

/** The server's terminal. See the module doc. */
export class ConsoleScreen {
  readonly #o: ConsoleScreenOptions;
  #interactive: boolean;
  #prompted = false;

  /** A screen writing through `opts`. */
  constructor(opts: ConsoleScreenOptions) {
    this.#o = opts;
    this.#interactive = opts.interactive;
  }

  /** Shows the hint and the first prompt (interactive only). */
  start(): void {
    if (!this.#interactive) return;
    this.#o.out(`${CONSOLE_HINT}\n`);
    this.#prompt();
  }

  /** Prints the answer to a console line (multi-line allowed), then the prompt. */
  answer(text: string): void {
    this.#prompted = false; // the operator's Enter ended the prompt line
    if (text !== "") this.#o.out(sanitizeMultiline(text) + "\n");
    this.#prompt();
  }

  /**
   * Prints one notice line (newlines are shown, not obeyed) above the prompt, on stderr or, with
   * `to` = `"out"`, on stdout.
   */
  notice(text: string, to: "out" | "err" = "err"): void {
    const clear = this.#prompted ? "\r\x1b[K" : "";
    this.#prompted = false;
    this.#o[to](clear + sanitize(text) + "\n");
    this.#prompt();
  }

  /** Stops prompting (shutdown); the prompt line is cleared. */
  stop(): void {
    if (this.#prompted) this.#o.out("\r\x1b[K");
    this.#prompted = false;
    this.#interactive = false;
  }

  #prompt(): void {
    if (!this.#interactive || this.#prompted) return;
    this.#o.out(CONSOLE_PROMPT);
    this.#prompted = true;
  }
}

const encoder = new TextEncoder();

/**
 * A writer of text to `file` (`Deno.stdout`, `Deno.stderr`) that writes synchronously and
 * completely, so notices, answers and the prompt never interleave. Write errors (a closed
 * terminal) are ignored: the console is never a reason for the server to stop.
 */
export function syncWriter(file: { writeSync(p: Uint8Array): number }): (text: string) => void {
  return (text) => {
    let bytes = encoder.encode(text);
    try {
      while (bytes.length > 0) bytes = bytes.subarray(file.writeSync(bytes));
    } catch {
      // terminal gone
    }
  };
}
