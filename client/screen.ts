/**
 * The full-screen layout of the interactive client, as strings for a given width and height:
 * the shown window's rows (wrapped with a hanging indent under the text column, a separator
 * where the day changes, the unread marker where the user left off), a status line listing every
 * window with its number, name, unread count and highlight mark, and the input rows at the
 * bottom. Everything is drawn in the terminal's alternate screen. Pure.
 * @module
 */

import { cellWidth, stripSgr, truncate, wrap } from "./cells.ts";
import type { Entry } from "./scrollback.ts";
import { type ChatWindow, Level, type WindowInfo } from "./windows.ts";

/** Switches to the alternate screen, clears it and homes the cursor. */
export const ENTER_SCREEN = "\x1b[?1049h\x1b[H\x1b[2J";
/** Leaves the alternate screen (the terminal shows what it showed before) and shows the cursor. */
export const LEAVE_SCREEN = "\x1b[?25h\x1b[?1049l";

/** The text of the unread marker line. */
export const UNREAD_MARK = "new messages";

/** The day of `ts` as shown on a date separator (local time), e.g. "Mon Nov 30 2026". */
export function localDay(ts: number): string {
  return new Date(ts).toDateString();
}

/** Settings for drawing. */
export interface DrawOptions {
  /** Use ANSI colours and styles. */
  color: boolean;
  /** The day a time falls on (default {@link localDay}); lines on different days are separated. */
  day?: (ts: number) => string;
}

/** `label` centred in a rule of `width` cells. */
export function rule(label: string, width: number): string {
  const core = ` ${label} `;
  const left = Math.max(2, Math.floor((width - cellWidth(core)) / 2));
  const right = Math.max(2, width - left - cellWidth(core));
  const out = "─".repeat(left) + core + "─".repeat(right);
  return truncate(out, width);
}

function dim(text: string, color: boolean): string {
  return color ? `\x1b[2m${text}\x1b[22m` : text;
}

/** Rows of each line at the width they were last wrapped at (a line is immutable). */
const WRAPPED = new WeakMap<Entry, { width: number; rows: readonly string[] }>();

/** The rows of line `e` at `width`, wrapped once per width. */
function wrapped(e: Entry, width: number): readonly string[] {
  const hit = WRAPPED.get(e);
  if (hit !== undefined && hit.width === width) return hit.rows;
  const rows: string[] = [];
  for (const part of e.text.split("\n")) rows.push(...wrap(part, width, e.indent));
  WRAPPED.set(e, { width, rows });
  return rows;
}

/** The last rows of a window, and whether they start at its first line. */
export interface WindowRows {
  /** Rows, oldest first, each at most `width` cells. */
  rows: string[];
  /** True when `rows` begins with the window's first line (nothing older is held). */
  top: boolean;
}

/**
 * The last `want` (or more) rows of `w` at `width`: its lines wrapped with their hanging
 * indent, a date rule between lines of different days, the unread marker above the first line
 * that came since the user last looked. Only the lines needed are wrapped, so a long scrollback costs little.
 */
export function windowRows(
  w: ChatWindow,
  width: number,
  want: number,
  opts: DrawOptions,
): WindowRows {
  const day = opts.day ?? localDay;
  const lines = w.scrollback.lines;
  // The marker's line, or the first line held when it was dropped for room (all is new).
  let mark = w.newFrom;
  if (mark >= 0 && !lines.some((e) => e.serial === mark)) {
    mark = lines[0] !== undefined && lines[0].serial > mark ? lines[0].serial : -1;
  }
  const chunks: string[][] = [];
  let count = 0;
  let i = lines.length - 1;
  for (; i >= 0 && count < want; i--) {
    const e = lines[i];
    const rows = [...wrapped(e, width)];
    const prev = lines[i - 1];
    if (prev !== undefined && day(prev.ts) !== day(e.ts)) {
      rows.unshift(dim(rule(day(e.ts), width), opts.color));
    }
    if (e.serial === mark) {
      rows.unshift(dim(rule(UNREAD_MARK, width), opts.color));
    }
    chunks.push(rows);
    count += rows.length;
  }
  return { rows: chunks.reverse().flat(), top: i < 0 };
}

/** The rows to show and the scroll they correspond to. */
export interface Viewport {
  /** Exactly `height` rows (blank ones first when the window holds fewer). */
  rows: string[];
  /** The scroll, clamped to what the window holds. */
  scroll: number;
  /** True when the first row shown is the window's first line: older history may be fetched. */
  atTop: boolean;
}

/** The `height` rows of `w` shown at `scroll` rows up from the bottom. */
export function viewport(
  w: ChatWindow,
  width: number,
  height: number,
  scroll: number,
  opts: DrawOptions,
): Viewport {
  const h = Math.max(0, height);
  const got = windowRows(w, width, h + Math.max(0, scroll), opts);
  const max = Math.max(0, got.rows.length - h);
  const s = got.top ? Math.min(Math.max(0, scroll), max) : Math.max(0, scroll);
  const end = got.rows.length - s;
  const rows = got.rows.slice(Math.max(0, end - h), end);
  while (rows.length < h) rows.unshift("");
  return { rows, scroll: s, atTop: got.top && s >= max };
}

