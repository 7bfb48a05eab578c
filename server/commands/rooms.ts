/**
 * Room commands: `/join`, `/leave`, `/topic`, `/history`.
 * @module
 */

import type { Command, CommandContext, CommandResult, UserView } from "../command_host.ts";
import { isRoomOp } from "./room_ops.ts";
import {
  audit,
  checkText,
  cmd,
  fail,
  member,
  needUser,
  notMuted,
  roomArg,
  validRoom,
} from "./common.ts";

/** Most rooms one connection may be in. */
export const MAX_ROOMS_PER_USER = 32;

/** `/join #room`: join (creating) a room. */
export const joinCmd: Command = cmd(
  "join",
  "#room [--private]",
  "Join a room (creating it; --private: end-to-end encrypted)",
  { user: true, min: 1, max: 2 },
  (ctx, [room, flag]) => {
    const u = needUser(ctx);
    validRoom(room);
    if (flag !== undefined && flag !== "--private") {
      fail("bad_args", "usage: /join #room [--private]");
    }
    const pr = ctx.host.privateRooms;
    if (flag === "--private" && !pr.isPrivate(room)) {
      if (room === "#lobby" || ctx.host.roomExists(room)) {
        fail(
          "not_private",
          `${room} exists and is not private; pick another name, or /private it when alone in it.`,
        );
      }
    }
    return joinRoom(ctx, u, room, flag === "--private");
  },
);

function joinRoom(
  ctx: CommandContext,
  u: UserView,
  room: string,
  makePrivate: boolean,
): CommandResult {
  if (u.rooms.has(room)) return { text: `You are already in ${room}.` };
  if (!ctx.operator && !ctx.host.roomModes.mayJoin(room, u.fingerprint)) {
    fail("invite_only", `${room} is invite-only; ask one of its operators for /invite.`);
  }
  if (u.rooms.size >= MAX_ROOMS_PER_USER) {
    fail("too_many_rooms", `You can be in at most ${MAX_ROOMS_PER_USER} rooms.`);
  }
  const info = ctx.host.join(u, room, makePrivate);
  const kind = info.private === true ? " (private: end-to-end encrypted)" : "";
  return { text: `You joined ${room}${kind}.`, data: info };
}

/** `/leave [#room]`: leave a room. */
export const leaveCmd: Command = cmd(
  "leave",
  "[#room]",
  "Leave a room (the only one you are in if none given)",
  {
    user: true,
    max: 1,
  },
  (ctx, args) => {
    const u = needUser(ctx);
    const [room] = roomArg(ctx, args, "/leave #room");
    member(ctx, room);
    ctx.host.leave(u, room, "left");
    return { text: `You left ${room}.` };
  },
);

/** `/topic [#room] [text]`: show or set a room's topic. */
export const topicCmd: Command = cmd("topic", "[#room] [text]", "Show or set a room's topic", {
  max: Infinity,
}, (ctx, args) => {
  const [room, rest] = roomArg(ctx, args, "/topic #room [text]");
  if (rest.length === 0) {
    const topic = ctx.host.topic(room);
    return {
      text: topic === "" ? `${room} has no topic.` : `${room}: ${topic}`,
      data: { room, topic },
    };
  }
  member(ctx, room);
  const text = rest.join(" ");
  checkText(text, ctx.host.limits.textBytes, "topic");
  notMuted(ctx, "the topic was not changed");
  if (ctx.host.roomModes.get(room).topicLocked && !isRoomOp(ctx, room)) {
    fail("not_permitted", `The topic of ${room} is locked: only its operators can change it.`);
  }
  ctx.host.setTopic(room, text, ctx.by);
  audit(ctx, { kind: "topic", room, text });
  return { text: `Topic of ${room} set.`, data: { room, topic: text } };
});

/** `/history [#room] [N]`: replay the last N messages of a room. */
export const historyCmd: Command = cmd(
  "history",
  "[#room] [N] [BEFORE]",
  "Show the last N messages of a room (default 50); with BEFORE, the last N before that seq",
  { max: 3 },
  (
    ctx,
    args,
  ) => {
    const usage = "usage: /history [#room] [N] [BEFORE]";
    const [room, rest] = roomArg(ctx, args, "/history #room [N] [BEFORE]");
    const max = ctx.host.limits.historyMax;
    let n = Math.min(50, max);
    if (rest.length > 2) fail("bad_args", usage);
    const whole = (v: string, what: string) => {
      if (!/^\d{1,15}$/.test(v) || Number(v) === 0) {
        fail("bad_args", `${what} must be a positive whole number. ${usage}`);
      }
      return Number(v);
    };
    if (rest.length >= 1) n = Math.min(whole(rest[0], "N"), max);
    const below = rest.length === 2 ? whole(rest[1], "BEFORE") : undefined;
    member(ctx, room);
    const h = ctx.host.history(room, n, ctx.user, below);
    const text = h.shown < h.wanted
      ? `Only the last ${h.shown} of ${h.wanted} messages of ${room}: your request budget is ` +
        "short (rate limited); ask again in a few seconds."
      : `End of the history of ${room}.`;
    return { text, data: { room, shown: h.shown, wanted: h.wanted }, replay: h.replay };
  },
);
