/**
 * Pin files (`known_servers`, `known_users`): bounded reads that keep every line byte for byte
 * (comments, blank and malformed lines included), atomic rewrites with mode 0600, and the pins
 * they hold by key.
 * @module
 */

import { concat, decodeUtf8, toHex } from "../shared/encoding.ts";
import { randomBytes } from "../shared/crypto.ts";
import { writeKeyFileExclusive } from "../shared/keys.ts";
import { readRegularFile } from "../shared/safe_file.ts";

/** Largest pin file accepted, in bytes; checked before reading. */
export const PIN_FILE_MAX = 1024 * 1024;

/** Longest line a bounded pin file keeps, in bytes; a longer one is dropped unread. */
export const PIN_LINE_MAX = 4096;

/**
 * Calls `onLine` for each line of `path` (without its `\n`), reading in chunks so that memory does
 * not grow with the file; a line longer than `lineMax` is passed as `null` and its bytes skipped.
 * Nothing happens when the file does not exist; `TypeError` if it is not a regular file.
 */
export async function scanLines(
  path: string,
  onLine: (raw: Uint8Array | null) => void,
  lineMax = PIN_LINE_MAX,
): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path); // before open, so a FIFO is refused instead of blocking
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw e;
  }
  if (!info.isFile) throw new TypeError(`${path} is not a regular file`);
  const file = await Deno.open(path, { read: true });
  let part: Uint8Array[] = [];
  let partLen = 0;
  let long = false;
  const buf = new Uint8Array(64 * 1024);
  try {
    for (;;) {
      const got = await file.read(buf);
      if (got === null) break;
      let start = 0;
      for (let i = 0; i < got; i++) {
        if (buf[i] !== 0x0a) continue;
        const piece = buf.subarray(start, i);
        if (!long && partLen + piece.length <= lineMax) onLine(concat(...part, piece));
        else onLine(null);
        part = [];
        partLen = 0;
        long = false;
        start = i + 1;
      }
      const rest = buf.subarray(start, got);
      if (long || partLen + rest.length > lineMax) {
        long = true;
        part = [];
        partLen = 0;
      } else if (rest.length > 0) {
        part.push(rest.slice());
        partLen += rest.length;
      }
    }
    if (long) onLine(null);
    else if (partLen > 0) onLine(concat(...part));
  } finally {
    file.close();
  }
}

/** How {@link LineWindow} treats a line. */
export type LineKind = "keep" | "prunable" | "other";

/**
 * Lines in file order where only the newest `maxPrunable` prunable lines and the first
 * `maxOther` other lines (comments, blank, malformed) stay; kept lines are never dropped.
 */
export class LineWindow {
  #lines: (Uint8Array | null)[] = [];
  #prunable: number[] = [];
  #head = 0;
  #other = 0;
  /** Lines dropped so far. */
  dropped = 0;

  /** A window with the given bounds. */
  constructor(readonly maxPrunable: number, readonly maxOther: number) {}

  /** Adds a line (`null`: one too long to keep, counted as dropped). */
  push(raw: Uint8Array | null, kind: LineKind): void {
    if (raw === null || (kind === "other" && this.#other >= this.maxOther)) {
      this.dropped++;
      return;
    }
    if (kind === "other") this.#other++;
    if (kind === "prunable") {
      this.#prunable.push(this.#lines.length);
      if (this.#prunable.length - this.#head > this.maxPrunable) {
        this.#lines[this.#prunable[this.#head++]] = null;
        this.dropped++;
      }
    }
    this.#lines.push(raw);
    if (this.#head > 1024 && this.#head * 2 > this.#prunable.length) this.#compact();
  }

  #compact(): void {
    const lines: (Uint8Array | null)[] = [];
    const prunable: number[] = [];
    const live = new Set(this.#prunable.slice(this.#head));
    this.#lines.forEach((raw, i) => {
      if (raw === null) return;
      if (live.has(i)) prunable.push(lines.length);
      lines.push(raw);
    });
    this.#lines = lines;
    this.#prunable = prunable;
    this.#head = 0;
  }

  /** The lines that stay, in order. */
  lines(): Uint8Array[] {
    return this.#lines.filter((raw): raw is Uint8Array => raw !== null);
  }
}

/**
 * Reads `path` as raw lines (without their `\n`); `[]` if it does not exist. `TypeError` if it is
 * not a regular file, `RangeError` if it exceeds `max` bytes (checked before reading).
 */
export async function readLines(path: string, max = PIN_FILE_MAX): Promise<Uint8Array[]> {
  try {
    return splitLines(await readRegularFile(path, max));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
}

/** Splits bytes at `\n`; a final `\n` does not start another line. */
export function splitLines(bytes: Uint8Array): Uint8Array[] {
  const lines: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0x0a) {
      lines.push(bytes.slice(start, i));
      start = i + 1;
    }
  }
  if (start < bytes.length) lines.push(bytes.slice(start));
  return lines;
}

