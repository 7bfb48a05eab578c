/**
 * Checks shared/crypto.ts against Project Wycheproof vectors kept beside the checkout in
 * `../shared/vectors/wycheproof/`. Every test skips, with a warning, when that folder is absent.
 */

import assert from "node:assert/strict";
import {
  type AeadCipher,
  aeadImport,
  aeadOpen,
  aeadSeal,
  aesGcmSealLater,
  ed25519ImportPublic,
  ed25519Verify,
  hkdfSha256,
  rsaOaepDecrypt,
  rsaOaepImportPrivate,
  x25519ImportPrivate,
  x25519Shared,
} from "../../shared/crypto.ts";
import { fromHex, toHex } from "../../shared/encoding.ts";
import { ProtocolError } from "../../shared/errors.ts";

const DIR = new URL("../../../shared/vectors/wycheproof/", import.meta.url);

function folderPresent(): boolean {
  try {
    return Deno.statSync(DIR).isDirectory;
  } catch {
    return false;
  }
}

const present = folderPresent();
if (!present) {
  console.warn(`wycheproof: vectors not found at ${DIR.pathname}; skipping the vector tests`);
}

type Result = "valid" | "invalid" | "acceptable";

interface Suite<G> {
  numberOfTests: number;
  testGroups: G[];
}

async function load<G>(file: string): Promise<Suite<G>> {
  return JSON.parse(await Deno.readTextFile(new URL(file, DIR))) as Suite<G>;
}

/** Awaits `p` and asserts it rejects with a `ProtocolError` of `code`; `label` names the case. */
async function rejectsWith(p: Promise<unknown>, code: string, label: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof ProtocolError && e.code === code, label);
}

/** Asserts `f` throws a `ProtocolError` of `code`; `label` names the case. */
function throwsWith(f: () => unknown, code: string, label: string): void {
  assert.throws(f, (e: unknown) => e instanceof ProtocolError && e.code === code, label);
}

interface XdhTest {
  tcId: number;
  flags: string[];
  public: string;
  private: string;
  shared: string;
  result: Result;
}

Deno.test({
  name: "wycheproof x25519: valid exact, all-zero rejected, acceptable otherwise exact",
  ignore: !present,
  fn: async () => {
    const suite = await load<{ tests: XdhTest[] }>("x25519_test.json");
    let ran = 0, zeroRejected = 0, acceptedAcceptable = 0;
    for (const g of suite.testGroups) {
      for (const t of g.tests) {
        const label = `tcId ${t.tcId} (${t.result}, ${t.flags.join(",")})`;
        const priv = x25519ImportPrivate(fromHex(t.private));
        const call = () => x25519Shared(priv, fromHex(t.public));
        const zero = /^(00)*$/.test(t.shared);
        if (t.result === "invalid" || zero) {
          // Documented behaviour: an all-zero result (low-order point) is always refused.
          throwsWith(call, "bad_key_share", label);
          zeroRejected++;
        } else {
          // valid, and acceptable with a non-zero secret: accepted with the exact secret.
          assert.equal(toHex(call()), t.shared, label);
          if (t.result === "acceptable") acceptedAcceptable++;
        }
        ran++;
      }
    }
    assert.equal(ran, suite.numberOfTests);
    assert.ok(zeroRejected > 0, "no all-zero case exercised");
    assert.ok(acceptedAcceptable > 0, "no acceptable case exercised");
  },
});

interface EddsaGroup {
  publicKey: { pk: string };
  tests: { tcId: number; flags: string[]; msg: string; sig: string; result: Result }[];
}

Deno.test({
  name: "wycheproof ed25519: valid verifies, invalid gives false (raw and imported-key paths)",
  ignore: !present,
  fn: async () => {
    const suite = await load<EddsaGroup>("ed25519_test.json");
    let ran = 0, invalid = 0;
    for (const g of suite.testGroups) {
      const pk = fromHex(g.publicKey.pk);
      const key = ed25519ImportPublic(pk);
      for (const t of g.tests) {
        const label = `tcId ${t.tcId} (${t.result}, ${t.flags.join(",")})`;
        const want = t.result === "valid";
        assert.equal(ed25519Verify(pk, fromHex(t.sig), fromHex(t.msg)), want, label);
        assert.equal(ed25519Verify(key, fromHex(t.sig), fromHex(t.msg)), want, label);
        if (!want) invalid++;
        ran++;
      }
    }
    assert.equal(ran, suite.numberOfTests);
    assert.ok(invalid > 0);
  },
});

interface AeadGroup {
  keySize: number;
  ivSize: number;
  tagSize: number;
  tests: {
    tcId: number;
    flags: string[];
    key: string;
    iv: string;
    aad: string;
    msg: string;
    ct: string;
    tag: string;
    result: Result;
  }[];
}

const AEAD_FILES: [AeadCipher, string][] = [
  ["aes-256-gcm", "aes_gcm_test.json"],
  ["chacha20-poly1305", "chacha20_poly1305_test.json"],
];

