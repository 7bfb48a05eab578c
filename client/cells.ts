/**
 * Terminal cells taken by text: SGR colour codes take none, a grapheme cluster takes two when it
 * holds a wide (East Asian) or emoji character, none when it is only combining marks, else one.
 * Wrapping to a width with a hanging indent, carrying colours onto the continuation rows. Pure.
 * @module
 */

/** An SGR sequence (the only escape sequences rendered text holds). */
// deno-lint-ignore no-control-regex
const SGR = /\x1b\[[0-9;]*m/y;
// deno-lint-ignore no-control-regex
const SGR_ALL = /\x1b\[[0-9;]*m/g;
const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });
const ZERO = /^[\p{M}\u200b-\u200f\u2060\ufe00-\ufe0f]+$/u;
const EMOJI = /\p{Extended_Pictographic}|\p{Regional_Indicator}/u;

function isWide(cp: number): boolean {
  return (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0x303e) ||
    (cp >= 0x3041 && cp <= 0x33ff) || (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0xa000 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1faff) ||
    (cp >= 0x20000 && cp <= 0x3fffd);
}

/** Cells one grapheme cluster takes: 0, 1 or 2. */
export function graphemeWidth(g: string): number {
  if (g === "" || ZERO.test(g)) return 0;
  if (isWide(g.codePointAt(0)!) || (g.length > 1 && EMOJI.test(g))) return 2;
  return 1;
}

/** A piece of rendered text: an SGR code (no cells) or one grapheme cluster. */
type Piece = { sgr: string } | { g: string; w: number };

function* pieces(text: string): Generator<Piece> {
  let i = 0;
  let plain = "";
  const flush = function* (): Generator<Piece> {
    for (const { segment } of segmenter.segment(plain)) {
      yield { g: segment, w: graphemeWidth(segment) };
    }
    plain = "";
  };
  while (i < text.length) {
    SGR.lastIndex = i;
    const m = SGR.exec(text);
    if (m !== null) {
      yield* flush();
      yield { sgr: m[0] };
      i += m[0].length;
    } else {
      plain += text[i];
      i++;
    }
  }
  yield* flush();
}

/** Cells `text` takes on one row (SGR codes take none). */
export function cellWidth(text: string): number {
  let w = 0;
  for (const p of pieces(text)) if ("g" in p) w += p.w;
  return w;
}

/** The start of `text` that fits in `width` cells (SGR codes kept). */
export function truncate(text: string, width: number): string {
  let out = "";
  let used = 0;
  for (const p of pieces(text)) {
    if ("sgr" in p) out += p.sgr;
    else if (used + p.w <= width) {
      out += p.g;
      used += p.w;
    } else break;
  }
  return out;
}

/** `text` without its SGR codes. */
export function stripSgr(text: string): string {
  return text.replace(SGR_ALL, "");
}

/**
 * Cuts one line of rendered text into rows of at most `width` cells, at a space when there is
 * one in the row, else inside a word. Rows after the first start with `indent` spaces (the
 * hanging indent; at most a third of the width) and repeat the SGR codes seen so far, so a
 * coloured line stays coloured. `width` below 1 counts as 1.
 */
export function wrap(text: string, width: number, indent = 0): string[] {
  const w = Math.max(1, Math.floor(width));
  const pad = Math.max(0, Math.min(Math.floor(indent), Math.floor(w / 3)));
  const rows: string[] = [];
  let sgrSoFar = "";
  let row: Piece[] = [];
  let used = 0;
  let lastSpace = -1;
  const rowText = (ps: Piece[]) => ps.map((p) => "sgr" in p ? p.sgr : p.g).join("");
  const startRow = (carry: Piece[]) => {
    const lead: Piece[] = [{ sgr: sgrSoFar }, ...Array(pad).fill({ g: " ", w: 1 })];
    row = [...lead, ...carry];
    used = pad + carry.reduce((n, p) => n + ("w" in p ? p.w : 0), 0);
    lastSpace = -1;
  };
  for (const p of pieces(text)) {
    if ("sgr" in p) {
      row.push(p);
      sgrSoFar += p.sgr;
      continue;
    }
    if (used + p.w > w && used > (rows.length === 0 ? 0 : pad)) {
      if (lastSpace >= 0 && p.g !== " ") {
        const carry = row.slice(lastSpace + 1);
        rows.push(rowText(row.slice(0, lastSpace)));
        startRow(carry.filter((c) => "g" in c));
      } else {
        rows.push(rowText(row));
        startRow([]);
        if (p.g === " ") continue;
      }
    }
    if (p.g === " ") lastSpace = row.length;
    row.push(p);
    used += p.w;
  }
  rows.push(rowText(row));
  return rows;
}
