/**
 * Requests waiting for the server's answer (commands, private-message sends): each settles once,
 * with the answer carrying its id, a timeout error, or an offline error when the connection goes.
 * The sending is the caller's; this file only keeps the waiting side.
 * @module
 */

import type { AckMessage, ErrorMessage, ReplyMessage } from "../shared/messages.ts";

/** What settles a request. */
export type Answer = ReplyMessage | AckMessage | ErrorMessage;

/** Requests in flight by id, each with a deadline. */
export class PendingRequests {
  readonly #waiting = new Map<
    string,
    { resolve: (m: Answer) => void; timer: ReturnType<typeof setTimeout> }
  >();

  /** Waits for the answer to `id`; after `timeoutMs` settles `resolve` with a `timeout` error. */
  wait(id: string, timeoutMs: number, resolve: (m: Answer) => void): void {
    const timer = setTimeout(() => {
      this.#waiting.delete(id);
      resolve({ t: "error", id, code: "timeout", message: "the server did not answer in time" });
    }, timeoutMs);
    this.#waiting.set(id, { resolve, timer });
  }

  /** Settles the request `m` answers; false when no request waits for it. */
  settle(m: Answer): boolean {
    const c = m.id === undefined ? undefined : this.#waiting.get(m.id);
    if (c === undefined || m.id === undefined) return false;
    clearTimeout(c.timer);
    this.#waiting.delete(m.id);
    c.resolve(m);
    return true;
  }

  /** Settles every request with an `offline` error: "connection `why`". */
  failAll(why: string): void {
    for (const [id, c] of this.#waiting) {
      clearTimeout(c.timer);
      c.resolve({ t: "error", id, code: "offline", message: `connection ${why}` });
    }
    this.#waiting.clear();
  }
}
