/**
 * The send queue of a connection (server/outbox.ts) with the real record layer: what is queued
 * leaves in as few sealed records as fit, in order; the bounds hold; oversized answers become
 * too_long; history replay is pulled by budget; the record counter's end is a goodbye.
 */

import assert from "node:assert/strict";
import { Outbox, REPLAY_BUDGET } from "../../server/outbox.ts";
import type { LineSource } from "../../server/hub.ts";
import { aeadImport } from "../../shared/crypto.ts";
import { decodeUtf8, utf8 } from "../../shared/encoding.ts";
import { FrameDecoder } from "../../shared/frame.ts";
import { type DirectionKeys, RecordOpener, RecordSealer, REKEY_AT } from "../../shared/record.ts";

const LIMITS = { sendQueueEvents: 2000, sendQueueBytes: 256 * 1024, recordPlaintext: 16_384 };

function pair(seq = 0) {
  const keys: DirectionKeys = {
    cipher: "aes-256-gcm",
    key: aeadImport(new Uint8Array(32).fill(7)),
    iv: new Uint8Array(12).fill(3),
    dir: 1,
  };
  return { sealer: new RecordSealer(keys, seq), opener: new RecordOpener(keys, seq) };
}

/** Opens every frame in `bytes`: one array of lines per record. */
function records(bytes: Uint8Array, opener: RecordOpener): string[][] {
  const d = new FrameDecoder({ min: 1, max: 1 << 20 });
  d.push(bytes);
  const out: string[][] = [];
  for (let f = d.next(); f !== null; f = d.next()) out.push(decodeUtf8(opener.open(f)).split("\n"));
  d.finish();
  return out;
}

const line = (i: number, pad = 100) => JSON.stringify({ t: "msg", seq: i, text: "x".repeat(pad) });

Deno.test("outbox: all that is queued leaves in as few records as fit, in order, bytes shared", () => {
  const { sealer, opener } = pair();
  const out = new Outbox(LIMITS);
  const sent: string[] = [];
  const shared = utf8.encode(line(0));
  const copy = shared.slice();
  for (let i = 0; i < 400; i++) {
    const l = i === 0 ? shared : i % 2 === 0 ? utf8.encode(line(i)) : line(i);
    assert.equal(out.push(l), true);
    sent.push(i === 0 ? line(0) : line(i));
  }
  const { bytes, rekey } = out.drain(sealer);
  assert.equal(rekey, false);
  assert.equal(out.empty, true);
  const got = records(bytes, opener);
  assert.deepEqual(got.flat(), sent);
  const total = sent.reduce((n, l) => n + l.length + 1, -1);
  assert.equal(got.length, Math.ceil(total / LIMITS.recordPlaintext), "records are full");
  assert.equal(sealer.seq, got.length, "one seal per record");
  for (const r of got) assert.ok(utf8.encode(r.join("\n")).length <= LIMITS.recordPlaintext);
  assert.deepEqual(shared, copy, "the shared bytes are not changed");
  assert.equal(out.drain(sealer).bytes.length, 0, "nothing more");
});

Deno.test("outbox: an answer larger than a record becomes too_long for its id", () => {
  const { sealer, opener } = pair();
  const out = new Outbox(LIMITS);
  const big = (id?: string) => JSON.stringify({ t: "reply", id, text: "é".repeat(9000) });
  out.push(line(1));
  out.push(big("abc"));
  out.push(utf8.encode(big()));
  out.push(line(2));
  const got = records(out.drain(sealer).bytes, opener).flat().map((l) => JSON.parse(l));
  assert.deepEqual(got.map((m) => [m.t, m.id, m.code]), [
    ["msg", undefined, undefined],
    ["error", "abc", "too_long"],
    ["error", undefined, "too_long"],
    ["msg", undefined, undefined],
  ]);
});

Deno.test("outbox: message and byte bounds refuse the one too many; a goodbye always fits", () => {
  const out = new Outbox({ ...LIMITS, sendQueueEvents: 3, sendQueueBytes: 1000 });
  assert.equal(out.push("a".repeat(400)), true);
  assert.equal(out.push("b".repeat(400)), true);
  assert.equal(out.push("c".repeat(201)), false, "1001 bytes");
  assert.equal(out.push("c".repeat(200)), true, "exactly 1000 bytes");
  assert.equal(out.push("d"), false, "a fourth message");
  assert.equal(out.push(JSON.stringify({ t: "bye", reason: "x" }), true), true);
  const { sealer, opener } = pair();
  const got = records(out.drain(sealer).bytes, opener).flat();
  assert.equal(got.length, 4);
  assert.equal(out.push("e".repeat(1000)), true, "a drain frees the room");
  out.clear();
  assert.equal(out.empty, true);
});

