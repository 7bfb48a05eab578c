import assert from "node:assert/strict";
import {
  type AeadCipher,
  aeadImport,
  aeadOpen,
  aeadSeal,
  randomBytes,
} from "../../shared/crypto.ts";
import { concat, u32, u64, utf8 } from "../../shared/encoding.ts";
import { ProtocolError } from "../../shared/errors.ts";
import { AES_GCM_LATER_MIN } from "../../shared/crypto.ts";
import {
  C2S,
  type DirectionKeys,
  RecordOpener,
  RecordSealer,
  REKEY_AT,
  S2C,
} from "../../shared/record.ts";

const CIPHERS: AeadCipher[] = ["aes-256-gcm", "chacha20-poly1305"];

/** PROTOCOL §3 written out by hand: nonce = iv XOR (0⁴ ‖ seq:u64), aad = label ‖ dir ‖ seq ‖ len. */
function reference(k: DirectionKeys, seq: number, length: number) {
  const nonce = new Uint8Array(k.iv);
  const s = u64(seq);
  for (let i = 0; i < 8; i++) nonce[4 + i] ^= s[i];
  const aad = concat(utf8.encode("chat/1"), Uint8Array.of(k.dir), u64(seq), u32(length));
  return { nonce, aad };
}

for (const cipher of CIPHERS) {
  Deno.test(`record ${cipher}: sealed bytes are exactly the AEAD of §3's nonce and aad`, () => {
    for (const dir of [C2S, S2C] as const) {
      const keys: DirectionKeys = {
        cipher,
        key: aeadImport(randomBytes(32)),
        iv: randomBytes(12),
        dir,
      };
      const sealer = new RecordSealer(keys);
      const opener = new RecordOpener(keys);
      for (let seq = 0; seq < 5; seq++) {
        const pt = utf8.encode(`record ${seq} ${"x".repeat(seq * 7)}`);
        const body = sealer.seal(pt);
        const { nonce, aad } = reference(keys, seq, pt.length + 16);
        assert.deepEqual(body, aeadSeal(cipher, keys.key, nonce, aad, pt), `seq ${seq}`);
        assert.deepEqual(aeadOpen(cipher, keys.key, nonce, aad, body), pt);
        assert.deepEqual(opener.open(body), pt);
      }
      assert.equal(sealer.seq, 5);
      assert.equal(opener.seq, 5);
    }
  });
}

Deno.test("record: an IV taken from a larger buffer at an offset is read correctly", () => {
  const okm = randomBytes(40);
  const keys: DirectionKeys = {
    cipher: "aes-256-gcm",
    key: aeadImport(randomBytes(32)),
    iv: okm.subarray(7, 19),
    dir: C2S,
  };
  const body = new RecordSealer(keys).seal(utf8.encode("hi"));
  const { nonce, aad } = reference(keys, 0, 18);
  assert.deepEqual(aeadOpen("aes-256-gcm", keys.key, nonce, aad, body), utf8.encode("hi"));
  assert.throws(() => new RecordSealer({ ...keys, iv: new Uint8Array(11) }), RangeError);
});

Deno.test("record: plaintext length bounds; a too-short body does not advance the counter", () => {
  const keys: DirectionKeys = {
    cipher: "chacha20-poly1305",
    key: aeadImport(randomBytes(32)),
    iv: randomBytes(12),
    dir: S2C,
  };
  const sealer = new RecordSealer(keys);
  assert.throws(() => sealer.seal(new Uint8Array(0)), RangeError);
  assert.throws(() => sealer.seal(new Uint8Array(16_385)), RangeError);
  assert.throws(() => sealer.seal(new Uint8Array(11), 10), RangeError);
  assert.equal(sealer.seq, 0);
  const body = sealer.seal(new Uint8Array(16_384));
  assert.equal(body.length, 16_400);
  const opener = new RecordOpener(keys);
  const short = (e: unknown) => e instanceof ProtocolError && e.code === "bad_record";
  assert.throws(() => opener.open(new Uint8Array(16)), short);
  assert.equal(opener.seq, 0);
  assert.equal(opener.open(body).length, 16_384);
});

