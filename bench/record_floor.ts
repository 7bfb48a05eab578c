/**
 * The floor of the ordinary record path: process CPU (all threads, `process.cpuUsage`) per seal of
 * one record for 100 recipients' keys, by size, for `node:crypto` AES-256-GCM, WebCrypto
 * AES-256-GCM ({@linkcode aesGcmSealLater}) and `node:crypto` ChaCha20-Poly1305; rounds alternate
 * the three, the median and minimum of the rounds are printed. CPU time rather than `deno bench`'s
 * wall time, so that other load on the machine moves the figures less.
 *
 *     deno run -A bench/record_floor.ts [ROUNDS]
 * @module
 */

import process from "node:process";
import { aeadImport, aeadSeal, aesGcmSealLater, randomBytes } from "../shared/crypto.ts";

const SIZES = [256, 1024, 2048, 4096, 8192, 16_384];
const TURNS = 10;

function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

async function main(rounds: number): Promise<void> {
  const keys = Array.from({ length: 100 }, () => aeadImport(randomBytes(32)));
  const iv = randomBytes(12), aad = randomBytes(19);
  for (const k of keys) await aesGcmSealLater(k, iv, aad, new Uint8Array(1)); // imported once
  const runs = new Map<string, number[]>();
  const time = async (name: string, size: number, f: () => unknown) => {
    const c0 = cpuMicros();
    for (let t = 0; t < TURNS; t++) await f();
    const key = `${name} ${String(size).padStart(6)} B`;
    runs.set(key, [...runs.get(key) ?? [], (cpuMicros() - c0) / (TURNS * keys.length)]);
  };
  for (let r = 0; r < rounds; r++) {
    for (const size of SIZES) {
      const pt = randomBytes(size);
      await time("aes-256-gcm node:crypto", size, () => {
        for (const k of keys) aeadSeal("aes-256-gcm", k, iv, aad, pt);
      });
      await time("aes-256-gcm WebCrypto  ", size, () => {
        return Promise.all(keys.map((k) => aesGcmSealLater(k, iv, aad, pt)));
      });
      await time("chacha20    node:crypto", size, () => {
        for (const k of keys) aeadSeal("chacha20-poly1305", k, iv, aad, pt);
      });
    }
  }
  console.log(`CPU per seal, ${rounds} rounds: median / min (µs)`);
  for (const [name, v] of [...runs].sort()) {
    v.sort((a, b) => a - b);
    console.log(`${name}  ${v[v.length >> 1].toFixed(1)} / ${v[0].toFixed(1)}`);
  }
}

if (import.meta.main) await main(Number(Deno.args[0] ?? 5));
