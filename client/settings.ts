/**
 * The client's settings (`config.json` in the client's home: `--home DIR`, else
 * `$XDG_CONFIG_HOME/chat`): what they hold, how a file is checked, how `/set` changes one, and
 * how they are written back. Unknown keys are kept as they are, at the top level and in each
 * server's entry, so a newer or hand-edited file survives an older client. Pure; the file itself
 * is read and written by settings_file.ts.
 *
 * ```json
 * {
 *   "bell": "mention", "timestamps": true, "colors": true,
 *   "servers": {
 *     "chat.example:5000": {
 *       "name": "alice", "rooms": ["#lobby", "#dev"],
 *       "ignore": [{ "fingerprint": "SHA256:…", "names": ["eve", "eve2"] }]
 *     }
 *   }
 * }
 * ```
 * @module
 */

import { isFingerprint } from "../shared/crypto.ts";
import { checkName, checkRoom, nameKey } from "../shared/names.ts";
import type { BellMode } from "./view.ts";

/** Largest settings file read, in bytes. */
export const SETTINGS_MAX_BYTES = 256 * 1024;
/** Most servers kept. */
export const MAX_SERVERS = 256;
/** Most rooms rejoined on one server. */
export const MAX_ROOMS = 32;
/** Most identities ignored on one server. */
export const MAX_IGNORES = 500;
/** Most names remembered for one ignored identity (a server lets one identity own 5). */
export const MAX_IGNORED_NAMES = 8;

/** An identity ignored on one server: its fingerprint and the names seen for it, newest first. */
export interface Ignore {
  /** The identity fingerprint (`SHA256:…`). */
  fingerprint: string;
  /** Names of that identity seen on the server, newest first (at least one). */
  names: string[];
}

/** What is kept for one server (`host:port`). */
export interface ServerSettings {
  /** The name to log in with (no prompt when set). */
  name?: string;
  /** The rooms to join on start, in order. */
  rooms: string[];
  /** Ignored identities. */
  ignore: Ignore[];
  /** Keys this client does not know, kept as they were. */
  other: Record<string, unknown>;
}

/** All settings. */
export interface Settings {
  /** When the bell rings. */
  bell: BellMode;
  /** Show `HH:MM` before lines. */
  timestamps: boolean;
  /** Colour the output. */
  colors: boolean;
  /** Per server, by `host:port`. */
  servers: Record<string, ServerSettings>;
  /** Keys this client does not know, kept as they were. */
  other: Record<string, unknown>;
}

/** A settings file that does not follow the rules; the message names the key. */
export class SettingsError extends TypeError {
  /** The error for `key` (a path such as `servers.h:1.rooms`). */
  constructor(readonly key: string, detail: string) {
    super(`settings: "${key}" ${detail}`);
    this.name = "SettingsError";
  }
}

/** The settings of a missing file. */
export function defaultSettings(): Settings {
  return { bell: "mention", timestamps: true, colors: true, servers: {}, other: {} };
}

/** An empty entry for a server. */
export function emptyServer(): ServerSettings {
  return { rooms: [], ignore: [], other: {} };
}

const BELLS: readonly string[] = ["mention", "all", "off"];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function noProto(key: string, value: unknown): unknown {
  if (key === "__proto__") throw new SettingsError("__proto__", "is not allowed");
  return value;
}

/** `room` with a leading `#` added when missing, or undefined when it is no room name. */
export function roomName(room: string): string | undefined {
  const r = room.startsWith("#") ? room : `#${room}`;
  return checkRoom(r).ok ? r : undefined;
}

