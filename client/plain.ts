/**
 * The view for scripts and bots (stdin or stdout not a terminal): one input line is one message
 * or command (with `--json-input`, one JSON string, which may hold line breaks); one output line
 * per event (the line breaks of a message shown as `␊`), without colour or prompts, or with `--json` one JSON
 * object per event (the server message itself, or a local kind: pending, acked, failed, status,
 * local, dm, dm_failed). Text output is sanitized; JSON output escapes every character a
 * terminal could act on.
 * @module
 */

import { formatEvent, isHidden } from "./render.ts";
import type { Completions, RenderState, View, ViewEvent } from "./view.ts";

/** Longest input line in UTF-16 code units; longer lines are reported and skipped. */
export const MAX_INPUT_LINE = 65_536;

/** Settings for {@link PlainView}. */
export interface PlainViewOptions {
  /** One JSON object per event instead of text lines. */
  json: boolean;
  /**
   * Every input line is one JSON string (`"hello\\nworld"`, `"/join #dev"`), taken as exactly
   * that input: the way a script sends a message of several lines. Other lines are reported.
   */
  jsonInput?: boolean;
  /** Input bytes (default: standard input, opened on first use). */
  input?: ReadableStream<Uint8Array>;
  /** Writes one chunk of output (default: standard output; a closed pipe stops output). */
  write?: (text: string) => void;
  /** Clock in ms since the epoch (default `Date.now`). */
  now?: () => number;
}

/** The object printed for `ev` in JSON mode, or null for nothing. */
export function jsonEvent(ev: ViewEvent): object | null {
  switch (ev.t) {
    case "server":
    case "welcome":
      return ev.msg;
    case "pending":
      return { t: "pending", id: ev.id, room: ev.room, text: ev.text, me: ev.me };
    case "acked":
      return { t: "acked", id: ev.id, room: ev.msg.room, seq: ev.msg.seq };
    case "failed":
      return { t: "failed", id: ev.id, room: ev.room, text: ev.text, reason: ev.reason };
    case "status":
      return { t: "status", state: ev.state, detail: ev.detail };
    case "local":
      return { t: "local", level: ev.level, text: ev.text };
    case "dm":
      return ev.queued
        ? { t: "dm", id: ev.id, ts: ev.ts, from: ev.from, to: ev.to, text: ev.text, queued: true }
        : { t: "dm", id: ev.id, ts: ev.ts, from: ev.from, to: ev.to, text: ev.text };
    case "dm_failed":
      return { t: "dm_failed", to: ev.to, text: ev.text, reason: ev.reason };
  }
}

/** Characters JSON leaves raw that a terminal could act on: DEL, C1, bidi, invisible, tags. */
const UNSAFE_IN_JSON =
  /[\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\u3164\ufeff\uffa0\ufff9-\ufffb\u{1bca0}-\u{1bca3}\u{1d173}-\u{1d17a}\u{e0000}-\u{e007f}]/gu;

function escapeUnit(c: string): string {
  let out = "";
  for (let i = 0; i < c.length; i++) {
    out += "\\u" + c.charCodeAt(i).toString(16).padStart(4, "0");
  }
  return out;
}

/** `JSON.stringify(value)` on one line, with {@link UNSAFE_IN_JSON} characters as `\uXXXX`. */
export function jsonLine(value: unknown): string {
  return JSON.stringify(value).replace(UNSAFE_IN_JSON, escapeUnit);
}

/**
 * The input a `--json-input` line holds: a JSON string (blank lines are empty input), or an error
 * to report when the line is not one.
 */
export function jsonInputText(line: string): string | { error: string } {
  if (line.trim() === "") return "";
  try {
    const v: unknown = JSON.parse(line);
    if (typeof v === "string") return v;
  } catch {
    // reported below
  }
  return { error: "input line is not a JSON string (--json-input): not sent" };
}

function stdoutWriter(): (text: string) => void {
  const enc = new TextEncoder();
  let broken = false;
  return (text) => {
    if (broken) return;
    const bytes = enc.encode(text);
    try {
      for (let off = 0; off < bytes.length;) off += Deno.stdout.writeSync(bytes.subarray(off));
    } catch (e) {
      if (e instanceof Deno.errors.BrokenPipe) broken = true;
      else throw e;
    }
  };
}

