/**
 * `deno bench`: what one recipient costs the server per fan-out batch (server/outbox.ts) — 30
 * queued `msg` lines of a 100-byte text sealed as one record, against one record per line.
 * @module
 */

import { Outbox } from "../server/outbox.ts";
import { type AeadCipher, aeadImport, randomBytes } from "../shared/crypto.ts";
import { utf8 } from "../shared/encoding.ts";
import { type DirectionKeys, RecordSealer, S2C } from "../shared/record.ts";

const LIMITS = { sendQueueEvents: 2000, sendQueueBytes: 256 * 1024, recordPlaintext: 16_384 };
const line = (i: number) =>
  utf8.encode(JSON.stringify({
    t: "msg",
    room: "#bench",
    seq: 1000 + i,
    ts: 1_800_000_000_000,
    from: "bench0001",
    text: "x".repeat(100),
    id: "AAAAAAAAAAAAAAAAAAAAAA==",
  }));
const lines = Array.from({ length: 30 }, (_, i) => line(i));

for (const cipher of ["aes-256-gcm", "chacha20-poly1305"] as AeadCipher[]) {
  const keys: DirectionKeys = {
    cipher,
    key: aeadImport(randomBytes(32)),
    iv: randomBytes(12),
    dir: S2C,
  };
  const sealer = new RecordSealer(keys);
  const out = new Outbox(LIMITS);
  const group = `outbox ${cipher}`;
  Deno.bench(`${cipher}: 30 lines, one drain (one record)`, { group, baseline: true }, () => {
    for (const l of lines) out.push(l);
    out.drain(sealer);
  });
  Deno.bench(`${cipher}: 30 lines, a drain per line (30 records)`, { group }, () => {
    for (const l of lines) {
      out.push(l);
      out.drain(sealer);
    }
  });
}