Deno.test("record: REKEY_AT is 2^24; seq 2^24 is the last record each way, then rekey", () => {
  assert.equal(REKEY_AT, 2 ** 24);
  const keys: DirectionKeys = {
    cipher: "aes-256-gcm",
    key: aeadImport(randomBytes(32)),
    iv: randomBytes(12),
    dir: C2S,
  };
  const sealer = new RecordSealer(keys, REKEY_AT - 1);
  const opener = new RecordOpener(keys, REKEY_AT - 1);
  const rekey = (e: unknown) => e instanceof ProtocolError && e.code === "rekey";
  for (const seq of [REKEY_AT - 1, REKEY_AT]) {
    const body = sealer.seal(utf8.encode("x"));
    const { nonce, aad } = reference(keys, seq, 17);
    assert.deepEqual(aeadOpen("aes-256-gcm", keys.key, nonce, aad, body), utf8.encode("x"));
    assert.deepEqual(opener.open(body), utf8.encode("x"));
  }
  assert.equal(sealer.seq, REKEY_AT + 1);
  assert.throws(() => sealer.seal(utf8.encode("x")), rekey);
  assert.equal(sealer.seq, REKEY_AT + 1, "a refused seal does not advance the counter");
  assert.throws(() => opener.open(new Uint8Array(17)), rekey);
});

Deno.test("record sealLater: large AES-GCM records come later, the same bytes, seq in call order", async () => {
  for (const cipher of CIPHERS) {
    const keys: DirectionKeys = {
      cipher,
      key: aeadImport(randomBytes(32)),
      iv: randomBytes(12),
      dir: S2C,
    };
    const later = new RecordSealer(keys), now = new RecordSealer(keys);
    const opener = new RecordOpener(keys);
    const sizes = [AES_GCM_LATER_MIN, 10, AES_GCM_LATER_MIN - 1, 16_384, 1, AES_GCM_LATER_MIN + 1];
    const plain = sizes.map((n) => randomBytes(n));
    const orig = plain.map((p) => p.slice());
    const bodies = plain.map((p) => later.sealLater(p));
    for (let i = 0; i < sizes.length; i++) {
      const async = cipher === "aes-256-gcm" && sizes[i] >= AES_GCM_LATER_MIN;
      assert.equal(bodies[i] instanceof Promise, async, `${cipher} ${sizes[i]} bytes`);
      plain[i].fill(0xee); // the sealer keeps no reference to it
    }
    assert.equal(later.seq, sizes.length, "the counter advances at the call");
    for (let i = 0; i < sizes.length; i++) {
      const body = await bodies[i];
      assert.deepEqual(body, now.seal(orig[i]), `${cipher} seq ${i}`);
      assert.deepEqual(opener.open(body), orig[i]);
    }
    later.rest(); // a quiet connection lets go of the WebCrypto key; the next large seal re-imports
    const again = later.sealLater(orig[0]);
    assert.equal(again instanceof Promise, cipher === "aes-256-gcm");
    assert.deepEqual(await again, now.seal(orig[0]));
    assert.throws(() => later.sealLater(new Uint8Array(16_385)), RangeError);
    assert.throws(() => later.sealLater(new Uint8Array(0)), RangeError);
    assert.equal(later.seq, sizes.length + 1, "a refused seal does not advance the counter");
  }
  const keys: DirectionKeys = {
    cipher: "aes-256-gcm",
    key: aeadImport(randomBytes(32)),
    iv: randomBytes(12),
    dir: S2C,
  };
  const sealer = new RecordSealer(keys, REKEY_AT + 1);
  assert.throws(
    () => sealer.sealLater(new Uint8Array(AES_GCM_LATER_MIN)),
    (e: unknown) => e instanceof ProtocolError && e.code === "rekey",
  );
});
