/**
 * The names of the server's commands (PROTOCOL.md §5 `cmd`), in the order `/help` lists them:
 * the one list both sides use. The server pairs each name with its handler (server/commands.ts,
 * a type error when one is missing or extra); the client completes and recognises them before
 * the server's `/help` answer arrives. Pure.
 * @module
 */

/** Every server command name, in `/help` order. */
export const SERVER_COMMAND_NAMES = Object.freeze(
  [
    "help",
    "service",
    "nick",
    "who",
    "whois",
    "rooms",
    "join",
    "leave",
    "topic",
    "away",
    "back",
    "history",
    "keys",
    "private",
    "members",
    "skey",
    "keyreq",
    "mode",
    "invite",
    "kick",
    "ban",
    "unban",
    "bans",
    "mute",
    "unmute",
    "motd",
    "op",
    "deop",
  ] as const,
);

/** One server command name. */
export type ServerCommandName = typeof SERVER_COMMAND_NAMES[number];
