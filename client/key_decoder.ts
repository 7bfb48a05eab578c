/**
 * Terminal input bytes to named keys: printable text runs, control keys, CSI and SS3 sequences
 * (arrows, Home/End, PgUp/PgDn, Delete, function keys, xterm modifiers), the Alt prefix (ESC
 * before a key) and bracketed paste (`ESC[200~` … `ESC[201~`, kept whole up to a bound checked
 * before more is accumulated). Pure: the caller keeps a {@link DecoderState} between chunks and
 * calls {@link flushKeys} when input pauses (a lone ESC is then the Escape key).
 * @module
 */

/** One key press (or a pasted block, or a run of typed text). */
export interface Key {
  /**
   * `text` (typed printable text in `text`), `paste` (a bracketed paste in `text`), `enter`,
   * `backspace`, `delete`, `tab`, `escape`, `up`, `down`, `left`, `right`, `home`, `end`,
   * `pageup`, `pagedown`, `insert`, `f1`…`f12`, `digit` (with `n`), a letter `a`…`z` (with
   * `ctrl` and/or `alt`), `space`, another single character with `alt`, or `unknown`.
   */
  name: string;
  /** Ctrl was held (or the key is a control character). */
  ctrl?: boolean;
  /** Alt (Meta) was held: ESC prefix or an xterm modifier. */
  alt?: boolean;
  /** Shift was held (xterm modifier, Shift-Tab, Alt with a capital letter). */
  shift?: boolean;
  /** The text of `text` and `paste` keys. */
  text?: string;
  /** The digit of a `digit` key. */
  n?: number;
  /** A `paste` that was longer than the bound: only its first part is in `text`. */
  truncated?: boolean;
  /** The raw sequence of an `unknown` key. */
  seq?: string;
}

/** The decoder's memory between chunks. */
export interface DecoderState {
  /** Decoded text not yet turned into keys (an unfinished escape sequence). */
  pending: string;
  /** The bracketed paste being read, or undefined outside one. */
  paste: string | undefined;
  /** The paste being read went over the bound (the rest was dropped). */
  pasteTruncated: boolean;
  /** Inside an over-long escape sequence: its bytes are dropped up to its final byte. */
  skipping: boolean;
  /** Longest paste kept, in UTF-16 code units. */
  readonly maxPaste: number;
  /** UTF-8 decoding of byte chunks (a character may be split across chunks). */
  readonly utf8: TextDecoder;
}

/** Longest bracketed paste kept by default (UTF-16 code units); the rest is dropped. */
export const MAX_PASTE = 256 * 1024;
/** Longest escape sequence parsed; a longer one is skipped as `unknown`. */
const MAX_SEQUENCE = 32;
const PASTE_END = "\x1b[201~";

/** A fresh decoder state keeping pastes up to `maxPaste` code units. */
export function newDecoderState(maxPaste: number = MAX_PASTE): DecoderState {
  if (!Number.isInteger(maxPaste) || maxPaste < 0) throw new RangeError("maxPaste must be ≥ 0");
  return {
    pending: "",
    paste: undefined,
    pasteTruncated: false,
    skipping: false,
    maxPaste,
    utf8: new TextDecoder("utf-8"),
  };
}

