/**
 * The input line: what the user typed, parsed into an {@link Action} (a local command, a room
 * message, or a server command with its arguments), and the command lists and help text the
 * client knows before the server says more. Pure.
 * @module
 */

import { lineCount, MAX_TEXT_LINES, normalizeChatText } from "../shared/chat_text.ts";
import { DM_TEXT_MAX } from "../shared/e2e.ts";
import { utf8Length } from "../shared/encoding.ts";
import { SERVER_COMMAND_NAMES } from "../shared/commands.ts";
import { checkRoom } from "../shared/names.ts";
import type { BellMode } from "./view.ts";

/** Commands the client handles itself. */
export const LOCAL_COMMANDS: readonly string[] = [
  "help",
  "quit",
  "clear",
  "ignore",
  "unignore",
  "set",
  "timestamp",
  "bell",
  "me",
  "msg",
  "trust",
  "verify",
  "join",
  "reconnect",
  "win",
  "query",
  "close",
];

/** Server commands known before the server's own list arrives (shared/commands.ts). */
export const SERVER_COMMANDS: readonly string[] = SERVER_COMMAND_NAMES;

/** Help for the local commands, shown after the server's list. */
export const LOCAL_HELP = [
  "Client commands:",
  "  /help [command]           this list, or one command",
  "  /quit or <exit chat>      leave (also Ctrl-D, or Ctrl-C twice within 2 s)",
  "  /join #room               join a room and talk there (in its own window)",
  "  /join #room --private     create an end-to-end encrypted room",
  "  /win N|#room|NAME         show window N (also Alt+1…Alt+9, Alt+0 for 10, Alt+←/→,",
  "                            Ctrl+P/Ctrl+N; PgUp/PgDn scroll back, fetching older history)",
  "  /query NAME               open (or show) a private conversation with NAME; text typed",
  "                            there goes to NAME",
  "  /close                    close this window; a room's window leaves the room",
  "  /me action                send an action: * name action",
  "  /msg NAME text            end-to-end encrypted private message to NAME",
  "  /trust NAME               accept NAME's (new) key after checking it: pinned as verified",
  "  /verify NAME              show the safety number to compare with NAME",
  "  /reconnect                after a lost connection: try again now",
  "  /clear                    clear the screen",
  "  /ignore [NAME]            hide NAME's messages, under any name they use (no NAME: list)",
  "  /unignore NAME            show NAME's messages again",
  "  /set [KEY VALUE]          show the settings, or change and save one: bell, timestamps,",
  "                            colors, name (yours on this server), rooms (joined on start)",
  "  /timestamp on|off         show or hide times (saved)",
  "  /bell mention|all|off     when to ring the bell (saved)",
  "  //text                    send text that starts with /",
].join("\n");

/**
 * The lines of {@link LOCAL_HELP} about client command `name` (`/me`, `/quit`, …), or undefined
 * when the client does not handle `name` itself.
 */
export function localHelp(name: string): string | undefined {
  if (!COMMAND_NAME.test(name)) return undefined;
  const all = LOCAL_HELP.split("\n");
  const head = new RegExp(`^  (\\S+ or )?/${name}\\b`);
  const lines: string[] = [];
  for (let i = 0; i < all.length; i++) {
    if (!head.test(all[i])) continue;
    lines.push(all[i]);
    while (i + 1 < all.length && /^ {20,}\S/.test(all[i + 1])) lines.push(all[++i]);
  }
  return lines.length === 0 ? undefined : lines.map((l) => l.slice(2)).join("\n");
}

/** Commands whose last argument is free text: how many words come before it. */
const FREE_TEXT: Readonly<Record<string, number>> = {
  topic: 1,
  away: 0,
  kick: 1,
  mute: 1,
  motd: 0,
};
/** Commands whose first argument is a room; the current room is filled in when it is missing. */
const ROOM_FIRST: ReadonlySet<string> = new Set(["topic", "history", "leave", "mode"]);
/** Commands whose last argument is a room; the current room is added when none is named. */
const ROOM_LAST: ReadonlySet<string> = new Set(["invite"]);

/** Most arguments a command may carry (PROTOCOL.md: `cmd.args` holds at most 32). */
const MAX_ARGS = 32;
/** What a command name looks like. */
export const COMMAND_NAME: RegExp = /^[a-z][a-z0-9_-]{0,31}$/;

