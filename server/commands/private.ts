/**
 * Private-room commands (docs/protocol.md §8): `/private` makes a room private, and the
 * commands clients send on their own: `members` (the roster), `skey` (a sender key for one
 * member) and `keyreq` (ask a member for its sender key again).
 * @module
 */

import type { Command, CommandContext } from "../command_host.ts";
import { ROOM_KEY_MAX } from "../../shared/room_e2e.ts";
import { NAME_PATTERN } from "../../shared/names.ts";
import { checkEnvelope } from "../relay.ts";
import { cmd, fail, member, needUser, roomArg, validRoom } from "./common.ts";

const ID = /^[A-Za-z0-9+/]{22}==$/;

/** `not_private` unless `room` is private. */
function privateRoom(ctx: CommandContext, room: string): void {
  if (!ctx.host.privateRooms.isPrivate(room)) fail("not_private", `${room} is not a private room.`);
}

/** `/private [#room]`: the room's only member makes it private, for good. */
export const privateCmd: Command = cmd(
  "private",
  "[#room]",
  "Make a room end-to-end encrypted (by its only member; it stays private)",
  { user: true, max: 1 },
  (ctx, args) => {
    const u = needUser(ctx);
    const [room] = roomArg(ctx, args, "/private #room");
    member(ctx, room);
    if (room === "#lobby") fail("not_permitted", "#lobby cannot be private.");
    if (ctx.host.privateRooms.isPrivate(room)) return { text: `${room} is private already.` };
    if (u.kemPub === undefined) {
      fail("dm_key_required", "Your client has no private-message key to receive room keys.");
    }
    const present = ctx.host.members(room);
    for (const m of present ?? []) {
      if (m.fingerprint !== u.fingerprint) {
        fail(
          "not_permitted",
          `Only a room's only member can make it private; ${m.name} is in ${room}.`,
        );
      }
    }
    ctx.host.privateRooms.makePrivate(room);
    ctx.host.announceMode(room, u.name, "+private");
    return { text: `${room} is now private: its lines are end-to-end encrypted.` };
  },
);

/** `members #room`: the member identities of a private room (clients ask on their own). */
export const membersCmd: Command = cmd(
  "members",
  "#room",
  "List a private room's members with their fingerprints",
  { user: true, min: 1, max: 1 },
  (ctx, [room]) => {
    const u = needUser(ctx);
    validRoom(room);
    privateRoom(ctx, room);
    const r = ctx.host.privateRooms.roster(room, u);
    return {
      text: r.members.map((m) => `${m.name} ${m.fingerprint}`).join("\n"),
      data: { room, since: r.since, members: r.members },
    };
  },
);

/** `skey #room NAME ID ENVELOPE`: a sender key for one member (sent by clients on their own). */
export const skeyCmd: Command = cmd(
  "skey",
  "#room NAME ID ENVELOPE",
  "Give a member your sender key for a private room (sent by the client)",
  { user: true, min: 4, max: 4 },
  (ctx, [room, to, id, envelope]) => {
    const u = needUser(ctx);
    validRoom(room);
    member(ctx, room);
    privateRoom(ctx, room);
    if (!NAME_PATTERN.test(to)) fail("bad_args", "not a user name");
    if (!ID.test(id)) fail("bad_args", "the id must be 16 bytes of base64");
    checkEnvelope(envelope, ROOM_KEY_MAX, "sender key");
    ctx.host.privateRooms.sendKey(u, room, to, id, envelope);
    return { text: `key sent to ${to}` };
  },
);

/** `keyreq #room NAME`: ask member NAME for its sender key again (sent by clients on their own). */
export const keyreqCmd: Command = cmd(
  "keyreq",
  "#room NAME",
  "Ask a member of a private room for its sender key again (sent by the client)",
  { user: true, min: 2, max: 2 },
  (ctx, [room, to]) => {
    const u = needUser(ctx);
    validRoom(room);
    member(ctx, room);
    privateRoom(ctx, room);
    if (!NAME_PATTERN.test(to)) fail("bad_args", "not a user name");
    ctx.host.privateRooms.keyRequest(u, room, to);
    return { text: `asked ${to} for its key` };
  },
);
