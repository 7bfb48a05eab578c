/**
 * `deno bench`: sanitizing a 2 KiB line for the terminal.
 * @module
 */

import { isSafe, sanitize } from "../shared/sanitize.ts";

const plain = "The quick brown fox jumps over the lazy dog. ".repeat(46).slice(0, 2048);
const hostile = ("ok \x1b[31mred\x1b[0m \u202eevil\u202c \u200b zero-width ✓ 日本 ").repeat(64)
  .slice(0, 2048);

Deno.bench("sanitize: 2 KiB plain ASCII line", { group: "sanitize" }, () => {
  if (sanitize(plain) !== plain) throw new Error("plain text changed");
});

Deno.bench("sanitize: 2 KiB line with escapes, bidi and zero-width", { group: "sanitize" }, () => {
  sanitize(hostile);
});

Deno.bench("isSafe: 2 KiB plain ASCII line", { group: "sanitize" }, () => {
  if (!isSafe(plain)) throw new Error("plain text unsafe");
});
