import assert from "node:assert/strict";
import fc from "fast-check";
import { isSafe, sanitize, sanitizeMultiline } from "../../shared/sanitize.ts";

/** Bidi controls and line/paragraph separators that must never reach the terminal. */
const BIDI_AND_SEPARATORS = new Set([
  0x061c,
  0x200e,
  0x200f,
  0x2028,
  0x2029,
  0x202a,
  0x202b,
  0x202c,
  0x202d,
  0x202e,
  0x2066,
  0x2067,
  0x2068,
  0x2069,
]);

/** True when `s` holds a C0 (ESC too), DEL, C1, bidi or separator char, or a lone surrogate. */
function hasForbidden(s: string): boolean {
  if (!s.isWellFormed()) return true;
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || BIDI_AND_SEPARATORS.has(c)) return true;
  }
  return false;
}
const FLAG = /\u{1f3f4}[\u{e0020}-\u{e007e}]{1,6}\u{e007f}/gu;
const TAG = /[\u{e0000}-\u{e007f}]/u;
const MARK_RUN = /\p{M}{5}/u;

/** Code points that hit every rule often, mixed with the whole code space (lone surrogates too). */
const TRICKY = [
  "\x00",
  "\x07",
  "\t",
  "\n",
  "\r",
  "\x1b",
  "\x7f",
  "\x85",
  "\x9b",
  "\x9d",
  "\u061c",
  "\u200b",
  "\u200d",
  "\u200e",
  "\u200f",
  "\u2028",
  "\u2029",
  "\u202a",
  "\u202e",
  "\u2066",
  "\u2069",
  "\ufeff",
  "\ud800",
  "\udbff",
  "\udc00",
  "\u0301",
  "\u0308",
  "\ufe0f",
  "\u{1f3f4}",
  "\u{e0067}",
  "\u{e007f}",
  "a",
];
const anyCodePoint = fc.integer({ min: 0, max: 0x10ffff }).map((cp) => String.fromCodePoint(cp));
const hostile = fc.string({
  unit: fc.oneof(fc.constantFrom(...TRICKY), anyCodePoint, fc.constantFrom("\u{1f3f4}\u{e0067}")),
  maxLength: 60,
});

Deno.test("sanitize: output never holds a control, bidi or separator character", () => {
  fc.assert(
    fc.property(fc.oneof(fc.string({ unit: "binary" }), hostile), (s) => {
      const out = sanitize(s);
      assert.equal(hasForbidden(out), false, JSON.stringify(out));
      assert.equal(TAG.test(out.replace(FLAG, "")), false, JSON.stringify(out));
      assert.equal(MARK_RUN.test(out), false, JSON.stringify(out));
      assert.equal(isSafe(out), true);
      assert.equal(sanitize(out), out);
    }),
    { numRuns: 2000 },
  );
});

Deno.test("sanitizeMultiline: output holds no forbidden character except newline", () => {
  fc.assert(
    fc.property(fc.oneof(fc.string({ unit: "binary" }), hostile), (s) => {
      const out = sanitizeMultiline(s);
      assert.equal(hasForbidden(out.replaceAll("\n", "")), false, JSON.stringify(out));
      assert.equal(out.split("\n").length, s.split("\n").length);
      assert.equal(sanitize(out), sanitize(s));
    }),
    { numRuns: 1000 },
  );
});

Deno.test("isSafe agrees with sanitize on arbitrary text", () => {
  fc.assert(
    fc.property(fc.oneof(fc.string({ unit: "binary" }), hostile), (s) => {
      assert.equal(isSafe(s), sanitize(s) === s);
    }),
    { numRuns: 2000 },
  );
});

Deno.test("hasForbidden (the oracle above) flags every class it names", () => {
  for (const bad of ["\x00", "\x1b", "\x7f", "\x85", "\u202e", "\u2029", "\ud800", "a\u2066"]) {
    assert.equal(hasForbidden(bad), true, JSON.stringify(bad));
  }
  assert.equal(hasForbidden("plain \u{1f600} text"), false);
});

Deno.test("sanitize: printable ASCII passes unchanged", () => {
  fc.assert(
    fc.property(fc.string({ unit: "grapheme-ascii", maxLength: 200 }), (s) => {
      assert.equal(sanitize(s), s);
      assert.equal(sanitizeMultiline(s), s);
      assert.equal(isSafe(s), true);
    }),
  );
});

