/**
 * The server command table (PROTOCOL.md §5 `cmd`): one entry per command with its usage, its
 * one-line help, whether it is for operators only, and its handler. `/help` is generated from
 * this table, and the operator console runs the same handlers. Also the ban-target, duration and
 * IP-prefix parsing the bans need. Pure logic: handlers act through a {@linkcode CommandHost}.
 * @module
 */

import { utf8Length } from "../shared/encoding.ts";
import { ProtocolError } from "../shared/errors.ts";
import type { Limits } from "../shared/limits.ts";
import type { RoomInfo } from "../shared/messages.ts";
import { checkName, checkRoom, nameKey } from "../shared/names.ts";
import type { Ban } from "./store.ts";
import type { LineSource } from "./hub.ts";
import { isFingerprint } from "../shared/crypto.ts";

/** The cipher suite `/service` reports. */
export const CIPHER_SUITE =
  "chat/1: X25519, Ed25519, HKDF-SHA-256, AES-256-GCM; DMs RSA-OAEP-3072 + AES-256-GCM";

/** Most rooms one connection may be in. */
export const MAX_ROOMS_PER_USER = 32;

/** A connected user as commands see it. */
export interface UserView {
  /** Display name. */
  readonly name: string;
  /** Identity fingerprint `SHA256:…`. */
  readonly fingerprint: string;
  /** b64 raw Ed25519 public key. */
  readonly sigPub: string;
  /** b64 SPKI of the RSA-OAEP key, when the identity can receive DMs. */
  readonly kemPub?: string;
  /** Ed25519 signature over the KEM key. */
  readonly kemSig?: string;
  /** Rooms the user is in. */
  readonly rooms: ReadonlySet<string>;
  /** Away text, when away. */
  readonly away?: string;
  /** Authentication time (ms since the epoch). */
  readonly since: number;
  /** Time of the last request (ms since the epoch). */
  readonly lastActive: number;
}

/** Figures `/service` and `/stats` report. */
export interface ServiceInfo {
  /** Server name. */
  serverName: string;
  /** Software version. */
  version: string;
  /** Start time (ms since the epoch). */
  startedAt: number;
  /** Host key fingerprint. */
  hostFingerprint: string;
  /** Open connections, authenticated or not. */
  connections: number;
  /** Authenticated users. */
  users: number;
  /** Rooms that exist now. */
  rooms: number;
  /** Room messages stored and relayed since start. */
  messages: number;
  /** Messages and events handed to connections since start. */
  deliveries: number;
}

/** What the command handlers may do; implemented by the hub. Errors are `ProtocolError`s. */
export interface CommandHost {
  /** The configured limits. */
  readonly limits: Limits;
  /** Server time in ms since the epoch. */
  now(): number;
  /** Server figures. */
  info(): ServiceInfo;
  /** Every connected user, in connection order. */
  users(): UserView[];
  /** The connected user with this name (case-insensitive), if any. */
  user(name: string): UserView | undefined;
  /** The identity owning `name`: connected user first, then the names registry. */
  ownerFingerprint(name: string): string | undefined;
  /** Every room that exists now, by name. */
  rooms(): RoomInfo[];
  /** Members of `room`, or undefined when it does not exist. */
  members(room: string): UserView[] | undefined;
  /** True when `fingerprint` is an operator. */
  isOperator(fingerprint: string): boolean;
  /** True when `fingerprint` was given with `--admin` (cannot be removed by `/deop`). */
  isAdmin(fingerprint: string): boolean;
  /** Renames `user` (same rules as auth) and announces it. */
  nick(user: UserView, name: string): void;
  /** Joins `user` to `room`: history (replay) then a join event. */
  join(user: UserView, room: string): RoomInfo;
  /** Takes `user` out of `room` with a leave event giving `reason`. */
  leave(user: UserView, room: string, reason: string): void;
  /** The room's topic. */
  topic(room: string): string;
  /** Sets the topic and announces it. */
  setTopic(room: string, text: string, by: string): void;
  /** Sets (text) or clears (undefined) the away status and announces it. */
  setAway(user: UserView, text: string | undefined): void;
  /** The last `n` messages of `room`, oldest first, marked replay, as a replay source. */
  history(room: string, n: number): LineSource;
  /** Kick event, leave "kicked by X", close "kicked". */
  kick(user: UserView, by: string, reason: string): void;
  /** Stores the ban and closes the matching live connections; returns how many. */
  ban(ban: Ban): number;
  /** Removes a ban; true when there was one. */
  unban(target: string): boolean;
  /** Bans in force. */
  bans(): Ban[];
  /** Mutes an identity (in memory) and announces it in the user's rooms if connected. */
  mute(fingerprint: string, by: string): void;
  /** Unmutes an identity; true when it was muted. */
  unmute(fingerprint: string): boolean;
  /** The message of the day. */
  motd(): string;
  /** Replaces the message of the day (`""` clears it). */
  setMotd(text: string): void;
  /** Makes an identity an operator (persisted). */
  addOp(fingerprint: string): void;
  /** Removes a persisted operator; true when it was one. */
  removeOp(fingerprint: string): boolean;
}

