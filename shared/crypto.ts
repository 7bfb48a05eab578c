/**
 * Every cryptographic call of chat/1, as thin wrappers: SHA-256, HKDF-SHA-256, X25519, Ed25519,
 * AES-256-GCM and ChaCha20-Poly1305 through `node:crypto` (synchronous), RSA-OAEP-3072 through
 * WebCrypto, and large AES-256-GCM seals through WebCrypto too ({@link aesGcmSealLater}: cheaper
 * per byte in this runtime). No primitive is implemented here. Private keys are `KeyObject`s
 * that are exported only by {@link ed25519ExportPkcs8}, for saving to a key file.
 * @module
 */

import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
  sign,
  timingSafeEqual,
  verify,
} from "node:crypto";
import { Buffer } from "node:buffer";
import { concat, fromHex, toBase64 } from "./encoding.ts";
import { ProtocolError } from "./errors.ts";

export type { KeyObject };

const subtle = globalThis.crypto.subtle;

/** Returns `b` itself when it is backed by an `ArrayBuffer`, else a copy that is. */
function buf(b: Uint8Array): Uint8Array<ArrayBuffer> {
  return b.buffer instanceof ArrayBuffer ? b as Uint8Array<ArrayBuffer> : new Uint8Array(b);
}

/** A `Buffer` over `parts` joined (what `node:crypto` wants for DER input). */
function der(...parts: Uint8Array[]): Buffer {
  const b = concat(...parts);
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** A plain `Uint8Array` view of the bytes of a `Buffer` (no copy). */
function view(b: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(b.buffer as ArrayBuffer, b.byteOffset, b.byteLength);
}

/** SHA-256 digest of `data` (32 bytes). */
export function sha256(data: Uint8Array): Uint8Array<ArrayBuffer> {
  return view(createHash("sha256").update(data).digest());
}

/** Largest HKDF-SHA-256 output: 255 blocks of 32 bytes. */
const HKDF_MAX = 255 * 32;

/**
 * HKDF-SHA-256 (extract and expand) of `length` bytes; `RangeError` unless
 * 0 ≤ `length` ≤ 8160.
 */
export function hkdfSha256(
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array,
  length: number,
): Uint8Array<ArrayBuffer> {
  if (!Number.isInteger(length) || length < 0 || length > HKDF_MAX) {
    throw new RangeError(`HKDF length out of range: ${length}`);
  }
  if (length === 0) return new Uint8Array(0);
  return new Uint8Array(hkdfSync("sha256", ikm, salt, info, length));
}

// DER prefixes (RFC 8410) that turn a raw 32-byte key into SPKI or PKCS#8.
const X25519_SPKI = fromHex("302a300506032b656e032100");
const X25519_PKCS8 = fromHex("302e020100300506032b656e04220420");
const ED25519_SPKI = fromHex("302a300506032b6570032100");
const ED25519_PKCS8 = fromHex("302e020100300506032b657004220420");

/** The raw 32 bytes of an X25519 or Ed25519 public key (the tail of its SPKI). */
function rawPublic(key: KeyObject): Uint8Array<ArrayBuffer> {
  const spki = key.export({ format: "der", type: "spki" });
  return new Uint8Array(spki.subarray(spki.length - 32));
}

/** An X25519 key pair: the private key and the raw 32-byte public key. */
export interface X25519Pair {
  /** Private key, used only by {@link x25519Shared}. */
  privateKey: KeyObject;
  /** Raw public key, 32 bytes. */
  publicKey: Uint8Array<ArrayBuffer>;
}

/** Generates an ephemeral X25519 pair. */
export function x25519Generate(): X25519Pair {
  const pair = generateKeyPairSync("x25519");
  return { privateKey: pair.privateKey, publicKey: rawPublic(pair.publicKey) };
}

/** Imports a raw 32-byte X25519 private scalar; for tests and vectors. `RangeError` unless 32 bytes. */
export function x25519ImportPrivate(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) {
    throw new RangeError(`X25519 private key must be 32 bytes, got ${raw.length}`);
  }
  return createPrivateKey({ key: der(X25519_PKCS8, raw), format: "der", type: "pkcs8" });
}

/**
 * X25519 shared secret (32 bytes) of `privateKey` and the raw `peerPublic`. Throws
 * `ProtocolError("bad_key_share")` if `peerPublic` is not 32 bytes, is refused by the library
 * (e.g. a low-order point), or the shared secret is all zero.
 */
