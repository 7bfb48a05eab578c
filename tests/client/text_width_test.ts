import assert from "node:assert/strict";
import fc from "fast-check";
import { graphemes, graphemeWidth, textWidth } from "../../client/text_width.ts";

const SEG = new Intl.Segmenter(undefined, { granularity: "grapheme" });

Deno.test("text width: clusters and their columns", () => {
  assert.deepEqual(graphemes("ab👨‍👩‍👧🇫🇷e\u0301中"), ["a", "b", "👨‍👩‍👧", "🇫🇷", "e\u0301", "中"]);
  const cases: [string, number][] = [
    ["a", 1],
    ["e\u0301", 1],
    ["中", 2],
    ["ｱ", 1],
    ["Ａ", 2],
    ["👨‍👩‍👧", 2],
    ["🇫🇷", 2],
    ["😀", 2],
    ["☺\ufe0f", 2],
    ["☺", 1],
    ["\u0301", 0],
    ["\x1b", 0],
    ["y\u{1f3fd}", 3],
  ];
  for (const [g, w] of cases) assert.equal(graphemeWidth(g), w, JSON.stringify(g));
  assert.equal(textWidth("ye\u0301中"), 4);
});

Deno.test("text width: property — graphemes() splits as Intl.Segmenter does", () => {
  const unit = fc.constantFrom(
    "a",
    "b",
    " ",
    "\n",
    "\r",
    "\u0301",
    "\u200d",
    "👨",
    "🇫",
    "🇷",
    "\u{1f3fd}",
    "中",
    "\u0600",
    "\u094d",
    "\u0915",
    "\ufe0f",
  );
  fc.assert(
    fc.property(fc.array(unit, { maxLength: 40 }), (units) => {
      const t = units.join("");
      assert.deepEqual(graphemes(t), [...SEG.segment(t)].map((s) => s.segment));
      let w = 0;
      for (const g of graphemes(t)) w += graphemeWidth(g);
      if (!t.includes("\n") && !t.includes("\r")) assert.equal(textWidth(t), w);
    }),
  );
});