/** Line-oriented view for pipes and files. */
export class PlainView implements View {
  /** Always false. */
  readonly interactive = false;
  readonly #json: boolean;
  readonly #jsonInput: boolean;
  #offline: boolean;
  readonly #input: ReadableStream<Uint8Array> | undefined;
  readonly #write: (text: string) => void;
  readonly #now: () => number;
  #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #closed = false;

  /** A plain view; nothing is opened until {@link PlainView.lines} is iterated. */
  constructor(opts: PlainViewOptions) {
    this.#offline = false;
    this.#json = opts.json;
    this.#jsonInput = opts.jsonInput === true;
    this.#input = opts.input;
    this.#write = opts.write ?? stdoutWriter();
    this.#now = opts.now ?? Date.now;
  }

  /**
   * Prints one line for the event. In text mode a pending message is printed only while the
   * connection is down (otherwise its acknowledgement follows at once and would repeat it).
   */
  show(ev: ViewEvent, state: RenderState): void {
    if (this.#json) {
      if (isHidden(ev, state)) return;
      const obj = jsonEvent(ev);
      if (obj !== null) this.#write(jsonLine(obj) + "\n");
      return;
    }
    if (ev.t === "status") this.#offline = ev.state === "lost" || ev.state === "reconnecting";
    if (ev.t === "welcome") this.#offline = false;
    if (ev.t === "pending" && !this.#offline) return;
    const text = formatEvent(ev, state, { color: false, now: this.#now(), oneLine: true });
    if (text !== null) this.#write(text + "\n");
  }

  /** Rejects: without a terminal the name must come from `--name`. */
  askName(reason?: string): Promise<string> {
    const why = reason !== undefined && reason !== "" ? `${reason} ` : "";
    return Promise.reject(
      new Error(`${why}Without a terminal the name must be given with --name.`),
    );
  }

  /**
   * Inputs: lines without their "\n" or "\r\n" or, with `jsonInput`, the strings the lines hold
   * (which may contain line breaks); ends at end of input or on close.
   */
  async *lines(): AsyncGenerator<string, void, void> {
    for await (const line of this.#rawLines()) {
      if (!this.#jsonInput) {
        yield line;
        continue;
      }
      const text = jsonInputText(line);
      if (typeof text === "string") yield text;
      else this.#error(text.error);
    }
  }

  #error(text: string): void {
    this.show({ t: "local", level: "error", text }, {
      me: "",
      timestamps: false,
      ignored: new Set(),
      bell: "off",
    });
  }

  async *#rawLines(): AsyncGenerator<string, void, void> {
    if (this.#closed) return;
    const reader = (this.#input ?? Deno.stdin.readable).getReader();
    this.#reader = reader;
    const dec = new TextDecoder();
    let buf = "";
    let skipping = false;
    const tooLong = () =>
      this.#error(`input line longer than ${MAX_INPUT_LINE} characters: not sent`);
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done || this.#closed) break;
        buf += dec.decode(value, { stream: true });
        for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
          const line = buf.slice(0, nl).replace(/\r$/, "");
          buf = buf.slice(nl + 1);
          if (skipping) skipping = false;
          else if (line.length > MAX_INPUT_LINE) tooLong();
          else yield line;
          if (this.#closed) return;
        }
        if (buf.length > MAX_INPUT_LINE) {
          if (!skipping) tooLong();
          skipping = true;
          buf = "";
        }
      }
      buf += dec.decode();
      if (buf !== "" && !skipping && !this.#closed) {
        if (buf.length > MAX_INPUT_LINE) tooLong();
        else yield buf.replace(/\r$/, "");
      }
    } finally {
      this.#reader = undefined;
      reader.releaseLock();
    }
  }

  /** Nothing to complete without a terminal. */
  setCompletions(_c: Completions): void {}

  /** No prompt to update. */
  setRoom(_room: string): void {}

  /** No screen to clear. */
  clear(): void {}

  /** Stops reading input (a pending read ends the line sequence). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#reader?.cancel().catch(() => {});
  }
}
