import assert from "node:assert/strict";
import fc from "fast-check";
import {
  aesGcmDecrypt,
  aesGcmEncrypt,
  aesGcmImport,
  ed25519Generate,
  ed25519ImportPublic,
  ed25519PublicRaw,
  ed25519Sign,
  ed25519Verify,
  fingerprint,
  hkdfSha256,
  randomBytes,
  RSA_BITS,
  rsaOaepDecrypt,
  rsaOaepEncrypt,
  rsaOaepGenerate,
  rsaOaepImportPrivate,
  rsaOaepImportPublic,
  sha256,
  x25519Generate,
  x25519ImportPrivate,
  x25519Shared,
} from "../../shared/crypto.ts";
import { fromHex, toHex, utf8 } from "../../shared/encoding.ts";
import { ProtocolError } from "../../shared/errors.ts";

const isCode = (code: string, message?: string) => (e: unknown) =>
  e instanceof ProtocolError && e.code === code && (message === undefined || e.message === message);

Deno.test("sha256: FIPS 180-2 'abc' vector; empty input", async () => {
  assert.equal(
    toHex(await sha256(utf8.encode("abc"))),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  assert.equal(
    toHex(await sha256(new Uint8Array(0))),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
});

Deno.test("hkdfSha256: RFC 5869 case 1; length bounds", async () => {
  const ikm = fromHex("0b".repeat(22));
  const salt = fromHex("000102030405060708090a0b0c");
  const info = fromHex("f0f1f2f3f4f5f6f7f8f9");
  assert.equal(
    toHex(await hkdfSha256(ikm, salt, info, 42)),
    "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
  );
  assert.equal((await hkdfSha256(ikm, salt, info, 8160)).length, 8160);
  await assert.rejects(hkdfSha256(ikm, salt, info, 8161), RangeError);
  await assert.rejects(hkdfSha256(ikm, salt, info, -1), RangeError);
  await assert.rejects(hkdfSha256(ikm, salt, info, 1.5), RangeError);
});

Deno.test("hkdfSha256: a shorter output is a prefix of a longer one (property)", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.uint8Array({ maxLength: 64 }),
      fc.uint8Array({ maxLength: 32 }),
      fc.integer({ min: 0, max: 200 }),
      fc.integer({ min: 0, max: 200 }),
      async (ikm, info, a, b) => {
        const [short, long] = a <= b ? [a, b] : [b, a];
        const salt = new Uint8Array(32);
        const x = await hkdfSha256(ikm, salt, info, short);
        const y = await hkdfSha256(ikm, salt, info, long);
        assert.equal(x.length, short);
        assert.deepEqual(x, y.subarray(0, short));
      },
    ),
    { numRuns: 50 },
  );
});

Deno.test("x25519: RFC 7748 section 6.1 vector through x25519ImportPrivate", async () => {
  const alice = await x25519ImportPrivate(
    fromHex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"),
  );
  const bobPub = fromHex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
  assert.equal(
    toHex(await x25519Shared(alice, bobPub)),
    "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742",
  );
  assert.equal(alice.extractable, false);
  await assert.rejects(x25519ImportPrivate(new Uint8Array(31)), RangeError);
});

Deno.test("x25519: generated pairs agree; private key non-extractable", async () => {
  const a = await x25519Generate();
  const b = await x25519Generate();
  assert.equal(a.publicKey.length, 32);
  assert.notDeepEqual(a.publicKey, b.publicKey);
  const ab = await x25519Shared(a.privateKey, b.publicKey);
  const ba = await x25519Shared(b.privateKey, a.publicKey);
  assert.equal(ab.length, 32);
  assert.deepEqual(ab, ba);
  assert.equal(a.privateKey.extractable, false);
  await assert.rejects(crypto.subtle.exportKey("pkcs8", a.privateKey));
  await assert.rejects(crypto.subtle.exportKey("jwk", a.privateKey));
});

Deno.test("x25519Shared: rejects the all-zero point, low-order points, wrong sizes", async () => {
  const a = await x25519Generate();
  const peer = await x25519Generate();
  assert.equal((await x25519Shared(a.privateKey, peer.publicKey)).length, 32);
  await assert.rejects(x25519Shared(a.privateKey, new Uint8Array(32)), isCode("bad_key_share"));
  const one = new Uint8Array(32);
  one[0] = 1; // u = 1 has order 1 or 4: shared secret is zero
  await assert.rejects(x25519Shared(a.privateKey, one), isCode("bad_key_share"));
  await assert.rejects(
    x25519Shared(a.privateKey, peer.publicKey.subarray(0, 31)),
    isCode("bad_key_share"),
  );
  await assert.rejects(
    x25519Shared(a.privateKey, new Uint8Array([...peer.publicKey, 0])),
    isCode("bad_key_share"),
  );
});

