import assert from "node:assert/strict";
import { inputRefusal } from "../../client/input.ts";

Deno.test("input refusal: a room message over the byte limit names its size and the limit", () => {
  assert.equal(
    inputRefusal("z".repeat(5012), 4096),
    "message is 5,012 bytes; the limit is 4,096",
  );
  assert.equal(inputRefusal("z".repeat(4096), 4096), undefined);
  // Bytes, not characters: 1,400 × "中" is 4,200 bytes.
  assert.equal(inputRefusal("中".repeat(1400), 4096), "message is 4,200 bytes; the limit is 4,096");
  assert.equal(
    inputRefusal(`/me ${"z".repeat(2049)}`, 2048),
    "message is 2,049 bytes; the limit is 2,048",
  );
  // White space at the end is not sent, so it does not count.
  assert.equal(inputRefusal("z".repeat(2048) + "   \n", 2048), undefined);
});

Deno.test("input refusal: more than 50 lines is refused, for private messages too", () => {
  const lines = (n: number) => Array.from({ length: n }, (_, i) => `l${i}`).join("\n");
  assert.equal(inputRefusal(lines(50), 4096), undefined);
  assert.equal(inputRefusal(lines(51), 4096), "message has 51 lines; the limit is 50");
  assert.equal(
    inputRefusal(`/msg bob ${lines(51)}`, 4096),
    "message has 51 lines; the limit is 50",
  );
});

Deno.test("input refusal: commands and empty input are never refused here", () => {
  assert.equal(inputRefusal(`/topic ${"z".repeat(5000)}`, 2048), undefined);
  assert.equal(inputRefusal("", 2048), undefined);
});

Deno.test("input refusal: a command of several lines is refused, so it can be fixed in place", () => {
  assert.match(inputRefusal("/topic one\ntwo", 2048) ?? "", /^\/topic takes one line/);
  assert.equal(inputRefusal("/me waves\nand bows", 2048), undefined);
  assert.equal(inputRefusal("/nick bob\n", 2048), undefined, "a trailing line break is dropped");
  assert.equal(inputRefusal("/bogus", 2048), undefined, "one-line errors are reported as before");
});

Deno.test("input refusal: a private message over its own limit (2,048 bytes)", () => {
  assert.equal(
    inputRefusal(`/msg bob ${"z".repeat(5000)}`, 65_536),
    "message is 5,000 bytes; the limit is 2,048",
  );
  assert.equal(inputRefusal(`/msg bob ${"z".repeat(2048)}`, 100), undefined);
});
