/**
 * The client-side state of a session (current room, joined rooms, names seen, ignored names,
 * display settings), kept up to date from connection events, and the names and command lists
 * found in server replies for completion. Pure.
 * @module
 */

import { checkName, checkRoom, nameKey } from "../shared/names.ts";
import type { ReplyMessage } from "../shared/messages.ts";
import { COMMAND_NAME, LOCAL_COMMANDS, SERVER_COMMANDS } from "./input.ts";
import type { BellMode, ClientEvent, Completions, RenderState } from "./view.ts";

/** Most names remembered per room, and most rooms remembered. */
const MAX_NAMES = 10_000;
const MAX_ROOMS = 1_000;

function isName(v: unknown): v is string {
  return typeof v === "string" && v.length > 0 && v.length <= 64;
}

/**
 * Names found in a reply's `data`: an array of names or of objects with a `name`, or an object
 * holding such an array under `names`, `members`, `users` or `rooms`. At most 10 000.
 */
export function namesInData(data: unknown): string[] {
  let list: unknown = data;
  if (typeof data === "object" && data !== null && !Array.isArray(data)) {
    const o = data as Record<string, unknown>;
    list = o.names ?? o.members ?? o.users ?? o.rooms ?? o.commands;
  }
  if (!Array.isArray(list)) return [];
  const out: string[] = [];
  for (const item of list.slice(0, MAX_NAMES)) {
    if (isName(item)) out.push(item);
    else if (
      typeof item === "object" && item !== null && isName((item as { name?: unknown }).name)
    ) {
      out.push((item as { name: string }).name);
    }
  }
  return out;
}

/** Command names in a help reply: from its data, or from lines of its text that start with `/name`. */
export function commandsInHelp(reply: ReplyMessage): string[] {
  const found = namesInData(reply.data).map((n) => n.replace(/^\//, ""));
  for (const line of (reply.text ?? "").split("\n")) {
    const m = /^\s*\/([a-z][a-z0-9_-]*)/.exec(line);
    if (m !== null) found.push(m[1]);
  }
  return found.filter((n) => COMMAND_NAME.test(n));
}

/** Client-side state: who the user is, where they talk, whom they ignore, what they see. */
export class AppState {
  /** The room plain text is sent to. */
  room: string;
  /** The user's current name ("" before welcome). */
  me = "";
  /** Show timestamps. */
  timestamps: boolean;
  /** Bell mode. */
  bell: BellMode;
  /** Rooms the user is in. */
  readonly rooms: Set<string> = new Set();
  /** Rooms seen anywhere (for completion). */
  readonly knownRooms: Set<string> = new Set();
  /** Ignored name keys. */
  readonly ignored: Set<string> = new Set();
  /** Command names for completion. */
  readonly commands: Set<string> = new Set([...LOCAL_COMMANDS, ...SERVER_COMMANDS]);
  readonly #names = new Map<string, Map<string, string>>();

  /** Starts in `room` with the given display settings. */
  constructor(room: string, opts: { timestamps?: boolean; bell?: BellMode } = {}) {
    this.room = room;
    this.timestamps = opts.timestamps ?? true;
    this.bell = opts.bell ?? "mention";
    this.knownRooms.add(room);
  }

  /** Records that `name` is in `room` (only valid names: completion writes them into the input). */
  addName(room: string, name: string): void {
    if (!checkName(name).ok) return;
    let m = this.#names.get(room);
    if (m === undefined) {
      if (this.#names.size >= MAX_ROOMS) return;
      m = new Map();
      this.#names.set(room, m);
    }
    if (m.size < MAX_NAMES) m.set(nameKey(name), name);
  }

  /** Records that `name` left `room` (every room when `room` is undefined). */
  removeName(room: string | undefined, name: string): void {
    const key = nameKey(name);
    if (room !== undefined) this.#names.get(room)?.delete(key);
    else for (const m of this.#names.values()) m.delete(key);
  }

  /** Names seen in `room`, sorted. */
  namesIn(room: string): string[] {
    return [...(this.#names.get(room)?.values() ?? [])].sort();
  }

  /** Remembers a room name for completion. */
  addRoom(room: string): void {
    if (this.knownRooms.size < MAX_ROOMS && checkRoom(room).ok) this.knownRooms.add(room);
  }

  /** Marks `room` as joined and makes it the current room. */
  enter(room: string): void {
    this.rooms.add(room);
    this.addRoom(room);
    this.room = room;
  }

  /** Marks `room` as left; the current room moves to another joined room if there is one. */
  exit(room: string): void {
    this.rooms.delete(room);
    this.#names.delete(room);
    if (this.room === room) {
      const other = [...this.rooms][0];
      if (other !== undefined) this.room = other;
    }
  }

  #isMe(name: string | undefined): boolean {
    return name !== undefined && this.me !== "" && nameKey(name) === nameKey(this.me);
  }

  /** Updates the state from a connection event. */
  apply(ev: ClientEvent): void {
    if (ev.t === "welcome") {
      this.me = ev.msg.name;
      const rooms = ev.msg.rooms.map((r) => r.name).filter((r) => checkRoom(r).ok);
      this.rooms.clear();
      for (const r of rooms) {
        this.rooms.add(r);
        this.addRoom(r);
      }
      if (rooms.length > 0 && !this.rooms.has(this.room)) this.room = rooms[0];
      return;
    }
    if (ev.t !== "server") return;
    const m = ev.msg;
    if (m.t === "msg") {
      this.addName(m.room, m.from);
      return;
    }
    if (m.t !== "event") return;
    const name = m.name;
    if (name === undefined) return;
    switch (m.kind) {
      case "join":
        if (m.room === undefined) return;
        this.addName(m.room, name);
        this.addRoom(m.room);
        if (this.#isMe(name)) this.rooms.add(m.room);
        return;
      case "leave":
      case "kick":
      case "ban":
        if (this.#isMe(name)) {
          if (m.room !== undefined) this.exit(m.room);
        } else {
          this.removeName(m.room, name);
        }
        return;
      case "nick":
        if (m.old === undefined) return;
        if (this.#isMe(m.old)) this.me = name;
        for (const [room, names] of this.#names) {
          if (names.delete(nameKey(m.old))) this.addName(room, name);
        }
        return;
    }
  }

  /** What a view needs to render. */
  renderState(): RenderState {
    return { me: this.me, timestamps: this.timestamps, ignored: this.ignored, bell: this.bell };
  }

  /** Tab-completion candidates: commands, names in the current room, known rooms. */
  completions(): Completions {
    return {
      commands: [...this.commands].sort(),
      names: this.namesIn(this.room),
      rooms: [...this.knownRooms].sort(),
    };
  }
}
