/**
 * The persisted replay protection (client/dm_seen.ts) on a real file: what one process accepted,
 * the next refuses; ids older than the kept window are pruned when opened; the file stays bounded
 * (the floor keeps a dropped id refused) and private; damaged lines are skipped; a file that
 * cannot be used is set aside with a notice and nothing sent before is accepted.
 */
import assert from "node:assert/strict";
import { DM_REPLAY_KEEP_MS } from "../../shared/e2e.ts";
import { DM_SEEN_FILE_MAX, SeenFile } from "../../client/dm_seen.ts";

const NOW = 1_700_000_000_000;
const FP = "SHA256:" + "A".repeat(43);
const id = (n: number) => btoa(String(n).padStart(16, "0"));

async function withDir(f: (path: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "chat-seen-" });
  try {
    await f(`${dir}/dm_seen`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("dm_seen: an id accepted by one process is refused by the next", () =>
  withDir(async (path) => {
    const now = { t: NOW };
    const a = await SeenFile.open(path, { now: () => now.t });
    assert.equal(a.cache.accept(FP, id(1), NOW - 5 * 86_400_000, NOW), true);
    assert.equal(a.cache.accept(FP, id(2), NOW, NOW), true);
    a.keepAtLeast(40 * 86_400_000);
    a.close();
    if (Deno.build.os !== "windows") assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    const b = await SeenFile.open(path, { now: () => now.t });
    assert.equal(b.cache.check(FP, id(1), NOW - 5 * 86_400_000, NOW), "seen");
    assert.equal(b.cache.check(FP, id(2), NOW, NOW), "seen");
    assert.equal(b.cache.check(FP, id(3), NOW, NOW), "fresh");
    assert.equal(b.cache.keepMs, 40 * 86_400_000, "the longer window is kept");
    b.close();
    // Later, past the window: the old id is pruned (and would be refused as too old anyway).
    now.t = NOW + 36 * 86_400_000;
    const c = await SeenFile.open(path, { now: () => now.t });
    assert.equal(c.cache.size, 1);
    assert.equal(c.cache.check(FP, id(1), NOW - 5 * 86_400_000, now.t), "stale");
    c.close();
    const lines = (await Deno.readTextFile(path)).trim().split("\n");
    assert.deepEqual(lines, [`keep ${40 * 86_400_000}`, `${NOW} ${FP} ${id(2)}`]);
  }));

Deno.test("dm_seen: bounded; a dropped id stays refused; damaged lines are skipped", () =>
  withDir(async (path) => {
    const a = await SeenFile.open(path, { now: () => NOW, max: 3 });
    for (let i = 1; i <= 8; i++) assert.equal(a.cache.accept(FP, id(i), NOW + i, NOW), true);
    a.close();
    await Deno.writeTextFile(path, "garbage\n12 SHA256:short x\n", { append: true });
    const lines = (await Deno.readTextFile(path)).trim().split("\n");
    assert.ok(lines.length <= 3 + 3 + 2 + 2, `rewritten when past the bound: ${lines.length}`);
    const b = await SeenFile.open(path, { now: () => NOW, max: 3 });
    assert.equal(b.cache.size, 3);
    for (let i = 1; i <= 8; i++) {
      assert.equal(b.cache.accept(FP, id(i), NOW + i, NOW), false, `id ${i} refused`);
    }
    assert.equal(b.cache.accept(FP, id(9), NOW + 9, NOW), true);
    b.close();
    assert.ok(!(await Deno.readTextFile(path)).includes("garbage"), "rewritten without them");
  }));

Deno.test("dm_seen: a file that cannot be used is set aside; nothing sent before is accepted", () =>
  withDir(async (path) => {
    await Deno.writeFile(path, new Uint8Array(DM_SEEN_FILE_MAX + 1));
    const a = await SeenFile.open(path, { now: () => NOW });
    assert.match(a.notice ?? "", /could not be used .* moved to .*\.bad-/);
    assert.equal(a.cache.check(FP, id(1), NOW, NOW), "stale");
    assert.equal(a.cache.check(FP, id(1), NOW + 1, NOW), "fresh");
    a.close();
    assert.ok((await Deno.stat(path)).size < 100);
    const b = await SeenFile.open(path, { now: () => NOW });
    assert.equal(b.notice, undefined);
    assert.equal(b.cache.check(FP, id(1), NOW, NOW), "stale", "the floor is kept");
    b.close();
    assert.ok(DM_REPLAY_KEEP_MS > 30 * 86_400_000);
  }));

Deno.test("dm_seen: a rewrite keeps what another process of the same home appended", () =>
  withDir(async (path) => {
    const a = await SeenFile.open(path, { now: () => NOW, max: 4 });
    const b = await SeenFile.open(path, { now: () => NOW, max: 4 });
    assert.equal(a.cache.accept(FP, id(1), NOW + 1, NOW), true);
    // b appends past its bound (an id, then longer windows) and rewrites the file: a's id,
    // appended meanwhile, is read back in first.
    assert.equal(b.cache.accept(FP, id(2), NOW + 2, NOW), true);
    for (let d = 33; d <= 36; d++) b.keepAtLeast(d * 86_400_000);
    a.close();
    b.close();
    assert.ok((await Deno.readTextFile(path)).startsWith(`keep ${36 * 86_400_000}\n`), "rewritten");
    const c = await SeenFile.open(path, { now: () => NOW, max: 4 });
    assert.equal(c.cache.check(FP, id(1), NOW + 1, NOW), "seen");
    assert.equal(c.cache.check(FP, id(2), NOW + 2, NOW), "seen");
    c.close();
  }));
