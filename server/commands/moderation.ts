/**
 * Operator commands: `/kick`, `/ban`, `/unban`, `/bans`, `/mute`, `/unmute`, `/motd`, `/op`,
 * `/deop`, and the ban-target parsing they need.
 * @module
 */

import { isFingerprint } from "../../shared/crypto.ts";
import { checkName, nameKey } from "../../shared/names.ts";
import type { Command, CommandContext } from "../command_host.ts";
import { formatDuration, parseDuration } from "../duration.ts";
import { formatIpPrefix, ipMatches, parseIpPrefix } from "../ip_prefix.ts";
import type { Ban } from "../store.ts";
import {
  andMore,
  audit,
  checkText,
  cmd,
  fail,
  liveUser,
  ownerOf,
  page,
  plural,
  validRoom,
} from "./common.ts";
import { roomOp } from "./room_ops.ts";

/**
 * Classifies a ban target: `SHA256:…` is a fingerprint, an address or prefix is an IP (in
 * canonical form), a valid name is a name (its key). Undefined for anything else.
 */
export function parseBanTarget(text: string): { target: string; kind: Ban["kind"] } | undefined {
  if (isFingerprint(text)) return { target: text, kind: "fingerprint" };
  const ip = parseIpPrefix(text);
  if (ip !== undefined) return { target: formatIpPrefix(ip), kind: "ip" };
  const name = checkName(text);
  if (name.ok || name.code === "name_reserved") return { target: nameKey(text), kind: "name" };
  return undefined;
}

function describeBan(b: Ban, now: number): string {
  const until = b.expires === null ? "permanent" : `${formatDuration(b.expires - now)} left`;
  const why = b.reason === "" ? "" : `: ${b.reason}`;
  return `${b.target} (${b.kind}, by ${b.by}, ${until})${why}`;
}

/**
 * `not_permitted` when the identity `fp` was given with `--admin` and the caller is an operator
 * made with `/op`: only the console and other administrators act on an administrator.
 */
function above(ctx: CommandContext, fp: string, what: string): void {
  if (ctx.admin !== true && ctx.host.isAdmin(fp)) {
    fail(
      "not_permitted",
      `${what} is an administrator of this server (--admin); operators made with /op cannot ` +
        "act on administrators.",
    );
  }
}

/** `/kick NAME [reason]`: disconnect a user. */
export const kickCmd: Command = cmd(
  "kick",
  "[#room] NAME [reason]",
  "Disconnect a user (operators), or with #room remove them from that room (room operators)",
  { min: 1, max: Infinity },
  (ctx, args) => {
    const room = args[0].startsWith("#") ? validRoom(args[0]) : undefined;
    const [name, ...why] = room === undefined ? args : args.slice(1);
    if (name === undefined) fail("bad_args", "usage: /kick [#room] NAME [reason]");
    if (room === undefined && !ctx.operator) fail("not_permitted", "/kick is for operators only.");
    if (room !== undefined) roomOp(ctx, room);
    if (
      room !== undefined && ctx.host.user(name) === undefined &&
      ctx.host.privateRooms.expel(room, name, ctx.by, why.join(" "))
    ) {
      // A member of a private room who is away: its membership ends (the others rekey).
      return { text: `${name} is no longer a member of ${room}.` };
    }
    const u = liveUser(ctx, name);
    above(ctx, u.fingerprint, name);
    if (room !== undefined && !ctx.operator && ctx.host.isOperator(u.fingerprint)) {
      fail("not_permitted", `${u.name} is an operator of this server.`);
    }
    const reason = why.join(" ");
    if (room === undefined) ctx.host.kick(u, ctx.by, reason);
    else {
      if (![...ctx.host.members(room) ?? []].some((m) => m.fingerprint === u.fingerprint)) {
        fail("not_in_room", `${u.name} is not in ${room}.`);
      }
      ctx.host.roomModes.uninvite(room, u.fingerprint);
      ctx.host.kickFromRoom(u, room, ctx.by, reason);
    }
    audit(ctx, {
      kind: "kick",
      name: u.name,
      target: u.fingerprint,
      reason,
      ...(room === undefined ? {} : { room }),
    });
    return { text: room === undefined ? `Kicked ${u.name}.` : `Kicked ${u.name} from ${room}.` };
  },
);

/** `/ban TARGET [duration] [reason]`: ban a name, identity or address. */
export const banCmd: Command = cmd(
  "ban",
  "NAME|SHA256:fp|IP[/prefix] [duration] [reason]",
  "Ban a name's owner, an identity or an address (10m, 2h, 7d; default forever)",
  { op: true, min: 1, max: Infinity },
  (ctx, [what, ...rest]) => {
    let t = parseBanTarget(what);
    if (t === undefined) fail("bad_args", `${what} is not a name, fingerprint or IP address.`);
    let owned = "";
    if (t.kind === "name") {
      // A name stands for the identity owning it: the ban covers all its names and sessions.
      const owner = ctx.host.ownerFingerprint(what);
      if (owner !== undefined) {
        t = { target: owner, kind: "fingerprint" };
        owned = ` (owner of ${what})`;
      }
    }
    if (t.kind === "fingerprint") above(ctx, t.target, what);
    if (t.kind === "ip" && ctx.admin !== true) {
      const admin = [...ctx.host.users()].find((u) =>
        ctx.host.isAdmin(u.fingerprint) && ipMatches(u.ip, t.target)
      );
      if (admin !== undefined) above(ctx, admin.fingerprint, `${what} (${admin.name}'s address)`);
    }
    const now = ctx.host.now();
    const ms = rest.length > 0 ? parseDuration(rest[0]) : undefined;
    if (ms !== undefined) rest = rest.slice(1);
    const target = t.target;
    const ban: Ban = {
      target,
      kind: t.kind,
      by: ctx.by,
      reason: rest.join(" "),
      created: now,
      expires: ms === undefined ? null : now + ms,
    };
    const closed = ctx.host.ban(ban);
    audit(ctx, {
      kind: "ban",
      target: ban.target,
      ...(owned !== "" || t.kind === "name" ? { name: what } : {}),
      reason: ban.reason,
      ...(ban.expires === null ? {} : { text: `until ${new Date(ban.expires).toISOString()}` }),
    });
    return {
      text: `Banned ${describeBan(ban, now)}${owned}; ${plural(closed, "connection")} closed.`,
      data: ban,
    };
  },
);

