/**
 * The sending side of private messages in the application: seal and send one, then show it or
 * its failure; while the connection is down, hold up to {@linkcode DM_QUEUE_MAX} and send them
 * in order once it is back (the receiving side is in dm_inbox.ts).
 * @module
 */

import type { DmService } from "./dm.ts";
import { errorText } from "./errors.ts";
import type { ClientEvent, DmEvent, DmFailedEvent } from "./view.ts";

/** A connection state, as `status` events give it. */
type ConnectionState = Extract<ClientEvent, { t: "status" }>["state"];

/** Private messages held while offline, at most. */
export const DM_QUEUE_MAX = 50;

/** What {@link DmOutgoing} works with. */
export interface DmOutgoingDeps {
  /** The private-message service (there is one by the time a message is sent). */
  service(): DmService;
  /** Counts an operation as in flight until it settles (the inbox's `track`); returns it. */
  track<T>(p: Promise<T>): Promise<T>;
  /** The user's name. */
  me(): string;
  /** Shows a private message or its failure and writes it to the transcript. */
  show(ev: DmEvent | DmFailedEvent): void;
  /** Counts one message not delivered. */
  failed(): void;
  /** Shows a local line. */
  info(text: string, level?: "info" | "error"): void;
}

/** Sends the user's private messages, holding them while the connection is down. */
export class DmOutgoing {
  readonly #d: DmOutgoingDeps;
  /** The connection is down (lost, reconnecting): private messages are held. */
  #offline = false;
  /** Private messages typed while offline, sent in order once connected again. */
  readonly #held: { to: string; text: string }[] = [];
  #flushing = false;

  /** Outgoing private messages working through `deps`. */
  constructor(deps: DmOutgoingDeps) {
    this.#d = deps;
  }

  /** How many private messages are held. */
  get held(): number {
    return this.#held.length;
  }

  /** Messages are held or being sent after a reconnection. */
  get busy(): boolean {
    return this.#held.length > 0 || this.#flushing;
  }

  /**
   * Follows the connection: offline while lost or reconnecting; once connected again (with
   * `ready`, the service exists) the held messages are sent; when it closes for good they fail.
   */
  status(state: ConnectionState, ready: boolean): void {
    this.#offline = state === "lost" || state === "reconnecting";
    if (state === "connected" && ready) {
      this.#flush().catch((e) => this.#d.info(errorText(e), "error"));
    }
    if (state === "closed") this.failHeld("the connection did not come back");
  }

  /** What `/msg NAME text` does: send now, or hold while offline (failed when too many wait). */
  submit(to: string, text: string): Promise<void> | void {
    if (!this.#offline) return this.send(to, text);
    if (this.#held.length >= DM_QUEUE_MAX) {
      this.#d.failed();
      return this.#d.show({
        t: "dm_failed",
        to,
        text,
        reason: `offline, and ${DM_QUEUE_MAX} private messages are already waiting`,
      });
    }
    this.#held.push({ to, text });
    return this.#d.info(`private message to ${to} held: sent when the connection is back`);
  }

  /** Seals and sends one private message, then shows it or its failure. */
  async send(to: string, text: string): Promise<void> {
    const r = await this.#d.track(this.#d.service().send(to, text));
    if (r.ok) {
      this.#d.show({
        t: "dm",
        id: r.id,
        ts: r.ts,
        from: this.#d.me(),
        to: r.to,
        text: r.text,
        out: true,
        ...(r.queued ? { queued: true } : {}),
      });
    } else {
      this.#d.failed();
      this.#d.show({ t: "dm_failed", to: r.to, text: r.text, reason: r.reason });
    }
  }

  /** Sends the private messages held while offline, in order, until offline again. */
  async #flush(): Promise<void> {
    if (this.#flushing) return;
    this.#flushing = true;
    try {
      while (!this.#offline && this.#held.length > 0) {
        const m = this.#held.shift()!;
        await this.send(m.to, m.text);
      }
    } finally {
      this.#flushing = false;
    }
  }

  /** Reports the private messages still held as not delivered. */
  failHeld(why: string): void {
    for (const m of this.#held.splice(0)) {
      this.#d.failed();
      this.#d.show({ t: "dm_failed", to: m.to, text: m.text, reason: why });
    }
  }
}