Deno.test("outbox: a replay source is pulled up to the budget per drain, in order with the rest", () => {
  const { sealer, opener } = pair();
  const out = new Outbox(LIMITS);
  let next = 0;
  const rows = 2000;
  const source: LineSource = {
    next: (max) => {
      const batch: string[] = [];
      while (batch.length < max && next < rows) batch.push(line(next++, 200));
      return batch;
    },
  };
  out.push("before");
  out.pushSource(source);
  out.push("after");
  const seen: string[] = [];
  let drains = 0;
  while (!out.empty) {
    const got = records(out.drain(sealer).bytes, opener).flat();
    const replayed = got.filter((l) => l.startsWith("{")).join("\n").length;
    assert.ok(replayed <= REPLAY_BUDGET + 64 * 300, `drain ${drains} within the budget`);
    seen.push(...got);
    drains++;
  }
  assert.ok(drains >= Math.floor(rows * 230 / REPLAY_BUDGET), `${drains} drains`);
  assert.deepEqual(seen, [
    "before",
    ...Array.from({ length: rows }, (_, i) => line(i, 200)),
    "after",
  ]);
});

Deno.test("outbox: at the record limit the last record is bye rekey and the queue is dropped", () => {
  const { sealer, opener } = pair(REKEY_AT - 1);
  const out = new Outbox(LIMITS);
  for (let i = 0; i < 300; i++) out.push(line(i)); // three records' worth
  const { bytes, rekey } = out.drain(sealer);
  assert.equal(rekey, true);
  assert.equal(out.empty, true);
  const got = records(bytes, opener);
  assert.equal(got.length, 2);
  assert.equal(got[0].length > 1, true, "the first record goes out as usual");
  assert.deepEqual(got[1], [JSON.stringify({ t: "bye", reason: "rekey" })]);
  assert.equal(sealer.seq, REKEY_AT + 1);
});

Deno.test("outbox: drained with later, large AES-GCM records are sealed later, frames in order", async () => {
  const { sealer, opener } = pair();
  const out = new Outbox(LIMITS);
  const sent: string[] = [];
  const queue = (n: number, pad: number) => {
    for (let i = 0; i < n; i++) {
      const l = line(sent.length, pad);
      assert.equal(out.push(l), true);
      sent.push(l);
    }
  };
  queue(5, 10); // one small record: sealed at once
  const small = out.drain(sealer, true);
  assert.equal(small.later, undefined);
  queue(300, 100); // two full records and a small third
  const d = out.drain(sealer, true);
  assert.ok(d.later instanceof Promise);
  assert.equal(d.bytes.length, 0);
  assert.equal(out.empty, true);
  assert.equal(sealer.seq, 4, "the counter advanced when drained");
  queue(3, 10); // drained (at once) before the large ones settle: its seq comes after theirs
  const after = out.drain(sealer, true);
  assert.equal(after.later, undefined);
  const got = [small.bytes, await d.later, after.bytes].map((b) => records(b, opener));
  assert.deepEqual(got.map((r) => r.length), [1, 3, 1]);
  assert.deepEqual(got.flat(2), sent);
  for (const r of got.flat()) {
    assert.ok(utf8.encode(r.join("\n")).length <= LIMITS.recordPlaintext, "within the limit");
  }
  // Without later, the same queue is sealed at once.
  queue(300, 100);
  const sync = out.drain(sealer);
  assert.equal(sync.later, undefined);
  assert.deepEqual(records(sync.bytes, opener).flat(), sent.slice(-300));
});

Deno.test("outbox: drained with later at the record limit, the last record is still bye rekey", async () => {
  const { sealer, opener } = pair(REKEY_AT - 1);
  const out = new Outbox(LIMITS);
  for (let i = 0; i < 300; i++) out.push(line(i));
  const { bytes, rekey, later } = out.drain(sealer, true);
  assert.equal(rekey, true);
  assert.equal(bytes.length, 0);
  const got = records(await later!, opener);
  assert.equal(got.length, 2);
  assert.deepEqual(got[0], Array.from({ length: got[0].length }, (_, i) => line(i)));
  assert.deepEqual(got[1], [JSON.stringify({ t: "bye", reason: "rekey" })]);
  assert.equal(sealer.seq, REKEY_AT + 1);
});
