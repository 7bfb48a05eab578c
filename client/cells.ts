/**
 * Terminal cells taken by rendered text: SGR colour codes take none, each grapheme cluster what
 * text_width.ts says. Wrapping to a width with a hanging indent, carrying colours onto the
 * continuation rows; cutting to a width. Pure.
 * @module
 */

import { graphemes, graphemeWidth } from "./text_width.ts";

/** SGR sequences (the only escape sequences rendered text holds), kept by `split`. */
// deno-lint-ignore no-control-regex
const SGR_SPLIT = /(\x1b\[[0-9;]*m)/;
// deno-lint-ignore no-control-regex
const SGR_ALL = /\x1b\[[0-9;]*m/g;

/** A piece of rendered text: an SGR code (no cells) or one grapheme cluster. */
type Piece = { sgr: string } | { g: string; w: number };

function* pieces(text: string): Generator<Piece> {
  const parts = text.includes("\x1b") ? text.split(SGR_SPLIT) : [text];
  for (let i = 0; i < parts.length; i++) {
    if (i % 2 === 1) yield { sgr: parts[i] };
    else if (parts[i] !== "") {
      for (const g of graphemes(parts[i])) yield { g, w: graphemeWidth(g) };
    }
  }
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