/** One window's entry in the status line: `3:#dev(4)`, `4:bob(1!)`, `[2:#lobby]` when shown. */
export function windowLabel(info: WindowInfo): string {
  const hl = info.level === Level.Highlight;
  const count = info.unread > 0 ? `(${info.unread}${hl ? "!" : ""})` : hl ? "(!)" : "";
  const body = `${info.n}:${stripSgr(info.name)}${info.badge}${count}`;
  return info.current ? `[${body}]` : body;
}

function paintLabel(info: WindowInfo, text: string, color: boolean): string {
  if (!color || info.current) return text;
  if (info.level === Level.Highlight) return `\x1b[1;35m${text}\x1b[22;39m`;
  if (info.level === Level.Message) return `\x1b[1m${text}\x1b[22m`;
  if (info.level === Level.Activity) return text;
  return `\x1b[2m${text}\x1b[22m`;
}

/**
 * The status line: `left`, then every window's label; when they do not fit, windows with
 * nothing new are left out first (shown as `…`), then the line is cut. Exactly `width` cells,
 * in reverse video when colour is on.
 */
export function statusLine(
  infos: readonly WindowInfo[],
  width: number,
  left: string,
  right: string,
  color: boolean,
): string {
  const w = Math.max(1, width);
  if (cellWidth(right) >= w) right = "";
  let shown = [...infos];
  const build = (list: WindowInfo[], elided: boolean, paint: boolean) =>
    [left, ...list.map((i) => paint ? paintLabel(i, windowLabel(i), color) : windowLabel(i))]
      .concat(elided ? ["…"] : [])
      .filter((s) => s !== "")
      .join(" ");
  const reserve = right === "" ? 0 : cellWidth(right) + 1;
  let elided = false;
  while (cellWidth(build(shown, elided, false)) + reserve > w) {
    const quiet = shown.findLastIndex((i) => !i.current && i.level === Level.None);
    if (quiet < 0) break;
    shown = shown.filter((_, k) => k !== quiet);
    elided = true;
  }
  let text = build(shown, elided, false);
  if (cellWidth(text) + reserve > w) {
    text = truncate(text, Math.max(0, w - reserve));
  } else {
    text = build(shown, elided, true);
  }
  const gap = Math.max(0, w - cellWidth(text) - cellWidth(right));
  const line = text + " ".repeat(gap) + right;
  return color ? `\x1b[7m${line}\x1b[27m` : line;
}

/** The input area as a line editor renders it. */
export interface InputArea {
  /** Rows, each at most the width. */
  rows: string[];
  /** Cursor row within `rows`. */
  cursorRow: number;
  /** Cursor column (cells). */
  cursorCol: number;
}

/** Everything one frame shows. */
export interface Frame {
  /** Columns. */
  width: number;
  /** Rows. */
  height: number;
  /** Content rows (the viewport) from the top. */
  content: readonly string[];
  /** The status line. */
  status: string;
  /** The input rows at the bottom, with the cursor. */
  input: InputArea;
}

/** Input rows that fit under the content and the status line (at least 1, at most half). */
export function inputRowsShown(input: InputArea, height: number): number {
  return Math.max(1, Math.min(input.rows.length, Math.floor(height / 2)));
}

/** Rows left for content with this input (status line and input rows taken off). */
export function contentHeight(input: InputArea, height: number): number {
  return Math.max(0, height - 1 - inputRowsShown(input, height));
}

/**
 * The escape sequence that draws a whole frame: every row in place and cleared to its end, the
 * input rows scrolled so the cursor's row shows, the cursor left in the input.
 */
export function composeFrame(f: Frame): string {
  const h = Math.max(1, f.height);
  const n = inputRowsShown(f.input, h);
  const first = Math.max(0, Math.min(f.input.cursorRow - n + 1, f.input.rows.length - n));
  const input = f.input.rows.slice(first, first + n);
  while (input.length < n) input.push("");
  const ch = contentHeight(f.input, h);
  const content = f.content.slice(-ch || f.content.length);
  while (content.length < ch) content.unshift("");
  const all = [...content.slice(0, ch), f.status, ...input];
  let out = "\x1b[?25l";
  all.slice(0, h).forEach((row, i) => {
    out += `\x1b[${i + 1};1H${row}\x1b[0m\x1b[K`;
  });
  const row = h - n + 1 + (f.input.cursorRow - first);
  out += `\x1b[${Math.max(1, Math.min(h, row))};${Math.max(1, f.input.cursorCol + 1)}H\x1b[?25h`;
  return out;
}
