/**
 * The input line's editing state, pure: a buffer of whole grapheme clusters (it may hold
 * newlines: Alt+Enter, pastes), a cursor on a cluster boundary, bounded history, Tab completion,
 * a kill buffer, and a y/n question before a long paste is taken. {@link LineEditor.feed} takes
 * one key and says what happened; keys it does not use (PgUp/PgDn, Alt+digit, Alt+←/→,
 * Ctrl+P/N, Ctrl+L, …) come back unhandled for the caller. {@link LineEditor.render} lays the
 * prompt and the buffer out in rows of a given width.
 * @module
 */

import { sanitize } from "../shared/sanitize.ts";
import type { Key } from "./key_decoder.ts";
import { graphemes, graphemeWidth, textWidth } from "./text_width.ts";

/** Settings for {@link LineEditor}. */
export interface LineEditorOptions {
  /** Entries of history kept (default 1000). */
  historySize?: number;
  /** Longest buffer in UTF-16 code units (default {@link MAX_INPUT}); more input is dropped. */
  maxLength?: number;
  /** Completion of the text before the cursor: `[candidates, the word they replace]`. */
  complete?: (before: string) => [string[], string];
  /** Why the buffer may not be submitted (shown to the user; the buffer is kept), or undefined. */
  check?: (text: string) => string | undefined;
  /** A paste of more lines than this is only taken after a y/n question (default 5). */
  pasteConfirmLines?: number;
}

/** What one key did. */
export type EditorResult =
  /** The buffer, cursor or question may have changed; `notice` is something to tell the user. */
  | { kind: "handled"; notice?: string }
  /** The editor does not use this key. */
  | { kind: "unhandled"; key: Key }
  /** Enter: the buffer was submitted (and is now empty). */
  | { kind: "submit"; text: string }
  /** Enter, but `check` refused the buffer: `reason` says why; the buffer is kept. */
  | { kind: "refused"; reason: string }
  /** Tab with several candidates and nothing more in common: the caller may list them. */
  | { kind: "candidates"; items: string[] }
  /** Ctrl-C outside a question (the caller decides: clear, or quit). */
  | { kind: "interrupt" }
  /** Ctrl-D on an empty buffer: end of input. */
  | { kind: "eof" };

/** The laid-out input area: rows (plain text, each at most the width) and the cursor. */
export interface EditorView {
  /** Rows to show, the prompt at the start of the first (unless scrolled away). */
  rows: string[];
  /** Row of the cursor in `rows`. */
  cursorRow: number;
  /** Column of the cursor (always less than the width). */
  cursorCol: number;
}

/**
 * Default longest buffer (UTF-16 code units): the largest record plaintext (16,384 bytes), so
 * nothing longer could ever be sent.
 */
export const MAX_INPUT = 16_384;

// deno-lint-ignore no-control-regex
const CONTROLS = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/g;
const SPACE = /^\s$/u;
const REGIONAL = /^\p{Regional_Indicator}/u;
const SEGMENTER = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/** `text` fit for the buffer: newlines normalised, tabs as spaces, other controls dropped. */
export function cleanInput(text: string): string {
  return text.toWellFormed().replace(/\r\n?/g, "\n").replaceAll("\t", "    ").replace(
    CONTROLS,
    "",
  );
}

/** Line editing state for the chat input. */
export class LineEditor {
  #text = "";
  #cursor = 0;
  /** Code unit offsets of the cluster boundaries of `#text` (0 … length), computed lazily. */
  #bounds: number[] | undefined = [0];
  readonly #history: string[] = [];
  #historyAt = 0;
  #draft = "";
  #kill = "";
  #question: { text: string; lines: number } | undefined;
  readonly #historySize: number;
  readonly #maxLength: number;
  readonly #complete: ((before: string) => [string[], string]) | undefined;
  readonly #check: ((text: string) => string | undefined) | undefined;
  readonly #pasteConfirmLines: number;