/** `/unban TARGET`: lift a ban. */
export const unbanCmd: Command = cmd(
  "unban",
  "TARGET",
  "Lift a ban",
  { op: true, min: 1, max: 1 },
  (ctx, [what]) => {
    const t = parseBanTarget(what);
    let target = t === undefined ? what : t.target;
    // A name lifts the ban on the identity owning it, else a ban on the name itself.
    const owner = t?.kind === "name" ? ctx.host.ownerFingerprint(what) : undefined;
    if (owner !== undefined && ctx.host.unban(owner)) target = owner;
    else if (!ctx.host.unban(target)) fail("no_such_ban", `There is no ban on ${what}.`);
    audit(ctx, { kind: "unban", target });
    return { text: `Unbanned ${target}.` };
  },
);

/** `/bans`: the bans in force. */
export const bansCmd: Command = cmd("bans", "", "List the bans in force", { op: true }, (ctx) => {
  const all = ctx.host.bans();
  const { shown: bans, more, cut } = page(ctx, all);
  const now = ctx.host.now();
  const lines = bans.map((b) => `  ${describeBan(b, now)}`);
  if (more > 0) lines.push(`  ${andMore(more, cut)}`);
  const head = all.length === 0 ? "No bans." : `${plural(all.length, "ban")}:`;
  return { text: [head, ...lines].join("\n"), data: bans };
});

/** `/mute NAME`: silence an identity. */
export const muteCmd: Command = cmd(
  "mute",
  "NAME",
  "Silence a user: messages, DMs, topic, away, nick (until unmute or restart)",
  {
    op: true,
    min: 1,
    max: 1,
  },
  (ctx, [name]) => {
    const fp = ownerOf(ctx, name);
    above(ctx, fp, name);
    ctx.host.mute(fp, ctx.by);
    audit(ctx, { kind: "mute", name, target: fp });
    return { text: `Muted ${name}.` };
  },
);

/** `/unmute NAME`: let a muted identity speak again. */
export const unmuteCmd: Command = cmd("unmute", "NAME", "Let a muted user speak again", {
  op: true,
  min: 1,
  max: 1,
}, (
  ctx,
  [name],
) => {
  const fp = ownerOf(ctx, name);
  if (!ctx.host.unmute(fp)) return { text: `${name} was not muted.` };
  audit(ctx, { kind: "unmute", name, target: fp });
  return { text: `Unmuted ${name}.` };
});

/** `/motd [text|-]`: show or set the message of the day. */
export const motdCmd: Command = cmd(
  "motd",
  "[text|-]",
  "Show or set the message of the day (- clears it)",
  {
    op: true,
    max: Infinity,
  },
  (ctx, args) => {
    if (args.length === 0) {
      const motd = ctx.host.motd();
      return { text: motd === "" ? "No message of the day." : motd, data: { motd } };
    }
    const text = args.length === 1 && args[0] === "-" ? "" : args.join(" ");
    if (text !== "") checkText(text, ctx.host.limits.textBytes, "message of the day");
    ctx.host.setMotd(text);
    audit(ctx, { kind: "motd", text });
    return { text: text === "" ? "Message of the day cleared." : "Message of the day set." };
  },
);

/** `/op NAME`: make an identity an operator. */
export const opCmd: Command = cmd("op", "NAME", "Make a user an operator", {
  op: true,
  min: 1,
  max: 1,
}, (ctx, [name]) => {
  const fp = ownerOf(ctx, name);
  ctx.host.addOp(fp);
  audit(ctx, { kind: "op", name, target: fp });
  ctx.host.tellOp(fp, "op", ctx.by);
  return { text: `${name} (${fp}) is now an operator.` };
});

/** `/deop NAME`: take operator rights away. */
export const deopCmd: Command = cmd("deop", "NAME", "Take operator rights away", {
  op: true,
  min: 1,
  max: 1,
}, (
  ctx,
  [name],
) => {
  const fp = ownerOf(ctx, name);
  if (ctx.host.isAdmin(fp)) {
    fail("not_permitted", `${name} is an operator by the server's --admin option.`);
  }
  if (!ctx.host.removeOp(fp)) return { text: `${name} was not an operator.` };
  audit(ctx, { kind: "deop", name, target: fp });
  ctx.host.tellOp(fp, "deop", ctx.by);
  return { text: `${name} is no longer an operator.` };
});