Deno.test("ed25519: RFC 8032 test 1 verifies; altered message does not", async () => {
  const pub = fromHex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  const sig = fromHex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
  );
  assert.equal(await ed25519Verify(pub, sig, new Uint8Array(0)), true);
  assert.equal(await ed25519Verify(pub, sig, new Uint8Array(1)), false);
});

Deno.test("ed25519: sign/verify round trip with key and raw public key", async () => {
  const pair = await ed25519Generate(false);
  const raw = await ed25519PublicRaw(pair.publicKey);
  assert.equal(raw.length, 32);
  const msg = utf8.encode("chat/1 test");
  const sig = await ed25519Sign(pair.privateKey, msg);
  assert.equal(sig.length, 64);
  assert.equal(await ed25519Verify(pair.publicKey, sig, msg), true);
  assert.equal(await ed25519Verify(raw, sig, msg), true);
  const imported = await ed25519ImportPublic(raw);
  assert.equal(await ed25519Verify(imported, sig, msg), true);
  assert.deepEqual(await ed25519PublicRaw(imported), raw);
  const bad = sig.slice();
  bad[10] ^= 1;
  assert.equal(await ed25519Verify(raw, bad, msg), false);
  assert.equal(await ed25519Verify(raw, sig, utf8.encode("chat/1 tesT")), false);
  const other = await ed25519Generate(false);
  assert.equal(await ed25519Verify(other.publicKey, sig, msg), false);
});

Deno.test("ed25519: extractability follows the flag", async () => {
  const fixed = await ed25519Generate(false);
  assert.equal(fixed.privateKey.extractable, false);
  await assert.rejects(crypto.subtle.exportKey("pkcs8", fixed.privateKey));
  const saved = await ed25519Generate(true);
  assert.equal(saved.privateKey.extractable, true);
  assert.equal((await crypto.subtle.exportKey("pkcs8", saved.privateKey)).byteLength, 48);
});

Deno.test("ed25519Verify: false (never throws) on wrong sizes and unusable keys", async () => {
  const pair = await ed25519Generate(false);
  const raw = await ed25519PublicRaw(pair.publicKey);
  const msg = utf8.encode("m");
  const sig = await ed25519Sign(pair.privateKey, msg);
  assert.equal(await ed25519Verify(raw, sig, msg), true);
  assert.equal(await ed25519Verify(raw, sig.subarray(0, 63), msg), false);
  assert.equal(await ed25519Verify(raw, new Uint8Array([...sig, 0]), msg), false);
  assert.equal(await ed25519Verify(raw, new Uint8Array(0), msg), false);
  assert.equal(await ed25519Verify(raw.subarray(0, 31), sig, msg), false);
  assert.equal(await ed25519Verify(new Uint8Array([...raw, 0]), sig, msg), false);
  assert.equal(await ed25519Verify(new Uint8Array(0), sig, msg), false);
  // a private key, and a key of another algorithm, are not usable for verify
  assert.equal(await ed25519Verify(pair.privateKey, sig, msg), false);
  const aes = await aesGcmImport(new Uint8Array(32));
  assert.equal(await ed25519Verify(aes, sig, msg), false);
});

Deno.test("ed25519ImportPublic / ed25519PublicRaw: size and type checks", async () => {
  await assert.rejects(ed25519ImportPublic(new Uint8Array(31)), RangeError);
  await assert.rejects(ed25519ImportPublic(new Uint8Array(33)), RangeError);
  const pair = await ed25519Generate(true);
  await assert.rejects(ed25519PublicRaw(pair.privateKey), TypeError);
  const x = await x25519Generate();
  await assert.rejects(ed25519PublicRaw(x.privateKey), TypeError);
});

