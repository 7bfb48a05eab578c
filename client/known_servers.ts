/**
 * Pinned server host keys (trust on first use), one line `host:port SHA256:…` per server in
 * `known_servers`.
 * @module
 */

import { utf8 } from "../shared/encoding.ts";
import { ProtocolError } from "../shared/errors.ts";
import { isFingerprint } from "../shared/crypto.ts";
import { lineText, PinFile } from "./pin_file.ts";

const HOST_NAME = /^[a-z0-9_]([a-z0-9._-]*)$/;
const HOST_NAME_MAX = 253;
const ZONE = /^[A-Za-z0-9_.-]{1,64}$/;

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
  readonly #file: PinFile;

  private constructor(file: PinFile) {
    this.#file = file;
  }

  /** Reads `path` (absent = empty); `RangeError` if it exceeds 1 MiB. */
  static async load(path: string): Promise<KnownServers> {
    return new KnownServers(await PinFile.load(path, parseServerLine));
  }

  /** The pinned fingerprint for `hostPort` (normalised first), or `undefined`. */
  lookup(hostPort: string): string | undefined {
    const key = parseHostPort(hostPort);
    return key === null ? undefined : this.#file.get(key);
  }

  /**
   * Pins `fp` for `hostPort` if it has no pin; a no-op if it has this one. Throws
   * `ProtocolError("host_key_changed")` if a different pin exists (only {@link forget} removes
   * it), `TypeError` for a malformed argument.
   */
  async pin(hostPort: string, fp: string): Promise<void> {
    const key = hostKeyOf(hostPort);
    checkFingerprint(fp);
    await this.#file.reload();
    const old = this.#file.get(key);
    if (old === fp) return;
    if (old !== undefined) {
      throw new ProtocolError(
        "host_key_changed",
        `${key} is pinned to ${old}, not ${fp}; run: chat keys forget ${key}`,
      );
    }
    await this.#file.replace([...this.#file.lines, utf8.encode(`${key} ${fp}`)]);
  }

  /**
   * Pins `fp` for `hostPort` in place of any other pin (the user named this key on purpose, with
   * `--fingerprint`). `TypeError` for a malformed argument.
   */
  async replace(hostPort: string, fp: string): Promise<void> {
    const key = hostKeyOf(hostPort);
    checkFingerprint(fp);
    await this.#file.reload();
    const kept = this.#file.lines.filter((raw) => this.#file.keyOf(raw) !== key);
    await this.#file.replace([...kept, utf8.encode(`${key} ${fp}`)]);
  }

  /** Removes every pin for `hostPort`; true iff there was one. `TypeError` if malformed. */
  async forget(hostPort: string): Promise<boolean> {
    const key = hostKeyOf(hostPort);
    await this.#file.reload();
    const kept = this.#file.lines.filter((raw) => this.#file.keyOf(raw) !== key);
    if (kept.length === this.#file.lines.length) return false;
    await this.#file.replace(kept);
    return true;
  }
}