function parseServer(key: string, v: unknown): ServerSettings {
  if (!isObject(v)) throw new SettingsError(key, "must be an object");
  const out = emptyServer();
  for (const [k, val] of Object.entries(v)) {
    const path = `${key}.${k}`;
    if (k === "name") {
      if (typeof val !== "string" || !checkName(val).ok) {
        throw new SettingsError(path, "must be a valid name");
      }
      out.name = val;
    } else if (k === "rooms") {
      if (!Array.isArray(val) || val.length > MAX_ROOMS) {
        throw new SettingsError(path, `must be a list of at most ${MAX_ROOMS} rooms`);
      }
      for (const r of val) {
        if (typeof r !== "string" || !checkRoom(r).ok) {
          throw new SettingsError(path, `holds ${JSON.stringify(r)}, which is not a room name`);
        }
        if (!out.rooms.includes(r)) out.rooms.push(r);
      }
    } else if (k === "ignore") {
      if (!Array.isArray(val) || val.length > MAX_IGNORES) {
        throw new SettingsError(path, `must be a list of at most ${MAX_IGNORES} entries`);
      }
      for (const [i, e] of val.entries()) {
        const at = `${path}[${i}]`;
        if (!isObject(e) || typeof e.fingerprint !== "string" || !isFingerprint(e.fingerprint)) {
          throw new SettingsError(at, 'must be {"fingerprint": "SHA256:…", "names": [...]}');
        }
        const names = e.names;
        if (
          !Array.isArray(names) || names.length === 0 || names.length > MAX_IGNORED_NAMES ||
          names.some((n) => typeof n !== "string" || !checkName(n).ok)
        ) {
          throw new SettingsError(`${at}.names`, `must be 1 to ${MAX_IGNORED_NAMES} valid names`);
        }
        out.ignore.push({ fingerprint: e.fingerprint, names: [...names] as string[] });
      }
    } else {
      out.other[k] = val;
    }
  }
  return out;
}

function onOff(key: string, v: unknown): boolean {
  if (typeof v !== "boolean") throw new SettingsError(key, "must be true or false");
  return v;
}

/**
 * Checks and reads the text of a settings file. Throws {@link SettingsError} naming the first key
 * that is wrong (or `(file)` when the text is not a JSON object).
 */
export function parseSettings(text: string): Settings {
  let o: unknown;
  try {
    o = JSON.parse(text, noProto);
  } catch (e) {
    if (e instanceof SettingsError) throw e;
    throw new SettingsError("(file)", `is not valid JSON: ${e instanceof Error ? e.message : e}`);
  }
  if (!isObject(o)) throw new SettingsError("(file)", "must hold a JSON object");
  const s = defaultSettings();
  for (const [k, v] of Object.entries(o)) {
    if (k === "bell") {
      if (typeof v !== "string" || !BELLS.includes(v)) {
        throw new SettingsError(k, "must be mention, all or off");
      }
      s.bell = v as BellMode;
    } else if (k === "timestamps") s.timestamps = onOff(k, v);
    else if (k === "colors") s.colors = onOff(k, v);
    else if (k === "servers") {
      if (!isObject(v)) throw new SettingsError(k, "must be an object of host:port entries");
      const entries = Object.entries(v);
      if (entries.length > MAX_SERVERS) {
        throw new SettingsError(k, `holds more than ${MAX_SERVERS} servers`);
      }
      for (const [hp, sv] of entries) {
        if (hp.length > 300) throw new SettingsError(`servers.${hp.slice(0, 40)}…`, "is too long");
        s.servers[hp] = parseServer(`servers.${hp}`, sv);
      }
    } else s.other[k] = v;
  }
  return s;
}

/** The text of a settings file for `s` (known keys first, unknown ones kept), ending in "\n". */
export function serializeSettings(s: Settings): string {
  const servers: Record<string, unknown> = {};
  for (const [hp, sv] of Object.entries(s.servers)) {
    const entry: Record<string, unknown> = {};
    if (sv.name !== undefined) entry.name = sv.name;
    if (sv.rooms.length > 0) entry.rooms = sv.rooms;
    if (sv.ignore.length > 0) entry.ignore = sv.ignore;
    Object.assign(entry, sv.other);
    if (Object.keys(entry).length > 0) servers[hp] = entry;
  }
  const out = {
    bell: s.bell,
    timestamps: s.timestamps,
    colors: s.colors,
    servers,
    ...s.other,
  };
  return JSON.stringify(out, null, 2) + "\n";
}