Deno.test("aesGcm: round trip, 16-byte tag, non-extractable key", async () => {
  const key = await aesGcmImport(randomBytes(32));
  assert.equal(key.extractable, false);
  assert.deepEqual([...key.usages].sort(), ["decrypt", "encrypt"]);
  await assert.rejects(crypto.subtle.exportKey("raw", key));
  const iv = randomBytes(12);
  const aad = utf8.encode("header");
  const pt = utf8.encode("hello");
  const ct = await aesGcmEncrypt(key, iv, aad, pt);
  assert.equal(ct.length, pt.length + 16);
  assert.deepEqual(await aesGcmDecrypt(key, iv, aad, ct), pt);
  const empty = await aesGcmEncrypt(key, iv, aad, new Uint8Array(0));
  assert.equal(empty.length, 16);
  assert.equal((await aesGcmDecrypt(key, iv, aad, empty)).length, 0);
});

Deno.test("aesGcm: round trip for any plaintext and aad (property)", async () => {
  const key = await aesGcmImport(randomBytes(32));
  await fc.assert(
    fc.asyncProperty(
      fc.uint8Array({ maxLength: 1024 }),
      fc.uint8Array({ maxLength: 64 }),
      fc.uint8Array({ minLength: 12, maxLength: 12 }),
      async (pt, aad, iv) => {
        const ct = await aesGcmEncrypt(key, iv, aad, pt);
        assert.deepEqual(await aesGcmDecrypt(key, iv, aad, ct), pt);
      },
    ),
    { numRuns: 100 },
  );
});

Deno.test("aesGcmDecrypt: flipped bit, wrong aad, wrong iv, wrong key, short input → bad_record", async () => {
  const key = await aesGcmImport(new Uint8Array(32).fill(7));
  const iv = new Uint8Array(12).fill(1);
  const aad = utf8.encode("aad");
  const pt = utf8.encode("secret text");
  const ct = await aesGcmEncrypt(key, iv, aad, pt);
  const bad = isCode("bad_record", "record failed authentication");
  assert.deepEqual(await aesGcmDecrypt(key, iv, aad, ct), pt);
  for (let i = 0; i < ct.length; i++) {
    const flipped = ct.slice();
    flipped[i] ^= 0x80;
    await assert.rejects(aesGcmDecrypt(key, iv, aad, flipped), bad, `byte ${i}`);
  }
  await assert.rejects(aesGcmDecrypt(key, iv, utf8.encode("aaD"), ct), bad);
  await assert.rejects(aesGcmDecrypt(key, iv, new Uint8Array(0), ct), bad);
  const iv2 = iv.slice();
  iv2[11] ^= 1;
  await assert.rejects(aesGcmDecrypt(key, iv2, aad, ct), bad);
  await assert.rejects(aesGcmDecrypt(key, iv.subarray(0, 11), aad, ct), bad);
  const other = await aesGcmImport(new Uint8Array(32).fill(8));
  await assert.rejects(aesGcmDecrypt(other, iv, aad, ct), bad);
  await assert.rejects(aesGcmDecrypt(key, iv, aad, ct.subarray(0, 15)), bad);
  await assert.rejects(aesGcmDecrypt(key, iv, aad, new Uint8Array(0)), bad);
  await assert.rejects(aesGcmDecrypt(key, iv, aad, ct.subarray(0, ct.length - 1)), bad);
});

Deno.test("aesGcmImport / aesGcmEncrypt: AES-256 only, 12-byte iv only", async () => {
  await assert.rejects(aesGcmImport(new Uint8Array(16)), RangeError);
  await assert.rejects(aesGcmImport(new Uint8Array(24)), RangeError);
  await assert.rejects(aesGcmImport(new Uint8Array(33)), RangeError);
  const key = await aesGcmImport(new Uint8Array(32));
  assert.equal(
    (await aesGcmEncrypt(key, new Uint8Array(12), new Uint8Array(0), new Uint8Array(1))).length,
    17,
  );
  await assert.rejects(
    aesGcmEncrypt(key, new Uint8Array(11), new Uint8Array(0), new Uint8Array(1)),
    RangeError,
  );
  await assert.rejects(
    aesGcmEncrypt(key, new Uint8Array(16), new Uint8Array(0), new Uint8Array(1)),
    RangeError,
  );
});

