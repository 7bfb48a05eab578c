/**
 * Handshake deadline (DESIGN.md §4): accept → welcome must finish within `handshakeMs`. A silent
 * socket gets Refusal "timeout" and a close; a socket that stops after its ClientHello is closed;
 * a client that authenticates in time stays connected past the deadline.
 */

import assert from "node:assert/strict";
import { EvilClient } from "../support/evil_client.ts";
import { closeAll, joined, keep, refusalCode, sleep, withServer } from "./helpers.ts";

const HANDSHAKE_MS = 300;

Deno.test("handshake deadline: silent socket → Refusal 'timeout' then close", async () => {
  await withServer({ handshakeMs: HANDSHAKE_MS }, async (t) => {
    const started = Date.now();
    const c = await EvilClient.connect(t.port);
    try {
      const f = await c.readFrame(3000);
      const waited = Date.now() - started;
      assert.equal(refusalCode(f), "timeout");
      assert.ok(waited >= HANDSHAKE_MS - 20, `refused after ${waited} ms, before the deadline`);
      assert.equal(await c.waitClosed(2000), true);
      assert.equal(c.bytesReceived, 4 + 1 + "timeout".length, "nothing but the Refusal frame");
    } finally {
      await c.close();
    }
  });
});

Deno.test("handshake deadline: ClientHello but no auth → closed; in-time login stays", async () => {
  await withServer({ handshakeMs: HANDSHAKE_MS }, async (t) => {
    const open: EvilClient[] = [];
    try {
      const started = Date.now(); // before connect: never later than the server's accept
      const stalled = keep(open, await EvilClient.connect(t.port));
      const s = await stalled.handshake();
      assert.equal(s.serverHello.length, 161);
      // Good case next to it: a client that authenticates at once.
      const good = keep(open, await joined(t, "alice"));
      assert.equal(await stalled.waitClosed(3000), true, "stalled client closed");
      const waited = Date.now() - started;
      assert.ok(waited >= HANDSHAKE_MS - 20, `closed after ${waited} ms, before the deadline`);
      // The deadline no longer applies once authenticated.
      await sleep(HANDSHAKE_MS * 2);
      assert.equal(good.peerClosed, false);
      await good.send(EvilClient.say("still here"));
      const { match } = await good.readUntil((m) => m.t === "msg", 3000);
      assert.equal(match?.text, "still here");
      assert.equal(t.server.connections, 1);
    } finally {
      await closeAll(...open);
    }
  });
});
