/**
 * Which room events to show: the server sends a kick both as a kick and as a leave "kicked by
 * X"; the reader sees one notice. Pure and bounded.
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
