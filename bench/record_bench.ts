/**
 * `deno bench`: sealing and opening records with each record cipher (`node:crypto`, synchronous).
 * @module
 */

import { type AeadCipher, aeadImport, randomBytes } from "../shared/crypto.ts";
import { C2S, type DirectionKeys, RecordOpener, RecordSealer } from "../shared/record.ts";

const small = randomBytes(100);
const large = randomBytes(16_384);

for (const cipher of ["aes-256-gcm", "chacha20-poly1305"] as AeadCipher[]) {
  const keys: DirectionKeys = {
    cipher,
    key: aeadImport(randomBytes(32)),
    iv: randomBytes(12),
    dir: C2S,
  };
  const sealer = new RecordSealer(keys);
  const sealedSmall = new RecordSealer(keys).seal(small);
  const sealedLarge = new RecordSealer(keys).seal(large);
  const group = `record ${cipher}`;

  Deno.bench(`${cipher} seal: 100 bytes`, { group, baseline: true }, () => {
    sealer.seal(small);
  });
  Deno.bench(`${cipher} seal: 16 KiB`, { group }, () => {
    sealer.seal(large);
  });
  // A fresh opener per call: records open only in order, and the sealed record is seq 0.
  Deno.bench(`${cipher} open: 100 bytes`, { group }, () => {
    new RecordOpener(keys).open(sealedSmall);
  });
  Deno.bench(`${cipher} open: 16 KiB`, { group }, () => {
    new RecordOpener(keys).open(sealedLarge);
  });
}