/** The keys `/set` knows: global ones, and `name` and `rooms` for the current server. */
export const SET_KEYS: readonly string[] = ["bell", "timestamps", "colors", "name", "rooms"];

/** The entry for `hp` in `s`, created when missing. */
export function serverOf(s: Settings, hp: string): ServerSettings {
  let sv = s.servers[hp];
  if (sv === undefined) {
    sv = emptyServer();
    s.servers[hp] = sv;
  }
  return sv;
}

function bool(key: string, value: string): boolean {
  if (/^(on|true|yes)$/i.test(value)) return true;
  if (/^(off|false|no)$/i.test(value)) return false;
  throw new RangeError(`/set ${key}: expected on or off, not "${value}"`);
}

/**
 * Applies `/set KEY VALUE` for server `hp` to `s` (in place). `name -` and `rooms -` remove the
 * server's value. RangeError with a sentence for an unknown key or a bad value.
 */
export function applySet(s: Settings, hp: string, key: string, value: string): void {
  const k = key.toLowerCase() === "colours" ? "colors" : key.toLowerCase();
  const v = value.trim();
  switch (k) {
    case "bell":
      if (!BELLS.includes(v)) {
        throw new RangeError(`/set bell: expected mention, all or off, not "${v}"`);
      }
      s.bell = v as BellMode;
      return;
    case "timestamps":
      s.timestamps = bool(k, v);
      return;
    case "colors":
      s.colors = bool(k, v);
      return;
    case "name": {
      if (v === "-") {
        delete serverOf(s, hp).name;
        return;
      }
      const ok = checkName(v);
      if (!ok.ok) throw new RangeError(`/set name: ${ok.reason}`);
      serverOf(s, hp).name = v;
      return;
    }
    case "rooms": {
      const rooms: string[] = [];
      if (v !== "-") {
        for (const w of v.split(/[\s,]+/).filter((w) => w !== "")) {
          const r = roomName(w);
          if (r === undefined) throw new RangeError(`/set rooms: "${w}" is not a room name`);
          if (!rooms.includes(r)) rooms.push(r);
        }
        if (rooms.length === 0) throw new RangeError("/set rooms: name at least one room, or -");
        if (rooms.length > MAX_ROOMS) {
          throw new RangeError(`/set rooms: at most ${MAX_ROOMS} rooms`);
        }
      }
      serverOf(s, hp).rooms = rooms;
      return;
    }
    default:
      throw new RangeError(`/set: unknown setting "${key}"; known: ${SET_KEYS.join(", ")}`);
  }
}

/** `SHA256:` and the first 8 characters of the hash, then `…`. */
export function shortFingerprint(fp: string): string {
  return `${fp.slice(0, 15)}…`;
}

/** The ignore list of server `hp` as text lines: `eve (also eve2) SHA256:AbCdEfGh…`. */
export function describeIgnores(s: Settings, hp: string): string[] {
  return (s.servers[hp]?.ignore ?? []).map((e) => {
    const also = e.names.length > 1 ? ` (also ${e.names.slice(1).join(", ")})` : "";
    return `${e.names[0]}${also} ${shortFingerprint(e.fingerprint)}`;
  });
}

/** What `/set` shows: every setting with its value, for server `hp`. */
export function describeSettings(s: Settings, hp: string, path: string): string {
  const sv = s.servers[hp] ?? emptyServer();
  const ignores = describeIgnores(s, hp);
  return [
    `settings (${path}):`,
    `  bell        ${s.bell}`,
    `  timestamps  ${s.timestamps ? "on" : "off"}`,
    `  colors      ${s.colors ? "on" : "off"}`,
    `  name        ${sv.name ?? "(none: asked for)"}   on ${hp}`,
    `  rooms       ${sv.rooms.length > 0 ? sv.rooms.join(" ") : "(none: #lobby)"}   on ${hp}`,
    `  ignore      ${ignores.length > 0 ? ignores.join("; ") : "(nobody)"}   (/ignore, /unignore)`,
    "/set KEY VALUE changes one (name - and rooms - remove the value)",
  ].join("\n");
}

