/**
 * The `--log` writer's rotation and recovery: `keep: 0` keeps no old file, an entry larger than
 * the bound gets a file of its own, and after a full disk the writer reports the failure, goes
 * on once space is freed, and leaves only whole JSON lines after the failure point.
 */
import assert from "node:assert/strict";
import { Transcript } from "../../server/transcript.ts";
import { fillUp, mountSmallFs, unmountSmallFs } from "./helpers.ts";

function lines(text: string): unknown[] {
  return text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
}

Deno.test("transcript: keep 0 rotates without old files; a huge entry gets a file alone", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-rot-" });
  try {
    const t = await Transcript.open(`${dir}/log`, { maxBytes: 200, keep: 0 });
    for (let i = 0; i < 10; i++) t.write({ ts: i, kind: "msg", text: "x".repeat(40) });
    await t.flush();
    t.write({ ts: 99, kind: "msg", text: "y".repeat(500) });
    await t.close();
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["log"]);
    assert.deepEqual(lines(await Deno.readTextFile(`${dir}/log`)), [
      { ts: new Date(99).toISOString(), kind: "msg", text: "y".repeat(500) },
    ]);
    await assert.rejects(Transcript.open(`${dir}/log`, { keep: -1 }), RangeError);
    await assert.rejects(Transcript.open(`${dir}/log`, { maxBytes: 0 }), RangeError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("transcript: a full disk is reported, then writing resumes with whole lines", async () => {
  const mnt = await mountSmallFs(1, "transcript_rotation_test");
  if (mnt === undefined) return;
  const errors: unknown[] = [];
  const t = await Transcript.open(`${mnt}/log`, { onError: (e) => errors.push(e) });
  try {
    t.write({ ts: 1, kind: "msg", text: "before" });
    await t.flush();
    await fillUp(`${mnt}/filler`);
    for (let i = 0; i < 50; i++) t.write({ ts: 2, kind: "msg", text: "lost ".repeat(200) });
    await assert.rejects(t.flush());
    assert.ok(errors.length >= 1, "the failure is reported");
    assert.ok(t.dropped >= 1);
    await Deno.remove(`${mnt}/filler`);
    t.write({ ts: 3, kind: "msg", text: "after" });
    await t.flush();
    await t.close();
    const all = (await Deno.readTextFile(`${mnt}/log`)).split("\n").filter((l) => l !== "");
    assert.deepEqual(JSON.parse(all[0]), {
      ts: new Date(1).toISOString(),
      kind: "msg",
      text: "before",
    });
    assert.deepEqual(JSON.parse(all.at(-1)!), {
      ts: new Date(3).toISOString(),
      kind: "msg",
      text: "after",
    });
  } finally {
    await t.close();
    await unmountSmallFs(mnt);
  }
});
