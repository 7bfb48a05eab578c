import assert from "node:assert/strict";
import {
  chatTextRefusal,
  lineCount,
  MAX_TEXT_LINES,
  normalizeChatText,
} from "../../shared/chat_text.ts";

const lines = (n: number) => Array.from({ length: n }, (_, i) => `line ${i}`).join("\n");

Deno.test("chat text: LF lines up to 50 within the byte limit are allowed", () => {
  for (
    const t of [
      "hi",
      "a\nb",
      "  code\n    indented\n\nafter a blank line",
      lines(50),
      "x\x1b[2J\ty",
    ]
  ) {
    assert.equal(chatTextRefusal(t, 2048), undefined, JSON.stringify(t));
  }
  assert.equal(MAX_TEXT_LINES, 50);
  assert.equal(lineCount("a"), 1);
  assert.equal(lineCount("a\n\nb"), 3);
  // Exactly the byte limit with line breaks counted as one byte each.
  assert.equal(chatTextRefusal("é\né", 5), undefined);
});

Deno.test("chat text: CR, edge line breaks, 51 lines, empty and too long are refused with why", () => {
  const cases: [string, number, string, RegExp][] = [
    ["", 2048, "bad_text", /^empty$/],
    ["a\rb", 2048, "bad_text", /carriage return/],
    ["a\r\nb", 2048, "bad_text", /carriage return/],
    ["\na", 2048, "bad_text", /start or end with a line break/],
    ["a\n", 2048, "bad_text", /start or end with a line break/],
    ["\n", 2048, "bad_text", /start or end/],
    [lines(51), 2048, "bad_text", /^at most 50 lines \(this has 51\)$/],
    ["é\né", 4, "too_long", /longer than 4 bytes/],
    // The size is checked first: a huge text of line breaks is refused as too long.
    ["\n".repeat(100_000), 2048, "too_long", /longer than 2048 bytes/],
  ];
  for (const [text, max, code, why] of cases) {
    const r = chatTextRefusal(text, max);
    assert.equal(r?.code, code, JSON.stringify(text.slice(0, 20)));
    assert.match(r!.reason, why);
  }
});

Deno.test("chat text: normalisation turns CRLF and CR into LF and trims blank edges only", () => {
  assert.equal(normalizeChatText("a\r\nb\rc"), "a\nb\nc");
  assert.equal(normalizeChatText("\n \n  code\n  more\n\n  \n"), "  code\n  more");
  assert.equal(normalizeChatText("hi  \t"), "hi");
  assert.equal(normalizeChatText("\r\n\r\n"), "");
  for (const t of ["a\r\n\r\nb", "\r\n x\r", "one\rtwo"]) {
    assert.equal(chatTextRefusal(normalizeChatText(t), 2048), undefined, JSON.stringify(t));
  }
});