/** The name keys ignored on server `hp` (every name of every ignored identity). */
export function ignoredNames(s: Settings, hp: string): Set<string> {
  const out = new Set<string>();
  for (const e of s.servers[hp]?.ignore ?? []) for (const n of e.names) out.add(nameKey(n));
  return out;
}

/** Adds identity `fp` seen as `name` to the ignore list of `hp`; false when already there. */
export function addIgnore(s: Settings, hp: string, fp: string, name: string): boolean {
  const sv = serverOf(s, hp);
  const e = sv.ignore.find((e) => e.fingerprint === fp);
  if (e !== undefined) {
    if (e.names.some((n) => nameKey(n) === nameKey(name))) return false;
    e.names = [name, ...e.names].slice(0, MAX_IGNORED_NAMES);
    return true;
  }
  if (sv.ignore.length >= MAX_IGNORES) {
    throw new RangeError(`at most ${MAX_IGNORES} identities can be ignored on one server`);
  }
  sv.ignore.push({ fingerprint: fp, names: [name] });
  return true;
}

/**
 * Removes from the ignore list of `hp` the identity with name (any of its names) or fingerprint
 * `who`; the removed entry, or undefined.
 */
export function removeIgnore(s: Settings, hp: string, who: string): Ignore | undefined {
  const sv = s.servers[hp];
  if (sv === undefined) return undefined;
  const i = sv.ignore.findIndex((e) =>
    e.fingerprint === who || e.names.some((n) => nameKey(n) === nameKey(who))
  );
  if (i < 0) return undefined;
  return sv.ignore.splice(i, 1)[0];
}

/**
 * Records that `old` is now called `name` on `hp`: when `old` is an ignored identity's name, the
 * new one joins its names (newest first). True when the list changed.
 */
export function renameIgnored(s: Settings, hp: string, old: string, name: string): boolean {
  const e = s.servers[hp]?.ignore.find((e) => e.names.some((n) => nameKey(n) === nameKey(old)));
  if (e === undefined) return false;
  const rest = e.names.filter((n) => nameKey(n) !== nameKey(name));
  e.names = [name, ...rest].slice(0, MAX_IGNORED_NAMES);
  return true;
}

/** What a session starts with. */
export interface StartSettings {
  /** The name to log in with, if known (else asked for). */
  name?: string;
  /** The room to talk in first. */
  room: string;
  /** The rooms to join (the first room among them). */
  rooms: string[];
  /** Bell mode. */
  bell: BellMode;
  /** Timestamps on. */
  timestamps: boolean;
  /** Colour on. */
  colors: boolean;
}

/**
 * The start of a session on `hp`: what the command line says wins, then the settings, then the
 * defaults. `flags.room` is a checked room name (see {@link roomName}); `flags.color` is false
 * for `--no-color` or `NO_COLOR`. With `rejoin` (interactive sessions) the saved rooms are joined
 * too, the `--room` one (else the first saved, else `#lobby`) first; without it only that room.
 */
export function startSettings(
  s: Settings,
  hp: string,
  flags: { name?: string; room?: string; bell?: BellMode; color: boolean },
  rejoin: boolean,
): StartSettings {
  const sv = s.servers[hp];
  const saved = rejoin ? sv?.rooms ?? [] : [];
  const room = flags.room ?? saved[0] ?? "#lobby";
  const rooms = [room, ...saved.filter((r) => r !== room)].slice(0, MAX_ROOMS);
  return {
    ...(flags.name ?? sv?.name) === undefined ? {} : { name: flags.name ?? sv?.name },
    room,
    rooms,
    bell: flags.bell ?? s.bell,
    timestamps: s.timestamps,
    colors: flags.color && s.colors,
  };
}
