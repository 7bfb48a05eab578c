import assert from "node:assert/strict";
import { Transcript, transcriptLine } from "../../server/transcript.ts";

async function withFile(body: (path: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "chat_transcript_" });
  try {
    await body(`${dir}/chat.jsonl`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Splits like the strictest line readers do: on \n, \r, U+0085, U+2028 and U+2029. */
function lines(text: string): string[] {
  assert.ok(text.endsWith("\n"));
  return text.slice(0, -1).split(/\r\n|[\n\r\u0085\u2028\u2029]/);
}

const TRICKY = [
  "two\nlines",
  "carriage\r\nreturn",
  'quotes " and \\ backslash',
  "unicode: héllo 世界 🎉",
  "separators \u2028 and \u2029 and \u0085",
  "controls \u0000\u001b[31m\u007f",
  "lone surrogate \ud800",
];

Deno.test("transcript: each tricky entry is exactly one parseable line", async () => {
  await withFile(async (path) => {
    const t = await Transcript.open(path);
    for (const text of TRICKY) t.write({ ts: 1, room: "#lobby", kind: "msg", from: "alice", text });
    await t.close();
    const got = lines(await Deno.readTextFile(path));
    assert.equal(got.length, TRICKY.length);
    for (let i = 0; i < TRICKY.length; i++) {
      const parsed = JSON.parse(got[i]);
      assert.equal(parsed.text, TRICKY[i]); // even the lone surrogate survives, as an escape
      assert.deepEqual(Object.keys(parsed), ["ts", "room", "kind", "from", "text"]);
    }
  });
});

Deno.test("transcriptLine: known fields only, fixed order; malformed entries are TypeErrors", () => {
  const entry = {
    text: "t",
    reason: "r",
    target: "SHA256:y",
    by_fp: "SHA256:x",
    by: "b",
    name: "n",
    from: "f",
    kind: "kick",
    room: "#r",
    ts: 7,
    secret: "key material",
  };
  assert.equal(
    transcriptLine(entry),
    '{"ts":"1970-01-01T00:00:00.007Z","room":"#r","kind":"kick","from":"f","name":"n","by":"b",' +
      '"by_fp":"SHA256:x","target":"SHA256:y","reason":"r","text":"t"}\n',
  );
  assert.equal(
    transcriptLine({ ts: 1, kind: "announce" }),
    '{"ts":"1970-01-01T00:00:00.001Z","kind":"announce"}\n',
  );
  assert.equal(
    transcriptLine({ ts: 1, kind: "x", text: "a\u2028b" }),
    '{"ts":"1970-01-01T00:00:00.001Z","kind":"x","text":"a\\u2028b"}\n',
  );
  assert.throws(() => transcriptLine({ ts: NaN, kind: "x" }), TypeError);
  assert.throws(() => transcriptLine({ ts: 9e15, kind: "x" }), TypeError);
  assert.throws(() => transcriptLine({ ts: 1, kind: 3 as unknown as string }), TypeError);
  assert.throws(
    () => transcriptLine({ ts: 1, kind: "x", text: 5 as unknown as string }),
    TypeError,
  );
});

Deno.test("transcript: flush writes everything so far, in order, and appends to existing data", async () => {
  await withFile(async (path) => {
    await Deno.writeTextFile(path, '{"ts":0,"kind":"old"}\n');
    const t = await Transcript.open(path);
    try {
      for (let i = 0; i < 500; i++) t.write({ ts: i, kind: "msg", text: `m${i}` });
      const first = t.flush();
      for (let i = 500; i < 1000; i++) t.write({ ts: i, kind: "msg", text: `m${i}` });
      await first;
      const partial = lines(await Deno.readTextFile(path));
      assert.ok(partial.length >= 501, `got ${partial.length}`);
      await t.flush();
      const all = lines(await Deno.readTextFile(path)).map((l) => JSON.parse(l));
      assert.equal(all.length, 1001);
      assert.equal(all[0].kind, "old");
      assert.deepEqual(
        all.slice(1).map((e) => e.ts),
        Array.from({ length: 1000 }, (_, i) => new Date(i).toISOString()),
      );
      assert.equal(t.dropped, 0);
    } finally {
      await t.close();
    }
  });
});

Deno.test("transcript: a new file is created with mode 0600", async () => {
  if (Deno.build.os === "windows") return;
  await withFile(async (path) => {
    const t = await Transcript.open(path);
    await t.close();
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
  });
});

Deno.test("transcript: beyond the pending bound, new entries are dropped and counted", async () => {
  await withFile(async (path) => {
    const line = transcriptLine({ ts: 1, kind: "msg", text: "x" });
    const t = await Transcript.open(path, { maxPendingBytes: line.length * 3 });
    for (let i = 0; i < 5; i++) t.write({ ts: 1, kind: "msg", text: "x" });
    assert.equal(t.dropped, 2);
    await t.flush();
    t.write({ ts: 1, kind: "msg", text: "x" }); // room again once written
    assert.equal(t.dropped, 2);
    await t.close();
    assert.equal(lines(await Deno.readTextFile(path)).length, 4);
  });
  await assert.rejects(
    () => Transcript.open("/nonexistent-dir/x.jsonl", { maxPendingBytes: 0 }),
    RangeError,
  );
});

Deno.test("transcript: close flushes, is idempotent, and later writes are dropped", async () => {
  await withFile(async (path) => {
    const t = await Transcript.open(path);
    t.write({ ts: 1, kind: "join", name: "alice", room: "#lobby" });
    const closing = t.close();
    t.write({ ts: 2, kind: "leave", name: "alice", room: "#lobby" });
    await closing;
    await t.close();
    t.write({ ts: 3, kind: "join", name: "bob" });
    assert.equal(t.dropped, 2);
    assert.deepEqual(lines(await Deno.readTextFile(path)).map((l) => JSON.parse(l)), [
      { ts: "1970-01-01T00:00:00.001Z", room: "#lobby", kind: "join", name: "alice" },
    ]);
  });
});