export function x25519Shared(
  privateKey: KeyObject,
  peerPublic: Uint8Array,
): Uint8Array<ArrayBuffer> {
  if (peerPublic.length !== 32) {
    throw new ProtocolError("bad_key_share", `X25519 public key must be 32 bytes`);
  }
  let shared: Uint8Array<ArrayBuffer>;
  try {
    const publicKey = createPublicKey({
      key: der(X25519_SPKI, peerPublic),
      format: "der",
      type: "spki",
    });
    shared = view(diffieHellman({ privateKey, publicKey }));
  } catch (e) {
    throw new ProtocolError("bad_key_share", "X25519 key agreement failed", { cause: e });
  }
  let acc = 0;
  for (let i = 0; i < shared.length; i++) acc |= shared[i]; // no iterator: once per handshake
  if (acc === 0) throw new ProtocolError("bad_key_share", "X25519 shared secret is all zero");
  return shared;
}

/** An Ed25519 pair: the private key and the raw 32-byte public key. */
export interface Ed25519Pair {
  /** Private key, for signing. */
  privateKey: KeyObject;
  /** Raw public key, 32 bytes. */
  publicRaw: Uint8Array<ArrayBuffer>;
}

/** Generates an Ed25519 pair. */
export function ed25519Generate(): Ed25519Pair {
  const pair = generateKeyPairSync("ed25519");
  return { privateKey: pair.privateKey, publicRaw: rawPublic(pair.publicKey) };
}

/** Length of an Ed25519 private key in PKCS#8 (RFC 8410) form. */
export const ED25519_PKCS8_LEN = 48;

/**
 * Imports an Ed25519 private key from its 48-byte PKCS#8 form and derives its raw public key.
 * `TypeError` if it does not parse as an Ed25519 private key.
 */
export function ed25519ImportPkcs8(pkcs8: Uint8Array): Ed25519Pair {
  let privateKey: KeyObject;
  try {
    if (pkcs8.length !== ED25519_PKCS8_LEN) throw new RangeError("wrong length");
    privateKey = createPrivateKey({ key: der(pkcs8), format: "der", type: "pkcs8" });
  } catch (e) {
    throw new TypeError("invalid Ed25519 private key", { cause: e });
  }
  if (privateKey.asymmetricKeyType !== "ed25519") throw new TypeError("not an Ed25519 key");
  return { privateKey, publicRaw: rawPublic(createPublicKey(privateKey)) };
}

/** The Ed25519 pair of a 32-byte seed (RFC 8032 private key); `RangeError` unless 32 bytes. */
export function ed25519FromSeed(seed: Uint8Array): Ed25519Pair {
  if (seed.length !== 32) throw new RangeError(`Ed25519 seed must be 32 bytes, got ${seed.length}`);
  const pkcs8 = concat(ED25519_PKCS8, seed);
  try {
    return ed25519ImportPkcs8(pkcs8);
  } finally {
    pkcs8.fill(0);
  }
}

/** The 48-byte PKCS#8 form of an Ed25519 private key: the one export, for saving to a key file. */
export function ed25519ExportPkcs8(privateKey: KeyObject): Uint8Array<ArrayBuffer> {
  if (privateKey.type !== "private" || privateKey.asymmetricKeyType !== "ed25519") {
    throw new TypeError("not an Ed25519 private key");
  }
  return new Uint8Array(privateKey.export({ format: "der", type: "pkcs8" }));
}

/** Imports a raw Ed25519 public key; `RangeError` unless 32 bytes. */
export function ed25519ImportPublic(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) {
    throw new RangeError(`Ed25519 public key must be 32 bytes, got ${raw.length}`);
  }
  return createPublicKey({ key: der(ED25519_SPKI, raw), format: "der", type: "spki" });
}

/** Ed25519 signature (64 bytes) of `data`. */
export function ed25519Sign(privateKey: KeyObject, data: Uint8Array): Uint8Array<ArrayBuffer> {
  return view(sign(null, data, privateKey));
}

/**
 * Verifies an Ed25519 `signature` over `data` with a key or raw 32-byte public key. Never throws:
 * a wrong-sized key or signature, an unusable key, or a bad signature gives `false`.
 */
export function ed25519Verify(
  publicKey: KeyObject | Uint8Array,
  signature: Uint8Array,
  data: Uint8Array,
): boolean {
  if (signature.length !== 64) return false;
  try {
    const key = publicKey instanceof Uint8Array
      ? (publicKey.length === 32 ? ed25519ImportPublic(publicKey) : null)
      : publicKey;
    if (key === null || key.asymmetricKeyType !== "ed25519") return false;
    return verify(null, data, key, signature);
  } catch {
    return false;
  }
}

/** The record and envelope ciphers, by their `node:crypto` names. */
export type AeadCipher = "aes-256-gcm" | "chacha20-poly1305";

