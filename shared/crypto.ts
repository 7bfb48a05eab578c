/**
 * Thin WebCrypto (`crypto.subtle`) wrappers for chat/1: SHA-256, HKDF-SHA-256, X25519, Ed25519,
 * AES-256-GCM and RSA-OAEP-3072. No primitive is implemented here. Private and secret keys are
 * non-extractable unless a function says otherwise; imported public keys are extractable.
 * @module
 */

import { toBase64 } from "./encoding.ts";
import { ProtocolError } from "./errors.ts";

const subtle = globalThis.crypto.subtle;

/** Returns `b` itself when it is backed by an `ArrayBuffer`, else a copy that is. */
function buf(b: Uint8Array): Uint8Array<ArrayBuffer> {
  return b.buffer instanceof ArrayBuffer ? b as Uint8Array<ArrayBuffer> : new Uint8Array(b);
}

/** Base64url without padding, as JWK wants. */
function b64url(bytes: Uint8Array): string {
  return toBase64(bytes).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
}

/** SHA-256 digest of `data` (32 bytes). */
export async function sha256(data: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await subtle.digest("SHA-256", buf(data)));
}

/** Largest HKDF-SHA-256 output: 255 blocks of 32 bytes. */
const HKDF_MAX = 255 * 32;

/**
 * HKDF-SHA-256 (extract and expand) of `length` bytes; `RangeError` unless
 * 0 ≤ `length` ≤ 8160.
 */
export async function hkdfSha256(
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array,
  length: number,
): Promise<Uint8Array<ArrayBuffer>> {
  if (!Number.isInteger(length) || length < 0 || length > HKDF_MAX) {
    throw new RangeError(`HKDF length out of range: ${length}`);
  }
  const key = await subtle.importKey("raw", buf(ikm), "HKDF", false, ["deriveBits"]);
  const bits = await subtle.deriveBits(
    { name: "HKDF", hash: "SHA-256", salt: buf(salt), info: buf(info) },
    key,
    length * 8,
  );
  return new Uint8Array(bits);
}

/** An X25519 key pair: a non-extractable private key and the raw 32-byte public key. */
export interface X25519Pair {
  /** Private key, usable only for `deriveBits`. */
  privateKey: CryptoKey;
  /** Raw public key, 32 bytes. */
  publicKey: Uint8Array<ArrayBuffer>;
}

/** Generates an ephemeral X25519 pair; the private key is non-extractable. */
export async function x25519Generate(): Promise<X25519Pair> {
  const pair = await subtle.generateKey({ name: "X25519" }, false, ["deriveBits"]) as CryptoKeyPair;
  const publicKey = new Uint8Array(await subtle.exportKey("raw", pair.publicKey));
  return { privateKey: pair.privateKey, publicKey };
}

/**
 * Imports a raw 32-byte X25519 private scalar (via JWK `d`), non-extractable; for tests and
 * vectors. `RangeError` unless 32 bytes.
 */
export async function x25519ImportPrivate(raw: Uint8Array): Promise<CryptoKey> {
  if (raw.length !== 32) {
    throw new RangeError(`X25519 private key must be 32 bytes, got ${raw.length}`);
  }
  return await subtle.importKey(
    "jwk",
    { kty: "OKP", crv: "X25519", d: b64url(raw) },
    { name: "X25519" },
    false,
    ["deriveBits"],
  );
}

/**
 * X25519 shared secret (32 bytes) of `privateKey` and the raw `peerPublic`. Throws
 * `ProtocolError("bad_key_share")` if `peerPublic` is not 32 bytes, is rejected by WebCrypto
 * (e.g. a low-order point), or the shared secret is all zero.
 */
export async function x25519Shared(
  privateKey: CryptoKey,
  peerPublic: Uint8Array,
): Promise<Uint8Array<ArrayBuffer>> {
  if (peerPublic.length !== 32) {
    throw new ProtocolError("bad_key_share", `X25519 public key must be 32 bytes`);
  }
  let shared: Uint8Array<ArrayBuffer>;
  try {
    const pub = await subtle.importKey("raw", buf(peerPublic), { name: "X25519" }, true, []);
    shared = new Uint8Array(
      await subtle.deriveBits({ name: "X25519", public: pub }, privateKey, 256),
    );
  } catch (e) {
    throw new ProtocolError("bad_key_share", "X25519 key agreement failed", { cause: e });
  }
  let acc = 0;
  for (const b of shared) acc |= b;
  if (acc === 0) throw new ProtocolError("bad_key_share", "X25519 shared secret is all zero");
  return shared;
}

