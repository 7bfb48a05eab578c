import assert from "node:assert/strict";
import { SERVER_COMMAND_NAMES } from "../../shared/commands.ts";
import { COMMANDS, runCommand } from "../../server/commands.ts";
import { LOCAL_COMMANDS, SERVER_COMMANDS } from "../../client/input.ts";
import { AppState } from "../../client/app_state.ts";
import type { CommandContext, CommandHost } from "../../server/command_host.ts";

Deno.test("commands: the server's table has exactly the shared names, in /help order", () => {
  assert.deepEqual(COMMANDS.map((c) => c.name), [...SERVER_COMMAND_NAMES]);
});

Deno.test("commands: the client knows every server command before the server answers", () => {
  assert.deepEqual([...SERVER_COMMANDS], COMMANDS.map((c) => c.name));
  const known = new Set([...LOCAL_COMMANDS, ...SERVER_COMMANDS]);
  for (const c of COMMANDS) assert.ok(known.has(c.name), `/${c.name} unknown to the client`);
});

Deno.test("commands: the /help answer names no command the client did not already know", () => {
  const ctx: CommandContext = { host: {} as CommandHost, by: "console", operator: true };
  const r = runCommand(ctx, "help", []);
  const names = (r.data as { name: string }[]).map((d) => d.name);
  assert.deepEqual(names, [...SERVER_COMMAND_NAMES]);
  const state = new AppState("#main");
  for (const n of names) assert.ok(state.commands.has(n), `/${n} missing before /help`);
});