for (const [cipher, file] of AEAD_FILES) {
  Deno.test({
    name: `wycheproof ${cipher}: 256-bit key, 96-bit nonce, 128-bit tag; other groups refused`,
    ignore: !present,
    fn: async () => {
      const suite = await load<AeadGroup>(file);
      let ran = 0, invalid = 0, notApplicable = 0;
      for (const g of suite.testGroups) {
        if (g.keySize !== 256 || g.ivSize !== 96 || g.tagSize !== 128) {
          // The API cannot even express these parameters: every case is refused.
          for (const t of g.tests) {
            const label = `tcId ${t.tcId} (${t.result}, ${t.flags.join(",")})`;
            if (g.keySize !== 256) {
              assert.throws(() => aeadImport(fromHex(t.key)), RangeError, label);
            } else {
              const key = aeadImport(fromHex(t.key));
              const [iv, aad] = [fromHex(t.iv), fromHex(t.aad)];
              assert.throws(
                () => aeadSeal(cipher, key, iv, aad, fromHex(t.msg)),
                RangeError,
                label,
              );
              throwsWith(
                () => aeadOpen(cipher, key, iv, aad, fromHex(t.ct + t.tag)),
                "bad_record",
                label,
              );
            }
            notApplicable++;
          }
          continue;
        }
        for (const t of g.tests) {
          const label = `tcId ${t.tcId} (${t.result}, ${t.flags.join(",")})`;
          const key = aeadImport(fromHex(t.key));
          const iv = fromHex(t.iv), aad = fromHex(t.aad), sealed = fromHex(t.ct + t.tag);
          if (t.result === "valid") {
            assert.equal(
              toHex(aeadSeal(cipher, key, iv, aad, fromHex(t.msg))),
              t.ct + t.tag,
              label,
            );
            assert.equal(toHex(aeadOpen(cipher, key, iv, aad, sealed)), t.msg, label);
          } else {
            throwsWith(() => aeadOpen(cipher, key, iv, aad, sealed), "bad_record", label);
            invalid++;
          }
          ran++;
        }
      }
      assert.ok(ran > 0, `no applicable ${cipher} case`);
      assert.ok(invalid > 0, `no invalid ${cipher} case`);
      assert.equal(ran + notApplicable, suite.numberOfTests);
    },
  });
}

Deno.test({
  name: "wycheproof aes-256-gcm through WebCrypto (aesGcmSealLater): every valid case seals alike",
  ignore: !present,
  fn: async () => {
    const suite = await load<AeadGroup>("aes_gcm_test.json");
    let ran = 0;
    for (const g of suite.testGroups) {
      if (g.keySize !== 256 || g.ivSize !== 96 || g.tagSize !== 128) continue;
      for (const t of g.tests) {
        if (t.result !== "valid") continue;
        const label = `tcId ${t.tcId} (${t.flags.join(",")})`;
        const key = aeadImport(fromHex(t.key));
        const sealed = await aesGcmSealLater(key, fromHex(t.iv), fromHex(t.aad), fromHex(t.msg));
        assert.equal(toHex(sealed), t.ct + t.tag, label);
        ran++;
      }
    }
    assert.ok(ran > 0, "no applicable aes-256-gcm case");
  },
});

interface HkdfGroup {
  tests: {
    tcId: number;
    ikm: string;
    salt: string;
    info: string;
    size: number;
    okm: string;
    result: Result;
  }[];
}

Deno.test({
  name: "wycheproof hkdf-sha256: valid exact, too-large sizes RangeError",
  ignore: !present,
  fn: async () => {
    const suite = await load<HkdfGroup>("hkdf_sha256_test.json");
    let ran = 0, invalid = 0;
    for (const g of suite.testGroups) {
      for (const t of g.tests) {
        const label = `tcId ${t.tcId} (${t.result})`;
        const call = () => hkdfSha256(fromHex(t.ikm), fromHex(t.salt), fromHex(t.info), t.size);
        if (t.result === "valid") {
          assert.equal(toHex(call()), t.okm, label);
        } else {
          assert.throws(call, RangeError, label);
          invalid++;
        }
        ran++;
      }
    }
    assert.equal(ran, suite.numberOfTests);
    assert.ok(invalid > 0);
  },
});

interface OaepGroup {
  keySize: number;
  sha: string;
  mgfSha: string;
  privateKeyPkcs8: string;
  tests: {
    tcId: number;
    flags: string[];
    msg: string;
    ct: string;
    label: string;
    result: Result;
  }[];
}

for (const bits of [3072, 2048]) {
  Deno.test({
    name: `wycheproof rsa-oaep-${bits} sha256/mgf1-sha256: valid decrypts, invalid bad_envelope`,
    ignore: !present,
    fn: async () => {
      const suite = await load<OaepGroup>(`rsa_oaep_${bits}_sha256_mgf1sha256_test.json`);
      let ran = 0, invalid = 0;
      for (const g of suite.testGroups) {
        assert.equal(g.keySize, bits);
        assert.equal(g.sha, "SHA-256");
        assert.equal(g.mgfSha, "SHA-256");
        const key = await rsaOaepImportPrivate(fromHex(g.privateKeyPkcs8));
        for (const t of g.tests) {
          const label = `tcId ${t.tcId} (${t.result}, ${t.flags.join(",")})`;
          const call = rsaOaepDecrypt(key, fromHex(t.ct), fromHex(t.label));
          if (t.result === "valid") {
            assert.equal(toHex(await call), t.msg, label);
          } else {
            await rejectsWith(call, "bad_envelope", label);
            invalid++;
          }
          ran++;
        }
      }
      assert.equal(ran, suite.numberOfTests);
      assert.ok(invalid > 0);
    },
  });
}
