import assert from "node:assert/strict";
import { loadOrCreateIdentity } from "../../client/identity.ts";
import { KeyFileError, verifyKem } from "../../shared/keys.ts";
import { ed25519Sign, ed25519Verify } from "../../shared/crypto.ts";
import { utf8 } from "../../shared/encoding.ts";

const POSIX = Deno.build.os !== "windows";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "chat_identity_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("loadOrCreateIdentity: creates once with one notice, then loads the same identity", async () => {
  await withTempDir(async (tmp) => {
    const home = `${tmp}/config/chat`;
    const notices: string[] = [];
    const first = await loadOrCreateIdentity(home, (line) => notices.push(line));
    assert.equal(first.created, true);
    assert.deepEqual(notices, [
      `creating your identity (Ed25519 + RSA-OAEP-3072) in ${home}/identity…`,
    ]);
    assert.equal(first.identity.sigPrivate.asymmetricKeyType, "ed25519");
    assert.equal(first.identity.kemPrivate.extractable, false);
    assert.equal(
      await verifyKem(first.identity.sigPublic, first.identity.kemPublic, first.identity.kemSig),
      true,
    );
    if (POSIX) {
      assert.equal((await Deno.stat(`${home}/identity`)).mode! & 0o777, 0o600);
      assert.equal((await Deno.stat(home)).mode! & 0o777, 0o700);
    }
    const bytes = await Deno.readFile(`${home}/identity`);

    const second = await loadOrCreateIdentity(home, (line) => notices.push(line));
    assert.equal(second.created, false);
    assert.equal(notices.length, 1);
    assert.equal(second.identity.fingerprint, first.identity.fingerprint);
    assert.deepEqual(await Deno.readFile(`${home}/identity`), bytes);
    const msg = utf8.encode("proof");
    const sig = await ed25519Sign(second.identity.sigPrivate, msg);
    assert.equal(await ed25519Verify(first.identity.sigPublic, sig, msg), true);
  });
});

Deno.test("loadOrCreateIdentity: never overwrites an existing corrupt or too-open file", async () => {
  await withTempDir(async (home) => {
    const path = `${home}/identity`;
    await Deno.writeTextFile(path, "{corrupt", { mode: 0o600 });
    const notices: string[] = [];
    await assert.rejects(
      loadOrCreateIdentity(home, (line) => notices.push(line)),
      (e) => e instanceof KeyFileError && e.path === path && /not valid JSON/.test(e.message),
    );
    assert.equal(notices.length, 0);
    assert.equal(await Deno.readTextFile(path), "{corrupt");
    if (POSIX) {
      await Deno.chmod(path, 0o644);
      await assert.rejects(
        loadOrCreateIdentity(home, (line) => notices.push(line)),
        (e) => e instanceof KeyFileError && /0644 are too open/.test(e.message),
      );
      assert.equal(notices.length, 0);
      assert.equal(await Deno.readTextFile(path), "{corrupt");
    }
  });
});