/** Who runs a command. */
export interface CommandContext {
  /** The hub. */
  host: CommandHost;
  /** The calling user; undefined for the operator console. */
  user?: UserView;
  /** Name recorded as `by`: the user's name or `"console"`. */
  by: string;
  /** True for operators and the console. */
  operator: boolean;
}

/** A command's answer: `reply.text` and `reply.data`. */
export interface CommandResult {
  /** Human text. */
  text: string;
  /** Machine-readable data (must fit in one record: keep it small). */
  data?: unknown;
  /** Messages sent to the caller, one by one and on demand, before the reply (history). */
  replay?: LineSource;
}

/** One entry of the command table. */
export interface Command {
  /** Name without the slash. */
  readonly name: string;
  /** Arguments, e.g. `NAME [reason]`. */
  readonly args: string;
  /** One-line description. */
  readonly help: string;
  /** Operators only. */
  readonly op: boolean;
  /** Needs a connected user (not available on the console). */
  readonly user: boolean;
  /** Fewest arguments. */
  readonly min: number;
  /** Most arguments (Infinity when the rest is free text). */
  readonly max: number;
  /** Runs the command; arguments are already counted. Throws `ProtocolError`. */
  run(ctx: CommandContext, args: string[]): CommandResult;
}

function fail(code: string, message: string): never {
  throw new ProtocolError(code, message);
}

/** `"/name args"`: the usage line of a command. */
export function usage(c: Command): string {
  return c.args === "" ? `/${c.name}` : `/${c.name} ${c.args}`;
}

/** Bytes of serialised list items a reply carries at most (text and data each; see fitting). */
const REPLY_LIST_BUDGET = 6000;

/**
 * The first `items` whose JSON fits in {@link REPLY_LIST_BUDGET} bytes, and how many were left
 * out: a reply must fit in one record, whatever names, topics or away texts contain.
 */
function fitting<T>(items: T[]): { shown: T[]; more: number } {
  let used = 0;
  const shown: T[] = [];
  for (const item of items) {
    used += utf8Length(JSON.stringify(item));
    if (used > REPLY_LIST_BUDGET) break;
    shown.push(item);
  }
  return { shown, more: items.length - shown.length };
}

/** Throws `bad_text` for empty or multi-line text and `too_long` above `maxBytes` UTF-8 bytes. */
export function checkText(text: string, maxBytes: number, what = "text"): void {
  if (text.length === 0) fail("bad_text", `The ${what} is empty.`);
  if (text.includes("\n") || text.includes("\r")) {
    fail("bad_text", `The ${what} must be one line.`);
  }
  if (text.length * 3 > maxBytes && utf8Length(text) > maxBytes) {
    fail("too_long", `The ${what} is longer than ${maxBytes} bytes; nothing was sent.`);
  }
}

// ---------------------------------------------------------------------------------------------
// IP prefixes, ban targets, durations

/** A parsed IP address or prefix. */
export interface IpPrefix {
  /** 4 or 6. */
  version: 4 | 6;
  /** The address bits, host bits cleared for a prefix. */
  bits: bigint;
  /** Prefix length (32 or 128 for a single address). */
  prefix: number;
}

function parseV4(s: string): bigint | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (m === null) return undefined;
  let v = 0n;
  for (let i = 1; i <= 4; i++) {
    const o = Number(m[i]);
    if (o > 255) return undefined;
    v = (v << 8n) | BigInt(o);
  }
  return v;
}