/** Decodes one chunk of terminal input into keys; an unfinished sequence waits in `state`. */
export function decodeKeys(chunk: Uint8Array | string, state: DecoderState): Key[] {
  const text = typeof chunk === "string" ? chunk : state.utf8.decode(chunk, { stream: true });
  const keys: Key[] = [];
  const s = state.pending + text;
  state.pending = "";
  let i = 0;
  while (i < s.length) {
    if (state.skipping) {
      i = skipSequence(s, i, state);
      continue;
    }
    if (state.paste !== undefined) {
      const end = s.indexOf(PASTE_END, i);
      const stop = end >= 0 ? end : s.length - partialSuffix(s, i, PASTE_END);
      addToPaste(state, s, i, stop);
      if (end < 0) {
        state.pending = s.slice(stop);
        return keys;
      }
      const key: Key = { name: "paste", text: state.paste };
      if (state.pasteTruncated) key.truncated = true;
      keys.push(key);
      state.paste = undefined;
      state.pasteTruncated = false;
      i = end + PASTE_END.length;
      continue;
    }
    const r = parseOne(s, i, false);
    if (r === undefined) {
      state.pending = s.slice(i);
      return keys;
    }
    i = r.next;
    if (r.key.name === "paste-start") {
      state.paste = "";
      state.pasteTruncated = false;
      continue;
    }
    if (r.key.name === "paste-end") continue;
    if (r.key.name === "too-long") {
      state.skipping = true;
      r.key.name = "unknown";
    }
    pushKey(keys, r.key);
  }
  return keys;
}

/**
 * The keys still waiting after input paused: a lone ESC is the Escape key, an unfinished
 * sequence is read as far as it goes. An unfinished paste keeps waiting, unless `endPaste`:
 * then it ends here (its end marker was lost) and what it holds is the `paste` key.
 */
export function flushKeys(state: DecoderState, endPaste = false): Key[] {
  if (state.paste !== undefined) {
    if (!endPaste) return [];
    addToPaste(state, state.pending, 0, state.pending.length);
    state.pending = "";
    const key: Key = { name: "paste", text: state.paste };
    if (state.pasteTruncated) key.truncated = true;
    state.paste = undefined;
    state.pasteTruncated = false;
    return [key];
  }
  if (state.pending === "") return [];
  const s = state.pending;
  state.pending = "";
  const keys: Key[] = [];
  let i = 0;
  while (i < s.length) {
    if (state.skipping) {
      i = skipSequence(s, i, state);
      continue;
    }
    const r = parseOne(s, i, true)!;
    i = r.next;
    if (r.key.name === "paste-start" || r.key.name === "paste-end") continue;
    if (r.key.name === "too-long") {
      state.skipping = true;
      r.key.name = "unknown";
    }
    pushKey(keys, r.key);
  }
  return keys;
}

/** Drops the rest of an over-long sequence from `s[i]` on; returns where reading goes on. */
function skipSequence(s: string, i: number, state: DecoderState): number {
  while (i < s.length) {
    const code = s.charCodeAt(i++);
    if (code < 0x20 || code > 0x3f) {
      state.skipping = false;
      // A final byte ends the sequence; anything else is read again as input.
      return code >= 0x40 && code <= 0x7e ? i : i - 1;
    }
  }
  return i;
}

/** Appends `key`, merging runs of typed text into one key. */
function pushKey(keys: Key[], key: Key): void {
  const last = keys[keys.length - 1];
  if (key.name === "text" && last?.name === "text" && !last.alt && !key.alt) {
    last.text += key.text!;
  } else {
    keys.push(key);
  }
}

/** Adds `s[from, to)` to the paste, keeping at most `maxPaste` code units. */
function addToPaste(state: DecoderState, s: string, from: number, to: number): void {
  const room = state.maxPaste - state.paste!.length;
  if (to - from > room) {
    state.pasteTruncated = true;
    to = from + Math.max(0, room);
  }
  if (to > from) state.paste += s.slice(from, to);
}

/** Length of the longest proper prefix of `marker` that ends `s` (from `from` on). */
function partialSuffix(s: string, from: number, marker: string): number {
  for (let n = Math.min(marker.length - 1, s.length - from); n > 0; n--) {
    if (s.endsWith(marker.slice(0, n))) return n;
  }
  return 0;
}

const TILDE_KEYS: Readonly<Record<number, string>> = {
  1: "home",
  2: "insert",
  3: "delete",
  4: "end",
  5: "pageup",
  6: "pagedown",
  7: "home",
  8: "end",
  11: "f1",
  12: "f2",
  13: "f3",
  14: "f4",
  15: "f5",
  17: "f6",
  18: "f7",
  19: "f8",
  20: "f9",
  21: "f10",
  23: "f11",
  24: "f12",
  200: "paste-start",
  201: "paste-end",
};

