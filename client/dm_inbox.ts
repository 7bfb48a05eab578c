/**
 * The receiving side of private messages: incoming deliveries are opened at once, shown in
 * arrival order, and bounded (more than {@link DM_INCOMING_MAX} in hand at once are dropped
 * before any work is done for them). Also tracks every private-message operation in flight so
 * that the end of a session can wait for them. The opening, showing and clock are passed in.
 * @module
 */

import type { DmDelivery } from "../shared/messages.ts";
import type { OpenResult } from "./dm.ts";
import type { DmEvent } from "./view.ts";
import { errorText } from "./errors.ts";

/** Most incoming private messages being opened or waiting to be shown at once. */
export const DM_INCOMING_MAX = 256;

/** What a {@link DmInbox} needs. */
export interface DmInboxDeps {
  /** Opens one delivery (waiting, if need be, until the private-message service exists). */
  open(d: DmDelivery): Promise<OpenResult>;
  /** Whether messages from `name` are ignored. */
  isIgnored(name: string): boolean;
  /** The user's current name. */
  me(): string;
  /** Shows (and records) an opened message. */
  show(ev: DmEvent): void;
  /** Appends one record to the transcript. */
  record(rec: unknown): void;
  /** Shows a local error line. */
  error(text: string): void;
  /** Acknowledges a delivery from the offline queue (its `q`) once it is dealt with. */
  ack(q: number): void;
}

/** Incoming private messages, opened concurrently and shown in order. */
export class DmInbox {
  readonly #deps: DmInboxDeps;
  /** Incoming private messages are opened at once and shown in arrival order. */
  #chain: Promise<void> = Promise.resolve();
  readonly #busy = new Set<Promise<unknown>>();
  /** Incoming private messages being opened or waiting to be shown. */
  #incoming = 0;
  /** Whether the notice about dropped incoming messages is due (once per overload). */
  #dropNotice = true;

  /** An inbox working through `deps`. */
  constructor(deps: DmInboxDeps) {
    this.#deps = deps;
  }

  /** Counts `p` as in flight until it settles; returns `p`. */
  track<T>(p: Promise<T>): Promise<T> {
    this.#busy.add(p);
    const done = () => this.#busy.delete(p);
    p.then(done, done);
    return p;
  }

  /**
   * Takes one delivery: an ignored sender's message is dropped before any work (no lookup, no
   * decrypt, no pin); otherwise it is opened and shown, or the failure is, in arrival order; a
   * message already shown (a re-delivery) is dropped quietly. A delivery from the offline queue
   * is acknowledged once dealt with (after it is shown and its id remembered), except one
   * dropped because too many are in hand: that one is delivered again later.
   */
  receive(d: DmDelivery): void {
    const deps = this.#deps;
    const ack = () => {
      if (d.q !== undefined) deps.ack(d.q);
    };
    if (deps.isIgnored(d.from)) return ack();
    if (this.#incoming >= DM_INCOMING_MAX) {
      if (this.#dropNotice) {
        this.#dropNotice = false;
        deps.error("too many private messages at once: dropping some unread");
      }
      return;
    }
    this.#incoming++;
    const opened = deps.open(d);
    this.#chain = this.track(
      this.#chain.then(async () => {
        const r = await opened.finally(() => {
          if (--this.#incoming === 0) this.#dropNotice = true;
        });
        if (r.ok) {
          deps.show({
            t: "dm",
            id: r.id,
            ts: r.ts,
            from: r.from,
            to: deps.me(),
            text: r.text,
            out: false,
          });
        } else if (r.duplicate !== true && !deps.isIgnored(d.from)) {
          deps.record({ t: "dm_error", ts: d.ts, id: d.id, from: d.from });
          deps.error(`cannot decrypt message from ${d.from}`);
        }
        ack();
      }).catch((e) => deps.error(`private message: ${errorText(e)}`)),
    );
  }

  /** Waits at most `ms` for the private messages in flight. */
  async idle(ms: number): Promise<void> {
    if (this.#busy.size === 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.allSettled([...this.#busy]),
      new Promise((r) => timer = setTimeout(r, ms)),
    ]);
    clearTimeout(timer);
  }
}