Deno.test("rsaOaep: 3072 generate, save/load, encrypt/decrypt with label; size and exponent checks", async () => {
  const pair = await rsaOaepGenerate();
  const alg = pair.publicKey.algorithm as RsaHashedKeyAlgorithm;
  assert.equal(alg.modulusLength, RSA_BITS);
  assert.equal(RSA_BITS, 3072);
  assert.equal(pair.privateKey.extractable, true);
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", pair.publicKey));
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));

  const pub = await rsaOaepImportPublic(spki);
  const priv = await rsaOaepImportPrivate(pkcs8);
  assert.equal(priv.extractable, false);
  assert.deepEqual(priv.usages, ["decrypt"]);
  await assert.rejects(crypto.subtle.exportKey("pkcs8", priv));

  const label = utf8.encode("chat/1 dm");
  const secret = randomBytes(32);
  const wrapped = await rsaOaepEncrypt(pub, secret, label);
  assert.equal(wrapped.length, 384);
  assert.deepEqual(await rsaOaepDecrypt(priv, wrapped, label), secret);
  // the generated private key decrypts too
  assert.deepEqual(await rsaOaepDecrypt(pair.privateKey, wrapped, label), secret);

  const badEnvelope = isCode("bad_envelope");
  await assert.rejects(rsaOaepDecrypt(priv, wrapped, utf8.encode("chat/1 dM")), badEnvelope);
  const flipped = wrapped.slice();
  flipped[200] ^= 1;
  await assert.rejects(rsaOaepDecrypt(priv, flipped, label), badEnvelope);
  await assert.rejects(rsaOaepDecrypt(priv, wrapped.subarray(0, 383), label), badEnvelope);
  await assert.rejects(rsaOaepDecrypt(priv, new Uint8Array(384).fill(0xff), label), badEnvelope);

  // same modulus with e = 3 is refused
  const jwk = await crypto.subtle.exportKey("jwk", pair.publicKey);
  const e3 = await crypto.subtle.importKey(
    "jwk",
    { ...jwk, e: "Aw" },
    { name: "RSA-OAEP", hash: "SHA-256" },
    true,
    ["encrypt"],
  );
  const e3spki = new Uint8Array(await crypto.subtle.exportKey("spki", e3));
  await assert.rejects(rsaOaepImportPublic(e3spki), RangeError);

  // malformed and oversized inputs
  await assert.rejects(rsaOaepImportPublic(spki.subarray(0, 100)), TypeError);
  await assert.rejects(rsaOaepImportPublic(new Uint8Array(4097)), RangeError);
  await assert.rejects(rsaOaepImportPrivate(pkcs8.subarray(0, 100)), TypeError);
  await assert.rejects(rsaOaepImportPrivate(new Uint8Array(4097)), RangeError);
});

Deno.test("rsaOaepImportPublic: rejects a 2048-bit key", async () => {
  const small = await crypto.subtle.generateKey(
    {
      name: "RSA-OAEP",
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    },
    true,
    ["encrypt", "decrypt"],
  );
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", small.publicKey));
  await assert.rejects(rsaOaepImportPublic(spki), RangeError);
});

Deno.test("fingerprint: format and known values", async () => {
  assert.equal(
    await fingerprint(new Uint8Array(32)),
    "SHA256:Zmh6rfhivXdsj8GLjp+OIAiXFIVu4jOzkCpZHQ1fKSU",
  );
  assert.equal(
    await fingerprint(new Uint8Array(0)),
    "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",
  );
  const pair = await ed25519Generate(false);
  const fp = await fingerprint(await ed25519PublicRaw(pair.publicKey));
  assert.match(fp, /^SHA256:[A-Za-z0-9+/]{43}$/);
  assert.equal(fp.length, 50);
});

Deno.test("randomBytes: sizes and bounds", () => {
  assert.equal(randomBytes(0).length, 0);
  assert.equal(randomBytes(65536).length, 65536);
  const a = randomBytes(32);
  assert.equal(a.length, 32);
  assert.notDeepEqual(a, randomBytes(32));
  assert.throws(() => randomBytes(65537), RangeError);
  assert.throws(() => randomBytes(-1), RangeError);
  assert.throws(() => randomBytes(1.5), RangeError);
  assert.throws(() => randomBytes(NaN), RangeError);
});

Deno.test("inputs backed by a SharedArrayBuffer or offset views are accepted", async () => {
  const shared = new Uint8Array(new SharedArrayBuffer(8));
  shared.set(utf8.encode("abc"), 2);
  assert.deepEqual(await sha256(shared.subarray(2, 5)), await sha256(utf8.encode("abc")));
});
