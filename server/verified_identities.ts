/**
 * The identities a server has already verified (their keys, `kem_sig` and fingerprint), so a
 * returning identity's login skips that work; the per-session proof is always checked.
 * @module
 */

import type { AuthMessage } from "../shared/messages.ts";
import {
  ed25519ImportPublic,
  fingerprint,
  type KeyObject,
  rsaOaepImportPublic,
} from "../shared/crypto.ts";
import { fromBase64 } from "../shared/encoding.ts";
import { verifyAuth } from "../shared/handshake.ts";
import { verifyKem } from "../shared/keys.ts";

/** What {@linkcode VerifiedIdentities} keeps of one identity. */
export interface VerifiedIdentity {
  /** Fingerprint of `sig_pub`. */
  fingerprint: string;
  /** `sig_pub` imported, to verify each session's proof without importing it again. */
  key: KeyObject;
}

/**
 * A bounded cache of identities whose key material this server has already verified: maps
 * `sig_pub`, `kem_pub` and `kem_sig` (as received) to the fingerprint of `sig_pub` and the
 * imported key. A hit lets a returning identity skip the key import, the RSA key import, the
 * `kem_sig` verification and the fingerprint hash; the per-session `proof` is always verified.
 * Least recently used entries go first.
 */
export class VerifiedIdentities {
  readonly #max: number;
  readonly #map = new Map<string, VerifiedIdentity>();

  /** A cache of at most `max` identities (`RangeError` unless a positive integer). */
  constructor(max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError("max must be a positive integer");
    this.#max = max;
  }

  /** Number of cached identities. */
  get size(): number {
    return this.#map.size;
  }

  /** What is kept of a verified triple, or undefined; a hit becomes the most recent. */
  get(sigPub: string, kemPub?: string, kemSig?: string): VerifiedIdentity | undefined {
    const k = cacheKey(sigPub, kemPub, kemSig);
    const fp = this.#map.get(k);
    if (fp !== undefined) {
      this.#map.delete(k);
      this.#map.set(k, fp);
    }
    return fp;
  }

  /** Records a verified triple, evicting the least recently used. */
  add(
    sigPub: string,
    kemPub: string | undefined,
    kemSig: string | undefined,
    id: VerifiedIdentity,
  ): void {
    const k = cacheKey(sigPub, kemPub, kemSig);
    this.#map.delete(k);
    this.#map.set(k, id);
    if (this.#map.size > this.#max) this.#map.delete(this.#map.keys().next().value!);
  }
}

function cacheKey(sigPub: string, kemPub?: string, kemSig?: string): string {
  // Base64 never contains a space, so the key is unambiguous.
  return kemPub === undefined || kemSig === undefined ? sigPub : `${sigPub} ${kemPub} ${kemSig}`;
}

/** An identity whose `auth` verified: its fingerprint and, when sent, its DM key. */
export interface VerifiedLogin {
  /** Fingerprint of `sig_pub`. */
  fingerprint: string;
  /** `kem_pub` as received, when sent with its `kem_sig`. */
  kemPub?: string;
  /** `kem_sig` as received. */
  kemSig?: string;
}

/**
 * Verifies an `auth` for the session `th`: the proof always; the key import, the DM key's
 * import and its `kem_sig` only for an identity not in `cache` (then added). Null when anything
 * fails to decode, import or verify.
 */
export async function verifyIdentity(
  a: AuthMessage,
  th: Uint8Array,
  cache?: VerifiedIdentities,
): Promise<VerifiedLogin | null> {
  let proof: Uint8Array;
  try {
    proof = fromBase64(a.proof);
  } catch {
    return null;
  }
  const kem = a.kem_pub !== undefined && a.kem_sig !== undefined
    ? { kemPub: a.kem_pub, kemSig: a.kem_sig }
    : {};
  const known = cache?.get(a.sig_pub, a.kem_pub, a.kem_sig);
  if (known !== undefined) {
    // The session's proof, always, with the key imported when the identity was verified (the
    // same `sig_pub` text: it is not decoded again).
    if (!verifyAuth(known.key, proof, th, a.name)) return null;
    return { fingerprint: known.fingerprint, ...kem };
  }
  let sigPub: Uint8Array, key: KeyObject;
  try {
    sigPub = fromBase64(a.sig_pub);
    key = ed25519ImportPublic(sigPub);
  } catch {
    return null;
  }
  if (!verifyAuth(key, proof, th, a.name)) return null;
  if (kem.kemPub !== undefined) {
    try {
      const spki = fromBase64(kem.kemPub);
      await rsaOaepImportPublic(spki);
      if (!verifyKem(sigPub, spki, fromBase64(kem.kemSig))) return null;
    } catch {
      return null;
    }
  }
  const fp = fingerprint(sigPub);
  cache?.add(a.sig_pub, kem.kemPub, kem.kemSig, { fingerprint: fp, key });
  return { fingerprint: fp, ...kem };
}
