/**
 * The rules of chat text (docs/protocol.md §5 "Chat text"): what a room message (`say`, `/me`)
 * and the plaintext of a private message may hold. Text may span several lines separated by LF
 * ("\n"); CR is refused (clients normalise CRLF and CR to LF before sending); at most
 * {@link MAX_TEXT_LINES} lines; the text neither starts nor ends with a line break; the whole is
 * bounded in UTF-8 bytes by the caller's limit. Other control characters are carried and shown
 * visibly on display (shared/sanitize.ts). Pure.
 * @module
 */

import { utf8Length } from "./encoding.ts";

/** Most lines in one chat text (so at most 49 line breaks). */
export const MAX_TEXT_LINES = 50;

/** Why a chat text is refused: `bad_text` (shape) or `too_long` (bytes). */
export interface TextRefusal {
  /** `bad_text` or `too_long`. */
  code: "bad_text" | "too_long";
  /** A sentence naming the rule, e.g. `at most 50 lines (this has 51)`. */
  reason: string;
}

/** Number of lines in `text` (LF-separated; "" has one). */
export function lineCount(text: string): number {
  let n = 1;
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) n++;
  return n;
}

/**
 * Checks `text` against the chat-text rules with at most `maxBytes` UTF-8 bytes; undefined when
 * it may be sent, else why not. The byte count is checked before anything else is scanned.
 */
export function chatTextRefusal(text: string, maxBytes: number): TextRefusal | undefined {
  if (text.length === 0) return { code: "bad_text", reason: "empty" };
  if (text.length * 3 > maxBytes && utf8Length(text) > maxBytes) {
    return { code: "too_long", reason: `longer than ${maxBytes} bytes` };
  }
  if (text.includes("\r")) {
    return { code: "bad_text", reason: "a carriage return (CR) is not allowed; lines end with LF" };
  }
  if (text.startsWith("\n") || text.endsWith("\n")) {
    return { code: "bad_text", reason: "it may not start or end with a line break" };
  }
  const lines = lineCount(text);
  if (lines > MAX_TEXT_LINES) {
    return { code: "bad_text", reason: `at most ${MAX_TEXT_LINES} lines (this has ${lines})` };
  }
  return undefined;
}

/**
 * What a client sends for typed or pasted `text`: CRLF and lone CR become LF, blank lines at the
 * start and white space at the end are removed (the indentation of the first line is kept).
 */
export function normalizeChatText(text: string): string {
  return text.replace(/\r\n?/g, "\n").replace(/^(?:[ \t]*\n)+/, "").trimEnd();
}
