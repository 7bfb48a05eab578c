import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type AeadCipher,
  aeadImport,
  aeadImportPair,
  AeadKey,
  aeadOpen,
  aeadSeal,
  aesGcmSealLater,
  ed25519ExportPkcs8,
  ed25519FromSeed,
  ed25519Generate,
  ed25519ImportPkcs8,
  ed25519ImportPublic,
  ed25519Sign,
  ed25519Verify,
  fingerprint,
  hkdfSha256,
  randomBytes,
  RSA_BITS,
  rsaOaepDecrypt,
  rsaOaepEncrypt,
  rsaOaepExportPkcs8,
  rsaOaepExportSpki,
  rsaOaepGenerate,
  rsaOaepImportPrivate,
  rsaOaepImportPublic,
  rsaOaepPublicOfPkcs8,
  sha256,
  x25519Generate,
  x25519ImportPrivate,
  x25519Shared,
} from "../../shared/crypto.ts";
import { fromHex, toHex, utf8 } from "../../shared/encoding.ts";
import { ProtocolError } from "../../shared/errors.ts";

const isCode = (code: string, message?: string) => (e: unknown) =>
  e instanceof ProtocolError && e.code === code && (message === undefined || e.message === message);

const CIPHERS: AeadCipher[] = ["aes-256-gcm", "chacha20-poly1305"];

Deno.test("sha256: FIPS 180-2 'abc' vector; empty input", () => {
  assert.equal(
    toHex(sha256(utf8.encode("abc"))),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
  assert.equal(
    toHex(sha256(new Uint8Array(0))),
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  );
});

Deno.test("hkdfSha256: RFC 5869 case 1; length bounds", () => {
  const ikm = fromHex("0b".repeat(22));
  const salt = fromHex("000102030405060708090a0b0c");
  const info = fromHex("f0f1f2f3f4f5f6f7f8f9");
  assert.equal(
    toHex(hkdfSha256(ikm, salt, info, 42)),
    "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
  );
  assert.equal(hkdfSha256(ikm, salt, info, 8160).length, 8160);
  assert.equal(hkdfSha256(ikm, salt, info, 0).length, 0);
  assert.throws(() => hkdfSha256(ikm, salt, info, 8161), RangeError);
  assert.throws(() => hkdfSha256(ikm, salt, info, -1), RangeError);
  assert.throws(() => hkdfSha256(ikm, salt, info, 1.5), RangeError);
});

Deno.test("hkdfSha256: a shorter output is a prefix of a longer one (property)", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 64 }),
      fc.uint8Array({ maxLength: 32 }),
      fc.integer({ min: 0, max: 200 }),
      fc.integer({ min: 0, max: 200 }),
      (ikm, info, a, b) => {
        const [short, long] = a <= b ? [a, b] : [b, a];
        const salt = new Uint8Array(32);
        const x = hkdfSha256(ikm, salt, info, short);
        const y = hkdfSha256(ikm, salt, info, long);
        assert.equal(x.length, short);
        assert.deepEqual(x, y.subarray(0, short));
      },
    ),
    { numRuns: 50 },
  );
});

Deno.test("x25519: RFC 7748 section 6.1 vector through x25519ImportPrivate", () => {
  const alice = x25519ImportPrivate(
    fromHex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"),
  );
  const bobPub = fromHex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
  assert.equal(
    toHex(x25519Shared(alice, bobPub)),
    "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742",
  );
  assert.throws(() => x25519ImportPrivate(new Uint8Array(31)), RangeError);
});

Deno.test("x25519: generated pairs agree", () => {
  const a = x25519Generate();
  const b = x25519Generate();
  assert.equal(a.publicKey.length, 32);
  assert.notDeepEqual(a.publicKey, b.publicKey);
  const ab = x25519Shared(a.privateKey, b.publicKey);
  const ba = x25519Shared(b.privateKey, a.publicKey);
  assert.equal(ab.length, 32);
  assert.deepEqual(ab, ba);
  assert.equal(a.privateKey.type, "private");
});

