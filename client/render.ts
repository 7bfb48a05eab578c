/**
 * Pure formatting of chat events as terminal lines: `HH:MM [#room] name: text`, a stable colour
 * per name, highlighted mentions, dimmed system events. Every string that came from the network
 * passes through `sanitize` / `sanitizeMultiline`, so the only escape sequences in the output
 * are the colour codes added here (none at all when colour is off).
 * @module
 */

import { sanitize, sanitizeMultiline } from "../shared/sanitize.ts";
import { nameKey } from "../shared/names.ts";
import type { EventMessage, ServerMessage, WelcomeMessage } from "../shared/messages.ts";
import type { RenderState, ViewEvent } from "./view.ts";

/** Options that depend on the output, not on the chat state. */
export interface RenderOptions {
  /** Add ANSI colour and style codes. */
  color: boolean;
  /** Current time in ms since the epoch, for lines that carry no server time. */
  now: number;
  /**
   * Chat text on one line (plain mode): its line breaks are shown as `␊` (U+240A), so every
   * message is exactly one output line. Otherwise they are kept and the continuation lines are
   * indented under the text column.
   */
  oneLine?: boolean;
  /** Tag room messages with their room (default true; a room's own window leaves it out). */
  roomTag?: boolean;
}

/** SGR foreground codes names are coloured with: six normal and six bright colours. */
export const NAME_COLORS: readonly number[] = [31, 32, 33, 34, 35, 36, 91, 92, 93, 94, 95, 96];

const ESC = "\x1b[";
const DIM = ["2", "22"] as const;
const BOLD = ["1", "22"] as const;
const RED = ["31", "39"] as const;
const YELLOW = ["1;33", "22;39"] as const;
const MARK = ["1;7", "22;27"] as const;

function paint(text: string, sgr: readonly [string, string], color: boolean): string {
  return color ? `${ESC}${sgr[0]}m${text}${ESC}${sgr[1]}m` : text;
}

/** The SGR colour code for `name`: a hash of its case-folded form picks one of {@link NAME_COLORS}. */
export function nameColor(name: string): number {
  const key = nameKey(name);
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return NAME_COLORS[h % NAME_COLORS.length];
}

/**
 * Chat text after `head` (what precedes it on the first line, without colour codes): every line
 * sanitized (and passed through `mark`); continuation lines indented to the column the text
 * starts at, or with `oneLine` everything on one line, the breaks shown as `␊`.
 */
function chatText(
  head: string,
  text: string,
  oneLine: boolean | undefined,
  mark: (safe: string) => string = (t) => t,
): string {
  if (oneLine === true) return mark(sanitize(text));
  const pad = "\n" + " ".repeat(head.length);
  return text.split("\n").map((l) => mark(sanitize(l))).join(pad);
}

/** The red line for a message that was not delivered to `to` (a room or a name). */
function notDelivered(
  now: string,
  to: string,
  text: string,
  reason: string,
  opts: RenderOptions,
): string {
  const head = `${now}! not delivered to ${sanitize(to)}: `;
  return paint(
    `${head}${chatText(head, text, opts.oneLine)} (${sanitize(reason)})`,
    RED,
    opts.color,
  );
}

function paintName(name: string, color: boolean): string {
  const safe = sanitize(name);
  return color ? `${ESC}${nameColor(name)}m${safe}${ESC}39m` : safe;
}

function isNameChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) ||
    c === 0x5f || c === 0x2d;
}

/**
 * Start offsets of every mention of `me` in `text`: case-insensitive (ASCII), and only as a whole
 * word (the characters around it are not letters, digits, `_` or `-`). Empty `me` matches nothing.
 */
export function mentionOffsets(text: string, me: string): number[] {
  const out: number[] = [];
  if (me.length === 0) return out;
  const hay = nameKey(text);
  const needle = nameKey(me);
  for (let i = hay.indexOf(needle); i >= 0; i = hay.indexOf(needle, i + 1)) {
    const end = i + needle.length;
    if (i > 0 && isNameChar(hay.charCodeAt(i - 1))) continue;
    if (end < hay.length && isNameChar(hay.charCodeAt(end))) continue;
    out.push(i);
  }
  return out;
}

