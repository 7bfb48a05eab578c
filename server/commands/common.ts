/**
 * Helpers shared by the command handlers: errors, argument checks, the room argument, reply
 * fitting and the table-entry builder.
 * @module
 */

import { utf8Length } from "../../shared/encoding.ts";
import { chatTextRefusal } from "../../shared/chat_text.ts";
import { ProtocolError } from "../../shared/errors.ts";
import { checkRoom } from "../../shared/names.ts";
import type { ModerationRecord } from "../audit.ts";
import type { Command, CommandContext, CommandResult, Listing, UserView } from "../command_host.ts";

/** Throws a `ProtocolError` with `code` and `message`. */
export function fail(code: string, message: string): never {
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
 * out: a reply must fit in one record, whatever names, topics or away texts contain. Reads no
 * item past the first that does not fit.
 */
export function fitting<T>(items: Listing<T> | readonly T[]): { shown: T[]; more: number } {
  let used = 0;
  const shown: T[] = [];
  for (const item of items) {
    used += utf8Length(JSON.stringify(item));
    if (used > REPLY_LIST_BUDGET) break;
    shown.push(item);
  }
  return { shown, more: ("size" in items ? items.size : items.length) - shown.length };
}

/**
 * One page of a list answer for `ctx`: what fits (see {@link fitting}), then cut to the rows the
 * caller's budget pays for; `cut` is true when the budget cut it. Costs O(page), whatever the
 * size of the list.
 */
export function page<T>(
  ctx: CommandContext,
  items: Listing<T> | readonly T[],
): { shown: T[]; more: number; cut: boolean } {
  const { shown, more } = fitting(items);
  const granted = ctx.host.charge(ctx.user, "list", shown.length);
  const cut = granted < shown.length;
  if (!cut) return { shown, more, cut };
  const left = shown.length - granted;
  shown.length = granted;
  return { shown, more: more + left, cut };
}

/** `items` with `f` applied to each as it is read. */
export function mapListing<T, U>(items: Listing<T>, f: (t: T) => U): Listing<U> {
  return {
    size: items.size,
    *[Symbol.iterator]() {
      for (const t of items) yield f(t);
    },
  };
}

/** The text that ends a list of which `more` were left out (`cut`: by the caller's budget). */
export function andMore(more: number, cut: boolean): string {
  return cut ? `and ${more} more (rate limited: ask again in a few seconds)` : `and ${more} more`;
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

/**
 * Throws `bad_text` or `too_long` unless `text` follows the chat-text rules (shared/chat_text.ts:
 * LF line breaks, no CR, at most 50 lines) within `maxBytes` UTF-8 bytes.
 */
export function checkChatText(text: string, maxBytes: number): void {
  const r = chatTextRefusal(text, maxBytes);
  if (r === undefined) return;
  if (r.code === "too_long") {
    fail("too_long", `The message is longer than ${maxBytes} bytes; nothing was sent.`);
  }
  fail("bad_text", r.reason === "empty" ? "The message is empty." : `Not sent: ${r.reason}.`);
}

/** The calling user; `not_permitted` on the console. */
export function needUser(ctx: CommandContext): UserView {
  if (ctx.user === undefined) fail("not_permitted", "Only a connected user can do that.");
  return ctx.user;
}

/** The connected user called `name`; `no_such_user` otherwise. */
export function liveUser(ctx: CommandContext, name: string): UserView {
  const u = ctx.host.user(name);
  if (u === undefined) fail("no_such_user", `Nobody called ${name} is connected.`);
  return u;
}

/** The fingerprint of the identity owning `name`; `no_such_user` otherwise. */
export function ownerOf(ctx: CommandContext, name: string): string {
  const fp = ctx.host.ownerFingerprint(name);
  if (fp === undefined) fail("no_such_user", `Nobody owns the name ${name}.`);
  return fp;
}

/** `room` when it is a valid room name; `bad_args` otherwise. */
export function validRoom(room: string): string {
  const r = checkRoom(room);
  if (!r.ok) fail("bad_args", r.reason);
  return room;
}

/**
 * Picks the room of a command: `args[0]` when it starts with `#`, else the caller's only room.
 * Returns the room and the remaining arguments.
 */
export function roomArg(ctx: CommandContext, args: string[], c: string): [string, string[]] {
  if (args.length > 0 && args[0].startsWith("#")) return [validRoom(args[0]), args.slice(1)];
  const rooms = ctx.user === undefined ? [] : [...ctx.user.rooms];
  if (rooms.length !== 1) fail("bad_args", `Say which room: ${c}`);
  return [rooms[0], args];
}

/** `not_in_room` unless the calling user is in `room` (the console always is). */
export function member(ctx: CommandContext, room: string): void {
  if (ctx.user !== undefined && !ctx.user.rooms.has(room)) {
    fail("not_in_room", `You are not in ${room}.`);
  }
}

/** `"1 user"`, `"2 users"`. */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** A frozen table entry; options default to a non-operator command without arguments. */
export function cmd(
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

/** Records a moderation action done by the caller of `ctx`. */
export function audit(
  ctx: CommandContext,
  r: Omit<ModerationRecord, "by" | "byFingerprint">,
): void {
  const rec: ModerationRecord = { ...r, by: ctx.by };
  if (ctx.byFingerprint !== undefined) rec.byFingerprint = ctx.byFingerprint;
  ctx.host.audit(rec);
}

/** `muted` when the caller is a muted identity; `what` is what was not done. */
export function notMuted(ctx: CommandContext, what: string): void {
  if (ctx.byFingerprint !== undefined && ctx.host.isMuted(ctx.byFingerprint)) {
    fail("muted", `You are muted; ${what}.`);
  }
}
