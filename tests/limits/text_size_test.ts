/**
 * Size limits (DESIGN.md §4): chat text of exactly `textBytes` UTF-8 bytes is relayed unchanged;
 * one byte more gets `error too_long` with the request id and nothing is relayed or truncated.
 * A record frame longer than `recordFrame` closes the connection before its body is read.
 */

import assert from "node:assert/strict";
import { EvilClient } from "../support/evil_client.ts";
import { utf8 } from "../../shared/encoding.ts";
import { newId } from "../../shared/messages.ts";
import { closeAll, joined, keep, leavesOf, withServer } from "./helpers.ts";

const TEXT_BYTES = 12;

/** Sends `text` from `from`; returns what `from` got back for its id (msg or error). */
async function sayAndAnswer(from: EvilClient, text: string): Promise<Record<string, unknown>> {
  const say = EvilClient.say(text);
  await from.send(say);
  const { match } = await from.readUntil(
    (m) => (m.t === "msg" || m.t === "error") && m.id === say.id,
    3000,
  );
  assert.ok(match, "an answer to the say");
  return match;
}

Deno.test("text size: exactly textBytes (multi-byte) relayed; +1 byte → too_long, nothing relayed", async () => {
  await withServer({ textBytes: TEXT_BYTES }, async (t) => {
    const open: EvilClient[] = [];
    try {
      const alice = keep(open, await joined(t, "alice"));
      const bob = keep(open, await joined(t, "bob"));
      await alice.sync();
      const fits = ["😀😀€a", "a".repeat(TEXT_BYTES), "éééééé"];
      const over = ["😀😀€ab", "a".repeat(TEXT_BYTES + 1), "aaaaaaaaaaa€", "éééééé!"];
      for (const s of fits) assert.equal(utf8.encode(s).length, TEXT_BYTES);
      for (const s of over) assert.ok(utf8.encode(s).length > TEXT_BYTES);
      for (const text of fits) {
        const own = await sayAndAnswer(alice, text);
        assert.equal(own.t, "msg");
        assert.equal(own.text, text);
        const { match } = await bob.readUntil((m) => m.t === "msg", 3000);
        assert.equal(match?.text, text, "relayed unchanged");
      }
      for (const text of over) {
        const own = await sayAndAnswer(alice, text);
        assert.equal(own.t, "error");
        assert.equal(own.code, "too_long");
        // The hub answered alice, so any relay to bob would already be queued before his pong.
        const before = await bob.sync();
        assert.deepEqual(before.filter((m) => m.t === "msg"), [], `nothing relayed for ${text}`);
      }
      assert.equal(alice.peerClosed, false, "too_long does not disconnect");
    } finally {
      await closeAll(...open);
    }
  });
});

/** A `say` record whose plaintext is exactly `plainBytes` long (ASCII padding in the text). */
function sayOfSize(plainBytes: number): { msg: Record<string, unknown>; bytes: Uint8Array } {
  const base = { t: "say", id: newId(), room: "#lobby", text: "" };
  const pad = plainBytes - utf8.encode(JSON.stringify(base)).length;
  const msg = { ...base, text: "x".repeat(pad) };
  const bytes = utf8.encode(JSON.stringify(msg));
  assert.equal(bytes.length, plainBytes);
  return { msg, bytes };
}

Deno.test("record size: a record of exactly recordFrame is accepted; a header for +1 closes", async () => {
  const recordFrame = 1024;
  await withServer({ recordFrame, textBytes: 2048 }, async (t) => {
    const open: EvilClient[] = [];
    try {
      const observer = keep(open, await joined(t, "olivia"));
      const sender = keep(open, await joined(t, "sid"));
      const over = keep(open, await joined(t, "oscar"));
      await observer.sync();
      // Good case: body = plaintext + 16-byte tag = recordFrame exactly.
      const { msg, bytes } = sayOfSize(recordFrame - 16);
      const body = await sender.send(bytes);
      assert.equal(body.length, recordFrame);
      const { match } = await observer.readUntil((m) => m.t === "msg", 3000);
      assert.equal(match?.id, msg.id);
      assert.equal(match?.text, msg.text);
      // Bad case: only a header announcing recordFrame + 1 bytes; no body follows.
      await over.sendHeader(recordFrame + 1);
      assert.equal(await over.waitClosed(3000), true, "closed before the body arrived");
      const { match: leave } = await observer.readUntil(
        (m) => m.t === "event" && m.kind === "leave",
        3000,
      );
      assert.deepEqual(leavesOf([leave!], "oscar").map((m) => m.reason), ["connection lost"]);
      assert.equal(sender.peerClosed, false);
    } finally {
      await closeAll(...open);
    }
  });
});
