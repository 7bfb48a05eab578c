/**
 * Pinned peer identity keys for end-to-end private messages, one line
 * `host:port name SHA256:…` per peer in `known_users`, followed by ` verified` once the user
 * accepted the key with `/trust`. Names compare case-insensitively. The file is bounded: at most
 * {@link KNOWN_USERS_MAX} unverified pins stay (the oldest go first); verified pins are never
 * pruned; a file over the bound when loaded is pruned and rewritten, not refused.
 * @module
 */

import { utf8 } from "../shared/encoding.ts";
import { ProtocolError } from "../shared/errors.ts";
import { nameKey } from "../shared/names.ts";
import { isFingerprint } from "../shared/crypto.ts";
import { parseHostPort } from "./known_servers.ts";
import { lineText, PinFile } from "./pin_file.ts";

/** Most unverified pins kept; beyond it the oldest are pruned. */
export const KNOWN_USERS_MAX = 1000;
/** Most comment, blank or malformed lines kept. */
const OTHER_LINES_MAX = 256;
/** The word that marks a verified pin. */
const VERIFIED = "verified";
import { NAME_PATTERN } from "../shared/names.ts";

/** Parsed entry: `[lookup key, host:port, name as written, fingerprint, verified]`. */
type UserEntry = [string, string, string, string, boolean];

/** Lookup key of a peer: normalised `host:port`, a space, and the case-folded name. */
function entryKey(hostPort: string, name: string): string {
  return `${hostPort} ${nameKey(name)}`;
}

/** Parses a `known_users` line, or `null` for comments and malformed lines. */
function parseUserLine(raw: Uint8Array): UserEntry | null {
  const text = lineText(raw);
  if (text === null || text === "" || text.startsWith("#")) return null;
  const fields = text.split(/\s+/);
  if (fields.length === 4 && fields[3] !== VERIFIED) return null;
  if (fields.length < 3 || fields.length > 4) return null;
  if (!NAME_PATTERN.test(fields[1]) || !isFingerprint(fields[2])) return null;
  const hostPort = parseHostPort(fields[0]);
  if (hostPort === null) return null;
  return [entryKey(hostPort, fields[1]), hostPort, fields[1], fields[2], fields.length === 4];
}

function pinLine(hp: string, name: string, fp: string, verified: boolean): Uint8Array {
  return utf8.encode(`${hp} ${name} ${fp}${verified ? ` ${VERIFIED}` : ""}`);
}

/** Validates arguments; `TypeError` for a malformed `host:port`, name or fingerprint. */
function checkArgs(hostPort: string, name: string, fp?: string): string {
  const hp = parseHostPort(hostPort);
  if (hp === null) throw new TypeError(`not host:port: ${JSON.stringify(hostPort)}`);
  if (!NAME_PATTERN.test(name)) throw new TypeError(`not a user name: ${JSON.stringify(name)}`);
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
  readonly #file: PinFile;
  /** Lines pruned when the file was loaded (it was over the bound). */
  readonly pruned: number;

  private constructor(file: PinFile, pruned: number) {
    this.#file = file;
    this.pruned = pruned;
  }

  /**
   * Reads `path` (absent = empty). A file over the bound (more than `max` unverified pins, or
   * lines too long to be pins) is pruned, oldest unverified pins first, and rewritten.
   */
  static async load(path: string, max = KNOWN_USERS_MAX): Promise<KnownUsers> {
    const file = await PinFile.load(path, (raw) => {
      const e = parseUserLine(raw);
      return e === null ? null : [e[0], e[3]];
    }, {
      prunable: (raw) => parseUserLine(raw)?.[4] === false,
      maxPrunable: max,
      maxOther: OTHER_LINES_MAX,
    });
    const pruned = file.overBound;
    if (pruned > 0) await file.replace([...file.lines]);
    return new KnownUsers(file, pruned);
  }

  /** True when the pin of `name` on `hostPort` was accepted with `/trust`. */
  isVerified(hostPort: string, name: string): boolean {
    const hp = parseHostPort(hostPort);
    if (hp === null) return false;
    const key = entryKey(hp, name);
    for (const raw of this.#file.lines) {
      const e = parseUserLine(raw);
      if (e !== null && e[0] === key) return e[4];
    }
    return false;
  }

  /** The pinned fingerprint of `name` on `hostPort`, or `undefined`. */
  lookup(hostPort: string, name: string): string | undefined {
    const hp = parseHostPort(hostPort);
    return hp === null ? undefined : this.#file.get(entryKey(hp, name));
  }

  /**
   * Pins `fp` for `name` on `hostPort` on first use; a no-op if this pin exists. Throws
   * `ProtocolError("user_key_changed")` if a different pin exists (use {@link trust}),
   * `TypeError` for a malformed argument.
   */
  async pin(hostPort: string, name: string, fp: string): Promise<void> {
    const hp = checkArgs(hostPort, name, fp);
    await this.#file.reload();
    const old = this.#file.get(entryKey(hp, name));
    if (old === fp) return;
    if (old !== undefined) {
      throw new ProtocolError(
        "user_key_changed",
        `${name} on ${hp} is pinned to ${old}, not ${fp}; use /trust ${name} to accept it`,
      );
    }
    await this.#file.replace([...this.#file.lines, pinLine(hp, name, fp, false)]);
  }

  /**
   * Pins `fp` for `name` on `hostPort` as verified, replacing every earlier pin for that peer
   * (`/trust`). `TypeError` for a malformed argument.
   */
  async trust(hostPort: string, name: string, fp: string): Promise<void> {
    const hp = checkArgs(hostPort, name, fp);
    await this.#file.reload();
    const key = entryKey(hp, name);
    const line = pinLine(hp, name, fp, true);
    const out: Uint8Array[] = [];
    let placed = false;
    for (const raw of this.#file.lines) {
      if (this.#file.keyOf(raw) !== key) out.push(raw);
      else if (!placed) {
        out.push(line);
        placed = true;
      }
    }
    if (!placed) out.push(line);
    await this.#file.replace(out);
  }
}
