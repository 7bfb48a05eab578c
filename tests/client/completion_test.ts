import assert from "node:assert/strict";
import { complete } from "../../client/completion.ts";
import type { Completions } from "../../client/view.ts";

const ctx: Completions = {
  commands: ["help", "join", "ignore", "who", "whois", "quit", "topic"],
  names: ["alice", "Bernard", "bob", "carol"],
  rooms: ["#dev", "#design", "#lobby"],
};

Deno.test("completion: commands at the start of the line", () => {
  assert.deepEqual(complete("/jo", ctx), [["/join "], "/jo"]);
  assert.deepEqual(complete("/wh", ctx), [["/who", "/whois"], "/wh"]);
  assert.deepEqual(complete("/", ctx), [ctx.commands.map((c) => `/${c}`).sort(), "/"]);
  assert.deepEqual(complete("/xyz", ctx), [[], "/xyz"]);
  assert.deepEqual(complete("  /qu", ctx), [["/quit "], "/qu"]);
});

Deno.test("completion: rooms after #, and any room word after a room command", () => {
  assert.deepEqual(complete("/join #d", ctx), [["#design", "#dev"], "#d"]);
  assert.deepEqual(complete("/join #l", ctx), [["#lobby "], "#l"]);
  assert.deepEqual(complete("see #lo", ctx), [["#lobby "], "#lo"]);
  assert.deepEqual(complete("/join ", ctx), [["#design", "#dev", "#lobby"], ""]);
  assert.deepEqual(complete("#zz", ctx), [[], "#zz"]);
});

Deno.test("completion: names, case-insensitive; first word gets a colon", () => {
  assert.deepEqual(complete("ca", ctx), [["carol: "], "ca"]);
  assert.deepEqual(complete("hi ca", ctx), [["carol "], "ca"]);
  assert.deepEqual(complete("hi B", ctx), [["Bernard", "bob"], "B"]);
  assert.deepEqual(complete("hi BE", ctx), [["Bernard "], "BE"]);
  assert.deepEqual(complete("hi @al", ctx), [["@alice "], "@al"]);
  assert.deepEqual(complete("/ignore ", ctx), [["Bernard", "alice", "bob", "carol"], ""]);
  assert.deepEqual(complete("/ignore b", ctx), [["Bernard", "bob"], "b"]);
  assert.deepEqual(complete("hi zed", ctx), [[], "zed"]);
});

Deno.test("completion: an empty word outside commands offers nothing", () => {
  assert.deepEqual(complete("", ctx), [[], ""]);
  assert.deepEqual(complete("hello ", ctx), [[], ""]);
});

Deno.test("completion: duplicates differing in case count once; huge lines get nothing", () => {
  const dup = { ...ctx, names: ["bob", "BOB", "bob"] };
  assert.deepEqual(complete("b", dup), [["bob: "], "b"]);
  assert.deepEqual(complete("x".repeat(5000) + " b", ctx), [[], ""]);
});
