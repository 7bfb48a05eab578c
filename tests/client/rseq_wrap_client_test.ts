/**
 * A room epoch's `rseq` range running out (docs/protocol.md §3 "Keys"), end to end without 2^32
 * batches: a real server over TCP, a real client (the connection code `chat client` and `chat
 * gui` run) behind a proxy that reads each room record's epoch and `rseq`. The server's epoch
 * object for `#dev` is reached once, through the members the room channel is handed, and its next
 * `rseq` set to 2^32 − 3 while only a member that never reads holds the epoch; then alice joins.
 * She gets the epoch's last two records (2^32 − 3: her join, 2^32 − 2: a line), answers to her pings while she holds
 * it (each naming 2^32 − 1) without closing, then a new epoch from 0: every line once, no drop.
 */

import assert from "node:assert/strict";
import { KnownServers } from "../../client/known_servers.ts";
import { RoomRecords } from "../../server/room_records.ts";
import type { RoomMember } from "../../server/room_channel.ts";
import { toBase64 } from "../../shared/encoding.ts";
import { RSEQ_MAX } from "../../shared/room_record.ts";
import { RoomClient } from "../support/room_client.ts";
import { RoomProxy } from "../support/room_proxy.ts";
import {
  type HonestClient,
  honestClient,
  identities,
  startTestServer,
  until,
} from "../adversarial/helpers.ts";

const dropped = (c: HonestClient) =>
  c.events.filter((e) => e.t === "status" && (e.state === "lost" || e.state === "closed"));

async function sayAcked(c: HonestClient, text: string): Promise<void> {
  const id = c.client.say("#dev", text);
  await until(() => c.events.some((e) => e.t === "acked" && e.id === id), 5000, `ack of ${text}`);
}

Deno.test("rseq wrap: a client takes an epoch's last records, the pongs after them, a new epoch", async () => {
  // The room channel's epoch for #dev, as its members hold it (one patch, undone below).
  const send = RoomRecords.prototype.send;
  let epoch: { id: string; next: number } | undefined;
  RoomRecords.prototype.send = function (room, line, members: ReadonlySet<RoomMember>) {
    send.call(this, room, line, members);
    if (room !== "#dev" || epoch !== undefined) return;
    for (const m of members) {
      epoch ??= m.peer.roomRecords?.epochs?.get(room) as { id: string; next: number } | undefined;
    }
  };
  const t = await startTestServer();
  const proxy = RoomProxy.start(t.port);
  const [a, b] = await identities();
  const dir = t.dir;
  const bob = honestClient(t.port, b, await KnownServers.load(`${dir}/kb`), "bob", {
    rooms: ["#dev"],
    roomRecords: false,
  });
  const alice = honestClient(proxy.port, a, await KnownServers.load(`${dir}/ka`), "alice", {
    rooms: ["#dev"],
    roomPingMs: 200,
  });
  let keeper: RoomClient | undefined;
  try {
    await bob.client.start();
    keeper = await RoomClient.login(t.port, "keeper", true, ["#dev"]);
    await sayAcked(bob, "zero");
    assert.ok(epoch !== undefined, "the epoch was reached");
    assert.ok(epoch.next >= 1 && epoch.next < 10, `next ${epoch.next}`);
    epoch.next = RSEQ_MAX - 1; // as if 2^32 − 3 batches had gone out
    const last = epoch.id;

    // Her join (an event of the room) comes in 2^32 − 3, bob's line in 2^32 − 2, the last.
    await alice.client.start();
    await until(() => proxy.lastRoom(0)?.rseq === RSEQ_MAX - 1, 5000, "alice's join");
    assert.equal(toBase64(proxy.lastRoom(0)!.epoch), last);
    await sayAcked(bob, "one");
    await until(() => alice.texts().includes("bob: one"), 5000, "alice gets one");
    assert.equal(proxy.lastRoom(0)!.rseq, RSEQ_MAX);
    assert.equal(toBase64(proxy.lastRoom(0)!.epoch), last);
    assert.equal(epoch.next, 2 ** 32 - 1);
    // Pinging every 200 ms while she holds the used-up epoch: the pongs name 2^32 − 1.
    const before = proxy.ordinaryFrames[0];
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok(proxy.ordinaryFrames[0] >= before + 3, `pongs: ${proxy.ordinaryFrames[0] - before}`);
    assert.deepEqual(dropped(alice), []);

    await sayAcked(bob, "two");
    await until(() => alice.texts().includes("bob: two"), 5000, "alice gets two");
    const head = proxy.lastRoom(0)!;
    assert.equal(head.rseq, 0);
    assert.notEqual(toBase64(head.epoch), last, "a new epoch");
    for (const text of ["one", "two"]) {
      assert.equal(alice.texts().filter((l) => l === `bob: ${text}`).length, 1, text);
    }
    assert.deepEqual(dropped(alice), []);
    assert.equal(proxy.connections, 1);
  } finally {
    RoomRecords.prototype.send = send;
    await alice.client.close();
    await bob.client.close();
    keeper?.close();
    await proxy.close();
    await t.close();
  }
});
