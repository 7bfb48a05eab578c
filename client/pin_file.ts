/**
 * Pin files (`known_servers`, `known_users`): bounded reads that keep every line byte for byte
 * (comments, blank and malformed lines included), atomic rewrites with mode 0600, and the pins
 * they hold by key.
 * @module
 */

import { concat, decodeUtf8, toHex } from "../shared/encoding.ts";
import { randomBytes } from "../shared/crypto.ts";
import { writeKeyFileExclusive } from "../shared/keys.ts";

/** Largest pin file accepted, in bytes; checked before reading. */
export const PIN_FILE_MAX = 1024 * 1024;

/**
 * Reads `path` as raw lines (without their `\n`); `[]` if it does not exist. `TypeError` if it is
 * not a regular file, `RangeError` if it exceeds `max` bytes (checked before reading).
 */
export async function readLines(path: string, max = PIN_FILE_MAX): Promise<Uint8Array[]> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path); // before open, so a FIFO is refused instead of blocking
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  if (!info.isFile) throw new TypeError(`${path} is not a regular file`);
  if (info.size > max) throw new RangeError(`${path} is larger than ${max} bytes`);
  const file = await Deno.open(path, { read: true });
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    // Read to EOF in chunks, refusing a file that grew past `max` since stat.
    while (true) {
      const chunk = new Uint8Array(64 * 1024);
      const got = await file.read(chunk);
      if (got === null) break;
      total += got;
      if (total > max) throw new RangeError(`${path} is larger than ${max} bytes`);
      chunks.push(chunk.subarray(0, got));
    }
  } finally {
    file.close();
  }
  return splitLines(concat(...chunks));
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

/**
 * The lines of a pin file and the pins they hold; for a key listed twice the first line counts.
 * Changes re-read the file first and rewrite it atomically.
 */
export class PinFile {
  readonly #path: string;
  readonly #parse: PinParser;
  #lines: Uint8Array[] = [];
  #pins = new Map<string, string>();

  private constructor(path: string, parse: PinParser) {
    this.#path = path;
    this.#parse = parse;
  }

  /** Reads `path` (absent = empty); `RangeError` if it exceeds {@link PIN_FILE_MAX}. */
  static async load(path: string, parse: PinParser): Promise<PinFile> {
    const f = new PinFile(path, parse);
    await f.reload();
    return f;
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
    this.#set(await readLines(this.#path));
  }

  /** Writes `lines` as the whole file, atomically. */
  async replace(lines: Uint8Array[]): Promise<void> {
    await writeLinesAtomic(this.#path, lines);
    this.#set(lines);
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
