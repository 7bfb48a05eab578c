/**
 * The client's room records across membership changes, with a real server and real TCP: after
 * alice leaves a room she gets none of its lines and stays connected; after she joins again the
 * room's lines come to her in room records of the current epoch. A client that does not offer
 * room records (`roomRecords: false`, i.e. `--no-room-records`) gets everything in ordinary records.
 */

import assert from "node:assert/strict";
import { KnownServers } from "../../client/known_servers.ts";
import { RoomProxy } from "../support/room_proxy.ts";
import {
  type HonestClient,
  honestClient,
  identities,
  startTestServer,
  type TestServer,
  until,
} from "../adversarial/helpers.ts";

async function known(t: TestServer): Promise<KnownServers> {
  return await KnownServers.load(`${t.dir}/known_${crypto.randomUUID()}`);
}

async function sayAcked(c: HonestClient, text: string): Promise<void> {
  const id = c.client.say("#lobby", text);
  await until(() => c.events.some((e) => e.t === "acked" && e.id === id), 5000, `ack of ${text}`);
}

const dropped = (c: HonestClient) =>
  c.events.filter((e) => e.t === "status" && (e.state === "lost" || e.state === "closed"));

Deno.test("client room records: leave, lines go on without alice, join again, room records again", async () => {
  const t = await startTestServer();
  const proxy = RoomProxy.start(t.port);
  const [a, b] = await identities();
  const bob = honestClient(t.port, b, await known(t), "bob");
  const alice = honestClient(proxy.port, a, await known(t), "alice");
  try {
    await bob.client.start();
    await alice.client.start();
    await sayAcked(bob, "one");
    await until(() => alice.texts().includes("bob: one"), 5000, "alice gets one");
    assert.ok(proxy.roomFrames[0] > 0);
    const left = await alice.client.command("leave", ["#lobby"]);
    assert.equal(left.t, "reply", JSON.stringify(left));
    await sayAcked(bob, "while away");
    const joined = await alice.client.command("join", ["#lobby"]);
    assert.equal(joined.t, "reply", JSON.stringify(joined));
    const before = proxy.roomFrames[0];
    // A member left: the room's next epoch may start one second after the last (§3 "Keys");
    // until then its lines go in ordinary records.
    await new Promise((r) => setTimeout(r, 1100));
    await sayAcked(bob, "two");
    await until(() => alice.texts().includes("bob: two"), 5000, "alice gets two");
    assert.ok(proxy.roomFrames[0] > before, "two came in a room record");
    assert.equal(alice.texts().filter((l) => l === "bob: two").length, 1);
    assert.deepEqual(dropped(alice), []);
    assert.equal(proxy.connections, 1);
  } finally {
    await alice.client.close();
    await bob.client.close();
    await proxy.close();
    await t.close();
  }
});

Deno.test("client room records: roomRecords false gets every line in ordinary records", async () => {
  const t = await startTestServer();
  const proxy = RoomProxy.start(t.port);
  const [a, b] = await identities();
  const bob = honestClient(t.port, b, await known(t), "bob");
  const alice = honestClient(proxy.port, a, await known(t), "alice", { roomRecords: false });
  try {
    await bob.client.start();
    await alice.client.start();
    for (const text of ["one", "two", "three"]) await sayAcked(bob, text);
    await sayAcked(alice, "mine");
    await until(() => alice.texts().includes("bob: three"), 5000, "alice gets three");
    assert.deepEqual(alice.texts(), ["bob: one", "bob: two", "bob: three", "alice: mine"]);
    assert.deepEqual(proxy.roomFrames, [0]);
    assert.deepEqual(dropped(alice), []);
  } finally {
    await alice.client.close();
    await bob.client.close();
    await proxy.close();
    await t.close();
  }
});