const SAMPLES = [
  "héllo wörld, ça va? ñ å ø ß",
  "e\u0301 (decomposed) a\u0308\u0304",
  "日本語のテキスト 中文 한국어",
  "😀 🎉 👍🏽 ❤️ 🇫🇷 🇯🇵",
  "👨‍👩‍👧‍👦 family, 🏳️‍🌈 flag, 1️⃣ keycap",
  "🏴\u{e0067}\u{e0062}\u{e0065}\u{e006e}\u{e0067}\u{e007f} England",
  "Привет мир, Γειά σου κόσμε",
  "مرحبا بالعالم שלום עולם",
  "नमस्ते दुनिया, ক্ষ্ম",
  "Persian ZWNJ: می\u200cخواهم",
  "math: ∀x ∈ ℝ, x² ≥ 0 — “quotes” ‘single’ …",
  "葛\u{e0100} ideographic variation",
];

Deno.test("sanitize: emoji, CJK, RTL letters and accents pass unchanged", () => {
  for (const s of SAMPLES) {
    assert.equal(sanitize(s), s, s);
    assert.equal(sanitizeMultiline(s), s, s);
    assert.equal(isSafe(s), true, s);
  }
});

Deno.test("sanitize: a terminal escape sequence is shown, not executed", () => {
  assert.equal(sanitize("\x1b[2J"), "\u241b[2J");
  assert.equal(sanitize("\x1b[31mred\x1b[0m"), "\u241b[31mred\u241b[0m");
  assert.equal(sanitize("\x9b2J"), "<U+009B>2J");
  assert.equal(isSafe("\x1b[2J"), false);
  assert.equal(isSafe("[2J"), true);
});

Deno.test("sanitize: an OSC 52 clipboard write is shown, not executed", () => {
  const osc = "\x1b]52;c;ZWNobyBwd25lZA==\x07";
  assert.equal(sanitize(osc), "\u241b]52;c;ZWNobyBwd25lZA==\u2407");
  assert.equal(sanitize("\x1b]52;c;ZWNobw==\x1b\\"), "\u241b]52;c;ZWNobw==\u241b\\");
  assert.equal(sanitize("\x9d52;c;ZWNobw==\x9c"), "<U+009D>52;c;ZWNobw==<U+009C>");
});

Deno.test("sanitize: carriage return cannot overwrite the line", () => {
  assert.equal(sanitize("alice: hi\rbob: i am admin"), "alice: hi\u240dbob: i am admin");
  assert.equal(sanitizeMultiline("a\r\nb"), "a\u240d\nb");
  assert.equal(sanitize("x\by"), "x\u2408y");
});

Deno.test("sanitize: bidi overrides and isolates become visible", () => {
  assert.equal(sanitize("file\u202Etxt.exe"), "file<U+202E>txt.exe");
  assert.equal(sanitize("\u2066a\u2069"), "<U+2066>a<U+2069>");
  assert.equal(sanitize("\u200e\u200f\u061c"), "<U+200E><U+200F><U+061C>");
  assert.equal(sanitize("a\u2028b\u2029c"), "a<U+2028>b<U+2029>c");
  assert.equal(sanitize("ad\u200bmin\ufeff"), "ad<U+200B>min<U+FEFF>");
});

Deno.test("sanitize vs sanitizeMultiline: only the multi-line form keeps newlines", () => {
  assert.equal(sanitize("a\nb\tc"), "a\u240ab\u2409c");
  assert.equal(sanitizeMultiline("a\nb\tc"), "a\nb\u2409c");
  assert.equal(sanitize("\x00\x7f"), "\u2400\u2421");
});

Deno.test("sanitize: combining marks are capped at 4 in a row", () => {
  const four = "a\u0301\u0302\u0303\u0304";
  assert.equal(sanitize(four), four);
  assert.equal(sanitize(four + "\u0305\u0306b"), four + "b");
  assert.equal(sanitize("\u0301".repeat(100)), "\u0301".repeat(4));
  assert.equal(isSafe(four), true);
  assert.equal(isSafe(four + "\u0305"), false);
});

Deno.test("sanitize: lone surrogates become U+FFFD, pairs stay", () => {
  assert.equal(sanitize("a\ud800b"), "a\ufffdb");
  assert.equal(sanitize("\udc00"), "\ufffd");
  assert.equal(sanitize("\ud83d\ude00"), "\u{1f600}");
  assert.equal(sanitize("\ude00\ud83d"), "\ufffd\ufffd");
});

Deno.test("sanitize: tag characters survive only in an emoji flag sequence", () => {
  const england = "\u{1f3f4}\u{e0067}\u{e0062}\u{e0065}\u{e006e}\u{e0067}\u{e007f}";
  assert.equal(sanitize(england), england);
  assert.equal(sanitize("hi\u{e0068}\u{e0069}"), "hi<U+E0068><U+E0069>");
  assert.equal(
    sanitize("\u{1f3f4}" + "\u{e0061}".repeat(7) + "\u{e007f}"),
    "\u{1f3f4}" + "<U+E0061>".repeat(7) + "<U+E007F>",
  );
});
