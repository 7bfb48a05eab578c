/**
 * Long-lived keys and their files: the server's Ed25519 host key and a client's identity
 * (Ed25519 signing key + RSA-OAEP-3072 key certified by it). Secret key files are created
 * exclusively with mode 0600 and refused when too open, corrupt or oversized; loading never
 * replaces an existing file.
 * @module
 */

import { bytesEqual, concat, decodeUtf8, fromBase64, toBase64, utf8 } from "./encoding.ts";
import {
  ed25519Generate,
  ed25519PublicRaw,
  ed25519Sign,
  ed25519Verify,
  fingerprint,
  randomBytes,
  rsaOaepDecrypt,
  rsaOaepEncrypt,
  rsaOaepGenerate,
  rsaOaepImportPrivate,
  rsaOaepImportPublic,
} from "./crypto.ts";

const subtle = globalThis.crypto.subtle;

/** Largest key file accepted, in bytes; checked before reading. */
export const KEY_FILE_MAX = 64 * 1024;

/** Length of an Ed25519 private key in PKCS#8 (RFC 8410) form. */
const ED25519_PKCS8_LEN = 48;
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
 * Reads a secret key file after checking type, size and permissions; `null` if it does not
 * exist. Throws `KeyFileError` for every other problem.
 */
async function readKeyFile(path: string): Promise<Uint8Array | null> {
  let info: Deno.FileInfo;
  try {
    // stat before open, so a FIFO or device is refused instead of blocking the open.
    info = await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw new KeyFileError(path, `cannot read: ${describe(e)}`, { cause: e });
  }
  const early = keyFileProblem(path, info);
  if (early !== null) throw new KeyFileError(path, early);
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw new KeyFileError(path, `cannot read: ${describe(e)}`, { cause: e });
  }
  try {
    const problem = keyFileProblem(path, await file.stat());
    if (problem !== null) throw new KeyFileError(path, problem);
    // Read at most one byte past the limit, so a file that grew since stat is still refused.
    const buf = new Uint8Array(KEY_FILE_MAX + 1);
    let n = 0;
    while (n < buf.length) {
      const got = await file.read(buf.subarray(n));
      if (got === null) break;
      n += got;
    }
    if (n > KEY_FILE_MAX) {
      throw new KeyFileError(path, `is larger than the ${KEY_FILE_MAX}-byte limit`);
    }
    return buf.slice(0, n);
  } catch (e) {
    if (e instanceof KeyFileError) throw e;
    throw new KeyFileError(path, `cannot read: ${describe(e)}`, { cause: e });
  } finally {
    file.close();
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

/** Decodes unpadded base64url (as JWK uses). */
function fromBase64Url(text: string): Uint8Array {
  const std = text.replace(/-/g, "+").replace(/_/g, "/");
  return fromBase64(std + "=".repeat((4 - std.length % 4) % 4));
}

/** Exports a key as PKCS#8; `TypeError` if it is not extractable. */
async function exportPkcs8(key: CryptoKey, what: string): Promise<Uint8Array> {
  if (!key.extractable) throw new TypeError(`${what} is not extractable and cannot be saved`);
  return new Uint8Array(await subtle.exportKey("pkcs8", key));
}

/** Imports an Ed25519 PKCS#8 key: the non-extractable private key and its raw public key. */
async function importEd25519(pkcs8: Uint8Array): Promise<{ priv: CryptoKey; pub: Uint8Array }> {
  const data = new Uint8Array(pkcs8);
  const temp = await subtle.importKey("pkcs8", data, { name: "Ed25519" }, true, ["sign"]);
  const jwk = await subtle.exportKey("jwk", temp);
  if (typeof jwk.x !== "string") throw new TypeError("Ed25519 key has no public part");
  const pub = fromBase64Url(jwk.x);
  const priv = await subtle.importKey("pkcs8", data, { name: "Ed25519" }, false, ["sign"]);
  return { priv, pub };
}

/** True iff `priv` signs a fresh test message that `pub` verifies. */
async function ed25519Matches(priv: CryptoKey, pub: Uint8Array): Promise<boolean> {
  const probe = concat(utf8.encode("chat/1 key check\0"), randomBytes(32));
  return await ed25519Verify(pub, await ed25519Sign(priv, probe), probe);
}

/** SPKI of the public half of an RSA PKCS#8 private key. */
async function rsaSpkiFromPkcs8(pkcs8: Uint8Array): Promise<Uint8Array> {
  const alg = { name: "RSA-OAEP", hash: "SHA-256" };
  const temp = await subtle.importKey("pkcs8", new Uint8Array(pkcs8), alg, true, ["decrypt"]);
  const jwk = await subtle.exportKey("jwk", temp);
  const pub = await subtle.importKey(
    "jwk",
    { kty: "RSA", n: jwk.n, e: jwk.e, alg: jwk.alg, ext: true },
    alg,
    true,
    ["encrypt"],
  );
  return new Uint8Array(await subtle.exportKey("spki", pub));
}

// ---------------------------------------------------------------------------------------------
// Host key

/** The server's long-lived Ed25519 host key. */
export interface HostKey {
  /** Ed25519 private key; non-extractable once loaded from its file. */
  privateKey: CryptoKey;
  /** Raw 32-byte public key, as sent in ServerHello. */
  publicRaw: Uint8Array;
  /** `fp(publicRaw)`, `SHA256:…`. */
  fingerprint: string;
}

const HOST_KIND = "chat host key";
const HOST_FIELDS = ["ed25519_pkcs8", "public"] as const;

/** Decodes and checks a host key file's bytes; `KeyFileError` naming `path` on any problem. */
async function decodeHostKey(path: string, bytes: Uint8Array): Promise<HostKey> {
  const f = parseKeyJson(path, bytes, HOST_KIND, HOST_FIELDS);
  checkLength(path, "ed25519_pkcs8", f.ed25519_pkcs8, ED25519_PKCS8_LEN);
  checkLength(path, "public", f.public, 32);
  let key: { priv: CryptoKey; pub: Uint8Array };
  try {
    key = await importEd25519(f.ed25519_pkcs8);
  } catch (e) {
    throw new KeyFileError(path, "is corrupt: the private key does not import", { cause: e });
  }
  if (!bytesEqual(key.pub, f.public) || !(await ed25519Matches(key.priv, f.public))) {
    throw new KeyFileError(path, "is corrupt: the public key does not match the private key");
  }
  return { privateKey: key.priv, publicRaw: f.public, fingerprint: await fingerprint(f.public) };
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
  if (existing !== null) return { key: await decodeHostKey(path, existing), created: false };
  const pair = await ed25519Generate(true);
  const bytes = encodeKeyJson(HOST_KIND, {
    ed25519_pkcs8: await exportPkcs8(pair.privateKey, "host key"),
    public: await ed25519PublicRaw(pair.publicKey),
  });
  try {
    await writeKeyFileExclusive(path, bytes);
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    // Another process created it first: use that one.
    const raced = await readKeyFile(path);
    if (raced === null) throw new KeyFileError(path, "vanished while being created", { cause: e });
    return { key: await decodeHostKey(path, raced), created: false };
  }
  return { key: await decodeHostKey(path, bytes), created: true };
}

// ---------------------------------------------------------------------------------------------
// Identity

/** Domain-separation prefix of the signature that certifies a `kem` key. */
export const KEM_SIG_CONTEXT: Uint8Array = utf8.encode("chat/1 kem key\0");

/** Ed25519(`sigPrivate`, `"chat/1 kem key\0"` ‖ `spki`): certifies a `kem` public key. */
export async function signKem(sigPrivate: CryptoKey, spki: Uint8Array): Promise<Uint8Array> {
  return await ed25519Sign(sigPrivate, concat(KEM_SIG_CONTEXT, spki));
}

/** True iff `sig` is a valid {@link signKem} signature of `spki` by raw key `sigPublicRaw`. */
export async function verifyKem(
  sigPublicRaw: Uint8Array,
  spki: Uint8Array,
  sig: Uint8Array,
): Promise<boolean> {
  return await ed25519Verify(sigPublicRaw, sig, concat(KEM_SIG_CONTEXT, spki));
}

/** A client's identity: Ed25519 signing key and RSA-OAEP-3072 key certified by it. */
export interface Identity {
  /** Ed25519 private key; extractable only straight after {@link createIdentity}. */
  sigPrivate: CryptoKey;
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
 * private keys are extractable so that {@link saveIdentity} can write them; use the identity
 * returned by {@link loadIdentity} afterwards.
 */
export async function createIdentity(): Promise<Identity> {
  const [sig, kem] = await Promise.all([ed25519Generate(true), rsaOaepGenerate()]);
  const sigPublic = await ed25519PublicRaw(sig.publicKey);
  const kemPublic = new Uint8Array(await subtle.exportKey("spki", kem.publicKey));
  return {
    sigPrivate: sig.privateKey,
    sigPublic,
    kemPrivate: kem.privateKey,
    kemPublic,
    kemSig: await signKem(sig.privateKey, kemPublic),
    fingerprint: await fingerprint(sigPublic),
  };
}

/**
 * Writes `identity` to a new file at `path` (mode 0600, parent 0700). Throws
 * `Deno.errors.AlreadyExists` if `path` exists, `TypeError` if a private key is not extractable.
 */
export async function saveIdentity(path: string, identity: Identity): Promise<void> {
  const bytes = encodeKeyJson(IDENTITY_KIND, {
    ed25519_pkcs8: await exportPkcs8(identity.sigPrivate, "identity signing key"),
    rsa_pkcs8: await exportPkcs8(identity.kemPrivate, "identity kem key"),
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
  let sig: { priv: CryptoKey; pub: Uint8Array };
  try {
    sig = await importEd25519(f.ed25519_pkcs8);
  } catch (e) {
    throw new KeyFileError(path, "is corrupt: the signing key does not import", { cause: e });
  }
  if (!(await ed25519Matches(sig.priv, sig.pub))) {
    throw new KeyFileError(path, "is corrupt: the signing key is inconsistent");
  }
  let kemPublic: Uint8Array;
  let kemPrivate: CryptoKey;
  try {
    kemPublic = await rsaSpkiFromPkcs8(f.rsa_pkcs8);
    const pub = await rsaOaepImportPublic(kemPublic); // 3072 bits, e = 65537
    kemPrivate = await rsaOaepImportPrivate(f.rsa_pkcs8);
    const label = utf8.encode("chat/1 key check");
    const probe = randomBytes(32);
    const back = await rsaOaepDecrypt(kemPrivate, await rsaOaepEncrypt(pub, probe, label), label);
    if (!bytesEqual(back, probe)) throw new TypeError("RSA key pair is inconsistent");
  } catch (e) {
    throw new KeyFileError(path, `is corrupt: bad kem key (${describe(e)})`, { cause: e });
  }
  if (!(await verifyKem(sig.pub, kemPublic, f.kem_sig))) {
    throw new KeyFileError(path, "is corrupt: kem_sig does not verify");
  }
  return {
    sigPrivate: sig.priv,
    sigPublic: sig.pub,
    kemPrivate,
    kemPublic,
    kemSig: f.kem_sig,
    fingerprint: await fingerprint(sig.pub),
  };
}

/**
 * Loads the identity at `path`; its private keys are non-extractable. `KeyFileError` if the file
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
