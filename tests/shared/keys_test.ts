import assert from "node:assert/strict";
import {
  createIdentity,
  type Identity,
  KEM_SIG_CONTEXT,
  KEY_FILE_MAX,
  KeyFileError,
  loadIdentity,
  loadIdentityIfExists,
  loadOrCreateHostKey,
  saveIdentity,
  signKem,
  verifyKem,
} from "../../shared/keys.ts";
import {
  ed25519ExportPkcs8,
  ed25519Generate,
  ed25519Sign,
  ed25519Verify,
  fingerprint,
  rsaOaepDecrypt,
  rsaOaepEncrypt,
  rsaOaepImportPublic,
} from "../../shared/crypto.ts";
import { bytesEqual, fromBase64, fromHex, toBase64, utf8 } from "../../shared/encoding.ts";

const POSIX = Deno.build.os !== "windows";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "chat_keys_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function isKeyFileError(path: string, pattern: RegExp): (e: unknown) => boolean {
  return (e) => {
    assert.ok(e instanceof KeyFileError, `expected KeyFileError, got ${e}`);
    assert.equal(e.path, path);
    assert.match(e.message, pattern);
    return true;
  };
}

/** Rewrites a JSON key file with `edit` applied to its object, keeping mode 0600. */
async function editJson(path: string, edit: (o: Record<string, unknown>) => void): Promise<void> {
  const obj = JSON.parse(await Deno.readTextFile(path));
  edit(obj);
  await Deno.writeTextFile(path, JSON.stringify(obj));
}

// One RSA generation for the whole file.
let sharedIdentity: Promise<Identity> | undefined;
function freshIdentity(): Promise<Identity> {
  sharedIdentity ??= createIdentity();
  return sharedIdentity;
}

// ---------------------------------------------------------------------------------------------
// Host key

Deno.test("host key: created once with mode 0600 in a 0700 dir, then loaded unchanged", async () => {
  await withTempDir(async (tmp) => {
    const dir = `${tmp}/state/server`;
    const first = await loadOrCreateHostKey(dir);
    assert.equal(first.created, true);
    assert.equal(first.key.publicRaw.length, 32);
    assert.equal(first.key.fingerprint, await fingerprint(first.key.publicRaw));
    assert.equal(first.key.privateKey.asymmetricKeyType, "ed25519");
    if (POSIX) {
      assert.equal((await Deno.stat(`${dir}/host_key`)).mode! & 0o777, 0o600);
      assert.equal((await Deno.stat(dir)).mode! & 0o777, 0o700);
    }
    const bytes = await Deno.readFile(`${dir}/host_key`);
    const obj = JSON.parse(new TextDecoder().decode(bytes));
    assert.deepEqual(Object.keys(obj).sort(), ["ed25519_pkcs8", "kind", "public", "v"]);
    assert.equal(obj.v, 1);
    assert.equal(obj.kind, "chat host key");

    const second = await loadOrCreateHostKey(dir + "/");
    assert.equal(second.created, false);
    assert.equal(second.key.fingerprint, first.key.fingerprint);
    assert.deepEqual(await Deno.readFile(`${dir}/host_key`), bytes);
    const msg = utf8.encode("hello");
    const sig = await ed25519Sign(second.key.privateKey, msg);
    assert.equal(await ed25519Verify(first.key.publicRaw, sig, msg), true);
    assert.equal(await ed25519Verify(first.key.publicRaw, sig, utf8.encode("hellO")), false);
  });
});

Deno.test({
  name: "host key: a group-readable file (0640) is refused, 0600 is accepted",
  ignore: !POSIX,
  fn: async () => {
    await withTempDir(async (dir) => {
      const path = `${dir}/host_key`;
      const { key } = await loadOrCreateHostKey(dir);
      await Deno.chmod(path, 0o640);
      await assert.rejects(loadOrCreateHostKey(dir), isKeyFileError(path, /0640 are too open/));
      await Deno.chmod(path, 0o604);
      await assert.rejects(loadOrCreateHostKey(dir), isKeyFileError(path, /0604 are too open/));
      await Deno.chmod(path, 0o600);
      const again = await loadOrCreateHostKey(dir);
      assert.equal(again.key.fingerprint, key.fingerprint);
    });
  },
});