/** Tag length of both AEADs, in bytes. */
export const AEAD_TAG_BYTES = 16;

/** The bytes of a key, for this module's ciphers only. */
let keyBytes: (key: AeadKey) => Uint8Array;
/** Wraps bytes this module owns (not copied). */
let wrapKey: (raw: Uint8Array) => AeadKey;
/** The key's WebCrypto twin (AES-GCM), or the promise of it: the first call imports it. */
let webKey: (key: AeadKey) => CryptoKey | Promise<CryptoKey>;
/** Lets go of the key's WebCrypto twin (unless being imported). */
let dropWebKey: (key: AeadKey) => void;

/**
 * A 32-byte AEAD key, opaque outside this module: it can only seal and open. Its bytes are kept
 * here rather than in a `KeyObject`: `node:crypto` hands a secret `KeyObject`'s bytes to every
 * cipher it makes anyway, and each one costs about 0.5 KiB (every connection holds two).
 */
export class AeadKey {
  readonly #raw: Uint8Array;
  /** The same key in WebCrypto (AES-GCM, encrypt only), imported on first need. */
  #web: CryptoKey | Promise<CryptoKey> | undefined = undefined;
  private constructor(raw: Uint8Array) {
    this.#raw = raw;
  }
  static {
    keyBytes = (key) => key.#raw;
    wrapKey = (raw) => new AeadKey(raw);
    webKey = (key) => {
      if (key.#web !== undefined) return key.#web;
      const p = subtle.importKey("raw", buf(key.#raw), "AES-GCM", false, ["encrypt"]);
      key.#web = p;
      p.then((k) => {
        if (key.#web === p) key.#web = k;
      }, () => {
        if (key.#web === p) key.#web = undefined; // tried again on the next use
      });
      return p;
    };
    dropWebKey = (key) => {
      if (!(key.#web instanceof Promise)) key.#web = undefined;
    };
  }
}

/** Imports a raw 32-byte AEAD key (either cipher), copied; `RangeError` unless 32 bytes. */
export function aeadImport(raw: Uint8Array): AeadKey {
  if (raw.length !== 32) throw new RangeError(`AEAD key must be 32 bytes, got ${raw.length}`);
  return wrapKey(raw.slice());
}

/**
 * Imports the two 32-byte AEAD keys at the start of `raw` (64 bytes or more) into one buffer of
 * their own; `RangeError` when shorter.
 */
export function aeadImportPair(raw: Uint8Array): [AeadKey, AeadKey] {
  if (raw.length < 64) throw new RangeError(`two AEAD keys need 64 bytes, got ${raw.length}`);
  const both = raw.slice(0, 64);
  return [wrapKey(both.subarray(0, 32)), wrapKey(both.subarray(32, 64))];
}

/**
 * Seals `plaintext` with `cipher` under `key`: returns ciphertext ‖ 16-byte tag. `RangeError`
 * unless `nonce` is 12 bytes.
 */
export function aeadSeal(
  cipher: AeadCipher,
  key: AeadKey,
  nonce: Uint8Array,
  aad: Uint8Array,
  plaintext: Uint8Array,
): Uint8Array<ArrayBuffer> {
  if (nonce.length !== 12) throw new RangeError(`AEAD nonce must be 12 bytes, got ${nonce.length}`);
  // Both ciphers take the same options; the cast picks the AEAD overload's types.
  const c = createCipheriv(cipher as "aes-256-gcm", keyBytes(key), nonce, {
    authTagLength: AEAD_TAG_BYTES,
  });
  c.setAAD(aad);
  const body = c.update(plaintext);
  const tail = c.final();
  const tag = c.getAuthTag();
  const out = new Uint8Array(body.length + tail.length + tag.length);
  out.set(body, 0);
  out.set(tail, body.length);
  out.set(tag, body.length + tail.length);
  return out;
}

/**
 * Plaintexts of at least this many bytes are worth {@linkcode aesGcmSealLater}. Measured here
 * (process CPU per seal): `node:crypto` ≈ 10 µs + 13 ns per byte, WebCrypto ≈ 27 µs + 2.4 ns per
 * byte; they cost the same near 1.5–2 KB (docs/benchmarks.md, "Ordinary records").
 */
export const AES_GCM_LATER_MIN = 2048;

/**
 * Seals like {@linkcode aeadSeal} with AES-256-GCM, through WebCrypto: a promise of the same
 * bytes (ciphertext ‖ 16-byte tag). `nonce`, `aad` and `plaintext` are copied before it returns,
 * so they may change at once. The key's first use imports it into WebCrypto (kept with the key).
 * `RangeError` unless `nonce` is 12 bytes.
 */
export function aesGcmSealLater(
  key: AeadKey,
  nonce: Uint8Array,
  aad: Uint8Array,
  plaintext: Uint8Array,
): Promise<Uint8Array<ArrayBuffer>> {
  if (nonce.length !== 12) throw new RangeError(`AEAD nonce must be 12 bytes, got ${nonce.length}`);
  const k = webKey(key);
  if (k instanceof Promise) {
    // WebCrypto copies its inputs when it is called; until then they are kept here.
    const [n, a, p] = [nonce.slice(), aad.slice(), plaintext.slice()];
    return k.then((web) => aesGcmSealNow(web, n, a, p));
  }
  return aesGcmSealNow(k, nonce, aad, plaintext);
}

/**
 * Lets go of what {@linkcode aesGcmSealLater} keeps with `key` (its WebCrypto twin, about 2 KiB
 * of heap): for a connection gone quiet. The next large seal imports it again.
 */
export function aesGcmLaterRest(key: AeadKey): void {
  dropWebKey(key);
}

async function aesGcmSealNow(
  key: CryptoKey,
  nonce: Uint8Array,
  aad: Uint8Array,
  plaintext: Uint8Array,
): Promise<Uint8Array<ArrayBuffer>> {
  const alg = { name: "AES-GCM", iv: buf(nonce), additionalData: buf(aad), tagLength: 128 };
  return new Uint8Array(await subtle.encrypt(alg, key, buf(plaintext)));
}

/**
 * Opens `sealed` (ciphertext ‖ 16-byte tag) with `cipher` under `key`. Throws
 * `ProtocolError("bad_record", "record failed authentication")` on any failure, including a nonce
 * that is not 12 bytes or input shorter than the tag; nothing is returned from a failed open.
 */
export function aeadOpen(
  cipher: AeadCipher,
  key: AeadKey,
  nonce: Uint8Array,
  aad: Uint8Array,
  sealed: Uint8Array,
): Uint8Array<ArrayBuffer> {
  const fail = (cause?: unknown) =>
    new ProtocolError("bad_record", "record failed authentication", { cause });
  if (nonce.length !== 12 || sealed.length < AEAD_TAG_BYTES) throw fail();
  const n = sealed.length - AEAD_TAG_BYTES;
  try {
    const d = createDecipheriv(cipher as "aes-256-gcm", keyBytes(key), nonce, {
      authTagLength: AEAD_TAG_BYTES,
    });
    d.setAAD(aad);
    d.setAuthTag(sealed.subarray(n));
    const body = d.update(sealed.subarray(0, n));
    const tail = d.final(); // throws unless the tag verifies
    return tail.length === 0 ? view(body) : concat(body, tail);
  } catch (e) {
    throw fail(e);
  }
}

/** RSA modulus size, in bits, of every chat/1 `kem` key. */
export const RSA_BITS = 3072;

/** Upper bound on an accepted SPKI or PKCS#8 encoding, checked before parsing. */
const RSA_DER_MAX = 4096;

const OAEP_IMPORT = { name: "RSA-OAEP", hash: "SHA-256" } as const;

/** Generates an RSA-OAEP-3072 (e = 65537, SHA-256) pair; both keys extractable so they can be saved. */
export async function rsaOaepGenerate(): Promise<CryptoKeyPair> {
  return await subtle.generateKey(
    {
      name: "RSA-OAEP",
      modulusLength: RSA_BITS,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    },
    true,
    ["encrypt", "decrypt"],
  );
}

/** True iff the big-endian `e` equals 65537 (leading zero bytes allowed). */
function isF4(e: Uint8Array): boolean {
  let i = 0;
  while (i < e.length && e[i] === 0) i++;
  return e.length - i === 3 && e[i] === 1 && e[i + 1] === 0 && e[i + 2] === 1;
}

/**
 * Imports an RSA-OAEP SHA-256 public key from SPKI DER (extractable, encrypt only). `RangeError`
 * if the input exceeds 4096 bytes, the modulus is not 3072 bits, or e ≠ 65537; `TypeError` if the
 * DER does not parse as an RSA public key.
 */
export async function rsaOaepImportPublic(spki: Uint8Array): Promise<CryptoKey> {
  if (spki.length > RSA_DER_MAX) throw new RangeError(`RSA public key too large: ${spki.length}`);
  let key: CryptoKey;
  try {
    key = await subtle.importKey("spki", buf(spki), OAEP_IMPORT, true, ["encrypt"]);
  } catch (e) {
    throw new TypeError("invalid RSA public key", { cause: e });
  }
  const alg = key.algorithm as RsaHashedKeyAlgorithm;
  if (alg.modulusLength !== RSA_BITS) {
    throw new RangeError(`RSA modulus must be ${RSA_BITS} bits, got ${alg.modulusLength}`);
  }
  if (!isF4(alg.publicExponent)) throw new RangeError("RSA public exponent must be 65537");
  return key;
}

/**
 * Imports an RSA-OAEP SHA-256 private key from PKCS#8 DER, non-extractable, decrypt only.
 * `RangeError` if the input exceeds 4096 bytes; `TypeError` if it does not parse.
 */
export async function rsaOaepImportPrivate(pkcs8: Uint8Array): Promise<CryptoKey> {
  if (pkcs8.length > RSA_DER_MAX) {
    throw new RangeError(`RSA private key too large: ${pkcs8.length}`);
  }
  try {
    return await subtle.importKey("pkcs8", buf(pkcs8), OAEP_IMPORT, false, ["decrypt"]);
  } catch (e) {
    throw new TypeError("invalid RSA private key", { cause: e });
  }
}

/**
 * SPKI DER of the public half of an RSA PKCS#8 private key. `RangeError` if the input exceeds
 * 4096 bytes; `TypeError` if it does not parse.
 */
export async function rsaOaepPublicOfPkcs8(pkcs8: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  if (pkcs8.length > RSA_DER_MAX) {
    throw new RangeError(`RSA private key too large: ${pkcs8.length}`);
  }
  let jwk: JsonWebKey;
  try {
    const temp = await subtle.importKey("pkcs8", buf(pkcs8), OAEP_IMPORT, true, ["decrypt"]);
    jwk = await subtle.exportKey("jwk", temp);
  } catch (e) {
    throw new TypeError("invalid RSA private key", { cause: e });
  }
  const pub = await subtle.importKey(
    "jwk",
    { kty: "RSA", n: jwk.n, e: jwk.e, alg: jwk.alg, ext: true },
    OAEP_IMPORT,
    true,
    ["encrypt"],
  );
  return new Uint8Array(await subtle.exportKey("spki", pub));
}

/** SPKI DER of an RSA-OAEP public key. */
export async function rsaOaepExportSpki(publicKey: CryptoKey): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await subtle.exportKey("spki", publicKey));
}

/**
 * PKCS#8 DER of an RSA-OAEP private key, for saving to a key file; `TypeError` if the key is not
 * extractable.
 */
export async function rsaOaepExportPkcs8(privateKey: CryptoKey): Promise<Uint8Array<ArrayBuffer>> {
  if (!privateKey.extractable) throw new TypeError("RSA private key is not extractable");
  return new Uint8Array(await subtle.exportKey("pkcs8", privateKey));
}

/** RSA-OAEP (SHA-256, MGF1-SHA-256) encryption of `data` under `label`. */
export async function rsaOaepEncrypt(
  publicKey: CryptoKey,
  data: Uint8Array,
  label: Uint8Array,
): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(
    await subtle.encrypt({ name: "RSA-OAEP", label: buf(label) }, publicKey, buf(data)),
  );
}

/** RSA-OAEP decryption; any failure throws `ProtocolError("bad_envelope")`. */
export async function rsaOaepDecrypt(
  privateKey: CryptoKey,
  data: Uint8Array,
  label: Uint8Array,
): Promise<Uint8Array<ArrayBuffer>> {
  try {
    return new Uint8Array(
      await subtle.decrypt({ name: "RSA-OAEP", label: buf(label) }, privateKey, buf(data)),
    );
  } catch (e) {
    throw new ProtocolError("bad_envelope", "envelope failed to decrypt", { cause: e });
  }
}

/** True when `text` has the form of {@link fingerprint}'s result. */
export function isFingerprint(text: string): boolean {
  return /^SHA256:[A-Za-z0-9+/]{43}$/.test(text);
}

/** `"SHA256:"` + unpadded standard base64 of SHA-256(`rawPublicKey`) (50 characters). */
export function fingerprint(rawPublicKey: Uint8Array): string {
  return "SHA256:" + toBase64(sha256(rawPublicKey)).replace(/=+$/, "");
}

/** `n` bytes from `crypto.getRandomValues`; `RangeError` unless 0 ≤ n ≤ 65536. */
export function randomBytes(n: number): Uint8Array<ArrayBuffer> {
  if (!Number.isInteger(n) || n < 0 || n > 65536) {
    throw new RangeError(`randomBytes n out of range: ${n}`);
  }
  return crypto.getRandomValues(new Uint8Array(n));
}

/** True when `a` and `b` are equal; the time taken depends only on their lengths. */
export function equalSecrets(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
