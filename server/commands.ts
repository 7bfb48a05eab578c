/**
 * The server command table (PROTOCOL.md §5 `cmd`): one entry per command with its usage, its
 * one-line help, whether it is for operators only, and its handler. `/help` is generated from
 * this table, and the operator console runs the same handlers. The handlers live in
 * server/commands/ by concept and act through the hub's `CommandHost`
 * (server/command_host.ts).
 * @module
 */

import type { Command, CommandContext, CommandResult } from "./command_host.ts";
import { SERVER_COMMAND_NAMES, type ServerCommandName } from "../shared/commands.ts";
import { cmd, fail, usage } from "./commands/common.ts";
import { keysCmd, roomsCmd, serviceCmd, whoCmd, whoisCmd } from "./commands/info.ts";
import {
  banCmd,
  bansCmd,
  deopCmd,
  kickCmd,
  motdCmd,
  muteCmd,
  opCmd,
  unbanCmd,
  unmuteCmd,
} from "./commands/moderation.ts";
import { historyCmd, joinCmd, leaveCmd, topicCmd } from "./commands/rooms.ts";
import { inviteCmd, modeCmd } from "./commands/room_ops.ts";
import { keyreqCmd, membersCmd, privateCmd, skeyCmd } from "./commands/private.ts";
import { awayCmd, backCmd, nickCmd } from "./commands/self.ts";

const helpCommand = cmd(
  "help",
  "[command]",
  "List the commands, or show one command's usage",
  { max: 1 },
  helpCmd,
);

/** Each server command's table entry, by name: exactly the names of shared/commands.ts. */
const ENTRIES: Readonly<Record<ServerCommandName, Command>> = {
  help: helpCommand,
  service: serviceCmd,
  nick: nickCmd,
  who: whoCmd,
  whois: whoisCmd,
  rooms: roomsCmd,
  join: joinCmd,
  leave: leaveCmd,
  topic: topicCmd,
  away: awayCmd,
  back: backCmd,
  history: historyCmd,
  keys: keysCmd,
  private: privateCmd,
  members: membersCmd,
  skey: skeyCmd,
  keyreq: keyreqCmd,
  mode: modeCmd,
  invite: inviteCmd,
  kick: kickCmd,
  ban: banCmd,
  unban: unbanCmd,
  bans: bansCmd,
  mute: muteCmd,
  unmute: unmuteCmd,
  motd: motdCmd,
  op: opCmd,
  deop: deopCmd,
};

/**
 * Every server command, in the order `/help` lists them (shared/commands.ts, the single source
 * of truth for the names).
 */
export const COMMANDS: readonly Command[] = Object.freeze(
  SERVER_COMMAND_NAMES.map((name) => {
    const c = ENTRIES[name];
    if (c.name !== name) throw new TypeError(`command table entry ${name} is named ${c.name}`);
    return c;
  }),
);

const BY_NAME: ReadonlyMap<string, Command> = new Map(COMMANDS.map((c) => [c.name, c]));

function helpCmd(ctx: CommandContext, args: string[]): CommandResult {
  if (args.length === 1) {
    const c = findCommand(args[0]);
    if (c === undefined) fail("unknown_command", `There is no command /${args[0]}.`);
    return { text: `${usage(c)} — ${c.help}${c.op ? " (operators)" : ""}`, data: [helpRow(c)] };
  }
  const lines = COMMANDS.flatMap((c) =>
    helpLines(usage(c), `${c.help}${c.op ? " (operators)" : ""}`)
  );
  const extra = ctx.user === undefined ? [] : [
    "  /msg NAME text, /me action, /quit (or <exit chat>) and /ignore, /trust,",
    "  /verify are handled by your client.",
  ];
  return { text: ["Commands:", ...lines, ...extra].join("\n"), data: COMMANDS.map(helpRow) };
}

/** Column where the help text starts in the `/help` list. */
const HELP_COLUMN = 24;
/** Widest line of the `/help` list: it fits an 80-column terminal with the client's indent. */
export const HELP_WIDTH = 76;

/**
 * One entry of the `/help` list: the usage, then the help text from {@link HELP_COLUMN} (on the
 * next line when the usage is longer), wrapped at spaces so no line is wider than
 * {@link HELP_WIDTH}.
 */
function helpLines(use: string, help: string): string[] {
  const pad = " ".repeat(HELP_COLUMN);
  const out: string[] = [];
  let line = `  ${use}`;
  if (line.length + 2 > HELP_COLUMN) {
    out.push(line);
    line = pad;
  } else line = line.padEnd(HELP_COLUMN);
  let first = true;
  for (const word of help.split(" ")) {
    if (!first && line.length + 1 + word.length > HELP_WIDTH) {
      out.push(line);
      line = pad + word;
    } else line += (first ? "" : " ") + word;
    first = false;
  }
  out.push(line);
  return out;
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
