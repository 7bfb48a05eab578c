/**
 * Bounded send queue (DESIGN.md §4): a client that authenticates and then never reads is
 * disconnected as a slow consumer once its queue passes `sendQueueEvents`, while the room keeps
 * flowing: an honest reader receives every message in order, none lost. Fan-out never waits for
 * the stuck socket. A reader whose write stalls (large AES-256-GCM records, sealed
 * asynchronously) is closed by the stalled-write deadline.
 */

import assert from "node:assert/strict";
import { EvilClient } from "../support/evil_client.ts";
import { closeAll, joined, keep, leavesOf, withServer } from "./helpers.ts";

const TEXT = 15_000; // large messages fill the stuck socket's kernel buffers quickly
const MAX_MESSAGES = 2500; // ≈ 37 MB: far more than loopback socket buffers can hold
const AFTER = 30; // messages sent after the slow consumer is gone
const WINDOW = 12; // messages the honest readers may lag behind (below sendQueueEvents)

Deno.test("slow consumer: a client that never reads is dropped; the reader gets every message", async () => {
  const limits = {
    textBytes: TEXT + 100,
    sendQueueEvents: 32,
    sendQueueBytes: 2 * 1024 * 1024,
    stalledWriteMs: 60_000, // so only the queue bound can explain the drop
    rateBurst: 1_000_000,
    ratePerSecond: 1_000_000,
  };
  await withServer(limits, async (t) => {
    const open: EvilClient[] = [];
    try {
      const reader = keep(open, await joined(t, "rita"));
      const sender = keep(open, await joined(t, "sid"));
      const slow = keep(open, await joined(t, "zed"));
      await reader.sync();
      await sender.sync();
      // From here on, zed never reads.
      let zedGoneAt = -1;
      let sentCount = 0;
      let readerCount = 0;
      let senderCount = 0;
      const readerDone = reader.readUntil((m) => {
        if (leavesOf([m], "zed").length > 0 && zedGoneAt < 0) zedGoneAt = sentCount;
        if (m.t === "msg") readerCount++;
        return m.t === "msg" && m.text === "END";
      }, 30_000);
      const senderDone = sender.readUntil((m) => {
        if (m.t === "msg") senderCount++;
        return m.t === "msg" && m.text === "END";
      }, 30_000);
      const sentIds: string[] = [];
      let after = 0;
      for (let i = 0; i < MAX_MESSAGES && after < AFTER; i++) {
        const say = EvilClient.say(`${i}:${"x".repeat(TEXT)}`);
        await sender.send(say);
        sentIds.push(say.id);
        sentCount++;
        if (zedGoneAt >= 0) after++;
        // The honest readers stay at most WINDOW messages behind, so only zed's queue can grow.
        while (sentCount - Math.min(readerCount, senderCount) > WINDOW) {
          await new Promise((r) => setTimeout(r, 1));
        }
      }
      const end = EvilClient.say("END");
      await sender.send(end);
      sentIds.push(end.id);
      const [r, s] = await Promise.all([readerDone, senderDone]);
      assert.ok(zedGoneAt > 0, `zed was disconnected (after ${zedGoneAt} of ${sentCount})`);
      assert.ok(zedGoneAt < MAX_MESSAGES, "zed was dropped before the flood ended");
      assert.equal(after, AFTER, "the room kept flowing after zed left");
      const got = r.seen.filter((m) => m.t === "msg" && m.from === "sid");
      assert.equal(got.length, sentIds.length, "the reader lost no message");
      assert.deepEqual(got.map((m) => m.id), sentIds, "in order");
      const seqs = got.map((m) => m.seq as number);
      assert.ok(seqs.every((q, i) => i === 0 || q === seqs[i - 1] + 1), "seq has no gap");
      assert.deepEqual(
        leavesOf(r.seen, "zed").map((m) => m.reason),
        ["connection lost"],
      );
      assert.equal(s.seen.filter((m) => m.t === "msg").length, sentIds.length);
      // zed, reading at last, finds what the kernel buffered and then the close.
      assert.equal(await slow.waitClosed(10_000), true);
      assert.ok(reader.peerClosed === false && sender.peerClosed === false);
      assert.equal(t.server.connections, 2);
    } finally {
      await closeAll(...open);
    }
  });
});

Deno.test("stalled write: an AES-256-GCM reader that stops reading large records is dropped in time", async () => {
  // Large records to an AES-256-GCM client are sealed asynchronously (server/outbox.ts): the
  // write in flight, seal included, still has its deadline. The queue bounds are far away, so
  // only the stalled-write deadline can explain the drop.
  const stalledWriteMs = 1000;
  const limits = {
    textBytes: TEXT + 100,
    sendQueueEvents: 100_000,
    sendQueueBytes: 256 * 1024 * 1024,
    stalledWriteMs,
    rateBurst: 1_000_000,
    ratePerSecond: 1_000_000,
  };
  await withServer(limits, async (t) => {
    const open: EvilClient[] = [];
    try {
      const sender = keep(open, await joined(t, "sid"));
      const slow = keep(open, await joined(t, "zed")); // EvilClient: AES-256-GCM, never reads
      assert.equal(slow.session?.cipher, "aes-256-gcm");
      await sender.sync();
      let goneAt = 0;
      const gone = sender.readUntil((m) => {
        if (leavesOf([m], "zed").length === 0) return false;
        goneAt = Date.now();
        return true;
      }, 30_000);
      // Send until zed is gone: its socket fills within a few hundred messages; from then on its
      // write waits, and the deadline closes it.
      const start = Date.now();
      let sent = 0;
      while (goneAt === 0 && Date.now() - start < 25_000) {
        await sender.send(EvilClient.say(`${sent++}:${"x".repeat(TEXT)}`));
        await new Promise((r) => setTimeout(r, 2));
      }
      const { match } = await gone;
      assert.equal(match?.reason, "connection lost");
      // Filling loopback buffers takes well under a second here; the deadline adds one second
      // and the server checks it every quarter of it.
      assert.ok(goneAt - start < 10_000, `dropped after ${goneAt - start} ms (${sent} messages)`);
      assert.equal(await slow.waitClosed(10_000), true);
      assert.equal(t.server.connections, 1);
    } finally {
      await closeAll(...open);
    }
  });
});
