/**
 * Connection caps (DESIGN.md §4): over `maxConnections` a new connection gets Refusal "full";
 * at `maxUnauthenticated` a new connection evicts the oldest unauthenticated one, and an
 * authenticated client is never evicted.
 */

import assert from "node:assert/strict";
import { EvilClient } from "../support/evil_client.ts";
import { until } from "../adversarial/helpers.ts";
import {
  assertDroppedSilently,
  closeAll,
  joined,
  keep,
  refusalCode,
  sleep,
  withServer,
} from "./helpers.ts";

Deno.test("maxConnections: the cap-th connection gets in, the next gets Refusal 'full'", async () => {
  await withServer({ maxConnections: 2 }, async (t) => {
    const open: EvilClient[] = [];
    try {
      const alice = keep(open, await joined(t, "alice"));
      const bob = keep(open, await joined(t, "bob")); // exactly at the cap: admitted
      assert.equal(t.server.connections, 2);
      const third = keep(open, await EvilClient.connect(t.port));
      assert.equal(refusalCode(await third.readFrame(3000)), "full");
      assert.equal(await third.waitClosed(3000), true);
      await alice.sync();
      await bob.sync();
      // A freed slot is usable again.
      await bob.close();
      await until(() => t.server.connections === 1, 3000, "bob's slot freed");
      const carol = keep(open, await joined(t, "carol"));
      await carol.sync();
    } finally {
      await closeAll(...open);
    }
  });
});

Deno.test("maxUnauthenticated: the oldest unauthenticated is evicted, never an authenticated one", async () => {
  await withServer({ maxUnauthenticated: 2 }, async (t) => {
    const open: EvilClient[] = [];
    try {
      const alice = keep(open, await joined(t, "alice"));
      const u1 = keep(open, await EvilClient.connect(t.port));
      await until(() => t.server.connections === 2, 3000, "u1 accepted");
      const u2 = keep(open, await EvilClient.connect(t.port));
      await until(() => t.server.connections === 3, 3000, "u2 accepted");
      // Good case: at the limit nobody is evicted.
      await sleep(100);
      assert.equal(u1.peerClosed, false);
      assert.equal(u2.peerClosed, false);
      // One more: u1 (the oldest unauthenticated) goes, without a byte.
      const u3 = keep(open, await EvilClient.connect(t.port));
      await assertDroppedSilently(u1);
      assert.equal(await u2.waitClosed(200), false, "u2 stays");
      // The newcomer is served, and can authenticate.
      await u3.handshake();
      await u3.login("carol");
      // More newcomers evict u2 then each other, never alice or carol.
      const more: EvilClient[] = [];
      for (let i = 0; i < 4; i++) {
        more.push(keep(open, await EvilClient.connect(t.port)));
        await until(() => t.server.connections === 4, 3000, "newcomer accepted");
      }
      await assertDroppedSilently(u2);
      for (const c of more.slice(0, 2)) await assertDroppedSilently(c);
      for (const c of more.slice(2)) assert.equal(await c.waitClosed(50), false);
      assert.equal(alice.peerClosed, false);
      assert.equal(u3.peerClosed, false);
      await alice.sync();
      await u3.sync();
    } finally {
      await closeAll(...open);
    }
  });
});