Deno.test("host key: a file in the format earlier versions wrote loads with the same fingerprint", async () => {
  await withTempDir(async (dir) => {
    // RFC 8032 test 1 key, saved as PKCS#8 (RFC 8410) the way every version writes it.
    const file = JSON.stringify({
      v: 1,
      kind: "chat host key",
      ed25519_pkcs8: "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g",
      public: "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
    }) + "\n";
    await Deno.writeTextFile(`${dir}/host_key`, file, { mode: 0o600 });
    if (POSIX) await Deno.chmod(`${dir}/host_key`, 0o600);
    const { key, created } = await loadOrCreateHostKey(dir);
    assert.equal(created, false);
    assert.equal(key.fingerprint, "SHA256:If4x36FUomFia/hUBG/SJxt77UtqvkWqWId+9H+XIbk");
    // The RFC's signature of the empty message: the same private key, not just the same public one.
    assert.equal(
      toBase64(ed25519Sign(key.privateKey, new Uint8Array(0))),
      toBase64(fromHex(
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
      )),
    );
    assert.deepEqual(
      ed25519ExportPkcs8(key.privateKey),
      fromBase64(JSON.parse(file).ed25519_pkcs8),
    );
  });
});

Deno.test("host key: corrupt files are refused and never replaced", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/host_key`;
    await loadOrCreateHostKey(dir);
    const good = await Deno.readTextFile(path);
    const obj = JSON.parse(good);
    const other = ed25519Generate().publicRaw;
    const cases: [string, string, RegExp][] = [
      ["not JSON", good.slice(0, 20), /not valid JSON/],
      ["empty", "", /not valid JSON/],
      ["array", "[]", /not a JSON object/],
      ["wrong version", JSON.stringify({ ...obj, v: 2 }), /unsupported version 2/],
      ["wrong kind", JSON.stringify({ ...obj, kind: "chat identity" }), /is not a chat host key/],
      ["extra field", JSON.stringify({ ...obj, x: "" }), /unknown field "x"/],
      ["missing field", JSON.stringify({ ...obj, public: undefined }), /"public" missing/],
      ["bad base64", JSON.stringify({ ...obj, public: "!!" }), /"public" is not base64/],
      [
        "truncated private key",
        JSON.stringify({
          ...obj,
          ed25519_pkcs8: toBase64(fromBase64(obj.ed25519_pkcs8).slice(0, 47)),
        }),
        /"ed25519_pkcs8" is 47 bytes, expected 48/,
      ],
      [
        "garbage private key",
        JSON.stringify({ ...obj, ed25519_pkcs8: toBase64(new Uint8Array(48)) }),
        /private key does not import/,
      ],
      [
        "short public key",
        JSON.stringify({ ...obj, public: toBase64(new Uint8Array(31)) }),
        /"public" is 31 bytes, expected 32/,
      ],
      [
        "someone else's public key",
        JSON.stringify({ ...obj, public: toBase64(other) }),
        /public key does not match/,
      ],
    ];
    for (const [what, text, pattern] of cases) {
      await Deno.writeTextFile(path, text);
      await assert.rejects(loadOrCreateHostKey(dir), isKeyFileError(path, pattern), what);
      assert.equal(await Deno.readTextFile(path), text, `${what}: file unchanged`);
    }
  });
});

Deno.test("host key: size limit is checked before reading (64 KiB ok, one more byte refused)", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/host_key`;
    const { key } = await loadOrCreateHostKey(dir);
    const good = await Deno.readTextFile(path);
    await Deno.writeTextFile(path, good.padEnd(KEY_FILE_MAX, " "));
    assert.equal((await loadOrCreateHostKey(dir)).key.fingerprint, key.fingerprint);
    await Deno.writeTextFile(path, good.padEnd(KEY_FILE_MAX + 1, " "));
    await assert.rejects(loadOrCreateHostKey(dir), isKeyFileError(path, /larger than the 65536/));
    assert.equal((await Deno.stat(path)).size, KEY_FILE_MAX + 1);
  });
});

Deno.test({
  name: "host key: a directory in place of the file is refused",
  ignore: !POSIX,
  fn: async () => {
    await withTempDir(async (dir) => {
      await Deno.mkdir(`${dir}/host_key`, { mode: 0o700 });
      await assert.rejects(
        loadOrCreateHostKey(dir),
        isKeyFileError(`${dir}/host_key`, /not a regular file/),
      );
    });
  },
});

// ---------------------------------------------------------------------------------------------
// Identity

