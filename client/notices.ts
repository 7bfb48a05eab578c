/**
 * Which room events to show: the server sends a user's away, back and nick change to every room
 * the reader shares with that user, and a kick both as a kick and as a leave "kicked by X". The
 * reader sees one notice per event. Pure and bounded.
 * @module
 */

import type { EventMessage } from "../shared/messages.ts";
import { nameKey } from "../shared/names.ts";

/** Recent events remembered to recognise their copies. */
const REMEMBERED = 64;
/** Copies of one event are sent in one go; their times differ by less than this (ms). */
const COPY_MS = 2_000;

/** Remembers recent events and tells whether one repeats a notice already shown. */
export class NoticeFilter {
  readonly #seen = new Map<string, number>();

  /** Remembers `key` at `ts`; false when it was seen less than {@link COPY_MS} before. */
  #remember(key: string, ts: number): boolean {
    const before = this.#seen.get(key);
    if (before !== undefined && Math.abs(ts - before) < COPY_MS) return false;
    this.#seen.delete(key);
    this.#seen.set(key, ts);
    if (this.#seen.size > REMEMBERED) this.#seen.delete(this.#seen.keys().next().value!);
    return true;
  }

  /**
   * True when `m` is to be shown: false for a copy of an away, back or nick change already
   * shown (same user, text and time), and for the leave "kicked by X" that follows a kick.
   */
  show(m: EventMessage): boolean {
    const who = nameKey(m.name ?? "");
    switch (m.kind) {
      case "away":
      case "back":
      case "nick":
        return this.#remember(
          JSON.stringify([m.kind, who, nameKey(m.old ?? ""), m.text ?? ""]),
          m.ts,
        );
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
