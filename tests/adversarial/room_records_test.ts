/**
 * Room records under attack on the path (docs/security.md "Room records"): a real server, an
 * honest sender "bob" connected directly, and the honest client "alice" behind a proxy that
 * reads the server's frames and drops, alters, replays or withholds alice's room records, or
 * lets a member inject one. Each case has its exact outcome: alice closes with `bad_record` at
 * the record that breaks the checks, nothing of it shown; withheld records are noticed at the
 * next ping and resume brings back everything acknowledged.
 */

import assert from "node:assert/strict";
import { KnownServers } from "../../client/known_servers.ts";
import type { ClientEvent } from "../../client/view.ts";
import { aeadImport, ed25519Generate } from "../../shared/crypto.ts";
import { fromBase64, toBase64, utf8 } from "../../shared/encoding.ts";
import { RoomRecordOpener, sealRoomRecord } from "../../shared/room_record.ts";
import { RoomClient } from "../support/room_client.ts";
import { type RoomFault, RoomProxy } from "../support/room_proxy.ts";
import {
  type HonestClient,
  honestClient,
  identities,
  startTestServer,
  type TestServer,
  until,
} from "./helpers.ts";

interface Scene {
  t: TestServer;
  proxy: RoomProxy;
  alice: HonestClient;
  bob: HonestClient;
}

async function known(t: TestServer): Promise<KnownServers> {
  return await KnownServers.load(`${t.dir}/known_${crypto.randomUUID()}`);
}

/** Says `text` as `c` and waits for the server's acknowledgement (its own copy). */
async function sayAcked(c: HonestClient, text: string): Promise<void> {
  const id = c.client.say("#lobby", text);
  await until(() => c.events.some((e) => e.t === "acked" && e.id === id), 5000, `ack of ${text}`);
}

/** How many times `c` showed `from: text`. */
function shown(c: HonestClient, line: string): number {
  return c.texts().filter((l) => l === line).length;
}

/** The detail of the status event `state` (the first one), or undefined. */
function status(c: HonestClient, state: string): string | undefined {
  const e = c.events.find((e): e is Extract<ClientEvent, { t: "status" }> =>
    e.t === "status" && e.state === state
  );
  return e?.detail;
}

/**
 * Server, proxy, bob direct and alice through the proxy, both in #lobby with room records; bob's
 * first line reaches alice in a room record before `body` runs.
 */
async function scene(
  more: { reconnect?: boolean; roomPingMs?: number },
  body: (s: Scene) => Promise<void>,
): Promise<void> {
  const t = await startTestServer();
  const proxy = RoomProxy.start(t.port);
  const [a, b] = await identities();
  const bob = honestClient(t.port, b, await known(t), "bob");
  const alice = honestClient(proxy.port, a, await known(t), "alice", more);
  try {
    await bob.client.start();
    await alice.client.start();
    await sayAcked(bob, "one");
    await until(() => shown(alice, "bob: one") === 1, 5000, "alice gets one");
    assert.ok(proxy.roomFrames[0] > 0, "alice's line came in a room record");
    await body({ t, proxy, alice, bob });
  } finally {
    await alice.client.close();
    await bob.client.close();
    await proxy.close();
    await t.close();
  }
}

/** Makes the proxy do `fault` to alice's next room record (counted from now). */
function next(proxy: RoomProxy, fault: (nth: number) => RoomFault): void {
  proxy.fault = fault(proxy.roomFrames[0]);
}

Deno.test("room records: a dropped one closes alice at the next (bad_record), nothing shown", async () => {
  await scene({ reconnect: false }, async ({ proxy, alice, bob }) => {
    const before = proxy.lastRoom(0)!;
    next(proxy, (nth) => ({ kind: "drop", nth }));
    await sayAcked(bob, "two");
    await sayAcked(bob, "three");
    await until(() => status(alice, "closed") !== undefined, 5000, "alice closes");
    assert.equal(
      status(alice, "closed"),
      `bad_record: room record ${before.rseq + 2} where ${before.rseq + 1} was expected`,
    );
    assert.deepEqual(alice.texts(), ["bob: one"]);
  });
});

Deno.test("room records: one flipped bit closes alice (bad_record: signature), nothing shown", async () => {
  await scene({ reconnect: false }, async ({ proxy, alice, bob }) => {
    next(proxy, (nth) => ({ kind: "flip", nth, at: 14 })); // inside the ciphertext
    await sayAcked(bob, "two");
    await until(() => status(alice, "closed") !== undefined, 5000, "alice closes");
    assert.equal(status(alice, "closed"), "bad_record: room record signature does not verify");
    assert.deepEqual(alice.texts(), ["bob: one"]);
  });
});

