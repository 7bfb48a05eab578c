/**
 * Per-address limits (DESIGN.md §4): `perIpConcurrent` connections from one address are served,
 * one more gets Refusal "per_ip_limit"; more than `perIpNew` new connections per window get
 * "throttled"; another address is unaffected. Clients bind to the loopback aliases 127.0.0.2 and
 * 127.0.0.3; where those do not exist the tests are skipped with a message.
 */

import assert from "node:assert/strict";
import { BoundSocket, loopbackAliasWorks } from "../support/net_bind.ts";
import { until } from "../adversarial/helpers.ts";
import { EvilClient } from "../support/evil_client.ts";
import { closeAll, keep, refusalCode, sleep, withServer } from "./helpers.ts";

const A = "127.0.0.2";
const B = "127.0.0.3";
const aliases = await loopbackAliasWorks(A) && await loopbackAliasWorks(B);
if (!aliases) {
  console.warn(`per-IP tests skipped: cannot bind sockets to ${A} and ${B} on this machine`);
}

/** Connects from `from`, sends a ClientHello, and returns the first frame's kind. */
async function attempt(port: number, from: string, open: BoundSocket[]): Promise<string> {
  const s = keep(open, await BoundSocket.connect(port, from));
  await s.sendHello();
  const f = await s.readFrame(3000);
  if (f === null) return "closed";
  if (f.length === 161) return "server_hello";
  return `refusal:${refusalCode(f)}`;
}

Deno.test({
  name: "per IP: perIpConcurrent from one address served, one more → 'per_ip_limit'",
  ignore: !aliases,
  async fn() {
    await withServer({ perIpConcurrent: 2 }, async (t) => {
      const open: BoundSocket[] = [];
      const evil: EvilClient[] = [];
      try {
        assert.equal(await attempt(t.port, A, open), "server_hello");
        assert.equal(await attempt(t.port, A, open), "server_hello");
        assert.equal(await attempt(t.port, A, open), "refusal:per_ip_limit");
        assert.equal(await open[2].waitClosed(3000), true);
        // Other addresses are not affected.
        assert.equal(await attempt(t.port, B, open), "server_hello");
        const alice = keep(evil, await EvilClient.joined(t.port, "alice"));
        await alice.sync();
        // Closing one connection frees a slot for that address.
        await open[0].close();
        await until(() => t.server.connections === 3, 3000, "slot freed");
        assert.equal(await attempt(t.port, A, open), "server_hello");
      } finally {
        await closeAll(...open, ...evil);
      }
    });
  },
});

Deno.test({
  name: "per IP: more than perIpNew new connections in the window → 'throttled'",
  ignore: !aliases,
  async fn() {
    const windowMs = 1500;
    await withServer({ perIpNew: 2, perIpWindowMs: windowMs }, async (t) => {
      const open: BoundSocket[] = [];
      try {
        let firstAdmitted = 0; // not earlier than the server's record of the first connection
        for (let i = 0; i < 2; i++) {
          // Sequential, each closed before the next: only the rate counts, not concurrency.
          assert.equal(await attempt(t.port, A, open), "server_hello");
          if (i === 0) firstAdmitted = Date.now();
          await open[open.length - 1].close();
          await until(() => t.server.connections === 0, 3000, "connection gone");
        }
        assert.equal(await attempt(t.port, A, open), "refusal:throttled");
        assert.equal(await open[open.length - 1].waitClosed(3000), true);
        assert.equal(await attempt(t.port, B, open), "server_hello");
        // After the window the address is admitted again.
        await sleep(Math.max(0, firstAdmitted + windowMs + 50 - Date.now()));
        assert.equal(await attempt(t.port, A, open), "server_hello");
      } finally {
        await closeAll(...open);
      }
    });
  },
});
