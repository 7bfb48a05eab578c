/**
 * Tab completion for the chat input line, as the line editor (line_editor.ts) asks for it:
 * `[candidates, substring]`, where `substring` is the end of the line the candidates complete.
 * Pure; the candidates come from the caller.
 * @module
 */

import { nameKey } from "../shared/names.ts";
import type { Completions } from "./view.ts";

/** Commands whose first argument is a user name. */
const NAME_ARG: ReadonlySet<string> = new Set([
  "ignore",
  "unignore",
  "whois",
  "msg",
  "invite",
  "kick",
  "ban",
  "unban",
  "mute",
  "unmute",
  "op",
  "deop",
  "trust",
  "verify",
]);
/** Commands whose first argument is a room. */
const ROOM_ARG: ReadonlySet<string> = new Set(["join", "leave", "who", "topic", "history", "mode"]);

/** Longest input that is completed at all; longer lines get no candidates. */
const MAX_LINE = 4096;

function matching(pool: readonly string[], prefix: string, prepend = ""): string[] {
  const key = nameKey(prefix);
  const seen = new Set<string>();
  const out: string[] = [];
  for (const c of pool) {
    const k = nameKey(c);
    if (!k.startsWith(key) || seen.has(k)) continue;
    seen.add(k);
    out.push(prepend + c);
  }
  return out.sort();
}

/** A single candidate gets `suffix` so that the user can keep typing. */
function finish(hits: string[], word: string, suffix: string): [string[], string] {
  return [hits.length === 1 ? [hits[0] + suffix] : hits, word];
}

/**
 * Completes the word before the end of `line`: `/co…` as the first word completes commands;
 * `#ro…` completes rooms; `@na…` and other words complete names in the current room (a name that
 * starts the line gets ": " after it). After a command that takes a room or a name, an empty word
 * lists rooms or names. Matching ignores ASCII case; candidates are sorted and distinct.
 */
export function complete(line: string, ctx: Completions): [string[], string] {
  if (line.length > MAX_LINE) return [[], ""];
  const space = Math.max(line.lastIndexOf(" "), line.lastIndexOf("\t"));
  const word = line.slice(space + 1);
  const before = line.slice(0, space + 1);
  const first = before.trim() === "";
  if (first && word.startsWith("/")) {
    return finish(matching(ctx.commands, word.slice(1), "/"), word, " ");
  }
  const cmd = /^\/(\S+)\s+\S*$/.exec(line)?.[1]?.toLowerCase();
  if (word.startsWith("#") || (word === "" && cmd !== undefined && ROOM_ARG.has(cmd))) {
    return finish(matching(ctx.rooms, word), word, " ");
  }
  if (word.startsWith("@")) return finish(matching(ctx.names, word.slice(1), "@"), word, " ");
  if (word === "" && !(cmd !== undefined && NAME_ARG.has(cmd))) return [[], word];
  return finish(matching(ctx.names, word), word, first ? ": " : " ");
}