/** True when `text` mentions `me` as a whole word, ignoring ASCII case. */
export function isMention(text: string, me: string): boolean {
  return mentionOffsets(text, me).length > 0;
}

function markMentions(safe: string, me: string, color: boolean): string {
  if (!color) return safe;
  const at = mentionOffsets(safe, me);
  if (at.length === 0) return safe;
  let out = "";
  let from = 0;
  for (const i of at) {
    out += safe.slice(from, i) + paint(safe.slice(i, i + me.length), MARK, true);
    from = i + me.length;
  }
  return out + safe.slice(from);
}

/** `HH:MM` of `ts` (ms since the epoch) in local time. */
export function formatClock(ts: number): string {
  const d = new Date(ts);
  return `${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

/** True when the event is a message (room or private) from a name the user ignores. */
export function isHidden(ev: ViewEvent, state: Pick<RenderState, "ignored">): boolean {
  if (ev.t === "dm") return !ev.out && state.ignored.has(nameKey(ev.from));
  if (ev.t !== "server") return false;
  const m = ev.msg;
  return (m.t === "msg" || m.t === "dm") && state.ignored.has(nameKey(m.from));
}

/**
 * True when the terminal bell should ring for this event: with bell "all" for every live room
 * message from someone else, with "mention" only when it mentions the user, never with "off";
 * an incoming private message rings with "all" and "mention".
 */
export function shouldBell(ev: ViewEvent, state: RenderState): boolean {
  if (state.bell === "off" || isHidden(ev, state)) return false;
  if (ev.t === "dm") return !ev.out;
  if (ev.t !== "server") return false;
  const m = ev.msg;
  if (m.t !== "msg" || m.replay === true || nameKey(m.from) === nameKey(state.me)) return false;
  return state.bell === "all" || isMention(m.text, state.me);
}

/** `marker` + the first line, then the other lines indented to the same column. */
function block(marker: string, text: string): string {
  const pad = " ".repeat(marker.length);
  return text.split("\n").map((l, i) => (i === 0 ? marker : pad) + l).join("\n");
}

function multi(text: string): string {
  return sanitizeMultiline(text).replace(/\n+$/, "");
}

/**
 * What a leave's reason adds to "NAME left #room", or "" when it adds nothing: `left` (a `/leave`)
 * only repeats the verb.
 */
function leaveReason(reason: string | undefined): string {
  if (reason === undefined || reason === "" || reason === "left") return "";
  if (reason === "shutdown") return " (server shutdown)";
  return ` (${sanitize(reason)})`;
}

function eventText(m: EventMessage, me: string): string {
  const s = (v: string | undefined, dflt = "someone") => sanitize(v ?? dflt);
  // "you were …" when the user is the one kicked, banned or muted.
  const who = (e: EventMessage) =>
    me !== "" && e.name !== undefined && nameKey(e.name) === nameKey(me)
      ? "you were"
      : `${s(e.name)} was`;
  const room = m.room !== undefined ? ` ${sanitize(m.room)}` : "";
  const why = m.reason !== undefined && m.reason !== "" ? ` (${sanitize(m.reason)})` : "";
  const by = m.by !== undefined ? ` by ${sanitize(m.by)}` : "";
  switch (m.kind) {
    case "join":
      return `${s(m.name)} joined${room}`;
    case "leave":
      return `${s(m.name)} left${room}${leaveReason(m.reason)}`;
    case "nick":
      return me !== "" && m.name !== undefined && nameKey(m.name) === nameKey(me)
        ? `you are now known as ${s(m.name)}`
        : `${s(m.old)} is now known as ${s(m.name)}`;
    case "topic":
      return m.by !== undefined
        ? `${sanitize(m.by)} set the topic of${room || " the room"}: ${s(m.text, "")}`
        : `topic of${room || " the room"}: ${s(m.text, "")}`;
    case "away":
      // A bare /away says "away": nothing to add.
      return m.text && m.text.toLowerCase() !== "away"
        ? `${s(m.name)} is away: ${sanitize(m.text)}`
        : `${s(m.name)} is away`;
    case "back":
      return `${s(m.name)} is back`;
    case "kick":
      return `${who(m)} kicked from${room || " the room"}${by}${why}`;
    case "ban":
      return `${who(m)} banned${room ? ` from${room}` : ""}${by}${why}`;
    case "mute":
      return `${who(m)} muted${room ? ` in${room}` : ""}${by}${why}`;
    case "announce":
      return `announcement: ${s(m.text, "")}`;
    case "motd":
      return `message of the day: ${s(m.text, "")}`;
    case "op":
      return `you are now an operator of this server${by}: /help lists the operator commands`;
    case "deop":
      return `you are no longer an operator of this server${by}`;
    case "mode":
      return m.text === "+private"
        ? `${s(m.by)} made${room || " the room"} private: its lines are end-to-end encrypted`
        : `${s(m.by)} set${room || " the room"} ${s(m.text, "")}`;
    case "keyreq":
      return `${s(m.name)} asked for your key in${room || " a private room"}`;
  }
}

function welcomeText(m: WelcomeMessage): string {
  const lines = [
    `connected to ${sanitize(m.server.name)} (${sanitize(m.server.version)}) as ${
      sanitize(m.name)
    }`,
  ];
  if (m.server.motd !== "") lines.push(block("", multi(m.server.motd)));
  for (const r of m.rooms) {
    const topic = r.topic !== "" ? `: ${sanitize(r.topic)}` : "";
    const kind = r.private === true ? " [private]" : "";
    lines.push(`${sanitize(r.name)}${kind} (${r.members} here)${topic}`);
  }
  return lines.join("\n");
}

function replyData(data: unknown): string {
  try {
    return sanitize(JSON.stringify(data) ?? "");
  } catch {
    return "(unprintable reply)";
  }
}

const STATUS_LABEL = {
  connecting: "connecting",
  connected: "connected",
  lost: "connection lost",
  reconnecting: "reconnecting",
  closed: "disconnected",
} as const;

function serverLine(
  m: ServerMessage,
  state: RenderState,
  clock: (ts: number) => string,
  opts: RenderOptions,
): string | null {
  const color = opts.color;
  // Lines without a server time (welcome, replies, errors) take the time they are shown.
  const now = clock(opts.now);
  switch (m.t) {
    case "msg": {
      const head = `${clock(m.ts)}${opts.roomTag === false ? "" : `[${sanitize(m.room)}] `}`;
      if (m.undecryptable !== undefined) return `${head}-- ${sanitize(m.undecryptable)}`;
      const plain = m.me === true
        ? `${head}* ${sanitize(m.from)} `
        : `${head}${sanitize(m.from)}: `;
      const text = chatText(plain, m.text, opts.oneLine, (l) => markMentions(l, state.me, color));
      return m.me === true
        ? `${head}* ${paintName(m.from, color)} ${text}`
        : `${head}${paintName(m.from, color)}: ${text}`;
    }
    case "event": {
      const aboutMe = state.me !== "" && m.name !== undefined &&
        nameKey(m.name) === nameKey(state.me);
      const sgr = m.kind === "announce"
        ? YELLOW
        : m.kind === "motd"
        ? BOLD
        : aboutMe && (m.kind === "kick" || m.kind === "ban" || m.kind === "mute")
        ? RED
        : DIM;
      const body = m.kind === "announce" || m.kind === "motd"
        ? block(
          `${clock(m.ts)}-- ${m.kind === "announce" ? "announcement" : "message of the day"}: `,
          multi(m.text ?? ""),
        )
        : `${clock(m.ts)}-- ${eventText(m, state.me)}`;
      return paint(body, sgr, color);
    }
    case "welcome":
      return paint(block(`${now}-- `, welcomeText(m)), DIM, color);
    case "dm":
      return paint(
        `${clock(m.ts)}-- private message from ${
          sanitize(m.from)
        } not shown: private messages are not available yet`,
        DIM,
        color,
      );
    case "reply":
      if (m.text !== undefined) return block(`${now}  `, multi(m.text));
      if (m.data !== undefined) return block(`${now}  `, replyData(m.data));
      return paint(`${now}-- ok`, DIM, color);
    case "error":
      return paint(`${now}! ${sanitize(m.message)} (${sanitize(m.code)})`, RED, color);
    case "bye":
      return paint(`${now}-- the server ended the session: ${sanitize(m.reason)}`, DIM, color);
    case "ack":
    case "ping":
    case "pong":
    case "rkey":
      return null;
  }
}

/**
 * Renders one event as one or more terminal lines (joined by "\n", no trailing newline), or
 * null when nothing is to be shown (ignored names, acknowledgements, pings). Lines after the
 * first are indented, so multi-line text can never pass for a message line.
 */
export function formatEvent(ev: ViewEvent, state: RenderState, opts: RenderOptions): string | null {
  if (isHidden(ev, state)) return null;
  const { color } = opts;
  const clock = (ts: number) => state.timestamps ? `${formatClock(ts)} ` : "";
  const now = clock(opts.now);
  switch (ev.t) {
    case "server":
      return serverLine(ev.msg, state, clock, opts);
    case "welcome":
      return serverLine(ev.msg, state, clock, opts);
    case "pending": {
      const who = state.me !== "" ? sanitize(state.me) : "you";
      const tag = opts.roomTag === false ? "" : `[${sanitize(ev.room)}] `;
      const head = ev.me ? `${now}${tag}* ${who} ` : `${now}${tag}${who}: `;
      return paint(`${head}${chatText(head, ev.text, opts.oneLine)} …`, DIM, color);
    }
    case "acked":
      return null;
    case "failed":
      return notDelivered(now, ev.room, ev.text, ev.reason, opts);
    case "status": {
      // The welcome line already says where we are connected.
      if (ev.state === "connecting" || ev.state === "connected") return null;
      const detail = ev.detail !== "" ? `: ${sanitize(ev.detail)}` : "";
      return paint(`${now}-- ${STATUS_LABEL[ev.state]}${detail}`, DIM, color);
    }
    case "dm": {
      const queued = ev.queued ? ` (queued for ${paintName(ev.to, color)})` : "";
      if (opts.roomTag === false) {
        const head = `${clock(ev.ts)}${sanitize(ev.from)}: `;
        return `${clock(ev.ts)}${paintName(ev.from, color)}: ${
          chatText(head, ev.text, opts.oneLine)
        }${queued}`;
      }
      const from = ev.out ? "you" : paintName(ev.from, color);
      const to = ev.out ? paintName(ev.to, color) : "you";
      const head = `${clock(ev.ts)}[dm] ${ev.out ? "you" : sanitize(ev.from)} → ${
        ev.out ? sanitize(ev.to) : "you"
      }: `;
      return `${clock(ev.ts)}[dm] ${from} → ${to}: ${
        chatText(head, ev.text, opts.oneLine)
      }${queued}`;
    }
    case "dm_failed":
      return notDelivered(now, ev.to, ev.text, ev.reason, opts);
    case "local":
      return ev.level === "error"
        ? paint(block(`${now}! `, multi(ev.text)), RED, color)
        : block(`${now}-- `, multi(ev.text));
  }
}

/**
 * Whether to colour output: not when `--no-color` was given, nor when the `NO_COLOR`
 * environment variable holds any non-empty value.
 */
export function useColor(noColorEnv: string | undefined, noColorFlag: boolean): boolean {
  return !noColorFlag && (noColorEnv === undefined || noColorEnv === "");
}