function parseV6(s: string): bigint | undefined {
  if (s.length > 45 || !/^[0-9A-Fa-f:.]+$/.test(s)) return undefined;
  let tail: bigint[] = [];
  let body = s;
  const lastColon = s.lastIndexOf(":");
  if (s.includes(".")) {
    const v4 = parseV4(s.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    tail = [v4 >> 16n, v4 & 0xffffn];
    body = s.slice(0, lastColon + 1) + "0";
  }
  const halves = body.split("::");
  if (halves.length > 2) return undefined;
  const group = (g: string) => /^[0-9A-Fa-f]{1,4}$/.test(g) ? BigInt("0x" + g) : undefined;
  const parts = (h: string) => h === "" ? [] : h.split(":").map(group);
  const head = parts(halves[0]);
  const rest = halves.length === 2 ? parts(halves[1]) : [];
  if (tail.length > 0) (halves.length === 2 ? rest : head).pop();
  const known = [...head, ...rest];
  if (known.some((g) => g === undefined)) return undefined;
  const total = known.length + tail.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return undefined;
  const groups = [
    ...head,
    ...new Array<bigint>(8 - total).fill(0n),
    ...rest,
    ...tail,
  ] as bigint[];
  return groups.reduce((a, g) => (a << 16n) | g, 0n);
}

/**
 * Parses `a.b.c.d`, an IPv6 address, or either with `/prefix`; brackets and a `%zone` are
 * ignored, and an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) becomes IPv4. Host bits of a
 * prefix are cleared. Undefined when `text` is not an address.
 */
export function parseIpPrefix(text: string): IpPrefix | undefined {
  if (text.length > 64) return undefined;
  let s = text.startsWith("[") && text.includes("]") ? text.replace(/^\[|\]/g, "") : text;
  let prefix: number | undefined;
  const slash = s.indexOf("/");
  if (slash >= 0) {
    if (!/^\d{1,3}$/.test(s.slice(slash + 1))) return undefined;
    prefix = Number(s.slice(slash + 1));
    s = s.slice(0, slash);
  }
  const pct = s.indexOf("%");
  if (pct >= 0) s = s.slice(0, pct);
  let version: 4 | 6;
  let bits = parseV4(s);
  if (bits !== undefined) version = 4;
  else {
    bits = parseV6(s);
    if (bits === undefined) return undefined;
    version = 6;
    if (bits >> 32n === 0xffffn && (prefix === undefined || prefix >= 96)) {
      version = 4;
      bits &= 0xffffffffn;
      if (prefix !== undefined) prefix -= 96;
    }
  }
  const width = version === 4 ? 32 : 128;
  if (prefix === undefined) prefix = width;
  if (prefix > width) return undefined;
  const hostBits = BigInt(width - prefix);
  bits = (bits >> hostBits) << hostBits;
  return { version, bits, prefix };
}

/** Canonical text of a prefix: dotted IPv4 or compressed lower-case IPv6, `/n` unless single. */
export function formatIpPrefix(p: IpPrefix): string {
  let addr: string;
  if (p.version === 4) {
    addr = [24n, 16n, 8n, 0n].map((s) => String((p.bits >> s) & 0xffn)).join(".");
  } else {
    const groups: number[] = [];
    for (let i = 7; i >= 0; i--) groups.push(Number((p.bits >> BigInt(i * 16)) & 0xffffn));
    let bestAt = -1;
    let bestLen = 1;
    for (let i = 0; i < 8;) {
      if (groups[i] !== 0) {
        i++;
        continue;
      }
      let j = i;
      while (j < 8 && groups[j] === 0) j++;
      if (j - i > bestLen) [bestAt, bestLen] = [i, j - i];
      i = j;
    }
    const hex = groups.map((g) => g.toString(16));
    addr = bestAt < 0 ? hex.join(":") : hex.slice(0, bestAt).join(":") + "::" +
      hex.slice(bestAt + bestLen).join(":");
  }
  return p.prefix === (p.version === 4 ? 32 : 128) ? addr : `${addr}/${p.prefix}`;
}

/** True when the address `ip` lies inside the ban target `target` (an address or prefix). */
export function ipMatches(ip: string, target: string): boolean {
  const a = parseIpPrefix(ip);
  const t = parseIpPrefix(target);
  if (a === undefined || t === undefined || a.version !== t.version) return false;
  const hostBits = BigInt((t.version === 4 ? 32 : 128) - t.prefix);
  return (a.bits >> hostBits) === (t.bits >> hostBits);
}

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

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses a duration like `30s`, `10m`, `2h`, `7d` into milliseconds; undefined otherwise. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d{1,6})([smhd])$/.exec(text);
  if (m === null || Number(m[1]) === 0) return undefined;
  return Number(m[1]) * UNIT_MS[m[2]];
}

