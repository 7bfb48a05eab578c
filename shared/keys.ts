/**
 * Long-lived keys and their files: the server's Ed25519 host key and a client's identity
 * (Ed25519 signing key + RSA-OAEP-3072 key certified by it). Secret key files are created
 * exclusively with mode 0600 and refused when too open, corrupt or oversized; loading never
 * replaces an existing file.
 * @module
 */

import { bytesEqual, concat, decodeUtf8, fromBase64, toBase64, utf8 } from "./encoding.ts";
import { readRegularFile } from "./safe_file.ts";
import {
  ED25519_PKCS8_LEN,
  ed25519ExportPkcs8,
  ed25519Generate,
  ed25519ImportPkcs8,
  ed25519Sign,
  ed25519Verify,
  fingerprint,
  type KeyObject,
  randomBytes,
  rsaOaepDecrypt,
  rsaOaepEncrypt,
  rsaOaepExportPkcs8,
  rsaOaepExportSpki,
  rsaOaepGenerate,
  rsaOaepImportPrivate,
  rsaOaepImportPublic,
  rsaOaepPublicOfPkcs8,
} from "./crypto.ts";

/** Largest key file accepted, in bytes; checked before reading. */
export const KEY_FILE_MAX = 64 * 1024;

/** Bounds on the PKCS#8 encoding of an RSA-3072 private key. */
const RSA_PKCS8_MIN = 1024;
const RSA_PKCS8_MAX = 4096;

/** A key file that is refused: unreadable, too open, oversized, corrupt or inconsistent. */
export class KeyFileError extends Error {
  /** The file that was refused. */
  readonly path: string;
  /** Creates an error whose message starts with `path`. */
  constructor(path: string, message: string, options?: ErrorOptions) {
    super(`key file ${path}: ${message}`, options);
    this.name = "KeyFileError";
    this.path = path;
  }
}

// ---------------------------------------------------------------------------------------------
// File I/O

/** The parts of a `Deno.FileInfo` that decide whether a key file may be read. */
interface KeyFileInfo {
  isFile: boolean;
  size: number;
  mode: number | null;
}

/** Why a key file with `info` must be refused, or `null`; group/other bits ignored on Windows. */
function keyFileProblem(path: string, info: KeyFileInfo): string | null {
  if (!info.isFile) return "is not a regular file";
  if (info.size > KEY_FILE_MAX) {
    return `is ${info.size} bytes, larger than the ${KEY_FILE_MAX}-byte limit`;
  }
  if (Deno.build.os !== "windows" && info.mode !== null && (info.mode & 0o077) !== 0) {
    const perms = (info.mode & 0o777).toString(8).padStart(4, "0");
    return `permissions ${perms} are too open: other users could read the private key; ` +
      `run: chmod 600 '${path}'`;
  }
  return null;
}

/** One-line description of an unknown thrown value. */
function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Reads a secret key file after checking type, size and permissions (before opening and on the
 * open file, through `readRegularFile`); `null` if it does not exist. Throws `KeyFileError` for
 * every other problem.
 */
async function readKeyFile(path: string): Promise<Uint8Array | null> {
  try {
    return await readRegularFile(path, KEY_FILE_MAX, (info) => {
      const problem = keyFileProblem(path, info);
      if (problem !== null) throw new KeyFileError(path, problem);
    });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    if (e instanceof KeyFileError) throw e;
    if (e instanceof RangeError) {
      throw new KeyFileError(path, `is larger than the ${KEY_FILE_MAX}-byte limit`);
    }
    throw new KeyFileError(path, `cannot read: ${describe(e)}`, { cause: e });
  }
}

/** Parent directory of `path` (separator `/` or `\`), or `null` if it has none. */
function parentDir(path: string): string | null {
  const i = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  if (i < 0) return null;
  return i === 0 ? path.slice(0, 1) : path.slice(0, i);
}

/** Best-effort fsync of a directory, so a new entry in it survives a crash. */
async function syncDir(dir: string): Promise<void> {
  if (Deno.build.os === "windows") return;
  try {
    const d = await Deno.open(dir, { read: true });
    try {
      await d.sync();
    } finally {
      d.close();
    }
  } catch {
    // Not every file system lets a directory be synced; the file itself is synced already.
  }
}

/**
 * Creates `path` exclusively with mode 0600 (parent directories 0700), writes `data`, and fsyncs.
 * Throws `Deno.errors.AlreadyExists` if `path` exists (it is never replaced); a partly written
 * file is removed again.
 */
