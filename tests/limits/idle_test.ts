/**
 * Idle limits (DESIGN.md §4): after `idlePingMs` of silence the server pings; a client silent for
 * `idleCloseMs` is closed (a half-open socket is freed, others see leave "connection lost"); a
 * client that answers the ping stays.
 */

import assert from "node:assert/strict";
import { EvilClient } from "../support/evil_client.ts";
import { answerPings, closeAll, joined, keep, leavesOf, withServer } from "./helpers.ts";

const PING_MS = 300;
const CLOSE_MS = 900;

Deno.test("idle: silent client is pinged then closed; one answering pong stays", async () => {
  await withServer({ idlePingMs: PING_MS, idleCloseMs: CLOSE_MS }, async (t) => {
    const open: EvilClient[] = [];
    try {
      const observer = keep(open, await joined(t, "olivia"));
      const answering = keep(open, await joined(t, "paul"));
      // Taken before sam's last byte reaches the server, so elapsed times are upper bounds.
      const joinedAt = Date.now();
      const silent = keep(open, await joined(t, "sam"));
      const silentFlow = (async () => {
        const { match } = await silent.readUntil((m) => m.t === "ping", CLOSE_MS + 2000);
        const pingAt = Date.now() - joinedAt;
        assert.equal(match?.t, "ping", "the silent client was pinged");
        assert.equal(typeof match?.n, "number");
        // Never answers: the server must close it without a goodbye.
        const closed = await silent.waitClosed(CLOSE_MS + 2000);
        return { pingAt, closed, closedAt: Date.now() - joinedAt };
      })();
      const watch = CLOSE_MS * 2 + 500;
      const [s, seenByObserver, seenByAnswering] = await Promise.all([
        silentFlow,
        answerPings(observer, watch),
        answerPings(answering, watch),
      ]);
      assert.ok(s.pingAt >= PING_MS - 20, `pinged after ${s.pingAt} ms`);
      assert.equal(s.closed, true, "silent client closed");
      assert.ok(s.closedAt >= CLOSE_MS - 20, `closed after ${s.closedAt} ms`);
      assert.deepEqual(
        leavesOf(seenByObserver, "sam").map((m) => m.reason),
        ["connection lost"],
      );
      assert.ok(seenByAnswering.some((m) => m.t === "ping"), "the answering client was pinged");
      assert.deepEqual(leavesOf(seenByObserver, "paul"), [], "the answering client stayed");
      // Both answering clients are still served after twice the close deadline.
      assert.equal(answering.peerClosed, false);
      await answering.send(EvilClient.say("awake"));
      const { match } = await observer.readUntil((m) => m.t === "msg", 3000);
      assert.equal(match?.from, "paul");
      assert.equal(match?.text, "awake");
      assert.equal(t.server.connections, 2, "the silent client's slot is freed");
    } finally {
      await closeAll(...open);
    }
  });
});