  /** An empty editor. */
  constructor(opts: LineEditorOptions = {}) {
    this.#historySize = opts.historySize ?? 1000;
    this.#maxLength = opts.maxLength ?? MAX_INPUT;
    this.#complete = opts.complete;
    this.#check = opts.check;
    this.#pasteConfirmLines = opts.pasteConfirmLines ?? 5;
  }

  /** The buffer. */
  get text(): string {
    return this.#text;
  }

  /** The cursor, as a UTF-16 offset into {@link LineEditor.text} (a cluster boundary). */
  get cursor(): number {
    return this.#cursor;
  }

  /** The buffer's grapheme clusters, in order. */
  get clusters(): string[] {
    const b = this.#boundaries();
    const out: string[] = [];
    for (let k = 0; k + 1 < b.length; k++) out.push(this.#text.slice(b[k], b[k + 1]));
    return out;
  }

  /** History entries, oldest first. */
  get history(): readonly string[] {
    return this.#history;
  }

  /** True while a long paste waits for y/n. */
  get asking(): boolean {
    return this.#question !== undefined;
  }

  /** Replaces the buffer (cleaned, cut to the bound); the cursor goes to its end. */
  setText(text: string): void {
    this.#set(this.#fit(cleanInput(text), 0));
    this.#cursor = this.#text.length;
  }

  /** Empties the buffer and drops a pending paste question; history is kept. */
  clear(): void {
    this.#question = undefined;
    this.#set("");
    this.#historyAt = this.#history.length;
  }

  #set(text: string): void {
    this.#text = text;
    this.#bounds = undefined;
  }

  /**
   * Replaces `[from, to)` of the buffer with `ins`, updating the cluster boundaries around the
   * change only: from one cluster before it (and the start of a run of regional indicators) up
   * to the first boundary after it that the old text had too.
   */
  #replace(from: number, to: number, ins: string): void {
    const old = this.#bounds;
    const t = this.#text;
    const text = t.slice(0, from) + ins + t.slice(to);
    if (old === undefined) return this.#set(text);
    const delta = ins.length - (to - from);
    let ks = Math.max(0, this.#floor(from) - 1);
    while (ks > 0 && REGIONAL.test(t.slice(old[ks - 1], old[ks]))) ks--;
    const start = old[ks];
    const bounds = old.slice(0, ks + 1);
    const changedEnd = from + ins.length;
    let synced = false;
    for (const seg of SEGMENTER.segment(text.slice(start))) {
      const pos = start + seg.index + seg.segment.length;
      bounds.push(pos);
      if (pos >= changedEnd && pos - delta >= to) {
        const oi = this.#find(old, pos - delta);
        if (oi >= 0) {
          for (let k = oi + 1; k < old.length; k++) bounds.push(old[k] + delta);
          synced = true;
          break;
        }
      }
    }
    if (!synced && bounds.at(-1) !== text.length) bounds.push(text.length);
    this.#text = text;
    this.#bounds = bounds;
  }