export async function writeKeyFileExclusive(path: string, data: Uint8Array): Promise<void> {
  const dir = parentDir(path);
  if (dir !== null) await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const file = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
  let ok = false;
  try {
    if (Deno.build.os !== "windows") await Deno.chmod(path, 0o600); // whatever the umask
    let n = 0;
    while (n < data.length) n += await file.write(data.subarray(n));
    await file.sync();
    ok = true;
  } finally {
    file.close();
    if (!ok) await Deno.remove(path).catch(() => {});
  }
  if (dir !== null) await syncDir(dir);
}

// ---------------------------------------------------------------------------------------------
// JSON shape

/** Parses a key file's JSON: exactly `v`, `kind` and `fields`, each field a base64 string. */
function parseKeyJson(
  path: string,
  bytes: Uint8Array,
  kind: string,
  fields: readonly string[],
): Record<string, Uint8Array> {
  let value: unknown;
  try {
    value = JSON.parse(decodeUtf8(bytes));
  } catch (e) {
    throw new KeyFileError(path, "is corrupt: not valid JSON", { cause: e });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new KeyFileError(path, "is corrupt: not a JSON object");
  }
  const obj = value as Record<string, unknown>;
  if (obj.v !== 1) throw new KeyFileError(path, `has unsupported version ${JSON.stringify(obj.v)}`);
  if (obj.kind !== kind) {
    throw new KeyFileError(path, `is not a ${kind} (kind ${JSON.stringify(obj.kind)})`);
  }
  const expected = new Set(["v", "kind", ...fields]);
  for (const k of Object.keys(obj)) {
    if (!expected.has(k)) throw new KeyFileError(path, `is corrupt: unknown field "${k}"`);
  }
  const out: Record<string, Uint8Array> = {};
  for (const f of fields) {
    const text = obj[f];
    if (typeof text !== "string") throw new KeyFileError(path, `is corrupt: "${f}" missing`);
    try {
      out[f] = fromBase64(text);
    } catch (e) {
      throw new KeyFileError(path, `is corrupt: "${f}" is not base64`, { cause: e });
    }
  }
  return out;
}

/** Checks a decoded field's length against `[min, max]`. */
function checkLength(path: string, name: string, b: Uint8Array, min: number, max = min): void {
  if (b.length < min || b.length > max) {
    const want = min === max ? `${min}` : `${min}–${max}`;
    throw new KeyFileError(path, `is corrupt: "${name}" is ${b.length} bytes, expected ${want}`);
  }
}

/** Serialises a key file as one line of JSON with a trailing newline. */
function encodeKeyJson(kind: string, fields: Record<string, Uint8Array>): Uint8Array {
  const obj: Record<string, unknown> = { v: 1, kind };
  for (const [k, v] of Object.entries(fields)) obj[k] = toBase64(v);
  return utf8.encode(JSON.stringify(obj) + "\n");
}

// ---------------------------------------------------------------------------------------------
// Key material

/** True iff `priv` signs a fresh test message that `pub` verifies. */
function ed25519Matches(priv: KeyObject, pub: Uint8Array): boolean {
  const probe = concat(utf8.encode("chat/1 key check\0"), randomBytes(32));
  return ed25519Verify(pub, ed25519Sign(priv, probe), probe);
}

// ---------------------------------------------------------------------------------------------
// Host key

/** The server's long-lived Ed25519 host key. */
export interface HostKey {
  /** Ed25519 private key. */
  privateKey: KeyObject;
  /** Raw 32-byte public key, as sent in ServerHello. */
  publicRaw: Uint8Array;
  /** `fp(publicRaw)`, `SHA256:…`. */
  fingerprint: string;
}

const HOST_KIND = "chat host key";
const HOST_FIELDS = ["ed25519_pkcs8", "public"] as const;

/** Decodes and checks a host key file's bytes; `KeyFileError` naming `path` on any problem. */
function decodeHostKey(path: string, bytes: Uint8Array): HostKey {
  const f = parseKeyJson(path, bytes, HOST_KIND, HOST_FIELDS);
  checkLength(path, "ed25519_pkcs8", f.ed25519_pkcs8, ED25519_PKCS8_LEN);
  checkLength(path, "public", f.public, 32);
  let key: { privateKey: KeyObject; publicRaw: Uint8Array };
  try {
    key = ed25519ImportPkcs8(f.ed25519_pkcs8);
  } catch (e) {
    throw new KeyFileError(path, "is corrupt: the private key does not import", { cause: e });
  }
  if (!bytesEqual(key.publicRaw, f.public) || !ed25519Matches(key.privateKey, f.public)) {
    throw new KeyFileError(path, "is corrupt: the public key does not match the private key");
  }
  return { privateKey: key.privateKey, publicRaw: f.public, fingerprint: fingerprint(f.public) };
}