/** Generates an Ed25519 pair (sign/verify); the private key is extractable iff `extractable`. */
export async function ed25519Generate(extractable: boolean): Promise<CryptoKeyPair> {
  return await subtle.generateKey({ name: "Ed25519" }, extractable, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
}

/** Raw 32 bytes of an Ed25519 public key; `TypeError` if `key` is not an Ed25519 public key. */
export async function ed25519PublicRaw(key: CryptoKey): Promise<Uint8Array<ArrayBuffer>> {
  if (key.type !== "public" || key.algorithm.name !== "Ed25519") {
    throw new TypeError("not an Ed25519 public key");
  }
  return new Uint8Array(await subtle.exportKey("raw", key));
}

/** Imports a raw Ed25519 public key (extractable, verify only); `RangeError` unless 32 bytes. */
export async function ed25519ImportPublic(raw: Uint8Array): Promise<CryptoKey> {
  if (raw.length !== 32) {
    throw new RangeError(`Ed25519 public key must be 32 bytes, got ${raw.length}`);
  }
  return await subtle.importKey("raw", buf(raw), { name: "Ed25519" }, true, ["verify"]);
}

/** Ed25519 signature (64 bytes) of `data`. */
export async function ed25519Sign(
  privateKey: CryptoKey,
  data: Uint8Array,
): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await subtle.sign({ name: "Ed25519" }, privateKey, buf(data)));
}

/**
 * Verifies an Ed25519 `signature` over `data` with a key or raw 32-byte public key. Never throws:
 * a wrong-sized key or signature, an unusable key, or a bad signature gives `false`.
 */
export async function ed25519Verify(
  publicKey: CryptoKey | Uint8Array,
  signature: Uint8Array,
  data: Uint8Array,
): Promise<boolean> {
  if (signature.length !== 64) return false;
  try {
    const key = publicKey instanceof Uint8Array
      ? (publicKey.length === 32 ? await ed25519ImportPublic(publicKey) : null)
      : publicKey;
    if (key === null) return false;
    return await subtle.verify({ name: "Ed25519" }, key, buf(signature), buf(data));
  } catch {
    return false;
  }
}

/** Imports a raw AES-256-GCM key, non-extractable, encrypt+decrypt; `RangeError` unless 32 bytes. */
export async function aesGcmImport(raw: Uint8Array): Promise<CryptoKey> {
  if (raw.length !== 32) throw new RangeError(`AES-256 key must be 32 bytes, got ${raw.length}`);
  return await subtle.importKey("raw", buf(raw), { name: "AES-GCM" }, false, [
    "encrypt",
    "decrypt",
  ]);
}

/** AES-GCM encryption with a 128-bit tag appended; `RangeError` unless `iv` is 12 bytes. */
export async function aesGcmEncrypt(
  key: CryptoKey,
  iv: Uint8Array,
  aad: Uint8Array,
  plaintext: Uint8Array,
): Promise<Uint8Array<ArrayBuffer>> {
  if (iv.length !== 12) throw new RangeError(`AES-GCM iv must be 12 bytes, got ${iv.length}`);
  const ct = await subtle.encrypt(
    { name: "AES-GCM", iv: buf(iv), additionalData: buf(aad), tagLength: 128 },
    key,
    buf(plaintext),
  );
  return new Uint8Array(ct);
}

/**
 * AES-GCM decryption of `ciphertext` (body ‖ 16-byte tag). Throws
 * `ProtocolError("bad_record", "record failed authentication")` on any failure, including an iv
 * that is not 12 bytes or a ciphertext shorter than 16 bytes.
 */
export async function aesGcmDecrypt(
  key: CryptoKey,
  iv: Uint8Array,
  aad: Uint8Array,
  ciphertext: Uint8Array,
): Promise<Uint8Array<ArrayBuffer>> {
  const fail = (cause?: unknown) =>
    new ProtocolError("bad_record", "record failed authentication", { cause });
  if (iv.length !== 12 || ciphertext.length < 16) throw fail();
  try {
    const pt = await subtle.decrypt(
      { name: "AES-GCM", iv: buf(iv), additionalData: buf(aad), tagLength: 128 },
      key,
      buf(ciphertext),
    );
    return new Uint8Array(pt);
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
export async function fingerprint(rawPublicKey: Uint8Array): Promise<string> {
  return "SHA256:" + toBase64(await sha256(rawPublicKey)).replace(/=+$/, "");
}

/** `n` bytes from `crypto.getRandomValues`; `RangeError` unless 0 ≤ n ≤ 65536. */
export function randomBytes(n: number): Uint8Array<ArrayBuffer> {
  if (!Number.isInteger(n) || n < 0 || n > 65536) {
    throw new RangeError(`randomBytes n out of range: ${n}`);
  }
  return crypto.getRandomValues(new Uint8Array(n));
}
