/**
 * `deno bench`: one key typed into a long input, as the terminal handles it (feed, then render
 * the input area), and decoding a large bracketed paste.
 * @module
 */

import { decodeKeys, newDecoderState } from "../client/key_decoder.ts";
import { LineEditor, MAX_INPUT } from "../client/line_editor.ts";

function editorWith(text: string): LineEditor {
  const ed = new LineEditor();
  ed.setText(text);
  return ed;
}

const ascii3k = editorWith(
  "The quick brown fox jumps over the lazy dog. ".repeat(67).slice(0, 3000),
);
const mixed3k = editorWith("héllo 👨‍👩‍👧 日本語 🇫🇷 e\u0301 ".repeat(150).slice(0, 3000));
const full = editorWith("x".repeat(MAX_INPUT - 1));
const fullMixed = editorWith("日本👨‍👩‍👧e\u0301".repeat(MAX_INPUT));

for (
  const [name, ed] of [
    ["3,000 ASCII characters", ascii3k],
    ["3,000 code units of emoji, CJK and accents", mixed3k],
    ["16,383 ASCII characters (the bound)", full],
    ["16,384 code units of emoji, CJK and accents (the bound)", fullMixed],
  ] as const
) {
  Deno.bench(`line editor: type and delete a key, render 100 columns: ${name}`, {
    group: "line editor",
  }, () => {
    ed.feed({ name: "text", text: "a" });
    ed.render(100, "#lobby> ", 15);
    ed.feed({ name: "backspace" });
    ed.render(100, "#lobby> ", 15);
  });
}

const paste = new TextEncoder().encode(
  "\x1b[200~" + "line of a pasted log file, 48 bytes long......\n".repeat(1365) + "\x1b[201~",
);
Deno.bench("key decoder: a 64 KiB bracketed paste", { group: "key decoder" }, () => {
  const keys = decodeKeys(paste, newDecoderState());
  if (keys.length !== 1 || keys[0].name !== "paste") throw new Error("not one paste");
});
