/**
 * The operator console: reads lines typed on the server's terminal and runs each through
 * {@linkcode Hub.consoleLine}. Lines are bounded; a longer one is rejected whole.
 * @module
 */

import type { Hub } from "./hub.ts";

/** Longest console line in bytes (without the line ending). */
export const CONSOLE_LINE_MAX = 4096;

/**
 * Splits a byte stream into lines of at most `max` bytes, never buffering more than `max`
 * bytes. A trailing `\r` is dropped; an overlong line yields `undefined` in its place.
 */
export class LineSplitter {
  readonly #max: number;
  readonly #buf: Uint8Array;
  #len = 0;
  #overflow = false;

  /** A splitter for lines of at most `max` bytes. */
  constructor(max = CONSOLE_LINE_MAX) {
    if (!Number.isSafeInteger(max) || max < 1) throw new RangeError("max must be >= 1");
    this.#max = max;
    this.#buf = new Uint8Array(max + 1); // room for the `\r` of a CRLF
  }

  /** Feeds bytes; returns the complete lines (bytes), `undefined` for each overlong one. */
  push(chunk: Uint8Array): (Uint8Array | undefined)[] {
    const out: (Uint8Array | undefined)[] = [];
    let start = 0;
    while (start <= chunk.length) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl < 0 ? chunk.length : nl;
      const piece = chunk.subarray(start, end);
      if (!this.#overflow) {
        if (this.#len + piece.length > this.#max + 1) this.#overflow = true;
        else {
          this.#buf.set(piece, this.#len);
          this.#len += piece.length;
        }
      }
      if (nl < 0) break;
      out.push(this.#take());
      start = nl + 1;
    }
    return out;
  }

  /** At end of input: the unterminated last line, if any (`undefined` if overlong). */
  end(): (Uint8Array | undefined)[] {
    if (this.#len === 0 && !this.#overflow) return [];
    return [this.#take()];
  }

  #take(): Uint8Array | undefined {
    const overflow = this.#overflow;
    let len = this.#len;
    this.#len = 0;
    this.#overflow = false;
    if (len > 0 && this.#buf[len - 1] === 0x0d) len--;
    if (overflow || len > this.#max) return undefined;
    return this.#buf.slice(0, len);
  }
}

/**
 * Reads console lines from `input` until it ends or `signal` aborts, runs each with
 * `hub.consoleLine` and passes each answer (`""` for an empty line) to `output`. Lines over
 * 4 KiB are rejected with a message. Cancels `input` when aborted.
 */
export async function runConsole(
  hub: Hub,
  input: ReadableStream<Uint8Array>,
  output: (text: string) => void,
  signal: AbortSignal,
): Promise<void> {
  const reader = input.getReader();
  const decoder = new TextDecoder();
  const splitter = new LineSplitter();
  const onAbort = () => {
    reader.cancel().catch(() => {});
  };
  signal.addEventListener("abort", onAbort, { once: true });
  const run = (line: Uint8Array | undefined) => {
    if (line === undefined) {
      output(`error: line longer than ${CONSOLE_LINE_MAX} bytes ignored`);
      return;
    }
    let answer: string;
    try {
      answer = hub.consoleLine(decoder.decode(line));
    } catch (e) {
      // A failed command never ends the console (nor, as an unhandled rejection, the server).
      answer = `error (internal): ${e instanceof Error ? e.message : String(e)}`;
    }
    output(answer);
  };
  try {
    if (signal.aborted) {
      await reader.cancel();
      return;
    }
    while (true) {
      const { value, done } = await reader.read();
      if (done || signal.aborted) break;
      for (const line of splitter.push(value)) run(line);
    }
    if (!signal.aborted) { for (const line of splitter.end()) run(line); }
  } finally {
    signal.removeEventListener("abort", onAbort);
    reader.releaseLock();
  }
}
