/**
 * `deno bench`: sealing and opening records (AES-256-GCM through WebCrypto).
 * @module
 */

import { aesGcmImport, randomBytes } from "../shared/crypto.ts";
import { C2S, type DirectionKeys, RecordOpener, RecordSealer } from "../shared/record.ts";

const keys: DirectionKeys = {
  key: await aesGcmImport(randomBytes(32)),
  iv: randomBytes(12),
  dir: C2S,
};
const small = randomBytes(100);
const large = randomBytes(16_384);

async function roundTrip(plaintext: Uint8Array): Promise<void> {
  const sealer = new RecordSealer(keys);
  const opener = new RecordOpener(keys);
  const out = await opener.open(await sealer.seal(plaintext));
  if (out.length !== plaintext.length) throw new Error("round trip failed");
}

Deno.bench("record seal+open: 100 bytes", { group: "record" }, async () => {
  await roundTrip(small);
});

Deno.bench("record seal+open: 16 KiB", { group: "record" }, async () => {
  await roundTrip(large);
});

Deno.bench("record seal only: 100 bytes", { group: "record" }, async () => {
  await new RecordSealer(keys).seal(small);
});