/** `1d 2h 3m 4s`-style text for a duration in milliseconds (largest two units). */
export function formatDuration(ms: number): string {
  let s = Math.max(0, Math.floor(ms / 1000));
  const parts: string[] = [];
  for (const [unit, size] of [["d", 86_400], ["h", 3600], ["m", 60], ["s", 1]] as const) {
    if (s >= size || (unit === "s" && parts.length === 0)) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  return parts.slice(0, 2).join(" ");
}

// ---------------------------------------------------------------------------------------------
// Helpers for handlers

function needUser(ctx: CommandContext): UserView {
  if (ctx.user === undefined) fail("not_permitted", "Only a connected user can do that.");
  return ctx.user;
}

function liveUser(ctx: CommandContext, name: string): UserView {
  const u = ctx.host.user(name);
  if (u === undefined) fail("no_such_user", `Nobody called ${name} is connected.`);
  return u;
}

function ownerOf(ctx: CommandContext, name: string): string {
  const fp = ctx.host.ownerFingerprint(name);
  if (fp === undefined) fail("no_such_user", `Nobody owns the name ${name}.`);
  return fp;
}

function validRoom(room: string): string {
  const r = checkRoom(room);
  if (!r.ok) fail("bad_args", r.reason);
  return room;
}

/**
 * Picks the room of a command: `args[0]` when it starts with `#`, else the caller's only room.
 * Returns the room and the remaining arguments.
 */
function roomArg(ctx: CommandContext, args: string[], c: string): [string, string[]] {
  if (args.length > 0 && args[0].startsWith("#")) return [validRoom(args[0]), args.slice(1)];
  const rooms = ctx.user === undefined ? [] : [...ctx.user.rooms];
  if (rooms.length !== 1) fail("bad_args", `Say which room: ${c}`);
  return [rooms[0], args];
}

function member(ctx: CommandContext, room: string): void {
  if (ctx.user !== undefined && !ctx.user.rooms.has(room)) {
    fail("not_in_room", `You are not in ${room}.`);
  }
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function describeBan(b: Ban, now: number): string {
  const until = b.expires === null ? "permanent" : `${formatDuration(b.expires - now)} left`;
  const why = b.reason === "" ? "" : `: ${b.reason}`;
  return `${b.target} (${b.kind}, by ${b.by}, ${until})${why}`;
}

function cmd(
  name: string,
  args: string,
  help: string,
  opts: { op?: boolean; user?: boolean; min?: number; max?: number },
  run: (ctx: CommandContext, args: string[]) => CommandResult,
): Command {
  return Object.freeze({
    name,
    args,
    help,
    op: opts.op ?? false,
    user: opts.user ?? false,
    min: opts.min ?? 0,
    max: opts.max ?? 0,
    run,
  });
}

// ---------------------------------------------------------------------------------------------
// The table

/** Every server command, in the order `/help` lists them. The single source of truth. */
export const COMMANDS: readonly Command[] = Object.freeze([
  cmd("help", "[command]", "List the commands, or show one command's usage", { max: 1 }, helpCmd),
  cmd("service", "", "Server name, version, uptime, users, rooms, key, limits, cipher suite", {}, (
    ctx,
  ) => {
    const i = ctx.host.info();
    const l = ctx.host.limits;
    const uptime = ctx.host.now() - i.startedAt;
    const limits = {
      textBytes: l.textBytes,
      envelopeBytes: l.envelopeBytes,
      historyOnJoin: l.historyOnJoin,
      historyMax: l.historyMax,
      historyKept: l.historyKept,
      rateBurst: l.rateBurst,
      ratePerSecond: l.ratePerSecond,
      maxConnections: l.maxConnections,
    };
    const text = [
      `Server: ${i.serverName} (chat ${i.version})`,
      `Uptime: ${formatDuration(uptime)}`,
      `Users online: ${i.users} (${plural(i.connections, "connection")})`,
      `Rooms: ${i.rooms}`,
      `Host key: ${i.hostFingerprint}`,
      `Limits: text ${l.textBytes} bytes, DM ${l.envelopeBytes} bytes, history ${l.historyOnJoin} ` +
      `on join / ${l.historyMax} per request / ${l.historyKept} kept, rate ${l.rateBurst} burst + ` +
      `${l.ratePerSecond}/s, ${l.maxConnections} connections`,
      `Cipher suite: ${CIPHER_SUITE}`,
    ].join("\n");
    return {
      text,
      data: {
        name: i.serverName,
        version: i.version,
        uptime,
        users: i.users,
        connections: i.connections,
        rooms: i.rooms,
        hostFingerprint: i.hostFingerprint,
        limits,
        cipherSuite: CIPHER_SUITE,
      },
    };
  }),
  cmd("nick", "NEW", "Change your name (same rules as at login)", { user: true, min: 1, max: 1 }, (
    ctx,
    [name],
  ) => {
    const u = needUser(ctx);
    const old = u.name;
    ctx.host.nick(u, name);
    return { text: `You are now ${name} (was ${old}).`, data: { name, old } };
  }),
  cmd("who", "[#room]", "List the users online, or the members of a room", { max: 1 }, (
    ctx,
    args,
  ) => {
    let users: UserView[];
    let where = "online";
    if (args.length === 1) {
      const room = validRoom(args[0]);
      const m = ctx.host.members(room);
      if (m === undefined) fail("no_such_room", `There is no room ${room}.`);
      users = m;
      where = `in ${room}`;
    } else users = ctx.host.users();
    const { shown: data, more } = fitting(
      users.map((u) => u.away === undefined ? { name: u.name } : { name: u.name, away: u.away }),
    );
    const names = data.map((d) => d.away === undefined ? d.name : `${d.name} (away: ${d.away})`);
    if (more > 0) names.push(`and ${more} more`);
    return { text: `${plural(users.length, "user")} ${where}: ${names.join(", ")}`, data };
  }),
  cmd("whois", "NAME", "Show a user's fingerprint, rooms, idle time and away text", {
    min: 1,
    max: 1,
  }, (ctx, [name]) => {
    const u = liveUser(ctx, name);
    const now = ctx.host.now();
    const data = {
      name: u.name,
      fingerprint: u.fingerprint,
      rooms: [...u.rooms],
      idle: Math.max(0, now - u.lastActive),
      since: u.since,
      ...(u.away === undefined ? {} : { away: u.away }),
      ...(ctx.host.isOperator(u.fingerprint) ? { operator: true } : {}),
    };
    const text = [
      `${u.name}${data.operator ? " (operator)" : ""}`,
      `  fingerprint: ${u.fingerprint}`,
      `  rooms: ${data.rooms.join(" ")}`,
      `  idle: ${formatDuration(data.idle)}`,
      `  connected: ${new Date(u.since).toISOString()} (${formatDuration(now - u.since)} ago)`,
      ...(u.away === undefined ? [] : [`  away: ${u.away}`]),
    ].join("\n");
    return { text, data };
  }),
  cmd("rooms", "", "List the rooms with their members and topics", {}, (ctx) => {
    const all = ctx.host.rooms();
    const { shown: rooms, more } = fitting(all);
    const lines = rooms.map((r) =>
      `${r.name} (${plural(r.members, "member")})${r.topic === "" ? "" : `: ${r.topic}`}`
    );
    if (more > 0) lines.push(`and ${more} more`);
    return { text: [`${plural(all.length, "room")}:`, ...lines].join("\n"), data: rooms };
  }),
  cmd("join", "#room", "Join a room (creating it)", { user: true, min: 1, max: 1 }, (
    ctx,
    [room],
  ) => {
    const u = needUser(ctx);
    validRoom(room);
    if (u.rooms.has(room)) return { text: `You are already in ${room}.` };
    if (u.rooms.size >= MAX_ROOMS_PER_USER) {
      fail("too_many_rooms", `You can be in at most ${MAX_ROOMS_PER_USER} rooms.`);
    }
    const info = ctx.host.join(u, room);
    return { text: `You joined ${room}.`, data: info };
  }),
  cmd("leave", "[#room]", "Leave a room (the only one you are in if none given)", {
    user: true,
    max: 1,
  }, (ctx, args) => {
    const u = needUser(ctx);
    const [room] = roomArg(ctx, args, "/leave #room");
    member(ctx, room);
    ctx.host.leave(u, room, "left");
    return { text: `You left ${room}.` };
  }),
  cmd("topic", "[#room] [text]", "Show or set a room's topic", { max: Infinity }, (ctx, args) => {
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
    ctx.host.setTopic(room, text, ctx.by);
    return { text: `Topic of ${room} set.`, data: { room, topic: text } };
  }),
  cmd("away", "[text]", "Mark yourself away, with an optional message", {
    user: true,
    max: Infinity,
  }, (ctx, args) => {
    const u = needUser(ctx);
    const text = args.length === 0 ? "away" : args.join(" ");
    checkText(text, ctx.host.limits.textBytes, "away text");
    ctx.host.setAway(u, text);
    return { text: `You are away: ${text}` };
  }),
  cmd("back", "", "Clear your away status", { user: true }, (ctx) => {
    const u = needUser(ctx);
    if (u.away === undefined) return { text: "You were not away." };
    ctx.host.setAway(u, undefined);
    return { text: "Welcome back." };
  }),
  cmd("history", "[#room] [N]", "Show the last N messages of a room (default 50)", { max: 2 }, (
    ctx,
    args,
  ) => {
    const [room, rest] = roomArg(ctx, args, "/history #room [N]");
    const max = ctx.host.limits.historyMax;
    let n = Math.min(50, max);
    if (rest.length > 1) fail("bad_args", "usage: /history [#room] [N]");
    if (rest.length === 1) {
      if (!/^\d{1,9}$/.test(rest[0]) || Number(rest[0]) === 0) {
        fail("bad_args", "N must be a positive whole number. usage: /history [#room] [N]");
      }
      n = Math.min(Number(rest[0]), max);
    }
    member(ctx, room);
    return { text: `End of the history of ${room}.`, replay: ctx.host.history(room, n) };
  }),
  cmd("keys", "NAME", "Get a connected user's public keys (for private messages)", {
    min: 1,
    max: 1,
  }, (ctx, [name]) => {
    const u = liveUser(ctx, name);
    if (u.kemPub === undefined || u.kemSig === undefined) {
      fail("no_kem_key", `${u.name} cannot receive private messages.`);
    }
    return {
      text: `${u.name} ${u.fingerprint}`,
      data: {
        name: u.name,
        fingerprint: u.fingerprint,
        sig_pub: u.sigPub,
        kem_pub: u.kemPub,
        kem_sig: u.kemSig,
      },
    };
  }),
  cmd("kick", "NAME [reason]", "Disconnect a user", { op: true, min: 1, max: Infinity }, (
    ctx,
    [name, ...why],
  ) => {
    const u = liveUser(ctx, name);
    const reason = why.join(" ");
    ctx.host.kick(u, ctx.by, reason);
    return { text: `Kicked ${u.name}.` };
  }),
  cmd(
    "ban",
    "NAME|SHA256:fp|IP[/prefix] [duration] [reason]",
    "Ban a name, identity or address (duration like 10m, 2h, 7d; default forever)",
    { op: true, min: 1, max: Infinity },
    (ctx, [what, ...rest]) => {
      const t = parseBanTarget(what);
      if (t === undefined) fail("bad_args", `${what} is not a name, fingerprint or IP address.`);
      const now = ctx.host.now();
      const ms = rest.length > 0 ? parseDuration(rest[0]) : undefined;
      if (ms !== undefined) rest = rest.slice(1);
      const ban: Ban = {
        target: t.target,
        kind: t.kind,
        by: ctx.by,
        reason: rest.join(" "),
        created: now,
        expires: ms === undefined ? null : now + ms,
      };
      const closed = ctx.host.ban(ban);
      return {
        text: `Banned ${describeBan(ban, now)}; ${plural(closed, "connection")} closed.`,
        data: ban,
      };
    },
  ),
  cmd("unban", "TARGET", "Lift a ban", { op: true, min: 1, max: 1 }, (ctx, [what]) => {
    const t = parseBanTarget(what);
    const target = t === undefined ? what : t.target;
    if (!ctx.host.unban(target)) fail("no_such_ban", `There is no ban on ${what}.`);
    return { text: `Unbanned ${target}.` };
  }),
  cmd("bans", "", "List the bans in force", { op: true }, (ctx) => {
    const all = ctx.host.bans();
    const { shown: bans, more } = fitting(all);
    const now = ctx.host.now();
    const lines = bans.map((b) => `  ${describeBan(b, now)}`);
    if (more > 0) lines.push(`  and ${more} more`);
    return { text: [`${plural(all.length, "ban")}:`, ...lines].join("\n"), data: bans };
  }),
  cmd("mute", "NAME", "Silence a user's room messages (until unmuted or restart)", {
    op: true,
    min: 1,
    max: 1,
  }, (ctx, [name]) => {
    const fp = ownerOf(ctx, name);
    ctx.host.mute(fp, ctx.by);
    return { text: `Muted ${name}.` };
  }),
  cmd("unmute", "NAME", "Let a muted user speak again", { op: true, min: 1, max: 1 }, (
    ctx,
    [name],
  ) => {
    const fp = ownerOf(ctx, name);
    return { text: ctx.host.unmute(fp) ? `Unmuted ${name}.` : `${name} was not muted.` };
  }),
  cmd("motd", "[text|-]", "Show or set the message of the day (- clears it)", {
    op: true,
    max: Infinity,
  }, (ctx, args) => {
    if (args.length === 0) {
      const motd = ctx.host.motd();
      return { text: motd === "" ? "No message of the day." : motd, data: { motd } };
    }
    const text = args.length === 1 && args[0] === "-" ? "" : args.join(" ");
    if (text !== "") checkText(text, ctx.host.limits.textBytes, "message of the day");
    ctx.host.setMotd(text);
    return { text: text === "" ? "Message of the day cleared." : "Message of the day set." };
  }),
  cmd("op", "NAME", "Make a user an operator", { op: true, min: 1, max: 1 }, (ctx, [name]) => {
    const fp = ownerOf(ctx, name);
    ctx.host.addOp(fp);
    return { text: `${name} (${fp}) is now an operator.` };
  }),
  cmd("deop", "NAME", "Take operator rights away", { op: true, min: 1, max: 1 }, (
    ctx,
    [name],
  ) => {
    const fp = ownerOf(ctx, name);
    if (ctx.host.isAdmin(fp)) {
      fail("not_permitted", `${name} is an operator by the server's --admin option.`);
    }
    if (!ctx.host.removeOp(fp)) return { text: `${name} was not an operator.` };
    return { text: `${name} is no longer an operator.` };
  }),
]);

const BY_NAME: ReadonlyMap<string, Command> = new Map(COMMANDS.map((c) => [c.name, c]));

function helpCmd(ctx: CommandContext, args: string[]): CommandResult {
  if (args.length === 1) {
    const c = BY_NAME.get(args[0].replace(/^\//, "").toLowerCase());
    if (c === undefined) fail("unknown_command", `There is no command /${args[0]}.`);
    return { text: `${usage(c)} — ${c.help}${c.op ? " (operators)" : ""}`, data: [helpRow(c)] };
  }
  const width = Math.max(...COMMANDS.map((c) => usage(c).length));
  const lines = COMMANDS.map((c) =>
    `  ${usage(c).padEnd(width)}  ${c.help}${c.op ? " (operators)" : ""}`
  );
  const extra = ctx.user === undefined ? [] : [
    "  /msg NAME text, /me action, /quit (or <exit chat>) and /ignore, /trust, /verify " +
    "are handled by your client.",
  ];
  return { text: ["Commands:", ...lines, ...extra].join("\n"), data: COMMANDS.map(helpRow) };
}

function helpRow(c: Command) {
  return { name: c.name, usage: usage(c), help: c.help, op: c.op };
}

/** The table entry for `name` (case-insensitive, leading `/` allowed), if any. */
export function findCommand(name: string): Command | undefined {
  return BY_NAME.get(name.replace(/^\//, "").toLowerCase());
}

/**
 * Runs command `name` for `ctx`: `unknown_command`, `not_permitted` (operator-only or needs a
 * user) and `bad_args` (with the usage) are checked here from the table; the handler may throw
 * other `ProtocolError`s.
 */
export function runCommand(ctx: CommandContext, name: string, args: string[]): CommandResult {
  const c = findCommand(name);
  if (c === undefined) fail("unknown_command", `There is no command /${name}. Try /help.`);
  if (c.op && !ctx.operator) fail("not_permitted", `/${c.name} is for operators only.`);
  if (c.user && ctx.user === undefined) {
    fail("not_permitted", `/${c.name} needs a connected user.`);
  }
  if (args.length < c.min || args.length > c.max) fail("bad_args", `usage: ${usage(c)}`);
  return c.run(ctx, args);
}
