import assert from "node:assert/strict";
import { KnownUsers } from "../../client/known_users.ts";
import { scanLines } from "../../client/pin_file.ts";
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
    assert.equal(await Deno.readTextFile(path), `host:5000 Bob ${FP2} verified\n`);
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
        `host:5000 bob ${FP2} verified`,
        "not a line",
        `host:5000 bob ${FP3} trailing`,
        `host:5000 !bob ${FP3}`,
        "",
      ].join("\n"),
    );
    assert.equal((await KnownUsers.load(path)).lookup("host:5000", "Bob"), FP2);
  });
});

Deno.test("KnownUsers: at most max unverified pins, oldest pruned first; verified pins stay", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/known_users`;
    const ku = await KnownUsers.load(path, 3);
    await ku.trust("host:5000", "vera", FP1);
    assert.equal(ku.isVerified("host:5000", "VERA"), true);
    for (const n of ["ann", "ben", "cat", "dan", "eve"]) await ku.pin("host:5000", n, FP2);
    assert.equal(ku.isVerified("host:5000", "eve"), false);
    assert.equal(
      await Deno.readTextFile(path),
      [
        `host:5000 vera ${FP1} verified`,
        ...["cat", "dan", "eve"].map((n) => `host:5000 ${n} ${FP2}`),
        "",
      ]
        .join("\n"),
    );
    assert.equal(ku.lookup("host:5000", "ann"), undefined, "the oldest unverified went first");
    assert.equal(ku.lookup("host:5000", "vera"), FP1, "the verified pin stays, however old");
    // Trusting an unverified pin marks it verified in place; it is no longer prunable.
    await ku.trust("host:5000", "cat", FP2);
    for (const n of ["fay", "gus", "hal"]) await ku.pin("host:5000", n, FP3);
    assert.equal(ku.lookup("host:5000", "cat"), FP2);
    assert.equal(ku.isVerified("host:5000", "cat"), true);
    assert.equal(ku.lookup("host:5000", "dan"), undefined);
  });
});

Deno.test("KnownUsers: a file over the bound at load is pruned and rewritten, not refused", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/known_users`;
    const lines = ["# my peers", `host:5000 vera ${FP1} verified`];
    for (let i = 0; i < 16_000; i++) lines.push(`host:5000 u${i} ${FP2}`);
    lines.push("x".repeat(100_000)); // too long to be a pin: dropped unread
    lines.push(`host:5000 newest ${FP3}`);
    await Deno.writeTextFile(path, lines.join("\n") + "\n");
    assert.ok((await Deno.stat(path)).size > 1024 * 1024, "over the old 1 MiB refusal");
    const ku = await KnownUsers.load(path);
    assert.equal(ku.pruned, 16_000 - 999 + 1);
    assert.equal(ku.lookup("host:5000", "vera"), FP1);
    assert.equal(ku.lookup("host:5000", "newest"), FP3);
    assert.equal(ku.lookup("host:5000", "u15001"), FP2);
    assert.equal(ku.lookup("host:5000", "u15000"), undefined);
    const text = await Deno.readTextFile(path);
    const kept = text.split("\n");
    assert.equal(kept[0], "# my peers");
    assert.equal(kept[1], `host:5000 vera ${FP1} verified`);
    assert.equal(kept.length, 2 + 1000 + 1);
    const again = await KnownUsers.load(path);
    assert.equal(again.pruned, 0, "within the bound now");
    assert.equal(await Deno.readTextFile(path), text);
  });
});

Deno.test("scanLines: lines across chunks, a last line without newline, over-long lines as null", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/f`;
    const long = "y".repeat(70_000); // longer than one read chunk
    await Deno.writeTextFile(path, `a\n\n${long}\nb${"z".repeat(4000)}\nlast`);
    const got: (string | null)[] = [];
    await scanLines(path, (raw) => got.push(raw === null ? null : new TextDecoder().decode(raw)));
    assert.deepEqual(got, ["a", "", null, `b${"z".repeat(4000)}`, "last"]);
    const none: unknown[] = [];
    await scanLines(`${dir}/absent`, (raw) => none.push(raw));
    assert.deepEqual(none, []);
    await assert.rejects(scanLines(dir, () => {}), TypeError);
  });
});
