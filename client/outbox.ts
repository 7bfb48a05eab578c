/**
 * What the client carries across reconnections: the outbox of room messages not yet
 * acknowledged (bounded; re-sent on every new session, reported as failed when the client stops)
 * and, per room, the last sequence number seen (where to resume, and which live copies are
 * re-sent messages coming back). Pure.
 * @module
 */

import { chatTextRefusal } from "../shared/chat_text.ts";
import { utf8Length } from "../shared/encoding.ts";
import type { ClientEvent } from "./view.ts";

/** A room message waiting for its acknowledgement. */
export interface Outgoing {
  /** Message id. */
  id: string;
  /** Target room. */
  room: string;
  /** Message text. */
  text: string;
  /** An action (`/me`). */
  me: boolean;
  /** True once it was sent on some session (it may have arrived). */
  sent?: boolean;
  /** A private room's line: true while it is being sealed (not sent before). */
  sealing?: boolean;
  /** A private room's line, sealed (base64): what is sent, and sent again, instead of `text`. */
  sealed?: string;
}

/** Room messages waiting for their acknowledgement, in the order they were typed. */
export class Outbox {
  readonly #max: number;
  readonly #waiting = new Map<string, Outgoing>();

  /** An outbox holding at most `max` messages. */
  constructor(max: number) {
    this.#max = max;
  }

  /** How many messages wait. */
  get size(): number {
    return this.#waiting.size;
  }

  /**
   * Why `text` cannot be queued now (full, longer than `textBytes`, or not chat text: CR, too many
   * lines); undefined when it can.
   */
  refusal(text: string, textBytes: number): string | undefined {
    if (this.#waiting.size >= this.#max) return "too many messages waiting";
    const r = chatTextRefusal(text, textBytes);
    if (r === undefined) return undefined;
    if (r.code === "too_long") {
      return `too long: ${utf8Length(text)} bytes, at most ${textBytes} bytes`;
    }
    return r.reason === "empty" ? "empty message" : r.reason;
  }

  /** Queues `m`. */
  add(m: Outgoing): void {
    this.#waiting.set(m.id, m);
  }

  /** True while the message `id` waits. */
  has(id: string): boolean {
    return this.#waiting.has(id);
  }

  /** Removes and returns the message `id`, if it waits. */
  take(id: string): Outgoing | undefined {
    const m = this.#waiting.get(id);
    this.#waiting.delete(id);
    return m;
  }

  /** The waiting messages, oldest first. */
  values(): IterableIterator<Outgoing> {
    return this.#waiting.values();
  }

  /**
   * Empties the outbox: `emit` hears a `failed` event for each message (saying whether it was
   * ever sent) while the messages still count as waiting.
   */
  failAll(emit: (ev: ClientEvent) => void): void {
    for (const m of this.#waiting.values()) {
      const reason = m.sent ? "not confirmed by the server (it may have arrived)" : "not sent";
      emit({ t: "failed", id: m.id, room: m.room, text: m.text, reason });
    }
    this.#waiting.clear();
  }
}

/** The wire form of a room message. */
export function sayMessage(m: Outgoing): Record<string, unknown> {
  if (m.sealed !== undefined) return { t: "say", id: m.id, room: m.room, sealed: m.sealed };
  return m.me
    ? { t: "say", id: m.id, room: m.room, text: m.text, me: true }
    : { t: "say", id: m.id, room: m.room, text: m.text };
}

/** The last sequence number seen in each room. */
export class ResumePoints {
  readonly #last = new Map<string, number>();

  /**
   * Notes message `seq` in `room`; false when it is a live copy of a message already seen (the
   * server's answer to a re-send: it acknowledges, it is not shown again). Replays are shown:
   * the user asked for them.
   */
  see(room: string, seq: number, replay: boolean | undefined): boolean {
    const last = this.#last.get(room) ?? 0;
    const seen = !replay && seq <= last;
    if (seq > last) this.#last.set(room, seq);
    return !seen;
  }

  /** Forgets `room` (the user left it). */
  forget(room: string): void {
    this.#last.delete(room);
  }

  /** Where to resume each of `rooms` that has been seen; undefined when none has. */
  resume(rooms: Iterable<string>): Record<string, number> | undefined {
    const seen = [...rooms].filter((r) => this.#last.has(r));
    if (seen.length === 0) return undefined;
    return Object.fromEntries(seen.map((r) => [r, this.#last.get(r)!]));
  }
}