/** The text of a raw line without a trailing `\r` and surrounding blanks; `null` if not UTF-8. */
export function lineText(raw: Uint8Array): string | null {
  try {
    return decodeUtf8(raw).replace(/\r$/, "").trim();
  } catch {
    return null;
  }
}

/**
 * Replaces `path` atomically with `lines`, each followed by `\n`: writes a temporary file in the
 * same directory (mode 0600, parent created 0700), fsyncs it, and renames it over `path`.
 */
export async function writeLinesAtomic(path: string, lines: readonly Uint8Array[]): Promise<void> {
  const parts: Uint8Array[] = [];
  for (const line of lines) parts.push(line, NEWLINE);
  const temp = `${path}.tmp-${toHex(randomBytes(6))}`;
  await writeKeyFileExclusive(temp, concat(...parts));
  try {
    await Deno.rename(temp, path);
  } catch (e) {
    await Deno.remove(temp).catch(() => {});
    throw e;
  }
}

const NEWLINE = new Uint8Array([0x0a]);

/** Reads one line as `[key, fingerprint]`, or null for a comment, blank or malformed line. */
export type PinParser = (raw: Uint8Array) => [key: string, fingerprint: string] | null;

/** A bound on a pin file: which lines may be pruned, and how many of each kind stay. */
export interface PinBound {
  /** Whether a pin line may be pruned (oldest first); other pins are kept whatever the count. */
  prunable(raw: Uint8Array): boolean;
  /** Most prunable pins kept. */
  maxPrunable: number;
  /** Most comment, blank and malformed lines kept (the first ones). */
  maxOther: number;
}

/**
 * The lines of a pin file and the pins they hold; for a key listed twice the first line counts.
 * Changes re-read the file first and rewrite it atomically.
 */
export class PinFile {
  readonly #path: string;
  readonly #parse: PinParser;
  readonly #bound: PinBound | undefined;
  #lines: Uint8Array[] = [];
  #pins = new Map<string, string>();
  /** Lines the bound dropped at the last read (the file still holds them until the next write). */
  overBound = 0;

  private constructor(path: string, parse: PinParser, bound?: PinBound) {
    this.#path = path;
    this.#parse = parse;
    this.#bound = bound;
  }

  /**
   * Reads `path` (absent = empty). Without `bound`: `RangeError` if it exceeds
   * {@link PIN_FILE_MAX}. With `bound`: a file of any size is read in chunks and only the lines
   * the bound keeps are held (see {@link overBound}).
   */
  static async load(path: string, parse: PinParser, bound?: PinBound): Promise<PinFile> {
    const f = new PinFile(path, parse, bound);
    await f.reload();
    return f;
  }

  #window(): LineWindow {
    const b = this.#bound!;
    return new LineWindow(b.maxPrunable, b.maxOther);
  }

  #kind(raw: Uint8Array): LineKind {
    if (this.#parse(raw) === null) return "other";
    return this.#bound!.prunable(raw) ? "prunable" : "keep";
  }

  /** Every line as read or written last. */
  get lines(): readonly Uint8Array[] {
    return this.#lines;
  }

  /** The fingerprint pinned for `key`, or `undefined`. */
  get(key: string): string | undefined {
    return this.#pins.get(key);
  }

  /** The key of a line, or undefined when it holds no pin. */
  keyOf(raw: Uint8Array): string | undefined {
    return this.#parse(raw)?.[0];
  }

  /** Re-reads the file (another process may have changed it). */
  async reload(): Promise<void> {
    if (this.#bound === undefined) return this.#set(await readLines(this.#path));
    const w = this.#window();
    await scanLines(this.#path, (raw) => w.push(raw, raw === null ? "other" : this.#kind(raw)));
    this.overBound = w.dropped;
    this.#set(w.lines());
  }

  /**
   * Writes `lines` as the whole file, atomically; with a bound, the oldest prunable pins beyond
   * it are left out. Resolves with the number of lines left out.
   */
  async replace(lines: Uint8Array[]): Promise<number> {
    let dropped = 0;
    if (this.#bound !== undefined) {
      const w = this.#window();
      for (const raw of lines) w.push(raw, this.#kind(raw));
      lines = w.lines();
      dropped = w.dropped;
    }
    await writeLinesAtomic(this.#path, lines);
    this.#set(lines);
    this.overBound = 0;
    return dropped;
  }

  #set(lines: Uint8Array[]): void {
    this.#lines = lines;
    this.#pins = new Map();
    for (const raw of lines) {
      const e = this.#parse(raw);
      if (e !== null && !this.#pins.has(e[0])) this.#pins.set(e[0], e[1]);
    }
  }
}