Deno.test("identity: save then load round trip; loaded keys are non-extractable and work", async () => {
  const id = await freshIdentity();
  assert.equal(id.sigPublic.length, 32);
  assert.equal(id.kemSig.length, 64);
  assert.equal(id.fingerprint, await fingerprint(id.sigPublic));
  assert.equal(await verifyKem(id.sigPublic, id.kemPublic, id.kemSig), true);
  await withTempDir(async (dir) => {
    const path = `${dir}/cfg/identity`;
    await saveIdentity(path, id);
    if (POSIX) {
      assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
      assert.equal((await Deno.stat(`${dir}/cfg`)).mode! & 0o777, 0o700);
    }
    const obj = JSON.parse(await Deno.readTextFile(path));
    assert.deepEqual(Object.keys(obj).sort(), [
      "ed25519_pkcs8",
      "kem_sig",
      "kind",
      "rsa_pkcs8",
      "v",
    ]);
    assert.equal(obj.kind, "chat identity");

    const loaded = await loadIdentity(path);
    assert.equal(loaded.fingerprint, id.fingerprint);
    assert.ok(bytesEqual(loaded.sigPublic, id.sigPublic));
    assert.ok(bytesEqual(loaded.kemPublic, id.kemPublic));
    assert.ok(bytesEqual(loaded.kemSig, id.kemSig));
    assert.equal(loaded.kemPrivate.extractable, false);

    const msg = utf8.encode("chat/1 test");
    assert.equal(
      await ed25519Verify(id.sigPublic, await ed25519Sign(loaded.sigPrivate, msg), msg),
      true,
    );
    const label = utf8.encode("chat/1 dm");
    const secret = crypto.getRandomValues(new Uint8Array(32));
    const wrapped = await rsaOaepEncrypt(await rsaOaepImportPublic(id.kemPublic), secret, label);
    assert.deepEqual(await rsaOaepDecrypt(loaded.kemPrivate, wrapped, label), secret);

    // A loaded identity cannot be saved again: its private keys are not extractable.
    await assert.rejects(saveIdentity(`${dir}/copy`, loaded), TypeError);
    // Saving never replaces an existing file.
    const before = await Deno.readFile(path);
    await assert.rejects(saveIdentity(path, id), Deno.errors.AlreadyExists);
    assert.deepEqual(await Deno.readFile(path), before);
  });
});

Deno.test("identity: kem signature binds the SPKI and the context", async () => {
  const id = await freshIdentity();
  assert.deepEqual(KEM_SIG_CONTEXT, utf8.encode("chat/1 kem key\0"));
  const sig = await signKem(id.sigPrivate, id.kemPublic);
  assert.equal(await verifyKem(id.sigPublic, id.kemPublic, sig), true);
  const altered = id.kemPublic.slice();
  altered[altered.length - 1] ^= 1;
  assert.equal(await verifyKem(id.sigPublic, altered, sig), false);
  const flipped = sig.slice();
  flipped[0] ^= 1;
  assert.equal(await verifyKem(id.sigPublic, id.kemPublic, flipped), false);
  // The same bytes signed without the context do not verify.
  const bare = await ed25519Sign(id.sigPrivate, id.kemPublic);
  assert.equal(await verifyKem(id.sigPublic, id.kemPublic, bare), false);
});

Deno.test("identity: missing, too open, corrupt or inconsistent files are refused", async () => {
  const id = await freshIdentity();
  await withTempDir(async (dir) => {
    const path = `${dir}/identity`;
    await assert.rejects(loadIdentity(path), isKeyFileError(path, /does not exist/));
    assert.equal(await loadIdentityIfExists(path), null);
    await saveIdentity(path, id);
    const good = JSON.parse(await Deno.readTextFile(path));

    if (POSIX) {
      await Deno.chmod(path, 0o640);
      await assert.rejects(loadIdentity(path), isKeyFileError(path, /0640 are too open/));
      await Deno.chmod(path, 0o600);
    }

    const otherPkcs8 = ed25519ExportPkcs8(ed25519Generate().privateKey);
    const rsa = fromBase64(good.rsa_pkcs8);
    const cases: [string, (o: Record<string, unknown>) => void, RegExp][] = [
      ["wrong kind", (o) => o.kind = "chat host key", /is not a chat identity/],
      ["truncated rsa key", (o) => o.rsa_pkcs8 = toBase64(rsa.slice(0, 1500)), /bad kem key/],
      [
        "tiny rsa key",
        (o) => o.rsa_pkcs8 = toBase64(rsa.slice(0, 100)),
        /"rsa_pkcs8" is 100 bytes/,
      ],
      ["short kem_sig", (o) => o.kem_sig = toBase64(id.kemSig.slice(0, 63)), /"kem_sig" is 63/],
      [
        "flipped kem_sig",
        (o) => {
          const s = id.kemSig.slice();
          s[10] ^= 0x40;
          o.kem_sig = toBase64(s);
        },
        /kem_sig does not verify/,
      ],
      [
        "other signing key",
        (o) => o.ed25519_pkcs8 = toBase64(otherPkcs8),
        /kem_sig does not verify/,
      ],
    ];
    for (const [what, edit, pattern] of cases) {
      await Deno.writeTextFile(path, JSON.stringify(good));
      await editJson(path, edit);
      await assert.rejects(loadIdentity(path), isKeyFileError(path, pattern), what);
    }
    await Deno.writeTextFile(path, "x".repeat(KEY_FILE_MAX + 1));
    await assert.rejects(loadIdentity(path), isKeyFileError(path, /larger than/));
    // The untouched original still loads.
    await Deno.writeTextFile(path, JSON.stringify(good));
    assert.equal((await loadIdentity(path)).fingerprint, id.fingerprint);
  });
});