Deno.test("room records: a replayed one closes alice (bad_record), the line shown once", async () => {
  await scene({ reconnect: false }, async ({ proxy, alice, bob }) => {
    const before = proxy.lastRoom(0)!;
    next(proxy, (nth) => ({ kind: "replay", nth }));
    await sayAcked(bob, "two");
    await until(() => status(alice, "closed") !== undefined, 5000, "alice closes");
    assert.equal(
      status(alice, "closed"),
      `bad_record: room record ${before.rseq + 1} where ${before.rseq + 2} was expected`,
    );
    assert.deepEqual(alice.texts(), ["bob: one", "bob: two"]);
  });
});

Deno.test("room records: all withheld — alice notices at her next ping, resumes, loses nothing", async () => {
  await scene({ reconnect: true, roomPingMs: 300 }, async ({ proxy, alice, bob }) => {
    next(proxy, (from) => ({ kind: "withhold", from }));
    await sayAcked(bob, "two");
    await sayAcked(bob, "three");
    // alice's own line: accepted by the server, its copy (her acknowledgement) withheld.
    const mine = alice.client.say("#lobby", "mine");
    await until(() => shown(bob, "alice: mine") === 1, 5000, "bob gets alice's line");
    await until(() => status(alice, "lost") !== undefined, 5000, "alice notices");
    assert.equal(
      status(alice, "lost"),
      "withheld: room records of #lobby did not arrive; resuming",
    );
    await until(() => proxy.connections === 2, 10_000, "alice reconnects");
    await until(
      () => alice.events.some((e) => e.t === "acked" && e.id === mine),
      10_000,
      "alice's line acknowledged after resume",
    );
    await until(() => shown(alice, "bob: three") === 1, 10_000, "resume brings three");
    // Room records flow again on the new connection: alice's old session left the room, so its
    // next epoch starts at most a second after the last one (§3 "Keys"); until then, ordinary.
    await new Promise((r) => setTimeout(r, 1100));
    await sayAcked(bob, "four");
    await until(() => shown(alice, "bob: four") === 1, 5000, "alice gets four");
    for (const line of ["bob: one", "bob: two", "bob: three", "alice: mine", "bob: four"]) {
      assert.equal(shown(alice, line), 1, line);
    }
    assert.equal(shown(bob, "alice: mine"), 1);
    assert.ok(proxy.roomFrames[1] > 0, "the second connection has room records");
  });
});

Deno.test("room records: a member's record under the real room key, not signed by the server, is refused", async () => {
  const mallory = ed25519Generate();
  await scene({ reconnect: false }, async ({ t, proxy, alice, bob }) => {
    // mallory, a member of #lobby with room records, learns the current epoch's key.
    const m = await RoomClient.login(t.port, "mallory", true);
    try {
      await sayAcked(bob, "two");
      await until(() => shown(alice, "bob: two") === 1, 5000, "alice gets two");
      const last = proxy.lastRoom(0)!;
      const rkey = await m.until((r) =>
        r.m.t === "rkey" && r.m.room === "#lobby" && r.m.epoch === toBase64(last.epoch)
      );
      // The next record alice expects, sealed under the real key, signed with mallory's key.
      const line = JSON.stringify({
        t: "msg",
        room: "#lobby",
        seq: 999,
        ts: Date.now(),
        from: "bob",
        text: "forged",
        id: toBase64(new Uint8Array(16)),
      });
      const key = fromBase64(rkey.m.key);
      const frame = sealRoomRecord(
        aeadImport(key),
        last.epoch,
        last.rseq + 1,
        utf8.encode(line),
        mallory.privateKey,
      );
      // Control: the record is sound but for its signer (it opens under mallory's key).
      const check = new RoomRecordOpener(mallory.publicRaw);
      check.install("#lobby", last.epoch, key, last.rseq + 1);
      assert.equal(check.open(frame.slice(4)).room, "#lobby");
      await proxy.inject(0, frame);
      await until(() => status(alice, "closed") !== undefined, 5000, "alice closes");
      assert.equal(status(alice, "closed"), "bad_record: room record signature does not verify");
      assert.deepEqual(alice.texts(), ["bob: one", "bob: two"]);
    } finally {
      m.close();
    }
  });
});
