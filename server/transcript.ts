/**
 * The server's `--log FILE` transcript: one JSON object per line (JSON Lines), appended in order
 * by a single writer loop. Only the fields of {@linkcode TranscriptEntry} are ever written, so
 * no key material can reach the file; the server has no DM plaintext to give it.
 * @module
 */

import { writeAll } from "../shared/io.ts";

/** One room event as written to the transcript. */
export interface TranscriptEntry {
  /** Server time in milliseconds since the epoch (written as ISO 8601 UTC text). */
  ts: number;
  /** Room, when the event belongs to one. */
  room?: string;
  /** `msg`, `me`, or an event kind (`join`, `leave`, `topic`, …). */
  kind: string;
  /** Sender of a message. */
  from?: string;
  /** Message text, topic, away text, announcement or MOTD. */
  text?: string;
  /** The user the event is about. */
  name?: string;
  /** Who did it. */
  by?: string;
  /** Fingerprint of `by` (moderation records). */
  by_fp?: string;
  /** What a moderation action applies to: fingerprint, address, name or mode. */
  target?: string;
  /** Why. */
  reason?: string;
}

/** Options of {@linkcode Transcript.open}. */
export interface TranscriptOptions {
  /** Most bytes waiting to be written; entries beyond are dropped. Default 4 MiB. */
  maxPendingBytes?: number;
  /** Told of each failed write (e.g. a full disk); writing resumes with the next entry. */
  onError?: (e: unknown) => void;
}

/** Default bound of bytes accepted but not yet written. */
export const TRANSCRIPT_MAX_PENDING = 4 * 1024 * 1024;

const OPTIONAL_FIELDS = [
  "room",
  "from",
  "name",
  "by",
  "by_fp",
  "target",
  "reason",
  "text",
] as const;
const encoder = new TextEncoder();

/**
 * Serialises `entry` as one line of JSON ending in `\n`, with its known fields only, in a fixed
 * order; `ts` becomes ISO 8601 UTC text (`2026-01-02T03:04:05.678Z`). Besides what JSON escapes anyway, U+0085, U+2028 and U+2029 are escaped so no line
 * splitter sees a line break inside an entry. Throws TypeError for a malformed entry.
 */
export function transcriptLine(entry: TranscriptEntry): string {
  if (typeof entry !== "object" || entry === null) throw new TypeError("entry must be an object");
  if (typeof entry.ts !== "number" || !Number.isFinite(entry.ts)) {
    throw new TypeError("ts must be a finite number");
  }
  if (typeof entry.kind !== "string") throw new TypeError("kind must be a string");
  const ts = new Date(entry.ts);
  if (Number.isNaN(ts.getTime())) throw new TypeError("ts is out of range");
  const out: Record<string, string> = { ts: ts.toISOString() };
  if (entry.room !== undefined) out.room = checkString(entry.room, "room");
  out.kind = entry.kind;
  for (const field of OPTIONAL_FIELDS) {
    if (field === "room") continue;
    const value = entry[field];
    if (value !== undefined) out[field] = checkString(value, field);
  }
  const json = JSON.stringify(out).replace(
    /[\u0085\u2028\u2029]/g,
    (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"),
  );
  return json + "\n";
}

function checkString(value: unknown, what: string): string {
  if (typeof value !== "string") throw new TypeError(`${what} must be a string`);
  return value;
}

interface Waiter {
  target: number;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/**
 * An append-only JSON Lines writer. {@linkcode write} only queues; one loop writes the queue in
 * order with never more than one write in flight. At most `maxPendingBytes` (4 MiB by default)
 * may wait: an entry that would exceed it, or that arrives after {@linkcode close}, is dropped
 * and counted in {@linkcode dropped}. A failed write drops what was queued, is reported to
 * `onError`, and never stops the writer: the next entry is tried again.
 */
export class Transcript {
  readonly #file: Deno.FsFile;
  readonly #max: number;
  #chunks: Uint8Array[] = [];
  #pending = 0;
  #accepted = 0;
  #written = 0;
  #dropped = 0;
  #waiters: Waiter[] = [];
  #running = false;
  #closing: Promise<void> | undefined = undefined;
  readonly #onError: (e: unknown) => void;

  private constructor(file: Deno.FsFile, max: number, onError: (e: unknown) => void) {
    this.#file = file;
    this.#max = max;
    this.#onError = onError;
  }

  /**
   * Opens `path` for appending, creating it with mode 0600 if missing (an existing file keeps
   * its mode). Throws RangeError for a bad `maxPendingBytes`.
   */
  static async open(path: string, options: TranscriptOptions = {}): Promise<Transcript> {
    if (typeof path !== "string") throw new TypeError("path must be a string");
    const max = options.maxPendingBytes ?? TRANSCRIPT_MAX_PENDING;
    if (!Number.isSafeInteger(max) || max < 1) {
      throw new RangeError("maxPendingBytes must be a positive integer");
    }
    const file = await Deno.open(path, { append: true, create: true, mode: 0o600 });
    return new Transcript(file, max, options.onError ?? (() => {}));
  }

  /** Entries dropped because the buffer was full, the transcript closed, or a write failed. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Queues one entry (see {@linkcode transcriptLine}); throws TypeError for a malformed one. */
  write(entry: TranscriptEntry): void {
    const bytes = encoder.encode(transcriptLine(entry));
    if (this.#closing !== undefined || this.#pending + bytes.length > this.#max) {
      this.#dropped++;
      return;
    }
    this.#chunks.push(bytes);
    this.#pending += bytes.length;
    this.#accepted += bytes.length;
    this.#kick();
  }

  /**
   * Resolves once every entry queued before the call is written and synced to disk; rejects
   * with the write error if a write failed meanwhile.
   */
  flush(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#waiters.push({ target: this.#accepted, resolve, reject });
      this.#kick();
    });
  }

  /**
   * Stops accepting entries, flushes, then closes the file (also after a write error, which it
   * then rethrows). Later calls return the same promise.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    let failure: unknown = undefined;
    try {
      await this.flush();
    } catch (e) {
      failure = e;
    }
    this.#file.close();
    if (failure !== undefined) throw failure;
  }

  #kick(): void {
    if (this.#running) return;
    this.#running = true;
    void this.#run();
  }

  async #run(): Promise<void> {
    let inFlight = 0;
    try {
      for (;;) {
        const first = this.#waiters[0];
        if (first !== undefined && this.#written >= first.target) {
          const synced = this.#written;
          await this.#file.syncData();
          const done = this.#waiters.filter((w) => w.target <= synced);
          this.#waiters = this.#waiters.filter((w) => w.target > synced);
          for (const w of done) w.resolve();
        } else if (this.#chunks.length > 0) {
          const data = join(this.#chunks);
          inFlight = this.#chunks.length;
          this.#chunks = [];
          await writeAll(this.#file, data);
          inFlight = 0;
          this.#written += data.length;
          this.#pending -= data.length;
        } else {
          this.#running = false;
          return;
        }
      }
    } catch (e) {
      this.#dropped += inFlight + this.#chunks.length;
      this.#chunks = [];
      this.#pending = 0;
      this.#written = this.#accepted; // what was dropped counts as done for later flushes
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const w of waiters) w.reject(e);
      this.#running = false;
      try {
        this.#onError(e);
      } catch {
        // a failing reporter must not stop the writer
      }
    }
  }
}

/** Concatenates chunks without spreading them into arguments (there may be very many). */
function join(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  let size = 0;
  for (const c of chunks) size += c.length;
  const out = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}
