/**
 * Grapheme clusters and their width in terminal columns: wide (East Asian wide and fullwidth,
 * emoji presentation, flags, emoji sequences) take 2 columns, a cluster made of marks only
 * takes none, everything else 1. Pure.
 * @module
 */

const SEGMENTER = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/** True for a code unit that forms a cluster on its own when an ASCII character follows. */
function simple(c: number): boolean {
  return c < 0x80 && c !== 0x0d;
}

/**
 * The grapheme clusters of `text`, in order (their concatenation is `text`). ASCII between ASCII
 * takes a fast path; the rest goes through `Intl.Segmenter`.
 */
export function graphemes(text: string): string[] {
  const out: string[] = [];
  const n = text.length;
  let i = 0;
  while (i < n) {
    if (simple(text.charCodeAt(i)) && (i + 1 >= n || simple(text.charCodeAt(i + 1)))) {
      out.push(text[i++]);
      continue;
    }
    // A stretch that is not plain ASCII, up to three ASCII characters in a row (a cluster may
    // start with a prepended mark before an ASCII letter).
    let j = i + 1;
    while (
      j < n &&
      !(simple(text.charCodeAt(j - 1)) && simple(text.charCodeAt(j)) &&
        (j + 1 >= n || simple(text.charCodeAt(j + 1))))
    ) {
      j++;
    }
    for (const s of SEGMENTER.segment(text.slice(i, j))) out.push(s.segment);
    i = j;
  }
  return out;
}

/** Code point ranges (inclusive) of East Asian wide and fullwidth characters outside emoji. */
const WIDE: readonly (readonly [number, number])[] = [
  [0x1100, 0x115f],
  [0x2329, 0x232a],
  [0x2e80, 0x303e],
  [0x3041, 0x33ff],
  [0x3400, 0x4dbf],
  [0x4e00, 0x9fff],
  [0xa000, 0xa4cf],
  [0xa960, 0xa97f],
  [0xac00, 0xd7a3],
  [0xf900, 0xfaff],
  [0xfe10, 0xfe19],
  [0xfe30, 0xfe6f],
  [0xff00, 0xff60],
  [0xffe0, 0xffe6],
  [0x16fe0, 0x16fe4],
  [0x17000, 0x18cff],
  [0x1b000, 0x1b2ff],
  [0x1f200, 0x1f2ff],
  [0x20000, 0x2fffd],
  [0x30000, 0x3fffd],
];

function isWideCodePoint(cp: number): boolean {
  let lo = 0;
  let hi = WIDE.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const [a, b] = WIDE[mid];
    if (cp < a) hi = mid - 1;
    else if (cp > b) lo = mid + 1;
    else return true;
  }
  return false;
}

const EMOJI_PRESENTATION = /^\p{Emoji_Presentation}/u;
const PICTOGRAPHIC = /^\p{Extended_Pictographic}/u;
const REGIONAL_PAIR = /^\p{Regional_Indicator}{2}/u;
const MARKS_ONLY = /^[\p{M}\u200c\u200d]+$/u;

/** Columns one grapheme cluster takes on a terminal (0, 1 or 2); controls count 0. */
export function graphemeWidth(g: string): number {
  const cp = g.codePointAt(0);
  if (cp === undefined) return 0;
  if (cp < 0x7f) {
    if (cp < 0x20) return 0;
    // An ASCII base with marks after it; an emoji modifier after it still shows, 2 wide.
    let w = 1;
    for (const ch of g.slice(1)) if (EMOJI_PRESENTATION.test(ch)) w += 2;
    return w;
  }
  if (cp < 0xa0) return 0;
  if (cp < 0x300) return 1;
  if (MARKS_ONLY.test(g)) return 0;
  if (isWideCodePoint(cp)) return 2;
  if (EMOJI_PRESENTATION.test(g) || REGIONAL_PAIR.test(g)) return 2;
  // A text-style pictograph shown as emoji (VS16) or joined into an emoji sequence.
  if (PICTOGRAPHIC.test(g) && (g.includes("\ufe0f") || g.includes("\u200d"))) return 2;
  return 1;
}

/** Columns `text` (plain, no escape sequences) takes on one terminal row. */
export function textWidth(text: string): number {
  let w = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x20 && c < 0x7f) w++;
    // The ASCII character before may start the cluster: measure from it.
    else return i === 0 ? slowWidth(text) : w - 1 + slowWidth(text.slice(i - 1));
  }
  return w;
}

function slowWidth(text: string): number {
  let w = 0;
  for (const s of SEGMENTER.segment(text)) w += graphemeWidth(s.segment);
  return w;
}
