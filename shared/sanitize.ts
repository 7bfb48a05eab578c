/**
 * Terminal-safe rendering of untrusted text (DESIGN.md §1 Terminal UI). Every character that could
 * move the cursor, change terminal state, reorder text or hide text is replaced by a visible
 * symbol; printable text (emoji, CJK, accented letters) passes unchanged.
 *
 * - C0 controls (ESC included) become Control Pictures (U+2400 + code), DEL becomes U+2421;
 * - C1 controls, bidi controls, line/paragraph separators and invisible format characters
 *   become text such as `<U+202E>`;
 * - lone surrogates become U+FFFD;
 * - a run of combining marks keeps its first 4 marks and drops the rest;
 * - tag characters survive only inside an emoji tag sequence (U+1F3F4, 1–6 tags, U+E007F),
 *   as in subdivision flags; anywhere else they are shown as `<U+E00XX>`.
 * @module
 */

const MAX_MARKS = 4;

/**
 * Invisible or reordering characters shown as `<U+XXXX>`: soft hyphen, Arabic letter mark,
 * Mongolian vowel separator, zero-width space, LRM/RLM, line and paragraph separators,
 * bidi embeddings/overrides/isolates, word joiner and invisible operators, deprecated
 * shaping controls, BOM, interlinear annotations, Hangul fillers, shorthand and musical
 * format controls, and tag characters. ZWNJ/ZWJ (U+200C/U+200D) stay: scripts and emoji need them.
 */
const FORMAT = "\\u00ad\\u061c\\u180e\\u200b\\u200e\\u200f\\u2028-\\u202e\\u2060-\\u2064" +
  "\\u2066-\\u206f\\u3164\\ufeff\\uffa0\\ufff9-\\ufffb\\u{1bca0}-\\u{1bca3}" +
  "\\u{1d173}-\\u{1d17a}\\u{e0000}-\\u{e007f}";

/**
 * Alternatives in priority order; the capture group that matched tells the replacer what it is.
 * 1: emoji tag sequence (kept), 2: first marks of an over-long mark run, 3: lone surrogate,
 * 4: control character, 5: format character. In multi-line mode "\n" is excluded from 4.
 */
function buildPattern(controls: string, flags: string): RegExp {
  return new RegExp(
    "(\\u{1f3f4}[\\u{e0020}-\\u{e007e}]{1,6}\\u{e007f})" +
      `|(\\p{M}{${MAX_MARKS}})\\p{M}+` +
      "|([\\ud800-\\udfff])" +
      `|([${controls}])` +
      `|([${FORMAT}])`,
    flags,
  );
}

const CONTROLS = "\\x00-\\x1f\\x7f-\\x9f";
const CONTROLS_BUT_NEWLINE = "\\x00-\\x09\\x0b-\\x1f\\x7f-\\x9f";
const SINGLE_LINE = buildPattern(CONTROLS, "gu");
const MULTI_LINE = buildPattern(CONTROLS_BUT_NEWLINE, "gu");
const SCAN = buildPattern(CONTROLS, "gu");

function visible(
  match: string,
  flag: string | undefined,
  marks: string | undefined,
  surrogate: string | undefined,
  control: string | undefined,
): string {
  if (flag !== undefined) return flag;
  if (marks !== undefined) return marks;
  if (surrogate !== undefined) return "\ufffd";
  if (control !== undefined) {
    const c = control.charCodeAt(0);
    if (c < 0x20) return String.fromCharCode(0x2400 + c);
    if (c === 0x7f) return "\u2421";
  }
  const cp = match.codePointAt(0) ?? 0;
  return `<U+${cp.toString(16).toUpperCase().padStart(4, "0")}>`;
}

/** Renders untrusted text as one safe terminal line: newline and tab are made visible too. */
export function sanitize(text: string): string {
  return text.replace(SINGLE_LINE, visible);
}

/** Like {@link sanitize} but keeps "\n" line breaks ("\r", tab and all others are made visible). */
export function sanitizeMultiline(text: string): string {
  return text.replace(MULTI_LINE, visible);
}

/** True when `sanitize(text) === text`: no control, bidi, invisible or malformed character. */
export function isSafe(text: string): boolean {
  SCAN.lastIndex = 0;
  for (let m = SCAN.exec(text); m !== null; m = SCAN.exec(text)) {
    if (m[1] === undefined) {
      SCAN.lastIndex = 0;
      return false;
    }
  }
  return true;
}
