/**
 * The identities a server has already verified (their keys, `kem_sig` and fingerprint), so a
 * returning identity's login skips that work; the per-session proof is always checked.
 * @module
 */

import type { KeyObject } from "../shared/crypto.ts";

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
