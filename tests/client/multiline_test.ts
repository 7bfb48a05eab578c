/**
 * Multi-line input on the client side: what parseInput makes of text with line breaks, and the
 * `--json-input` lines of plain mode (one JSON string per line, so a script can send a message
 * of several lines).
 */
import assert from "node:assert/strict";
import { parseInput } from "../../client/input.ts";
import { jsonInputText, PlainView } from "../../client/plain.ts";

Deno.test("input: text, /me and /msg may span lines; line breaks are normalised", () => {
  assert.deepEqual(parseInput("one\r\ntwo\rthree", "#r"), {
    kind: "say",
    text: "one\ntwo\nthree",
    me: false,
  });
  assert.deepEqual(parseInput("\n\n  code\n    more\n\n", "#r"), {
    kind: "say",
    text: "  code\n    more",
    me: false,
  });
  assert.deepEqual(parseInput("/me waves\nand bows", "#r"), {
    kind: "say",
    text: "waves\nand bows",
    me: true,
  });
  assert.deepEqual(parseInput("/msg bob first\nsecond", "#r", true), {
    kind: "dm",
    to: "bob",
    text: "first\nsecond",
  });
  assert.deepEqual(parseInput("//etc/passwd\nroot", "#r"), {
    kind: "say",
    text: "/etc/passwd\nroot",
    me: false,
  });
  assert.deepEqual(parseInput("\r\n\r\n", "#r"), { kind: "none" });
});

Deno.test("input: another command with a line break is refused, not run", () => {
  for (const line of ["/topic one\ntwo", "/join #a\n/join #b", "/nick bob\nx", "/quit\nnow"]) {
    const a = parseInput(line, "#r");
    assert.equal(a.kind, "error", line);
    assert.match(a.kind === "error" ? a.text : "", /takes one line/);
  }
});

Deno.test("plain --json-input: each line is one JSON string; anything else is reported", async () => {
  assert.equal(jsonInputText('"a\\nb"'), "a\nb");
  assert.equal(jsonInputText('"/join #dev"'), "/join #dev");
  assert.equal(jsonInputText("  "), "");
  for (const bad of ["hello", '{"text":"x"}', "42", '"unterminated', "null"]) {
    assert.deepEqual(jsonInputText(bad), {
      error: "input line is not a JSON string (--json-input): not sent",
    });
  }
  const out: string[] = [];
  const enc = new TextEncoder();
  const view = new PlainView({
    json: false,
    jsonInput: true,
    input: ReadableStream.from(['"one\\ntwo"\nnot json\n"th', 'ree"\n'].map((c) => enc.encode(c))),
    write: (s) => out.push(s),
  });
  const got: string[] = [];
  for await (const l of view.lines()) got.push(l);
  assert.deepEqual(got, ["one\ntwo", "three"]);
  assert.deepEqual(out, ["! input line is not a JSON string (--json-input): not sent\n"]);
  await view.close();
});
