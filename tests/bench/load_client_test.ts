/**
 * The bench's load client against a real server process: holding a room key it pings on a
 * clock as `chat client` does, and closes (`withheld`) when a `pong` names room records that a
 * proxy on the path kept from it.
 * @module
 */

import assert from "node:assert/strict";
import { startServer, waitFor } from "../support/procs.ts";
import { RoomProxy } from "../support/room_proxy.ts";
import { benchIdentity, LoadClient } from "../../bench/load_client.ts";
import type { ServerMessage } from "../../shared/messages.ts";

/** Texts of the `msg`s `c` received, and its `pong`s (with their `rooms`). */
interface Seen {
  texts: string[];
  pongs: ServerMessage[];
}

async function client(port: number, name: string, seen: Seen, pingMs = 150): Promise<LoadClient> {
  return await LoadClient.connect({
    host: "127.0.0.1",
    port,
    identity: benchIdentity(name),
    rooms: ["#lobby"],
    timeoutMs: 10_000,
    roomPingMs: pingMs,
    onMessage: (m) => {
      if (m.t === "msg") seen.texts.push(m.text);
      if (m.t === "pong") seen.pongs.push(m);
    },
  });
}

/** A server, a proxy in front of it, `alice` through the proxy and `bob` direct. */
async function scene(
  body: (s: { proxy: RoomProxy; alice: LoadClient; bob: LoadClient; a: Seen }) => Promise<void>,
): Promise<void> {
  const server = await startServer();
  const proxy = RoomProxy.start(server.port);
  const a: Seen = { texts: [], pongs: [] };
  const b: Seen = { texts: [], pongs: [] };
  let alice: LoadClient | undefined;
  let bob: LoadClient | undefined;
  try {
    alice = await client(proxy.port, "bench0001", a);
    bob = await client(server.port, "bench0002", b, 60_000);
    bob.say("#lobby", "one");
    await waitFor(() => a.texts.includes("one"), 10_000, "alice gets one");
    assert.ok(proxy.roomFrames[0] > 0, "alice's line came in a room record");
    await body({ proxy, alice, bob, a });
  } finally {
    await alice?.bye();
    await bob?.bye();
    await proxy.close();
    await server.stop();
  }
}

Deno.test("load client: pings every roomPingMs while holding a room key, and stays open", async () => {
  await scene(async ({ alice, a }) => {
    await waitFor(() => a.pongs.length >= 2, 10_000, "two pongs");
    const last = a.pongs.at(-1)!;
    assert.ok(last.t === "pong" && last.rooms?.["#lobby"] !== undefined, JSON.stringify(last));
    assert.equal(alice.open, true);
    assert.equal(alice.endReason, "");
  });
});

Deno.test("load client: room records withheld — the next pong closes it (withheld)", async () => {
  await scene(async ({ proxy, alice, bob, a }) => {
    proxy.fault = { kind: "withhold", from: proxy.roomFrames[0] };
    bob.say("#lobby", "two");
    await waitFor(() => !alice.open, 10_000, "alice closes");
    assert.equal(alice.endReason, "withheld: room records of #lobby");
    assert.deepEqual(a.texts, ["one"]);
  });
});