Deno.test("x25519Shared: rejects the all-zero point, low-order points, wrong sizes", () => {
  const a = x25519Generate();
  const peer = x25519Generate();
  assert.equal(x25519Shared(a.privateKey, peer.publicKey).length, 32);
  assert.throws(() => x25519Shared(a.privateKey, new Uint8Array(32)), isCode("bad_key_share"));
  const one = new Uint8Array(32);
  one[0] = 1; // u = 1 has order 1 or 4: shared secret is zero
  assert.throws(() => x25519Shared(a.privateKey, one), isCode("bad_key_share"));
  assert.throws(
    () => x25519Shared(a.privateKey, peer.publicKey.subarray(0, 31)),
    isCode("bad_key_share"),
  );
  assert.throws(
    () => x25519Shared(a.privateKey, new Uint8Array([...peer.publicKey, 0])),
    isCode("bad_key_share"),
  );
  // an Ed25519 key is not an X25519 private key
  assert.throws(
    () => x25519Shared(ed25519Generate().privateKey, peer.publicKey),
    isCode("bad_key_share"),
  );
});

Deno.test("ed25519: RFC 8032 test 1 verifies and its seed gives its key; altered message does not", () => {
  const pub = fromHex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  const sig = fromHex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
  );
  assert.equal(ed25519Verify(pub, sig, new Uint8Array(0)), true);
  assert.equal(ed25519Verify(pub, sig, new Uint8Array(1)), false);
  const pair = ed25519FromSeed(
    fromHex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"),
  );
  assert.deepEqual(pair.publicRaw, pub);
  assert.deepEqual(ed25519Sign(pair.privateKey, new Uint8Array(0)), sig);
  assert.throws(() => ed25519FromSeed(new Uint8Array(31)), RangeError);
});

Deno.test("ed25519: sign/verify round trip with key and raw public key", () => {
  const pair = ed25519Generate();
  const raw = pair.publicRaw;
  assert.equal(raw.length, 32);
  const msg = utf8.encode("chat/1 test");
  const sig = ed25519Sign(pair.privateKey, msg);
  assert.equal(sig.length, 64);
  assert.equal(ed25519Verify(raw, sig, msg), true);
  const imported = ed25519ImportPublic(raw);
  assert.equal(ed25519Verify(imported, sig, msg), true);
  const bad = sig.slice();
  bad[10] ^= 1;
  assert.equal(ed25519Verify(raw, bad, msg), false);
  assert.equal(ed25519Verify(raw, sig, utf8.encode("chat/1 tesT")), false);
  const other = ed25519Generate();
  assert.equal(ed25519Verify(other.publicRaw, sig, msg), false);
});

Deno.test("ed25519: PKCS#8 export (for key files) round-trips; other input is a TypeError", () => {
  const pair = ed25519Generate();
  const pkcs8 = ed25519ExportPkcs8(pair.privateKey);
  assert.equal(pkcs8.length, 48);
  const back = ed25519ImportPkcs8(pkcs8);
  assert.deepEqual(back.publicRaw, pair.publicRaw);
  const msg = utf8.encode("m");
  assert.equal(ed25519Verify(pair.publicRaw, ed25519Sign(back.privateKey, msg), msg), true);
  assert.throws(() => ed25519ImportPkcs8(pkcs8.subarray(0, 47)), TypeError);
  assert.throws(() => ed25519ImportPkcs8(new Uint8Array(48)), TypeError);
  assert.throws(() => ed25519ExportPkcs8(x25519Generate().privateKey), TypeError);
  assert.throws(() => ed25519ExportPkcs8(ed25519ImportPublic(pair.publicRaw)), TypeError);
});

