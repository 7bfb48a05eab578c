/**
 * Pinned peer identity keys for end-to-end private messages, one line
 * `host:port name SHA256:…` per peer in `known_users`. Names compare case-insensitively.
 * @module
 */

import { utf8 } from "../shared/encoding.ts";
import { ProtocolError } from "../shared/errors.ts";
import { nameKey } from "../shared/names.ts";
import {
  isFingerprint,
  lineText,
  parseHostPort,
  readLines,
  writeLinesAtomic,
} from "./known_servers.ts";

const NAME = /^[A-Za-z][A-Za-z0-9_-]{1,15}$/;

/** Parsed entry: `[lookup key, host:port, name as written, fingerprint]`. */
type UserEntry = [string, string, string, string];

/** Lookup key of a peer: normalised `host:port`, a space, and the case-folded name. */
function entryKey(hostPort: string, name: string): string {
  return `${hostPort} ${nameKey(name)}`;
}

/** Parses a `known_users` line, or `null` for comments and malformed lines. */
function parseUserLine(raw: Uint8Array): UserEntry | null {
  const text = lineText(raw);
  if (text === null || text === "" || text.startsWith("#")) return null;
  const fields = text.split(/\s+/);
  if (fields.length !== 3 || !NAME.test(fields[1]) || !isFingerprint(fields[2])) return null;
  const hostPort = parseHostPort(fields[0]);
  if (hostPort === null) return null;
  return [entryKey(hostPort, fields[1]), hostPort, fields[1], fields[2]];
}

/** Validates arguments; `TypeError` for a malformed `host:port`, name or fingerprint. */
function checkArgs(hostPort: string, name: string, fp?: string): string {
  const hp = parseHostPort(hostPort);
  if (hp === null) throw new TypeError(`not host:port: ${JSON.stringify(hostPort)}`);
  if (!NAME.test(name)) throw new TypeError(`not a user name: ${JSON.stringify(name)}`);
  if (fp !== undefined && !isFingerprint(fp)) {
    throw new TypeError(`not a key fingerprint: ${JSON.stringify(fp)}`);
  }
  return hp;
}

/**
 * The `known_users` file: pinned identity fingerprints by server and user name. Comments, blank
 * lines and malformed lines are ignored and kept; for a peer listed twice the first line counts.
 * Each change re-reads the file and rewrites it atomically (mode 0600).
 */
export class KnownUsers {
  readonly #path: string;
  #lines: Uint8Array[];
  #pins: Map<string, string>;

  private constructor(path: string, lines: Uint8Array[]) {
    this.#path = path;
    this.#lines = lines;
    this.#pins = new Map();
    for (const raw of lines) {
      const e = parseUserLine(raw);
      if (e !== null && !this.#pins.has(e[0])) this.#pins.set(e[0], e[3]);
    }
  }

  /** Reads `path` (absent = empty); `RangeError` if it exceeds 1 MiB. */
  static async load(path: string): Promise<KnownUsers> {
    return new KnownUsers(path, await readLines(path));
  }

  /** The pinned fingerprint of `name` on `hostPort`, or `undefined`. */
  lookup(hostPort: string, name: string): string | undefined {
    const hp = parseHostPort(hostPort);
    return hp === null ? undefined : this.#pins.get(entryKey(hp, name));
  }

  /**
   * Pins `fp` for `name` on `hostPort` on first use; a no-op if this pin exists. Throws
   * `ProtocolError("user_key_changed")` if a different pin exists (use {@link trust}),
   * `TypeError` for a malformed argument.
   */
  async pin(hostPort: string, name: string, fp: string): Promise<void> {
    const hp = checkArgs(hostPort, name, fp);
    await this.#reload();
    const old = this.#pins.get(entryKey(hp, name));
    if (old === fp) return;
    if (old !== undefined) {
      throw new ProtocolError(
        "user_key_changed",
        `${name} on ${hp} is pinned to ${old}, not ${fp}; use /trust ${name} to accept it`,
      );
    }
    await this.#replace([...this.#lines, utf8.encode(`${hp} ${name} ${fp}`)]);
  }

  /**
   * Pins `fp` for `name` on `hostPort`, replacing every earlier pin for that peer (after
   * `/trust`). `TypeError` for a malformed argument.
   */
  async trust(hostPort: string, name: string, fp: string): Promise<void> {
    const hp = checkArgs(hostPort, name, fp);
    await this.#reload();
    const key = entryKey(hp, name);
    const line = utf8.encode(`${hp} ${name} ${fp}`);
    const out: Uint8Array[] = [];
    let placed = false;
    for (const raw of this.#lines) {
      if (parseUserLine(raw)?.[0] !== key) out.push(raw);
      else if (!placed) {
        out.push(line);
        placed = true;
      }
    }
    if (!placed) out.push(line);
    await this.#replace(out);
  }

  async #reload(): Promise<void> {
    const fresh = new KnownUsers(this.#path, await readLines(this.#path));
    this.#lines = fresh.#lines;
    this.#pins = fresh.#pins;
  }

  async #replace(lines: Uint8Array[]): Promise<void> {
    await writeLinesAtomic(this.#path, lines);
    const fresh = new KnownUsers(this.#path, lines);
    this.#lines = fresh.#lines;
    this.#pins = fresh.#pins;
  }
}