/**
 * Loads the host key from `${dir}/host_key`, or creates it (mode 0600, directory 0700) if the
 * file does not exist. An existing file is never replaced: a bad one throws `KeyFileError`.
 */
export async function loadOrCreateHostKey(
  dir: string,
): Promise<{ key: HostKey; created: boolean }> {
  const path = `${dir.replace(/[\\/]+$/, "")}/host_key`;
  const existing = await readKeyFile(path);
  if (existing !== null) return { key: decodeHostKey(path, existing), created: false };
  try {
    return { key: await createHostKeyFile(path), created: true };
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    // Another process created it first: use that one.
    const raced = await readKeyFile(path);
    if (raced === null) throw new KeyFileError(path, "vanished while being created", { cause: e });
    return { key: decodeHostKey(path, raced), created: false };
  }
}

/**
 * Creates a new host key file at `path` (mode 0600, parent directories 0700) and returns the
 * key. Throws `Deno.errors.AlreadyExists` if `path` exists: it is never replaced.
 */
export async function createHostKeyFile(path: string): Promise<HostKey> {
  const pair = ed25519Generate();
  const bytes = encodeKeyJson(HOST_KIND, {
    ed25519_pkcs8: ed25519ExportPkcs8(pair.privateKey),
    public: pair.publicRaw,
  });
  await writeKeyFileExclusive(path, bytes);
  return decodeHostKey(path, bytes);
}

/**
 * Loads the host key file at `path` (`chat server --host-key`, the same file for every node of
 * a cluster). It must be a regular file of at most {@link KEY_FILE_MAX} bytes that only its
 * owner can read or write (mode 0600 or stricter); `KeyFileError` otherwise, also when it does
 * not exist. Never creates or changes the file.
 */
export async function loadHostKey(path: string): Promise<HostKey> {
  const bytes = await readKeyFile(path);
  if (bytes === null) {
    throw new KeyFileError(path, "does not exist (create one with: chat keys host-key FILE)", {
      cause: new Deno.errors.NotFound(path),
    });
  }
  return decodeHostKey(path, bytes);
}

// ---------------------------------------------------------------------------------------------
// Identity

/** Domain-separation prefix of the signature that certifies a `kem` key. */
export const KEM_SIG_CONTEXT: Uint8Array = utf8.encode("chat/1 kem key\0");

/** Ed25519(`sigPrivate`, `"chat/1 kem key\0"` ‖ `spki`): certifies a `kem` public key. */
export function signKem(sigPrivate: KeyObject, spki: Uint8Array): Uint8Array {
  return ed25519Sign(sigPrivate, concat(KEM_SIG_CONTEXT, spki));
}

/** True iff `sig` is a valid {@link signKem} signature of `spki` by raw key `sigPublicRaw`. */
export function verifyKem(
  sigPublicRaw: Uint8Array,
  spki: Uint8Array,
  sig: Uint8Array,
): boolean {
  return ed25519Verify(sigPublicRaw, sig, concat(KEM_SIG_CONTEXT, spki));
}

/** A client's identity: Ed25519 signing key and RSA-OAEP-3072 key certified by it. */
export interface Identity {
  /** Ed25519 private key. */
  sigPrivate: KeyObject;
  /** Raw 32-byte Ed25519 public key. */
  sigPublic: Uint8Array;
  /** RSA-OAEP-3072 (SHA-256) private key; extractable only straight after {@link createIdentity}. */
  kemPrivate: CryptoKey;
  /** RSA-OAEP public key, SPKI DER. */
  kemPublic: Uint8Array;
  /** {@link signKem}(sigPrivate, kemPublic). */
  kemSig: Uint8Array;
  /** Identity fingerprint `fp(sigPublic)`. */
  fingerprint: string;
}

const IDENTITY_KIND = "chat identity";
const IDENTITY_FIELDS = ["ed25519_pkcs8", "rsa_pkcs8", "kem_sig"] as const;

