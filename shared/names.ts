/**
 * Username and room-name rules: syntax, case-insensitive keys, reserved names and the
 * operator's blacklist (DESIGN.md §1 Usernames and Rooms). Pure logic; no I/O.
 * @module
 */

/** Built-in names nobody may use, in lower case. */
export const RESERVED_NAMES: ReadonlySet<string> = new Set([
  "server",
  "admin",
  "administrator",
  "root",
  "system",
  "sysop",
  "operator",
  "op",
  "mod",
  "moderator",
  "owner",
  "staff",
  "support",
  "help",
  "info",
  "notice",
  "bot",
  "everyone",
  "all",
  "here",
  "channel",
  "room",
  "anonymous",
  "guest",
  "me",
  "you",
  "null",
  "undefined",
  "chat",
]);

/** The outcome of {@link checkName}: the uniqueness key, or a wire error code with a reason. */
export type NameCheck =
  | { ok: true; key: string }
  | { ok: false; code: "name_invalid" | "name_reserved"; reason: string };

/** The room everyone starts in. */
export const DEFAULT_ROOM = "#lobby";

/** The shape of a name (2–16 ASCII letters, digits, `_`, `-`, starting with a letter). */
export const NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{1,15}$/;

const NAME_MIN = 2;
const NAME_MAX = 16;
const NAME_RULE =
  "Names are 2–16 characters: ASCII letters (a-z, A-Z), digits, _ and -, starting with a letter.";
const NAME_CHARS = /^[A-Za-z0-9_-]+$/;
const LETTER = /^[A-Za-z]/;

const ROOM_MAX = 32;
const ROOM_RULE = "Room names are # followed by 1–32 of a-z, 0-9, _ and -.";
const ROOM_NAME = /^#[a-z0-9_-]+$/;

const BLACKLIST_MAX_ENTRIES = 10_000;
const BLACKLIST_MAX_LINE = 64;

/** Folds ASCII upper-case letters to lower case and leaves every other character as it is. */
export function nameKey(name: string): string {
  let out = "";
  let from = 0;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) {
      out += name.slice(from, i) + String.fromCharCode(c + 0x20);
      from = i + 1;
    }
  }
  return from === 0 ? name : out + name.slice(from);
}

/**
 * Checks a username: 2–16 ASCII letters, digits, `_` or `-`, starting with a letter, and neither
 * reserved nor matched by `blacklist`. Never rewrites the name; `key` is its {@link nameKey}.
 */
export function checkName(name: string, blacklist?: Blacklist): NameCheck {
  if (typeof name !== "string") {
    return invalid(`That is not a name. ${NAME_RULE}`);
  }
  if (name.length < NAME_MIN) return invalid(`That name is too short. ${NAME_RULE}`);
  if (name.length > NAME_MAX) return invalid(`That name is too long. ${NAME_RULE}`);
  if (!NAME_CHARS.test(name)) {
    return invalid(`That name contains a character that is not allowed. ${NAME_RULE}`);
  }
  if (!LETTER.test(name)) return invalid(`That name does not start with a letter. ${NAME_RULE}`);
  const key = nameKey(name);
  if (RESERVED_NAMES.has(key)) {
    return {
      ok: false,
      code: "name_reserved",
      reason: `The name "${name}" is reserved. Please choose another name.`,
    };
  }
  if (blacklist !== undefined && blacklist.matches(key)) {
    return {
      ok: false,
      code: "name_reserved",
      reason: `The name "${name}" is not allowed on this server. Please choose another name.`,
    };
  }
  return { ok: true, key };
}

function invalid(reason: string): NameCheck {
  return { ok: false, code: "name_invalid", reason };
}

/** Checks a room name: `#` followed by 1–32 of `[a-z0-9_-]`. Never rewrites the name. */
export function checkRoom(room: string): { ok: true } | { ok: false; reason: string } {
  if (typeof room !== "string" || room.length < 2 || room.length > ROOM_MAX + 1) {
    return { ok: false, reason: `That room name has the wrong length. ${ROOM_RULE}` };
  }
  if (!ROOM_NAME.test(room)) {
    return { ok: false, reason: `That room name is not valid. ${ROOM_RULE}` };
  }
  return { ok: true };
}

/** A `*` glob compiled into literal pieces: no regular expression is ever built from input. */
interface Glob {
  readonly head: string;
  readonly middle: readonly string[];
  readonly tail: string;
  readonly minLength: number;
}

function compileGlob(pattern: string): Glob {
  const parts = pattern.split("*");
  const head = parts[0];
  const tail = parts[parts.length - 1];
  const middle = parts.slice(1, -1).filter((p) => p.length > 0);
  const minLength = head.length + tail.length + middle.reduce((n, p) => n + p.length, 0);
  return { head, middle, tail, minLength };
}

function globMatches(glob: Glob, s: string): boolean {
  if (s.length < glob.minLength) return false;
  if (!s.startsWith(glob.head) || !s.endsWith(glob.tail)) return false;
  let pos = glob.head.length;
  const end = s.length - glob.tail.length;
  for (const piece of glob.middle) {
    const at = s.indexOf(piece, pos);
    if (at < 0 || at + piece.length > end) return false;
    pos = at + piece.length;
  }
  return true;
}

/**
 * The operator's list of forbidden names: exact names and `*` patterns, matched
 * case-insensitively (ASCII).
 */
export class Blacklist {
  readonly #exact: ReadonlySet<string>;
  readonly #globs: readonly Glob[];

  private constructor(exact: ReadonlySet<string>, globs: readonly Glob[]) {
    this.#exact = exact;
    this.#globs = globs;
  }

  /** A blacklist that matches nothing. */
  static empty(): Blacklist {
    return new Blacklist(new Set(), []);
  }

  /**
   * Parses blacklist text: one name or `*` pattern per line (`*` matches any run of characters),
   * `#` starts a comment, surrounding white space and blank lines are ignored, lines longer than
   * 64 characters are ignored, duplicates count once.
   * @throws {RangeError} when the text holds more than 10,000 distinct entries.
   */
  static parse(text: string): Blacklist {
    if (typeof text !== "string") throw new TypeError("blacklist text must be a string");
    const exact = new Set<string>();
    const patterns = new Set<string>();
    let start = 0;
    while (start <= text.length) {
      let end = text.indexOf("\n", start);
      if (end < 0) end = text.length;
      let lineEnd = end;
      if (lineEnd > start && text.charCodeAt(lineEnd - 1) === 0x0d) lineEnd--;
      if (lineEnd - start <= BLACKLIST_MAX_LINE) {
        const line = text.slice(start, lineEnd);
        const hash = line.indexOf("#");
        const entry = nameKey((hash < 0 ? line : line.slice(0, hash)).trim());
        if (entry.length > 0) {
          (entry.includes("*") ? patterns : exact).add(entry);
          if (exact.size + patterns.size > BLACKLIST_MAX_ENTRIES) {
            throw new RangeError(
              `blacklist has more than ${BLACKLIST_MAX_ENTRIES} entries`,
            );
          }
        }
      }
      start = end + 1;
    }
    return new Blacklist(exact, [...patterns].map(compileGlob));
  }

  /** The number of distinct entries (names plus patterns). */
  get size(): number {
    return this.#exact.size + this.#globs.length;
  }

  /** True when `name`, folded to ASCII lower case, equals an entry or matches a pattern. */
  matches(name: string): boolean {
    const key = nameKey(name);
    if (this.#exact.has(key)) return true;
    for (const glob of this.#globs) {
      if (globMatches(glob, key)) return true;
    }
    return false;
  }
}