const LETTER_KEYS: Readonly<Record<string, string>> = {
  A: "up",
  B: "down",
  C: "right",
  D: "left",
  H: "home",
  F: "end",
  P: "f1",
  Q: "f2",
  R: "f3",
  S: "f4",
};

/** Applies an xterm modifier parameter (1 + bits: 1 Shift, 2 Alt, 4 Ctrl, 8 Meta). */
function withModifier(key: Key, param: number | undefined): Key {
  if (param === undefined || param < 2) return key;
  const bits = param - 1;
  if (bits & 1) key.shift = true;
  if (bits & 10) key.alt = true;
  if (bits & 4) key.ctrl = true;
  return key;
}

/** The key of code point `code` with xterm modifier `mod` (Shift+Enter, Alt+Enter, Ctrl+letter…). */
function codeKey(code: number | undefined, mod: number | undefined, seq: string): Key {
  if (code === undefined || !Number.isInteger(code) || code < 0 || code > 0x10ffff) {
    return { name: "unknown", seq };
  }
  const special = CODE_KEYS[code];
  if (special !== undefined) {
    const key = withModifier({ name: special }, mod);
    return special === "space" && !key.ctrl && !key.alt ? { name: "text", text: " " } : key;
  }
  if (code < 0x20 || (code >= 0x7f && code < 0xa0) || (code >= 0xd800 && code < 0xe000)) {
    return { name: "unknown", seq };
  }
  let ch = String.fromCodePoint(code);
  const key = withModifier({ name: ch.toLowerCase() }, mod);
  if (!key.ctrl && !key.alt) {
    if (key.shift) ch = ch.toUpperCase();
    return { name: "text", text: ch };
  }
  if (key.alt && !key.ctrl && ch >= "0" && ch <= "9") {
    return { name: "digit", alt: true, n: code - 48 };
  }
  return key;
}

const CODE_KEYS: Readonly<Record<number, string>> = {
  8: "backspace",
  9: "tab",
  13: "enter",
  27: "escape",
  32: "space",
  127: "backspace",
};

/** A key for one control character or printable character. */
function plainKey(c: string): Key {
  const code = c.charCodeAt(0);
  if (code === 0x0d || code === 0x0a) return { name: "enter" };
  if (code === 0x09) return { name: "tab" };
  if (code === 0x7f || code === 0x08) return { name: "backspace" };
  if (code === 0x00) return { name: "space", ctrl: true };
  if (code < 0x1b) return { name: String.fromCharCode(code + 0x60), ctrl: true };
  if (code === 0x1b) return { name: "escape" };
  if (code < 0x20) return { name: String.fromCharCode(code + 0x40), ctrl: true };
  if (code >= 0x80 && code < 0xa0) return { name: "unknown", seq: c };
  return { name: "text", text: c };
}

/** The Alt variant of `key` (ESC before it). */
function altKey(key: Key): Key {
  if (key.name === "text") {
    const c = key.text!;
    if (c >= "0" && c <= "9") return { name: "digit", alt: true, n: c.charCodeAt(0) - 48 };
    if (c >= "a" && c <= "z") return { name: c, alt: true };
    if (c >= "A" && c <= "Z") return { name: c.toLowerCase(), alt: true, shift: true };
    if (c === " ") return { name: "space", alt: true };
    return { name: c, alt: true };
  }
  return { ...key, alt: true };
}

/**
 * Parses the key at `s[i]`; undefined when the input ends inside an escape sequence and more may
 * come (`final` false). A printable run is returned whole as one `text` key.
 */
