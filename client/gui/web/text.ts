/**
 * Text helpers of the page: untrusted text made visible exactly as the terminal shows it
 * (controls, bidi overrides and invisible characters become visible marks), split around
 * mentions; nick colour classes; times and day labels. Pure.
 * @module
 */

import { sanitize, sanitizeMultiline } from "../../../shared/sanitize.ts";
import { mentionOffsets, NAME_COLORS, nameColor } from "../../render.ts";

/** A piece of a message: plain text, or a mention of the user. */
export interface Piece {
  /** The visible text. */
  text: string;
  /** This piece mentions the user. */
  mention: boolean;
}

/** `text` made visible (line breaks kept) and cut around whole-word mentions of `me`. */
export function pieces(text: string, me: string): Piece[] {
  const safe = sanitizeMultiline(text).replace(/\n+$/, "");
  const at = mentionOffsets(safe, me);
  const out: Piece[] = [];
  let from = 0;
  for (const i of at) {
    if (i > from) out.push({ text: safe.slice(from, i), mention: false });
    out.push({ text: safe.slice(i, i + me.length), mention: true });
    from = i + me.length;
  }
  if (from < safe.length || out.length === 0) out.push({ text: safe.slice(from), mention: false });
  return out;
}

/** A name (or any one-line string from the network) made visible on one line. */
export function visible(text: string): string {
  return sanitize(text);
}

/** The CSS class of `name`'s colour: `nick-0` … `nick-11`, the terminal's choice of colour. */
export function nickClass(name: string): string {
  return `nick-${NAME_COLORS.indexOf(nameColor(name))}`;
}

/** `HH:MM` in local time. */
export function clock(ts: number): string {
  const d = new Date(ts);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

/** The local calendar day of `ts` as `YYYY-MM-DD` (for date separators). */
export function day(ts: number): string {
  const d = new Date(ts);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${
    String(d.getDate()).padStart(2, "0")
  }`;
}
