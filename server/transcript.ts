/**
 * The server's `--log FILE` transcript: one JSON object per line (JSON Lines), appended in order
 * by a single writer loop. Only the fields of {@linkcode TranscriptEntry} are ever written, so
 * no key material can reach the file; the server has no DM plaintext to give it.
 * @module
 */

import { writeAll } from "../shared/io.ts";
import { openPrivateAppend, type PrivateAppend } from "../shared/safe_file.ts";

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
  /**
   * Size at which the file is rotated: it becomes `FILE.1` (`FILE.1` becomes `FILE.2`, …) and
   * a new `FILE` is started. Default 100 MiB. A single entry larger than this gets a file alone.
   */
  maxBytes?: number;
  /** Rotated files kept (`FILE.1` … `FILE.keep`); older ones are deleted. Default 5; 0 keeps none. */
  keep?: number;
  /** Told of each failed write or rotation (e.g. a full disk); writing resumes with the next entry. */
  onError?: (e: unknown) => void;
}

/** Default bound of bytes accepted but not yet written. */
export const TRANSCRIPT_MAX_PENDING = 4 * 1024 * 1024;
/** Default size at which the transcript rotates. */
export const TRANSCRIPT_MAX_BYTES = 100 * 1024 * 1024;
/** Default number of rotated files kept. */
export const TRANSCRIPT_KEEP = 5;
/** Most rotated files that may be kept. */
export const TRANSCRIPT_KEEP_MAX = 1000;

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
 * and counted in {@linkcode dropped}. The file rotates at `maxBytes` keeping `keep` old files.
 * A failed write drops what was queued, is reported to `onError`, and never stops the writer:
 * the next entry is tried again (after a line break, should the failed write have left half a
 * line).
 */
export class Transcript {
  readonly #path: string;
  #file: Deno.FsFile;
  #size: number; // bytes in the current file, as far as known
  #resync = false; // the file may end in half a line
  #detached = false; // the file was rotated away but no new one could be created yet
  readonly #max: number;
  readonly #maxBytes: number;
  readonly #keep: number;
  #chunks: Uint8Array[] = [];
  #pending = 0;
  #accepted = 0;
  #written = 0;
  #dropped = 0;
  #waiters: Waiter[] = [];
  #running = false;
  #closing: Promise<void> | undefined = undefined;
  readonly #onError: (e: unknown) => void;
  /** Set when the existing file was accessible by others (see {@linkcode openPrivateAppend}). */
  readonly warning: string | undefined;

  private constructor(
    path: string,
    opened: PrivateAppend,
    max: number,
    maxBytes: number,
    keep: number,
    onError: (e: unknown) => void,
  ) {
    this.#path = path;
    this.#file = opened.file;
    this.#size = opened.size;
    this.warning = opened.warning;
    this.#max = max;
    this.#maxBytes = maxBytes;
    this.#keep = keep;
    this.#onError = onError;
  }

  /**
   * Opens `path` for appending with {@linkcode openPrivateAppend}: created with mode 0600 if
   * missing, never through a symbolic link (TypeError), an existing file readable by others
   * noted in {@linkcode warning}. Throws RangeError for a bad option.
   */
  static async open(path: string, options: TranscriptOptions = {}): Promise<Transcript> {
    if (typeof path !== "string") throw new TypeError("path must be a string");
    const max = options.maxPendingBytes ?? TRANSCRIPT_MAX_PENDING;
    if (!Number.isSafeInteger(max) || max < 1) {
      throw new RangeError("maxPendingBytes must be a positive integer");
    }
    const maxBytes = options.maxBytes ?? TRANSCRIPT_MAX_BYTES;
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) {
      throw new RangeError("maxBytes must be a positive integer");
    }
    const keep = options.keep ?? TRANSCRIPT_KEEP;
    if (!Number.isSafeInteger(keep) || keep < 0 || keep > TRANSCRIPT_KEEP_MAX) {
      throw new RangeError(`keep must be an integer from 0 to ${TRANSCRIPT_KEEP_MAX}`);
    }
    const opened = await openPrivateAppend(path);
    return new Transcript(path, opened, max, maxBytes, keep, options.onError ?? (() => {}));
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
          if (this.#size > 0 && this.#size + this.#chunks[0].length > this.#maxBytes) {
            await this.#rotate();
          }
          // As many entries as fit before the next rotation (at least one).
          let n = 1;
          let bytes = this.#chunks[0].length;
          while (
            n < this.#chunks.length && this.#size + bytes + this.#chunks[n].length <= this.#maxBytes
          ) {
            bytes += this.#chunks[n++].length;
          }
          const taken = this.#chunks.splice(0, n);
          inFlight = n;
          if (this.#resync) taken.unshift(NEWLINE);
          const data = join(taken);
          await writeAll(this.#file, data);
          this.#resync = false;
          inFlight = 0;
          this.#size += data.length;
          this.#written += bytes;
          this.#pending -= bytes;
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
      this.#report(e);
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const w of waiters) w.reject(e);
      try {
        // A write may have stored part of its data: end that half line before the next entry.
        const size = (await this.#file.stat()).size;
        if (size !== this.#size) this.#resync = true;
        this.#size = size;
      } catch {
        this.#resync = true;
      }
      this.#running = false;
      // Entries or flushes that arrived while the size was read are served by a new run.
      if (this.#chunks.length > 0 || this.#waiters.length > 0) this.#kick();
    }
  }

  /**
   * Shifts `FILE.k` to `FILE.k+1` (dropping the oldest), `FILE` to `FILE.1`, and starts a new
   * `FILE`. If the new file cannot be created, the failure is reported and writing goes on in
   * the old one (now `FILE.1`); the next write tries to create it again.
   */
  async #rotate(): Promise<void> {
    const p = this.#path;
    if (!this.#detached) {
      if (this.#keep === 0) {
        await removeIfPresent(p);
      } else {
        await removeIfPresent(`${p}.${this.#keep}`);
        for (let k = this.#keep - 1; k >= 1; k--) {
          await renameIfPresent(`${p}.${k}`, `${p}.${k + 1}`);
        }
        await renameIfPresent(p, `${p}.1`);
      }
      this.#detached = true;
    }
    let next: PrivateAppend;
    try {
      next = await openPrivateAppend(p);
    } catch (e) {
      this.#report(e);
      return;
    }
    this.#detached = false;
    const old = this.#file;
    this.#file = next.file;
    this.#size = next.size;
    this.#resync = false;
    old.close();
  }

  #report(e: unknown): void {
    try {
      this.#onError(e);
    } catch {
      // a failing reporter must not stop the writer
    }
  }
}

const NEWLINE = new Uint8Array([0x0a]);

async function removeIfPresent(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

async function renameIfPresent(from: string, to: string): Promise<void> {
  try {
    await Deno.rename(from, to);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
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