Deno.test("ed25519Verify: false (never throws) on wrong sizes and unusable keys", () => {
  const pair = ed25519Generate();
  const raw = pair.publicRaw;
  const msg = utf8.encode("m");
  const sig = ed25519Sign(pair.privateKey, msg);
  assert.equal(ed25519Verify(raw, sig, msg), true);
  assert.equal(ed25519Verify(raw, sig.subarray(0, 63), msg), false);
  assert.equal(ed25519Verify(raw, new Uint8Array([...sig, 0]), msg), false);
  assert.equal(ed25519Verify(raw, new Uint8Array(0), msg), false);
  assert.equal(ed25519Verify(raw.subarray(0, 31), sig, msg), false);
  assert.equal(ed25519Verify(new Uint8Array([...raw, 0]), sig, msg), false);
  assert.equal(ed25519Verify(new Uint8Array(0), sig, msg), false);
  // a key of another algorithm is not usable for verify
  assert.equal(ed25519Verify(x25519Generate().privateKey, sig, msg), false);
});

Deno.test("ed25519ImportPublic: size checks", () => {
  assert.throws(() => ed25519ImportPublic(new Uint8Array(31)), RangeError);
  assert.throws(() => ed25519ImportPublic(new Uint8Array(33)), RangeError);
});

Deno.test("chacha20-poly1305: RFC 8439 section 2.8.2 vector", () => {
  const key = aeadImport(
    fromHex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"),
  );
  const nonce = fromHex("070000004041424344454647");
  const aad = fromHex("50515253c0c1c2c3c4c5c6c7");
  const pt = utf8.encode(
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
  );
  const sealed = aeadSeal("chacha20-poly1305", key, nonce, aad, pt);
  assert.equal(toHex(sealed.subarray(sealed.length - 16)), "1ae10b594f09e26a7e902ecbd0600691");
  assert.equal(toHex(sealed.subarray(0, 8)), "d31a8d34648e60db");
  assert.deepEqual(aeadOpen("chacha20-poly1305", key, nonce, aad, sealed), pt);
});

for (const cipher of CIPHERS) {
  Deno.test(`${cipher}: round trip, 16-byte tag, empty plaintext`, () => {
    const key = aeadImport(randomBytes(32));
    const iv = randomBytes(12);
    const aad = utf8.encode("header");
    const pt = utf8.encode("hello");
    const ct = aeadSeal(cipher, key, iv, aad, pt);
    assert.equal(ct.length, pt.length + 16);
    assert.deepEqual(aeadOpen(cipher, key, iv, aad, ct), pt);
    const empty = aeadSeal(cipher, key, iv, aad, new Uint8Array(0));
    assert.equal(empty.length, 16);
    assert.equal(aeadOpen(cipher, key, iv, aad, empty).length, 0);
    // the other cipher with the same key, nonce and aad does not open it
    const other = CIPHERS.find((c) => c !== cipher)!;
    assert.throws(() => aeadOpen(other, key, iv, aad, ct), isCode("bad_record"));
  });

  Deno.test(`${cipher}: round trip for any plaintext and aad (property)`, () => {
    const key = aeadImport(randomBytes(32));
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 1024 }),
        fc.uint8Array({ maxLength: 64 }),
        fc.uint8Array({ minLength: 12, maxLength: 12 }),
        (pt, aad, iv) => {
          const ct = aeadSeal(cipher, key, iv, aad, pt);
          assert.deepEqual(aeadOpen(cipher, key, iv, aad, ct), pt);
        },
      ),
      { numRuns: 100 },
    );
  });

  Deno.test(`${cipher} open: flipped bit, wrong aad, nonce or key, short input → bad_record`, () => {
    const key = aeadImport(new Uint8Array(32).fill(7));
    const iv = new Uint8Array(12).fill(1);
    const aad = utf8.encode("aad");
    const pt = utf8.encode("secret text");
    const ct = aeadSeal(cipher, key, iv, aad, pt);
    const bad = isCode("bad_record", "record failed authentication");
    const open = (k = key, n = iv, a = aad, c: Uint8Array = ct) => aeadOpen(cipher, k, n, a, c);
    assert.deepEqual(open(), pt);
    for (let i = 0; i < ct.length; i++) {
      const flipped = ct.slice();
      flipped[i] ^= 0x80;
      assert.throws(() => open(key, iv, aad, flipped), bad, `byte ${i}`);
    }
    assert.throws(() => open(key, iv, utf8.encode("aaD")), bad);
    assert.throws(() => open(key, iv, new Uint8Array(0)), bad);
    const iv2 = iv.slice();
    iv2[11] ^= 1;
    assert.throws(() => open(key, iv2), bad);
    assert.throws(() => open(key, iv.subarray(0, 11)), bad);
    assert.throws(() => open(aeadImport(new Uint8Array(32).fill(8))), bad);
    assert.throws(() => open(key, iv, aad, ct.subarray(0, 15)), bad);
    assert.throws(() => open(key, iv, aad, new Uint8Array(0)), bad);
    assert.throws(() => open(key, iv, aad, ct.subarray(0, ct.length - 1)), bad);
  });

  Deno.test(`${cipher} seal: 12-byte nonce only`, () => {
    const key = aeadImport(new Uint8Array(32));
    const z = new Uint8Array(0), one = new Uint8Array(1);
    assert.equal(aeadSeal(cipher, key, new Uint8Array(12), z, one).length, 17);
    assert.throws(() => aeadSeal(cipher, key, new Uint8Array(11), z, one), RangeError);
    assert.throws(() => aeadSeal(cipher, key, new Uint8Array(16), z, one), RangeError);
  });
}

