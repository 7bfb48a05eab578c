/**
 * Which bans cover a name, an identity or an address: one rule for logins, live connections,
 * `/nick` and the listener. Pure.
 * @module
 */

import { ipMatches } from "./ip_prefix.ts";
import type { Ban } from "./store.ts";

/** True when `b` covers the name with case-folded `key`, the identity `fp` or the address `ip`. */
export function banCovers(b: Ban, key: string, fp: string, ip: string): boolean {
  return (b.kind === "name" && b.target === key) ||
    (b.kind === "fingerprint" && b.target === fp) ||
    (b.kind === "ip" && ipMatches(ip, b.target));
}

/** The first of `bans` that covers `key`, `fp` or `ip` (see {@linkcode banCovers}). */
export function banFor(bans: readonly Ban[], key: string, fp: string, ip: string): Ban | undefined {
  return bans.find((b) => banCovers(b, key, fp, ip));
}

/** True when one of `bans` covers the address `ip`. */
export function ipBanned(bans: readonly Ban[], ip: string): boolean {
  return bans.some((b) => b.kind === "ip" && ipMatches(ip, b.target));
}

/** True when one of `bans` covers the name with case-folded `key`. */
export function nameBanned(bans: readonly Ban[], key: string): boolean {
  return bans.some((b) => b.kind === "name" && b.target === key);
}