/**
 * Generates a new identity (Ed25519 + RSA-OAEP-3072; the RSA part takes up to seconds). Its
 * RSA private key is extractable so that {@link saveIdentity} can write it; use the identity
 * returned by {@link loadIdentity} afterwards.
 */
export async function createIdentity(): Promise<Identity> {
  const kem = await rsaOaepGenerate();
  const sig = ed25519Generate();
  const kemPublic = await rsaOaepExportSpki(kem.publicKey);
  return {
    sigPrivate: sig.privateKey,
    sigPublic: sig.publicRaw,
    kemPrivate: kem.privateKey,
    kemPublic,
    kemSig: signKem(sig.privateKey, kemPublic),
    fingerprint: fingerprint(sig.publicRaw),
  };
}

/**
 * Writes `identity` to a new file at `path` (mode 0600, parent 0700). Throws
 * `Deno.errors.AlreadyExists` if `path` exists, `TypeError` if a private key is not extractable.
 */
export async function saveIdentity(path: string, identity: Identity): Promise<void> {
  const bytes = encodeKeyJson(IDENTITY_KIND, {
    ed25519_pkcs8: ed25519ExportPkcs8(identity.sigPrivate),
    rsa_pkcs8: await rsaOaepExportPkcs8(identity.kemPrivate),
    kem_sig: identity.kemSig,
  });
  await writeKeyFileExclusive(path, bytes);
}

/** Decodes and checks an identity file's bytes; `KeyFileError` naming `path` on any problem. */
async function decodeIdentity(path: string, bytes: Uint8Array): Promise<Identity> {
  const f = parseKeyJson(path, bytes, IDENTITY_KIND, IDENTITY_FIELDS);
  checkLength(path, "ed25519_pkcs8", f.ed25519_pkcs8, ED25519_PKCS8_LEN);
  checkLength(path, "rsa_pkcs8", f.rsa_pkcs8, RSA_PKCS8_MIN, RSA_PKCS8_MAX);
  checkLength(path, "kem_sig", f.kem_sig, 64);
  let sig: { privateKey: KeyObject; publicRaw: Uint8Array };
  try {
    sig = ed25519ImportPkcs8(f.ed25519_pkcs8);
  } catch (e) {
    throw new KeyFileError(path, "is corrupt: the signing key does not import", { cause: e });
  }
  if (!ed25519Matches(sig.privateKey, sig.publicRaw)) {
    throw new KeyFileError(path, "is corrupt: the signing key is inconsistent");
  }
  let kemPublic: Uint8Array;
  let kemPrivate: CryptoKey;
  try {
    kemPublic = await rsaOaepPublicOfPkcs8(f.rsa_pkcs8);
    const pub = await rsaOaepImportPublic(kemPublic); // 3072 bits, e = 65537
    kemPrivate = await rsaOaepImportPrivate(f.rsa_pkcs8);
    const label = utf8.encode("chat/1 key check");
    const probe = randomBytes(32);
    const back = await rsaOaepDecrypt(kemPrivate, await rsaOaepEncrypt(pub, probe, label), label);
    if (!bytesEqual(back, probe)) throw new TypeError("RSA key pair is inconsistent");
  } catch (e) {
    throw new KeyFileError(path, `is corrupt: bad kem key (${describe(e)})`, { cause: e });
  }
  if (!verifyKem(sig.publicRaw, kemPublic, f.kem_sig)) {
    throw new KeyFileError(path, "is corrupt: kem_sig does not verify");
  }
  return {
    sigPrivate: sig.privateKey,
    sigPublic: sig.publicRaw,
    kemPrivate,
    kemPublic,
    kemSig: f.kem_sig,
    fingerprint: fingerprint(sig.publicRaw),
  };
}

/**
 * Loads the identity at `path`; its RSA private key is non-extractable. `KeyFileError` if the file
 * is missing, unreadable, too open, oversized, corrupt or inconsistent.
 */
export async function loadIdentity(path: string): Promise<Identity> {
  const bytes = await readKeyFile(path);
  if (bytes === null) {
    throw new KeyFileError(path, "does not exist", { cause: new Deno.errors.NotFound(path) });
  }
  return await decodeIdentity(path, bytes);
}

/** Loads the identity at `path`, or `null` if the file does not exist; otherwise as {@link loadIdentity}. */
export async function loadIdentityIfExists(path: string): Promise<Identity | null> {
  const bytes = await readKeyFile(path);
  return bytes === null ? null : await decodeIdentity(path, bytes);
}
