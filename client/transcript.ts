/**
 * The `--log` transcript: room messages, events, failures and private messages appended to a
 * file the caller opened, one JSON line each. A write error stops the transcript (the file is
 * closed) and is reported once.
 * @module
 */

import { jsonLine } from "./plain.ts";
import { errorText } from "./errors.ts";
import type { ClientEvent, DmEvent, DmFailedEvent } from "./view.ts";

/** Appends JSON lines to an open file, if there is one. */
export class Transcript {
  #file: Deno.FsFile | undefined;
  readonly #onError: (text: string) => void;
  readonly #now: () => number;

  /** Writes to `file` (none: every call does nothing); `onError` hears why writing stopped. */
  constructor(
    file: Deno.FsFile | undefined,
    onError: (text: string) => void,
    now: () => number = Date.now,
  ) {
    this.#file = file;
    this.#onError = onError;
    this.#now = now;
  }

  /** Appends one JSON line. */
  record(rec: unknown): void {
    const f = this.#file;
    if (f === undefined) return;
    const bytes = new TextEncoder().encode(jsonLine(rec) + "\n");
    try {
      for (let off = 0; off < bytes.length;) off += f.writeSync(bytes.subarray(off));
    } catch (e) {
      this.#file = undefined;
      f.close();
      this.#onError(`transcript stopped: ${errorText(e)}`);
    }
  }

  /** Records a connection event when it belongs in the transcript (messages, events, failures). */
  event(ev: ClientEvent): void {
    if (ev.t === "server" && (ev.msg.t === "msg" || ev.msg.t === "event")) this.record(ev.msg);
    else if (ev.t === "failed") {
      this.record({
        t: "failed",
        ts: this.#now(),
        room: ev.room,
        text: ev.text,
        reason: ev.reason,
      });
    }
  }

  /** Records a private message, or the failure to send one. */
  dm(ev: DmEvent | DmFailedEvent): void {
    if (ev.t === "dm") {
      const { id, ts, from, to, text } = ev;
      this.record({ t: "dm", ts, id, from, to, text, ...(ev.queued ? { queued: true } : {}) });
    } else {
      this.record({ t: "dm_failed", ts: this.#now(), to: ev.to, text: ev.text, reason: ev.reason });
    }
  }

  /** Stops writing (the caller closes the file). */
  detach(): void {
    this.#file = undefined;
  }
}
