import assert from "node:assert/strict";
import { KnownUsers } from "../../client/known_users.ts";
import { ProtocolError } from "../../shared/errors.ts";
import { fingerprint } from "../../shared/crypto.ts";
import { utf8 } from "../../shared/encoding.ts";

const POSIX = Deno.build.os !== "windows";
const FP1 = await fingerprint(utf8.encode("one"));
const FP2 = await fingerprint(utf8.encode("two"));
const FP3 = await fingerprint(utf8.encode("three"));

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "chat_known_users_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("KnownUsers: pin on first use, names compared case-insensitively, per server", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/cfg/known_users`;
    const ku = await KnownUsers.load(path);
    assert.equal(ku.lookup("host:5000", "bob"), undefined);
    await ku.pin("Host:5000", "Bob", FP1);
    assert.equal(ku.lookup("host:5000", "bob"), FP1);
    assert.equal(ku.lookup("HOST:5000", "BOB"), FP1);
    assert.equal(ku.lookup("host:5001", "bob"), undefined);
    assert.equal(ku.lookup("other:5000", "bob"), undefined);
    assert.equal(ku.lookup("host:5000", "bobby"), undefined);
    await ku.pin("[::1]:5000", "bob", FP2);
    assert.equal(ku.lookup("[0:0::1]:5000", "Bob"), FP2);
    assert.equal(
      await Deno.readTextFile(path),
      `host:5000 Bob ${FP1}\n[::1]:5000 bob ${FP2}\n`,
    );
    if (POSIX) assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    assert.equal((await KnownUsers.load(path)).lookup("host:5000", "BOB"), FP1);
  });
});

Deno.test("KnownUsers: a changed key is refused by pin and accepted by trust", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/known_users`;
    const ku = await KnownUsers.load(path);
    await ku.pin("host:5000", "bob", FP1);
    const before = await Deno.readTextFile(path);
    await ku.pin("host:5000", "BOB", FP1); // same pin: no-op
    assert.equal(await Deno.readTextFile(path), before);
    await assert.rejects(
      ku.pin("host:5000", "bob", FP2),
      (e) => e instanceof ProtocolError && e.code === "user_key_changed",
    );
    assert.equal(await Deno.readTextFile(path), before);
    assert.equal(ku.lookup("host:5000", "bob"), FP1);

    await ku.trust("host:5000", "Bob", FP2);
    assert.equal(ku.lookup("host:5000", "bob"), FP2);
    assert.equal(await Deno.readTextFile(path), `host:5000 Bob ${FP2}\n`);
    await ku.trust("host:5000", "carol", FP3); // trust without an earlier pin adds one
    assert.equal(ku.lookup("host:5000", "carol"), FP3);

    await assert.rejects(ku.pin("host:5000", "1bob", FP1), TypeError);
    await assert.rejects(ku.pin("host:5000", "b", FP1), TypeError);
    await assert.rejects(ku.pin("host", "bob", FP1), TypeError);
    await assert.rejects(ku.trust("host:5000", "bob", "SHA256:x"), TypeError);
  });
});

Deno.test("KnownUsers: trust replaces every line for the peer in place and keeps the rest", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/known_users`;
    const original = [
      "# peers",
      `host:5000 alice ${FP1}`,
      `host:5000 BOB ${FP1}`,
      "not a line",
      `host:5000 bob ${FP3}`,
      `host:5000 bob ${FP3} trailing`,
      `host:5000 !bob ${FP3}`,
      "",
    ].join("\n");
    await Deno.writeTextFile(path, original);
    const ku = await KnownUsers.load(path);
    assert.equal(ku.lookup("host:5000", "bob"), FP1, "first line wins");
    assert.equal(ku.lookup("host:5000", "alice"), FP1);
    await ku.trust("host:5000", "bob", FP2);
    assert.equal(
      await Deno.readTextFile(path),
      [
        "# peers",
        `host:5000 alice ${FP1}`,
        `host:5000 bob ${FP2}`,
        "not a line",
        `host:5000 bob ${FP3} trailing`,
        `host:5000 !bob ${FP3}`,
        "",
      ].join("\n"),
    );
    assert.equal((await KnownUsers.load(path)).lookup("host:5000", "Bob"), FP2);
  });
});
