/**
 * Commands about the caller: `/nick`, `/away`, `/back`.
 * @module
 */

import type { Command } from "../command_host.ts";
import { checkText, cmd, needUser, notMuted } from "./common.ts";

/** `/nick NEW`: rename the caller. */
export const nickCmd: Command = cmd("nick", "NEW", "Change your name (same rules as at login)", {
  user: true,
  min: 1,
  max: 1,
}, (
  ctx,
  [name],
) => {
  const u = needUser(ctx);
  const old = u.name;
  notMuted(ctx, "your name was not changed");
  ctx.host.nick(u, name);
  return { text: `You are now ${name} (was ${old}).`, data: { name, old } };
});

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
