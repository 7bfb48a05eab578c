/**
 * Pinned server host keys (trust on first use), one line `host:port SHA256:…` per server in
 * `known_servers`. Also the line-file machinery shared with `known_users`: bounded reads that
 * keep every line byte for byte (comments, blank and malformed lines included) and atomic
 * rewrites with mode 0600.
 * @module
 */

import { concat, decodeUtf8, toHex, utf8 } from "../shared/encoding.ts";
import { ProtocolError } from "../shared/errors.ts";
import { randomBytes } from "../shared/crypto.ts";

/** Largest pin file accepted, in bytes; checked before reading. */
export const PIN_FILE_MAX = 1024 * 1024;

const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;
const HOST_NAME = /^[a-z0-9_]([a-z0-9._-]*)$/;
const HOST_NAME_MAX = 253;
const ZONE = /^[A-Za-z0-9_.-]{1,64}$/;

/** True iff `text` has the shape of a key fingerprint: `SHA256:` + 43 base64 characters. */
export function isFingerprint(text: string): boolean {
  return FINGERPRINT.test(text);
}

/**
 * The canonical `host:port` key: host names lower-cased, IPv6 addresses compressed and in
 * brackets (`[::1]:5000`); surrounding brackets on `host` are accepted. `RangeError` unless
 * 1 ≤ `port` ≤ 65535; `TypeError` for a host that is not a host name, IPv4 or IPv6 address.
 */
export function normalizeHostPort(host: string, port: number): string {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RangeError(`port out of range: ${port}`);
  }
  let h = host;
  if (h.startsWith("[") && h.endsWith("]")) h = h.slice(1, -1);
  if (h.includes(":")) return `${normalizeIpv6(h)}:${port}`;
  h = h.toLowerCase();
  if (h.length > HOST_NAME_MAX || !HOST_NAME.test(h)) {
    throw new TypeError(`not a host name or address: ${JSON.stringify(host)}`);
  }
  return `${h}:${port}`;
}

/** `[addr]` in compressed lower-case form, keeping a `%zone` suffix; `TypeError` if invalid. */
function normalizeIpv6(text: string): string {
  const pct = text.indexOf("%");
  const addr = pct < 0 ? text : text.slice(0, pct);
  const zone = pct < 0 ? "" : text.slice(pct + 1);
  if (pct >= 0 && !ZONE.test(zone)) throw new TypeError(`bad IPv6 zone: ${JSON.stringify(text)}`);
  if (!/^[0-9A-Fa-f:.]+$/.test(addr)) {
    throw new TypeError(`not an IPv6 address: ${JSON.stringify(text)}`);
  }
  let canonical: string;
  try {
    canonical = new URL(`http://[${addr}]/`).hostname; // "[…]", compressed, lower case
  } catch (e) {
    throw new TypeError(`not an IPv6 address: ${JSON.stringify(text)}`, { cause: e });
  }
  return zone === "" ? canonical : `${canonical.slice(0, -1)}%${zone}]`;
}

/**
 * Parses and normalises `host:port` or `[ipv6]:port` (see {@link normalizeHostPort}); `null`
 * when `text` is not of that form.
 */
export function parseHostPort(text: string): string | null {
  const m = /^\[([^\]]+)\]:([0-9]{1,5})$/.exec(text) ?? /^([^:\[\]]+):([0-9]{1,5})$/.exec(text);
  if (m === null) return null;
  try {
    return normalizeHostPort(m[1], Number(m[2]));
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// Line files

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
  const cut = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  if (cut > 0) await Deno.mkdir(path.slice(0, cut), { recursive: true, mode: 0o700 });
  const parts: Uint8Array[] = [];
  for (const line of lines) parts.push(line, NEWLINE);
  const data = concat(...parts);
  const temp = `${path}.tmp-${toHex(randomBytes(6))}`;
  const file = await Deno.open(temp, { write: true, createNew: true, mode: 0o600 });
  let ok = false;
  try {
    if (Deno.build.os !== "windows") await Deno.chmod(temp, 0o600);
    let n = 0;
    while (n < data.length) n += await file.write(data.subarray(n));
    await file.sync();
    ok = true;
  } finally {
    file.close();
    if (!ok) await Deno.remove(temp).catch(() => {});
  }
  try {
    await Deno.rename(temp, path);
  } catch (e) {
    await Deno.remove(temp).catch(() => {});
    throw e;
  }
}