  /** Index of `offset` in the sorted `list`, or -1. */
  #find(list: number[], offset: number): number {
    let lo = 0;
    let hi = list.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid] < offset) lo = mid + 1;
      else if (list[mid] > offset) hi = mid - 1;
      else return mid;
    }
    return -1;
  }

  /** Index of the last boundary at or before `offset`. */
  #floor(offset: number): number {
    const b = this.#boundaries();
    const i = this.#index(offset);
    return b[i] === offset ? i : i - 1;
  }

  #boundaries(): number[] {
    if (this.#bounds === undefined) {
      const b = [0];
      let at = 0;
      for (const g of graphemes(this.#text)) b.push(at += g.length);
      this.#bounds = b;
    }
    return this.#bounds;
  }

  /** Index in the boundaries of the first boundary at or after `offset`. */
  #index(offset: number): number {
    const b = this.#boundaries();
    let lo = 0;
    let hi = b.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (b[mid] < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** `ins` cut so that the buffer stays within its bound (whole clusters only). */
  #fit(ins: string, keep: number): string {
    const room = this.#maxLength - keep;
    if (ins.length <= room) return ins;
    let out = "";
    for (const g of graphemes(ins)) {
      if (out.length + g.length > room) break;
      out += g;
    }
    return out;
  }

  #insert(raw: string): EditorResult {
    const clean = cleanInput(raw);
    const ins = this.#fit(clean, this.#text.length);
    if (ins !== "") {
      const at = this.#cursor;
      this.#replace(at, at, ins);
      // The end of the insertion may have joined the next cluster: snap forward.
      const b = this.#boundaries();
      this.#cursor = b[this.#index(at + ins.length)];
    }
    return ins.length < clean.length
      ? { kind: "handled", notice: `input is limited to ${this.#maxLength} characters` }
      : { kind: "handled" };
  }

  /** Removes `[from, to)` (cluster boundaries); the cursor goes to `from`. */
  #delete(from: number, to: number, kill = false): EditorResult {
    if (to > from) {
      if (kill) this.#kill = this.#text.slice(from, to);
      this.#replace(from, to, "");
      // What was on either side may now form one cluster: the cursor goes to its start.
      this.#cursor = this.#boundaries()[this.#floor(from)];
    }
    return { kind: "handled" };
  }

  /** The boundary one cluster before (`-1`) or after (`1`) the cursor. */
  #step(dir: -1 | 1): number {
    const b = this.#boundaries();
    const i = this.#index(this.#cursor) + dir;
    return b[Math.max(0, Math.min(b.length - 1, i))];
  }

  /** The boundary at the start (`-1`) of the word before, or the end (`1`) of the word after. */
  #word(dir: -1 | 1): number {
    const b = this.#boundaries();
    let i = this.#index(this.#cursor);
    const space = (k: number) => SPACE.test(this.#text.slice(b[k], b[k + 1]));
    if (dir < 0) {
      while (i > 0 && space(i - 1)) i--;
      while (i > 0 && !space(i - 1)) i--;
    } else {
      while (i < b.length - 1 && space(i)) i++;
      while (i < b.length - 1 && !space(i)) i++;
    }
    return b[i];
  }

  /** Moves to the same column (in clusters) of the line above (`-1`) or below; false at the edge. */
  #lineMove(dir: -1 | 1): boolean {
    const t = this.#text;
    const start = t.lastIndexOf("\n", this.#cursor - 1) + 1;
    const target = dir < 0 ? t.lastIndexOf("\n", start - 2) + 1 : t.indexOf("\n", this.#cursor);
    if (dir < 0 && start === 0) return false;
    if (dir > 0 && target < 0) return false;
    const col = this.#index(this.#cursor) - this.#index(start);
    const lineStart = dir < 0 ? target : target + 1;
    let end = t.indexOf("\n", lineStart);
    if (end < 0) end = t.length;
    const b = this.#boundaries();
    const i = Math.min(this.#index(lineStart) + col, this.#index(end));
    this.#cursor = b[i];
    return true;
  }

  #recall(dir: -1 | 1): EditorResult {
    const at = this.#historyAt + dir;
    if (at < 0 || at > this.#history.length) return { kind: "handled" };
    if (this.#historyAt === this.#history.length) this.#draft = this.#text;
    this.#historyAt = at;
    this.#set(at === this.#history.length ? this.#draft : this.#history[at]);
    this.#cursor = this.#text.length;
    return { kind: "handled" };
  }

  #submit(): EditorResult {
    const text = this.#text;
    const reason = this.#check?.(text);
    if (reason !== undefined) return { kind: "refused", reason };
    if (text.trim() !== "") {
      const dup = this.#history.indexOf(text);
      if (dup >= 0) this.#history.splice(dup, 1);
      this.#history.push(text);
      if (this.#history.length > this.#historySize) this.#history.shift();
    }
    this.#historyAt = this.#history.length;
    this.#draft = "";
    this.#set("");
    this.#cursor = 0;
    return { kind: "submit", text };
  }

  #tab(): EditorResult {
    if (this.#complete === undefined) return { kind: "handled" };
    const before = this.#text.slice(0, this.#cursor);
    const [items, word] = this.#complete(before);
    if (items.length === 0 || !before.endsWith(word)) return { kind: "handled" };
    let common = items[0];
    for (const c of items) {
      let n = 0;
      while (n < common.length && n < c.length && common[n] === c[n]) n++;
      common = common.slice(0, n);
    }
    if (common.length > word.length || (items.length === 1 && common !== word)) {
      this.#cursor -= word.length;
      this.#replace(this.#cursor, this.#cursor + word.length, "");
      return this.#insert(common);
    }
    return items.length > 1 ? { kind: "candidates", items } : { kind: "handled" };
  }

  #paste(key: Key): EditorResult {
    const text = cleanInput(key.text ?? "").replace(/\n$/, "");
    const notice = key.truncated
      ? "the paste was too long; only its beginning was kept"
      : undefined;
    const lines = text.split("\n").length;
    if (lines > this.#pasteConfirmLines) {
      this.#question = { text, lines };
      return notice === undefined ? { kind: "handled" } : { kind: "handled", notice };
    }
    const r = this.#insert(text);
    return notice === undefined ? r : { kind: "handled", notice };
  }

  #answer(key: Key): EditorResult {
    const q = this.#question!;
    const yes = key.name === "text" && (key.text === "y" || key.text === "Y");
    const no = (key.name === "text" && (key.text === "n" || key.text === "N")) ||
      key.name === "escape" || (key.ctrl === true && (key.name === "c" || key.name === "g"));
    if (!yes && !no) return { kind: "handled" };
    this.#question = undefined;
    return yes ? this.#insert(q.text) : { kind: "handled", notice: "paste dropped" };
  }

  /** Applies one key. */
  feed(key: Key): EditorResult {
    if (this.#question !== undefined) return this.#answer(key);
    const { name, ctrl = false, alt = false } = key;
    const t = this.#text;
    if (name === "text") return alt ? { kind: "unhandled", key } : this.#insert(key.text ?? "");
    if (name === "paste") return this.#paste(key);
    if (ctrl && !alt) {
      switch (name) {
        case "a":
          this.#cursor = 0;
          return { kind: "handled" };
        case "e":
          this.#cursor = t.length;
          return { kind: "handled" };
        case "b":
          this.#cursor = this.#step(-1);
          return { kind: "handled" };
        case "f":
          this.#cursor = this.#step(1);
          return { kind: "handled" };
        case "d":
          return t === "" ? { kind: "eof" } : this.#delete(this.#cursor, this.#step(1));
        case "k":
          return this.#delete(this.#cursor, t.length, true);
        case "u":
          return this.#delete(0, this.#cursor, true);
        case "w":
          return this.#delete(this.#word(-1), this.#cursor, true);
        case "y":
          return this.#insert(this.#kill);
        case "c":
          return { kind: "interrupt" };
        case "left":
          this.#cursor = this.#word(-1);
          return { kind: "handled" };
        case "right":
          this.#cursor = this.#word(1);
          return { kind: "handled" };
        case "delete":
          return this.#delete(this.#cursor, this.#word(1), true);
        case "backspace":
          return this.#delete(this.#word(-1), this.#cursor, true);
      }
      return { kind: "unhandled", key };
    }
    if (alt && !ctrl) {
      switch (name) {
        case "b":
          this.#cursor = this.#word(-1);
          return { kind: "handled" };
        case "f":
          this.#cursor = this.#word(1);
          return { kind: "handled" };
        case "d":
          return this.#delete(this.#cursor, this.#word(1), true);
        case "backspace":
          return this.#delete(this.#word(-1), this.#cursor, true);
        case "enter":
          return this.#insert("\n");
      }
      return { kind: "unhandled", key };
    }
    if (ctrl || alt) return { kind: "unhandled", key };
    switch (name) {
      case "enter":
        // Shift+Enter (told apart by terminals that report modifiers) is a line break too.
        return key.shift ? this.#insert("\n") : this.#submit();
      case "backspace":
        return this.#delete(this.#step(-1), this.#cursor);
      case "delete":
        return this.#delete(this.#cursor, this.#step(1));
      case "left":
        this.#cursor = this.#step(-1);
        return { kind: "handled" };
      case "right":
        this.#cursor = this.#step(1);
        return { kind: "handled" };
      case "home":
        this.#cursor = 0;
        return { kind: "handled" };
      case "end":
        this.#cursor = t.length;
        return { kind: "handled" };
      case "up":
        return this.#lineMove(-1) ? { kind: "handled" } : this.#recall(-1);
      case "down":
        return this.#lineMove(1) ? { kind: "handled" } : this.#recall(1);
      case "tab":
        return key.shift ? { kind: "unhandled", key } : this.#tab();
    }
    return { kind: "unhandled", key };
  }

  /**
   * Lays out `prompt` and the buffer in rows of at most `width` columns (at least 1), wrapping
   * inside long lines and starting each further line under the prompt (indent capped at half
   * the width). With more rows than `maxRows`, only the `maxRows` around the cursor are
   * returned. While a paste question is open, the rows show the question instead.
   */
  render(width: number, prompt = "", maxRows = Infinity): EditorView {
    const w = Math.max(1, Math.floor(width));
    const rows: string[] = [];
    let row = "";
    let col = 0;
    let cursorRow = 0;
    let cursorCol = 0;
    const put = (shown: string, sw: number) => {
      if (col + sw > w) {
        rows.push(row);
        row = "";
        col = 0;
      }
      row += shown;
      col += sw;
    };
    const markCursor = () => {
      if (col >= w) {
        rows.push(row);
        row = "";
        col = 0;
      }
      cursorRow = rows.length;
      cursorCol = col;
    };
    const q = this.#question;
    const head = q !== undefined
      ? `paste ${q.lines} lines as one message? (y/n) `
      : sanitize(prompt);
    for (const g of graphemes(head)) put(...shown(g, w));
    if (q !== undefined) {
      markCursor();
    } else {
      const indent = " ".repeat(Math.min(textWidth(head), Math.floor(w / 2)));
      const b = this.#boundaries();
      const t = this.#text;
      for (let k = 0; k + 1 < b.length; k++) {
        if (b[k] === this.#cursor) markCursor();
        const g = t.slice(b[k], b[k + 1]);
        if (g === "\n") {
          rows.push(row);
          row = indent;
          col = indent.length;
          continue;
        }
        put(...shown(g, w));
      }
      if (t.length === this.#cursor) markCursor();
    }
    rows.push(row);
    const limit = Math.max(1, Math.floor(maxRows));
    if (rows.length <= limit) return { rows, cursorRow, cursorCol };
    const start = Math.max(0, Math.min(cursorRow - limit + 1, rows.length - limit));
    return { rows: rows.slice(start, start + limit), cursorRow: cursorRow - start, cursorCol };
  }
}

/** How a cluster is shown and its width: made safe, a lone mark on a dotted circle. */
function shown(g: string, width: number): [string, number] {
  if (g.length === 1) {
    const c = g.charCodeAt(0);
    if (c >= 0x20 && c < 0x7f) return [g, 1];
  }
  const hit = SHOWN.get(g);
  if (hit !== undefined) return hit[1] > width ? ["?", 1] : hit;
  let s = sanitize(g);
  // Made safe, a cluster may have become several (`<U+202E>`): measure them all then.
  let sw = s === g ? graphemeWidth(s) : textWidth(s);
  if (sw === 0) {
    s = `\u25cc${s}`;
    sw = 1;
  }
  // A cluster that would join what is shown before or after it (an emoji modifier after a
  // line break, a prepended mark on its own) is shown by its code points.
  if (graphemes(`x${s}`).length < 2 || graphemes(`${s}x`).length < 2) {
    s = [...g].map((c) => `<U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}>`)
      .join("");
    sw = s.length;
  }
  if (SHOWN.size >= SHOWN_MAX) SHOWN.clear();
  SHOWN.set(g, [s, sw]);
  if (sw > width) return ["?", 1];
  return [s, sw];
}

/** How clusters seen lately are shown (a bounded cache: cleared when full). */
const SHOWN = new Map<string, [string, number]>();
const SHOWN_MAX = 4096;