Deno.test("aesGcmSealLater: the bytes of aeadSeal, before and after the key's import (property)", async () => {
  const key = aeadImport(randomBytes(32));
  const iv = randomBytes(12), aad = randomBytes(19), pt = randomBytes(5000);
  // The first use imports the key: two seals started before it is done, one after.
  const first = [aesGcmSealLater(key, iv, aad, pt), aesGcmSealLater(key, iv, aad, pt.subarray(7))];
  assert.deepEqual(await first[0], aeadSeal("aes-256-gcm", key, iv, aad, pt));
  assert.deepEqual(await first[1], aeadSeal("aes-256-gcm", key, iv, aad, pt.subarray(7)));
  await fc.assert(
    fc.asyncProperty(
      fc.uint8Array({ maxLength: 20_000 }),
      fc.uint8Array({ maxLength: 64 }),
      fc.uint8Array({ minLength: 12, maxLength: 12 }),
      async (pt, aad, iv) => {
        const later = await aesGcmSealLater(key, iv, aad, pt);
        assert.deepEqual(later, aeadSeal("aes-256-gcm", key, iv, aad, pt));
        assert.deepEqual(aeadOpen("aes-256-gcm", key, iv, aad, later), pt);
      },
    ),
    { numRuns: 50 },
  );
});

Deno.test("aesGcmSealLater: its inputs may change once it returns; 12-byte nonce only", async () => {
  for (const fresh of [true, false]) {
    const key = aeadImport(new Uint8Array(32).fill(5));
    if (!fresh) {
      await aesGcmSealLater(key, new Uint8Array(12), new Uint8Array(0), new Uint8Array(1));
    }
    const iv = new Uint8Array(12).fill(1), aad = utf8.encode("aad"), pt = randomBytes(9000);
    const want = aeadSeal("aes-256-gcm", key, iv, aad, pt);
    const later = aesGcmSealLater(key, iv, aad, pt);
    iv.fill(2);
    aad.fill(3);
    pt.fill(4);
    assert.deepEqual(await later, want, fresh ? "key being imported" : "key imported");
  }
  const key = aeadImport(new Uint8Array(32));
  const one = new Uint8Array(1), z = new Uint8Array(0);
  assert.throws(() => aesGcmSealLater(key, new Uint8Array(11), z, one), RangeError);
  assert.throws(() => aesGcmSealLater(key, new Uint8Array(16), z, one), RangeError);
});