const NEWLINE = new Uint8Array([0x0a]);

// ---------------------------------------------------------------------------------------------
// known_servers

/** Parses a `known_servers` line: `[key, fingerprint]`, or `null` for comments and bad lines. */
function parseServerLine(raw: Uint8Array): [string, string] | null {
  const text = lineText(raw);
  if (text === null || text === "" || text.startsWith("#")) return null;
  const fields = text.split(/\s+/);
  if (fields.length !== 2 || !isFingerprint(fields[1])) return null;
  const key = parseHostPort(fields[0]);
  return key === null ? null : [key, fields[1]];
}

/** Normalises a `host:port` argument; `TypeError` if it is not one. */
function hostKeyOf(hostPort: string): string {
  const key = parseHostPort(hostPort);
  if (key === null) throw new TypeError(`not host:port: ${JSON.stringify(hostPort)}`);
  return key;
}

/** Checks a fingerprint argument; `TypeError` if malformed. */
function checkFingerprint(fp: string): void {
  if (!isFingerprint(fp)) throw new TypeError(`not a key fingerprint: ${JSON.stringify(fp)}`);
}

/**
 * The `known_servers` file: pinned host-key fingerprints by `host:port`. Comments, blank lines
 * and malformed lines are ignored and kept; for a server listed twice the first line counts.
 * Each change re-reads the file and rewrites it atomically (mode 0600).
 */
export class KnownServers {
  readonly #path: string;
  #lines: Uint8Array[];
  #pins: Map<string, string>;

  private constructor(path: string, lines: Uint8Array[]) {
    this.#path = path;
    this.#lines = lines;
    this.#pins = new Map();
    for (const raw of lines) {
      const entry = parseServerLine(raw);
      if (entry !== null && !this.#pins.has(entry[0])) this.#pins.set(entry[0], entry[1]);
    }
  }

  /** Reads `path` (absent = empty); `RangeError` if it exceeds 1 MiB. */
  static async load(path: string): Promise<KnownServers> {
    return new KnownServers(path, await readLines(path));
  }

  /** The pinned fingerprint for `hostPort` (normalised first), or `undefined`. */
  lookup(hostPort: string): string | undefined {
    const key = parseHostPort(hostPort);
    return key === null ? undefined : this.#pins.get(key);
  }

  /**
   * Pins `fp` for `hostPort` if it has no pin; a no-op if it has this one. Throws
   * `ProtocolError("host_key_changed")` if a different pin exists (only {@link forget} removes
   * it), `TypeError` for a malformed argument.
   */
  async pin(hostPort: string, fp: string): Promise<void> {
    const key = hostKeyOf(hostPort);
    checkFingerprint(fp);
    await this.#reload();
    const old = this.#pins.get(key);
    if (old === fp) return;
    if (old !== undefined) {
      throw new ProtocolError(
        "host_key_changed",
        `${key} is pinned to ${old}, not ${fp}; run: chat keys forget ${key}`,
      );
    }
    await this.#replace([...this.#lines, utf8.encode(`${key} ${fp}`)]);
  }

  /** Removes every pin for `hostPort`; true iff there was one. `TypeError` if malformed. */
  async forget(hostPort: string): Promise<boolean> {
    const key = hostKeyOf(hostPort);
    await this.#reload();
    const kept = this.#lines.filter((raw) => parseServerLine(raw)?.[0] !== key);
    if (kept.length === this.#lines.length) return false;
    await this.#replace(kept);
    return true;
  }

  async #reload(): Promise<void> {
    const fresh = new KnownServers(this.#path, await readLines(this.#path));
    this.#lines = fresh.#lines;
    this.#pins = fresh.#pins;
  }

  async #replace(lines: Uint8Array[]): Promise<void> {
    await writeLinesAtomic(this.#path, lines);
    const fresh = new KnownServers(this.#path, lines);
    this.#lines = fresh.#lines;
    this.#pins = fresh.#pins;
  }
}
