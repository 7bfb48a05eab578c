/**
 * The nats-server test helper itself: start, reach, restart on the same port and store directory
 * (JetStream data survives a SIGKILL), stop; a taken port fails fast with the server's reason.
 */

import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { Kvm } from "@nats-io/kv";
import { natsAvailable, startNats } from "../support/nats.ts";

const ignore = !natsAvailable("nats-server helper tests");

/** Connects once with a bounded timeout, runs `fn`, closes the connection. */
async function withConnection<T>(
  url: string,
  fn: (nc: Awaited<ReturnType<typeof connect>>) => Promise<T>,
): Promise<T> {
  const nc = await connect({ servers: url, timeout: 5000, reconnect: false });
  try {
    return await fn(nc);
  } finally {
    await nc.close();
  }
}

Deno.test({
  name: "nats helper: JetStream KV data survives kill -9 and restart on the same port and dir",
  ignore,
  fn: async () => {
    const nats = await startNats();
    try {
      assert.ok(nats.running);
      assert.ok(nats.port > 0);
      assert.equal(nats.url, `nats://127.0.0.1:${nats.port}`);
      await withConnection(nats.url, async (nc) => {
        const kv = await new Kvm(nc).create("helper", { history: 1 });
        await kv.put("k", "v1");
      });
      const { port, storeDir } = nats;
      const firstPid = nats.pid;
      await nats.kill();
      assert.ok(!nats.running);
      await assert.rejects(() => withConnection(nats.url, () => Promise.resolve()));
      await nats.restart();
      assert.ok(nats.running);
      assert.ok(nats.pid !== firstPid);
      assert.equal(nats.port, port);
      assert.equal(nats.storeDir, storeDir);
      const got = await withConnection(nats.url, async (nc) => {
        const kv = await new Kvm(nc).open("helper");
        return (await kv.get("k"))?.string();
      });
      assert.equal(got, "v1");
    } finally {
      await nats.close();
    }
    assert.ok(!nats.running);
    await assert.rejects(() => Deno.stat(nats.storeDir), Deno.errors.NotFound);
  },
});

Deno.test({
  name: "nats helper: a port already taken fails within the deadline with the server's reason",
  ignore,
  fn: async () => {
    const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      await assert.rejects(
        () => startNats({ port: taken.addr.port, readyMs: 10_000 }),
        /address already in use/,
      );
    } finally {
      taken.close();
    }
  },
});

Deno.test("nats helper: natsAvailable is false for a missing binary", () => {
  assert.equal(natsAvailable(undefined, "/nonexistent/nats-server"), false);
});
