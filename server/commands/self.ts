/**
 * Commands about the caller: `/nick`, `/away`, `/back`.
 * @module
 */

import type { Command, CommandContext, CommandResult, UserView } from "../command_host.ts";
import { checkText, cmd, fail, needUser, notMuted } from "./common.ts";

/** `/nick NEW`: rename the caller; `/nick release NAME`: give up an owned name. */
export const nickCmd: Command = cmd(
  "nick",
  "NEW | release NAME",
  "Change your name (same rules as at login), or give up a name you own",
  { user: true, min: 1, max: 2 },
  (ctx, args) => {
    const u = needUser(ctx);
    if (args.length === 2) {
      if (args[0].toLowerCase() !== "release") {
        fail("bad_args", "usage: /nick NEW | /nick release NAME");
      }
      ctx.host.releaseName(u, args[1]);
      return { text: `You gave up the name ${args[1]}; anyone may claim it now.` };
    }
    return rename(ctx, u, args[0]);
  },
);

function rename(ctx: CommandContext, u: UserView, name: string): CommandResult {
  const old = u.name;
  notMuted(ctx, "your name was not changed");
  ctx.host.nick(u, name);
  return { text: `You are now ${name} (was ${old}).`, data: { name, old } };
}

/** `/away [text]`: mark the caller away. */
export const awayCmd: Command = cmd(
  "away",
  "[text]",
  "Mark yourself away, with an optional message",
  {
    user: true,
    max: Infinity,
  },
  (ctx, args) => {
    const u = needUser(ctx);
    const text = args.length === 0 ? "away" : args.join(" ");
    checkText(text, ctx.host.limits.textBytes, "away text");
    notMuted(ctx, "your away text was not set");
    ctx.host.setAway(u, text);
    return { text: `You are away: ${text}` };
  },
);

/** `/back`: clear the caller's away status. */
export const backCmd: Command = cmd("back", "", "Clear your away status", { user: true }, (ctx) => {
  const u = needUser(ctx);
  if (u.away === undefined) return { text: "You were not away." };
  ctx.host.setAway(u, undefined);
  return { text: "Welcome back." };
});
