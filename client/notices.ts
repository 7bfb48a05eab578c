/**
 * Which room events to show: the server sends a kick both as a kick and as a leave "kicked by
 * X", and the user's own `/join`, `/nick`, `/away`, … both as a reply and as an event; the reader
 * sees one notice. Pure and bounded.
 * @module
 */

import type { EventMessage } from "../shared/messages.ts";
import { nameKey } from "../shared/names.ts";

/** Recent kicks remembered to recognise their leaves. */
const REMEMBERED = 64;
/** A kick and its leave are sent in one go; their times differ by less than this (ms). */
const COPY_MS = 2_000;

/** Remembers recent kicks and tells whether a leave repeats one already shown. */
export class NoticeFilter {
  readonly #seen = new Map<string, number>();

  /** Remembers `key` at `ts`, forgetting the oldest past {@link REMEMBERED}. */
  #remember(key: string, ts: number): void {
    this.#seen.delete(key);
    this.#seen.set(key, ts);
    if (this.#seen.size > REMEMBERED) this.#seen.delete(this.#seen.keys().next().value!);
  }

  /**
   * True when `m` is to be shown: false for the leave "kicked by X" that follows a kick.
   */
  show(m: EventMessage): boolean {
    const who = nameKey(m.name ?? "");
    switch (m.kind) {
      case "kick":
        this.#remember(JSON.stringify(["kick", who, m.room ?? "", nameKey(m.by ?? "")]), m.ts);
        return true;
      case "leave": {
        const by = /^kicked by (.+)$/.exec(m.reason ?? "");
        if (by === null) return true;
        const key = JSON.stringify(["kick", who, m.room ?? "", nameKey(by[1])]);
        const at = this.#seen.get(key);
        if (at === undefined || Math.abs(m.ts - at) >= COPY_MS) return true;
        this.#seen.delete(key);
        return false;
      }
      default:
        return true;
    }
  }
}

/** How long after its reply the event of the user's own command is still recognised (ms). */
export const ECHO_MS = 10_000;
/** The user's own commands waiting for their event, at most (more are simply shown twice). */
export const ECHOES_MAX = 16;

/** The event a command of the user's is expected to cause. */
interface Echo {
  /** The command's id for {@link OwnEchoes.settled} (one per command sent). */
  n: number;
  kind: EventMessage["kind"];
  /** Room key, when the event names a room. */
  room?: string;
  /** Key of the name the event is about (`by` for a topic). */
  who: string;
  /** Key of the old name (nick). */
  old?: string;
  /** Recognised until then (ms since the epoch; Infinity until the reply). */
  until: number;
}

/**
 * The events of the user's own `/join`, `/leave`, `/nick`, `/topic`, `/away` and `/back` in the
 * session that typed them: the reply says what happened (one line, where the command was typed),
 * so the event is not shown as well. Other sessions of the same user see the event. An event is
 * recognised from the moment the command is sent (it may come before the reply) until
 * {@link ECHO_MS} after the reply; a refused command expects none. Bounded by {@link ECHOES_MAX}.
 */
export class OwnEchoes {
  readonly #expected: Echo[] = [];
  #next = 0;

  /**
   * Notes the event that command `name` with `args`, sent by `me`, will cause, if any; returns
   * the id to settle it with (-1: none expected).
   */
  expect(name: string, args: readonly string[], me: string): number {
    const room = args[0] !== undefined ? nameKey(args[0]) : undefined;
    const who = nameKey(me);
    let e: Omit<Echo, "n" | "until"> | undefined;
    if (me === "") return -1;
    if (name === "join" && room !== undefined) e = { kind: "join", room, who };
    if (name === "leave" && room !== undefined) e = { kind: "leave", room, who };
    if (name === "nick" && args.length === 1) e = { kind: "nick", who: nameKey(args[0]), old: who };
    if (name === "topic" && room !== undefined && args.length > 1) e = { kind: "topic", room, who };
    if (name === "away") e = { kind: "away", who };
    if (name === "back") e = { kind: "back", who };
    if (e === undefined || this.#expected.length >= ECHOES_MAX) return -1;
    const n = this.#next++;
    this.#expected.push({ ...e, n, until: Infinity });
    return n;
  }

  /** The command `n` was answered: ok, its event is recognised {@link ECHO_MS} more; else none. */
  settled(n: number, ok: boolean, now: number): void {
    const i = this.#expected.findIndex((e) => e.n === n);
    if (i < 0) return;
    if (ok) this.#expected[i].until = now + ECHO_MS;
    else this.#expected.splice(i, 1);
  }

  /** True when `m` is the event of one of the user's own commands (forgotten once matched). */
  isEcho(m: EventMessage, now: number): boolean {
    for (let i = this.#expected.length - 1; i >= 0; i--) {
      if (this.#expected[i].until < now) this.#expected.splice(i, 1);
    }
    const who = nameKey((m.kind === "topic" ? m.by : m.name) ?? "");
    const i = this.#expected.findIndex((e) =>
      e.kind === m.kind && e.who === who &&
      (e.room === undefined || e.room === nameKey(m.room ?? "")) &&
      (e.old === undefined || e.old === nameKey(m.old ?? ""))
    );
    if (i < 0) return false;
    this.#expected.splice(i, 1);
    return true;
  }
}