/** What one input line asks for. */
export type Action =
  | { kind: "none" }
  | { kind: "quit" }
  | { kind: "say"; text: string; me: boolean }
  | { kind: "help"; topic?: string }
  | { kind: "clear" }
  | { kind: "reconnect" }
  | { kind: "ignore"; name?: string }
  | { kind: "unignore"; name: string }
  | { kind: "set"; key?: string; value?: string }
  | { kind: "timestamp"; on?: boolean }
  | { kind: "bell"; mode?: BellMode }
  | { kind: "join"; room: string; private?: boolean }
  | { kind: "win"; spec: string }
  | { kind: "query"; name: string }
  | { kind: "close" }
  | { kind: "dm"; to: string; text: string }
  | { kind: "trust"; name: string }
  | { kind: "verify"; name: string }
  | { kind: "command"; name: string; args: string[] }
  | { kind: "error"; text: string };

function usage(text: string): Action {
  return { kind: "error", text: `usage: ${text}` };
}

/** What `/msg`, `/trust` and `/verify` answer when private messages are not set up. */
export const NO_DM_TEXT = "private messages are not available yet";
const NO_DM: Action = { kind: "error", text: NO_DM_TEXT };

/**
 * Parses one input (a line, or several lines typed or pasted as one message) typed while talking
 * in `room`; line breaks are normalised first (CRLF and CR to LF, blank lines at the start and
 * white space at the end removed). Only text, `/me` and `/msg` may span lines; another command
 * with a line break is an error. `<exit chat>` (surrounding white space ignored) and `/quit` quit; `//text` sends `/text`; other `/name args…` lines are local commands
 * or server commands (arguments split on white space, except the free-text tail of topic, away,
 * kick, mute and motd; topic, history, leave and mode get `room` when no room is given).
 * `/msg NAME text`, `/trust NAME` and `/verify NAME` are local when `dm` is true, else an error.
 */