function parseOne(s: string, i: number, final: boolean): { key: Key; next: number } | undefined {
  const c = s[i];
  if (c !== "\x1b") {
    const code = c.charCodeAt(0);
    if (code >= 0x20 && code !== 0x7f && !(code >= 0x80 && code < 0xa0)) {
      let j = i + 1;
      while (j < s.length) {
        const d = s.charCodeAt(j);
        if (d < 0x20 || d === 0x7f || (d >= 0x80 && d < 0xa0)) break;
        j++;
      }
      return { key: { name: "text", text: s.slice(i, j) }, next: j };
    }
    // CR LF (from a pasted or piped line) is one Enter.
    if (c === "\r" && s[i + 1] === "\n") return { key: { name: "enter" }, next: i + 2 };
    return { key: plainKey(c), next: i + 1 };
  }
  if (i + 1 >= s.length) return final ? { key: { name: "escape" }, next: i + 1 } : undefined;
  const d = s[i + 1];
  if (d === "[") return parseCsi(s, i, final);
  if (d === "O") {
    if (i + 2 >= s.length) {
      return final ? { key: { name: "o", alt: true, shift: true }, next: i + 2 } : undefined;
    }
    const name = LETTER_KEYS[s[i + 2]];
    return {
      key: name !== undefined ? { name } : { name: "unknown", seq: s.slice(i, i + 3) },
      next: i + 3,
    };
  }
  if (d === "\x1b") {
    // ESC ESC [ C: some terminals send Alt+arrow this way.
    if (i + 2 < s.length && (s[i + 2] === "[" || s[i + 2] === "O")) {
      const r = parseOne(s, i + 1, final);
      if (r === undefined) return undefined;
      return { key: { ...r.key, alt: true }, next: r.next };
    }
    if (i + 2 >= s.length && !final) return undefined;
    return { key: { name: "escape" }, next: i + 1 };
  }
  const code = d.charCodeAt(0);
  if (code >= 0x20 && code !== 0x7f) {
    // Alt + one character: a surrogate pair stays whole.
    const cp = s.codePointAt(i + 1)!;
    const ch = String.fromCodePoint(cp);
    return { key: altKey({ name: "text", text: ch }), next: i + 1 + ch.length };
  }
  return { key: altKey(plainKey(d)), next: i + 2 };
}

/** Parses `ESC [ params final` at `s[i]`. */
function parseCsi(s: string, i: number, final: boolean): { key: Key; next: number } | undefined {
  let j = i + 2;
  while (j < s.length && j - i < MAX_SEQUENCE) {
    const code = s.charCodeAt(j);
    if (code >= 0x40 && code <= 0x7e) break;
    if (code < 0x20 || code > 0x3f) {
      // Not a CSI after all: skip what was read.
      return { key: { name: "unknown", seq: s.slice(i, j) }, next: j };
    }
    j++;
  }
  if (j >= s.length) {
    if (!final) return undefined;
    return { key: { name: "unknown", seq: s.slice(i) }, next: s.length };
  }
  if (j - i >= MAX_SEQUENCE) return { key: { name: "too-long", seq: s.slice(i, j) }, next: j };
  const seq = s.slice(i, j + 1);
  const params = s.slice(i + 2, j).split(";").map((p) => p === "" ? undefined : Number(p));
  const fin = s[j];
  const next = j + 1;
  // A key with modifiers as a code point: `CSI code ; mod u` and `CSI 27 ; mod ; code ~`.
  if (fin === "u") return { key: codeKey(params[0], params[1], seq), next };
  if (fin === "~" && params[0] === 27 && params.length === 3) {
    return { key: codeKey(params[2], params[1], seq), next };
  }
  if (fin === "~") {
    const name = TILDE_KEYS[params[0] ?? -1];
    if (name === undefined) return { key: { name: "unknown", seq }, next };
    return { key: withModifier({ name }, params[1]), next };
  }
  if (fin === "Z") return { key: { name: "tab", shift: true }, next };
  const name = LETTER_KEYS[fin];
  if (name !== undefined) return { key: withModifier({ name }, params[1]), next };
  return { key: { name: "unknown", seq }, next };
}
