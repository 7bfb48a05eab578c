/**
 * Room operator commands: `/mode` (invite-only, topic-locked, room operators) and `/invite`,
 * and the check that the caller may run a room's moderation (its operators and server
 * operators). Kicking from a room is `/kick #room NAME` (server/commands/moderation.ts).
 * @module
 */

import type { Command, CommandContext } from "../command_host.ts";
import { audit, cmd, fail, ownerOf, roomArg } from "./common.ts";

/** True when the caller is an operator of `room` or a server operator. */
export function isRoomOp(ctx: CommandContext, room: string): boolean {
  const fp = ctx.byFingerprint;
  return ctx.operator || (fp !== undefined && ctx.host.roomModes.isOp(room, fp));
}

/** `not_permitted` unless the caller is an operator of `room` or a server operator. */
export function roomOp(ctx: CommandContext, room: string): void {
  if (!isRoomOp(ctx, room)) fail("not_permitted", `Only the operators of ${room} can do that.`);
}

function describe(ctx: CommandContext, room: string): string {
  const m = ctx.host.roomModes.get(room);
  const flags = `${m.inviteOnly ? "+i" : "-i"} ${m.topicLocked ? "+t" : "-t"}`;
  const names = new Map<string, string>();
  for (const u of ctx.host.members(room) ?? []) names.set(u.fingerprint, u.name);
  const ops = [...m.ops].map((fp) => names.get(fp) ?? fp);
  return `${room}: ${flags}; operators: ${ops.length === 0 ? "none" : ops.join(", ")}`;
}

/** `/mode [#room] [+i|-i|+t|-t|+o NAME|-o NAME]…`: show or change a room's modes. */
export const modeCmd: Command = cmd(
  "mode",
  "[#room] [+i|-i|+t|-t|+o NAME|-o NAME]…",
  "Show or set a room's modes: +i invite-only, +t topic lock, +o room operator",
  { max: 16 },
  (ctx, args) => {
    const [room, rest] = roomArg(ctx, args, "/mode #room [+i|-i|+t|-t|+o NAME|-o NAME]");
    const modes = ctx.host.roomModes;
    if (rest.length === 0) {
      const m = modes.get(room);
      return {
        text: describe(ctx, room),
        data: { room, inviteOnly: m.inviteOnly, topicLocked: m.topicLocked },
      };
    }
    roomOp(ctx, room);
    const members = ctx.host.members(room);
    if (members === undefined) fail("no_such_room", `There is no room ${room}.`);
    // Check every change first, then apply them all: a bad one changes nothing.
    const changes: { flag: string; fp?: string; name?: string }[] = [];
    for (let i = 0; i < rest.length; i++) {
      const flag = rest[i];
      if (flag === "+o" || flag === "-o") {
        const name = rest[++i];
        if (name === undefined) fail("bad_args", `${flag} needs a NAME.`);
        changes.push({ flag, fp: ownerOf(ctx, name), name });
      } else if (["+i", "-i", "+t", "-t"].includes(flag)) changes.push({ flag });
      else fail("bad_args", `Unknown mode ${flag}; use +i, -i, +t, -t, +o NAME or -o NAME.`);
    }
    for (const c of changes) {
      let ok = true;
      if (c.flag[1] === "i") {
        ok = modes.setInviteOnly(room, c.flag[0] === "+", [...members].map((u) => u.fingerprint));
      } else if (c.flag[1] === "t") ok = modes.setTopicLocked(room, c.flag[0] === "+");
      else ok = modes.setOp(room, c.fp!, c.flag[0] === "+");
      if (!ok && c.flag !== "-o") {
        fail("not_permitted", `${room} cannot have ${c.flag}${c.name ? ` ${c.name}` : ""}.`);
      }
      const text = c.name === undefined ? c.flag : `${c.flag} ${c.name}`;
      ctx.host.announceMode(room, ctx.by, text);
      audit(ctx, { kind: "mode", room, target: text });
    }
    return { text: describe(ctx, room) };
  },
);

/** `/invite NAME [#room]`: let an identity join an invite-only room. */
export const inviteCmd: Command = cmd(
  "invite",
  "NAME [#room]",
  "Let NAME join an invite-only room (room operators)",
  { min: 1, max: 2 },
  (ctx, [name, ...rest]) => {
    const [room] = roomArg(ctx, rest, "/invite NAME #room");
    roomOp(ctx, room);
    const fp = ownerOf(ctx, name);
    if (!ctx.host.roomModes.get(room).inviteOnly) {
      fail("bad_args", `${room} is not invite-only; anyone may join it.`);
    }
    if (!ctx.host.roomModes.invite(room, fp)) {
      fail("too_many_invites", `${room} has as many invitations as a room keeps.`);
    }
    audit(ctx, { kind: "invite", room, name, target: fp });
    return { text: `${name} may now join ${room}.` };
  },
);