export function parseInput(line: string, room: string, dm = false): Action {
  const text = normalizeChatText(line);
  const trimmed = text.trimStart();
  if (trimmed === "") return { kind: "none" };
  if (trimmed === "<exit chat>") return { kind: "quit" };
  if (!trimmed.startsWith("/")) return { kind: "say", text, me: false };
  if (trimmed.startsWith("//")) return { kind: "say", text: trimmed.slice(1), me: false };
  const m = /^\/(\S+)\s*([\s\S]*)$/.exec(trimmed);
  if (m === null) return { kind: "error", text: "type a command after /, or /help" };
  const name = m[1].toLowerCase();
  const rest = m[2];
  if (trimmed.includes("\n") && name !== "me" && name !== "msg") {
    return {
      kind: "error",
      text: `/${name} takes one line (only /me and /msg text may span lines); //text sends text ` +
        "that starts with /",
    };
  }
  const words = rest.split(/\s+/).filter((w) => w !== "");
  switch (name) {
    case "quit":
      return { kind: "quit" };
    case "help":
      if (words.length > 1) return usage("/help [command]");
      return words.length === 0
        ? { kind: "help" }
        : { kind: "help", topic: words[0].replace(/^\//, "").toLowerCase() };
    case "clear":
      return { kind: "clear" };
    case "reconnect":
      return words.length > 0 ? usage("/reconnect") : { kind: "reconnect" };
    case "me":
      return rest === "" ? usage("/me action") : { kind: "say", text: rest, me: true };
    case "msg": {
      if (!dm) return NO_DM;
      const t = /^(\S+)\s+(\S[\s\S]*)$/.exec(rest);
      return t === null ? usage("/msg NAME text") : { kind: "dm", to: t[1], text: t[2] };
    }
    case "trust":
    case "verify":
      if (!dm) return NO_DM;
      return words.length !== 1 ? usage(`/${name} NAME`) : { kind: name, name: words[0] };
    case "ignore":
      return words.length > 1 ? usage("/ignore [NAME]") : { kind: "ignore", name: words[0] };
    case "unignore":
      return words.length !== 1 ? usage("/unignore NAME") : { kind: "unignore", name: words[0] };
    case "set": {
      if (words.length === 0) return { kind: "set" };
      const kv = /^(\S+)\s*([\s\S]*)$/.exec(rest)!;
      return { kind: "set", key: kv[1], ...(kv[2] === "" ? {} : { value: kv[2] }) };
    }
    case "timestamp":
    case "timestamps":
      if (words.length === 0) return { kind: "timestamp" };
      if (words.length === 1 && (words[0] === "on" || words[0] === "off")) {
        return { kind: "timestamp", on: words[0] === "on" };
      }
      return usage("/timestamp on|off");
    case "bell":
      if (words.length === 0) return { kind: "bell" };
      if (words.length === 1 && ["mention", "all", "off"].includes(words[0])) {
        return { kind: "bell", mode: words[0] as BellMode };
      }
      return usage("/bell mention|all|off");
    case "win":
    case "window":
      return words.length !== 1 ? usage("/win N|#room|NAME") : { kind: "win", spec: words[0] };
    case "query":
      return words.length !== 1 ? usage("/query NAME") : { kind: "query", name: words[0] };
    case "close":
      return words.length !== 0 ? usage("/close") : { kind: "close" };
    case "join": {
      const priv = words.length === 2 && words[1] === "--private";
      if (words.length !== 1 && !priv) return usage("/join #room [--private]");
      const target = words[0].startsWith("#") ? words[0] : `#${words[0]}`;
      const ok = checkRoom(target);
      if (!ok.ok) return { kind: "error", text: ok.reason };
      return priv ? { kind: "join", room: target, private: true } : { kind: "join", room: target };
    }
  }
  if (!COMMAND_NAME.test(name)) return { kind: "error", text: "unknown command; try /help" };
  let tail = rest;
  if (ROOM_FIRST.has(name) && !(words[0] ?? "").startsWith("#")) tail = `${room} ${rest}`.trim();
  if (ROOM_LAST.has(name) && words.length > 0 && !words.some((w) => w.startsWith("#"))) {
    tail = `${rest} ${room}`.trim();
  }
  // `/kick #room NAME reason`: the room comes before the name.
  const lead = FREE_TEXT[name] === undefined
    ? undefined
    : FREE_TEXT[name] + (name === "kick" && (words[0] ?? "").startsWith("#") ? 1 : 0);
  let args: string[];
  if (lead === undefined) {
    args = tail.split(/\s+/).filter((w) => w !== "");
  } else {
    args = [];
    let s = tail;
    for (let i = 0; i < lead; i++) {
      const w = /^(\S+)\s*/.exec(s);
      if (w === null) break;
      args.push(w[1]);
      s = s.slice(w[0].length);
    }
    if (s !== "") args.push(s);
  }
  if (args.length > MAX_ARGS) return { kind: "error", text: `at most ${MAX_ARGS} arguments` };
  return { kind: "command", name, args };
}

/** `n` with thousands separators (5,012). */
function count(n: number): string {
  return n.toLocaleString("en-US");
}

/**
 * Why `line` is refused before anything is sent, or undefined: a room message (text or `/me`)
 * over `textBytes` UTF-8 bytes, a private message over {@link DM_TEXT_MAX}, a room or private message of more than
 * {@link MAX_TEXT_LINES} lines, or a command other than `/me` and `/msg` on several lines. The message names the size and the limit
 * (`message is 5,012 bytes; the limit is 4,096`).
 */
export function inputRefusal(line: string, textBytes: number): string | undefined {
  const a = parseInput(line, "#x", true);
  // A command of several lines is refused here too, so that it can be fixed in place.
  if (a.kind === "error" && line.trim().includes("\n")) return a.text;
  if (a.kind !== "say" && a.kind !== "dm") return undefined;
  const lines = lineCount(a.text);
  if (lines > MAX_TEXT_LINES) {
    return `message has ${count(lines)} lines; the limit is ${MAX_TEXT_LINES}`;
  }
  const limit = a.kind === "dm" ? DM_TEXT_MAX : textBytes;
  if (a.text.length * 3 <= limit) return undefined;
  const bytes = utf8Length(a.text);
  return bytes > limit
    ? `message is ${count(bytes)} bytes; the limit is ${count(limit)}`
    : undefined;
}