Deno.test("aeadImport: 256-bit keys only", () => {
  assert.throws(() => aeadImport(new Uint8Array(16)), RangeError);
  assert.throws(() => aeadImport(new Uint8Array(24)), RangeError);
  assert.throws(() => aeadImport(new Uint8Array(33)), RangeError);
  assert.ok(aeadImport(new Uint8Array(32)) instanceof AeadKey);
});

Deno.test("aeadImport copies its bytes; aeadImportPair = each half imported alone", () => {
  const raw = randomBytes(64);
  const nonce = new Uint8Array(12), aad = new Uint8Array(3), text = utf8.encode("hello");
  for (const cipher of ["aes-256-gcm", "chacha20-poly1305"] as const) {
    const buf = raw.slice();
    const [a, b] = aeadImportPair(buf);
    const a1 = aeadImport(buf.subarray(0, 32)), b1 = aeadImport(buf.subarray(32, 64));
    const sa = aeadSeal(cipher, a, nonce, aad, text), sb = aeadSeal(cipher, b, nonce, aad, text);
    buf.fill(0); // neither import kept a view of it
    assert.deepEqual(aeadSeal(cipher, a1, nonce, aad, text), sa);
    assert.deepEqual(aeadSeal(cipher, b1, nonce, aad, text), sb);
    assert.notDeepEqual(sa, sb);
    assert.deepEqual(aeadOpen(cipher, b, nonce, aad, sb), text);
    assert.throws(() => aeadOpen(cipher, a, nonce, aad, sb), ProtocolError);
  }
  assert.throws(() => aeadImportPair(new Uint8Array(63)), RangeError);
});

Deno.test("rsaOaep: 3072 generate, save/load, encrypt/decrypt with label; size and exponent checks", async () => {
  const pair = await rsaOaepGenerate();
  const alg = pair.publicKey.algorithm as RsaHashedKeyAlgorithm;
  assert.equal(alg.modulusLength, RSA_BITS);
  assert.equal(RSA_BITS, 3072);
  assert.equal(pair.privateKey.extractable, true);
  const spki = await rsaOaepExportSpki(pair.publicKey);
  const pkcs8 = await rsaOaepExportPkcs8(pair.privateKey);
  assert.deepEqual(await rsaOaepPublicOfPkcs8(pkcs8), spki);

  const pub = await rsaOaepImportPublic(spki);
  const priv = await rsaOaepImportPrivate(pkcs8);
  assert.equal(priv.extractable, false);
  assert.deepEqual(priv.usages, ["decrypt"]);
  await assert.rejects(rsaOaepExportPkcs8(priv), TypeError);

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
  await assert.rejects(rsaOaepPublicOfPkcs8(pkcs8.subarray(0, 100)), TypeError);
  await assert.rejects(rsaOaepPublicOfPkcs8(new Uint8Array(4097)), RangeError);
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

Deno.test("fingerprint: format and known values", () => {
  assert.equal(
    fingerprint(new Uint8Array(32)),
    "SHA256:Zmh6rfhivXdsj8GLjp+OIAiXFIVu4jOzkCpZHQ1fKSU",
  );
  assert.equal(
    fingerprint(new Uint8Array(0)),
    "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",
  );
  const fp = fingerprint(ed25519Generate().publicRaw);
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

Deno.test("inputs backed by a SharedArrayBuffer or offset views are accepted", () => {
  const shared = new Uint8Array(new SharedArrayBuffer(8));
  shared.set(utf8.encode("abc"), 2);
  assert.deepEqual(sha256(shared.subarray(2, 5)), sha256(utf8.encode("abc")));
  const pair = ed25519Generate();
  const sig = ed25519Sign(pair.privateKey, utf8.encode("abc"));
  const big = new Uint8Array(100);
  big.set(pair.publicRaw, 10);
  assert.equal(ed25519Verify(big.subarray(10, 42), sig, shared.subarray(2, 5)), true);
});
