/**
 * Room records over real sockets (docs/protocol.md §3 "Room records"): a real server on
 * 127.0.0.1:0 and minimal clients (tests/support/room_client.ts) that open what they receive
 * with the shared modules. Members that offered get a room's lines in room records after an
 * ordinary `rkey`, the others in ordinary records; `pong` names the held epochs; a leave starts
 * a new epoch (after the per-second limit); `--limit roomRecords=0` turns them off.
 */

import assert from "node:assert/strict";
import { ChatServer } from "../../server/server.ts";
import type { Limits } from "../../shared/limits.ts";
import { newId } from "../../shared/messages.ts";
import { type Received, RoomClient } from "../support/room_client.ts";

async function withServer(
  limits: Partial<Limits>,
  f: (port: number) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "chat-rr-" });
  const server = await ChatServer.start({
    host: "127.0.0.1",
    port: 0,
    dataDir: `${dir}/data`,
    limits,
  });
  try {
    await f(server.addr.port);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

const texts = (c: RoomClient, from: string) =>
  c.got.filter((r) => r.m.t === "msg" && r.m.from === from);

Deno.test("room records over sockets: offered members get room records, the others ordinary", async () => {
  await withServer({}, async (port) => {
    const clients: RoomClient[] = [];
    try {
      const a = await RoomClient.login(port, "alice", true);
      clients.push(a);
      const b = await RoomClient.login(port, "bob", true);
      clients.push(b);
      const c = await RoomClient.login(port, "carol", false);
      clients.push(c);
      assert.equal(a.roomRecords, true);
      assert.equal(c.roomRecords, false);
      for (let i = 0; i < 5; i++) await a.say(`line ${i}`);
      await b.until((r) => r.m.t === "msg" && r.m.text === "line 4");
      await c.until((r) => r.m.t === "msg" && r.m.text === "line 4");
      await a.until((r) => r.m.t === "msg" && r.m.text === "line 4");
      const inB = texts(b, "alice");
      assert.deepEqual(inB.map((r) => r.m.text), [0, 1, 2, 3, 4].map((i) => `line ${i}`));
      assert.ok(inB.every((r) => r.room), "bob got alice's lines in room records");
      assert.ok(texts(a, "alice").every((r) => r.room), "alice too, her own lines");
      const inC = texts(c, "alice");
      assert.deepEqual(inC.map((r) => r.m.text), inB.map((r) => r.m.text));
      assert.ok(inC.every((r) => !r.room), "carol (no offer) got ordinary records");
      // bob's rkey came in an ordinary record, before his first room record of #lobby.
      const first = b.got.findIndex((r) => r.room);
      const rkey = b.got.findIndex((r) => r.m.t === "rkey" && r.m.room === "#lobby");
      assert.ok(rkey >= 0 && rkey < first && !b.got[rkey].room);
      // The pong names the epoch bob holds and the next rseq: he has every record below it.
      const pong: Received = await b.sync();
      const [epoch, next] = pong.m.rooms["#lobby"];
      const keys = b.got.filter((r) => r.m.t === "rkey");
      assert.equal(epoch, keys.at(-1)!.m.epoch);
      assert.ok(next > keys.at(-1)!.m.rseq);
      assert.equal(b.roomFrames, next - keys.at(-1)!.m.rseq, "one room frame per rseq");
      // carol's pong names nothing.
      assert.equal((await c.sync()).m.rooms, undefined);
    } finally {
      for (const c of clients) c.close();
    }
  });
});

Deno.test("room records over sockets: a leave starts a new epoch the leaver never gets", async () => {
  await withServer({}, async (port) => {
    const clients: RoomClient[] = [];
    try {
      const a = await RoomClient.login(port, "alice", true);
      clients.push(a);
      const b = await RoomClient.login(port, "bob", true);
      clients.push(b);
      await a.say("before");
      await b.until((r) => r.m.text === "before");
      const old = b.got.filter((r) => r.m.t === "rkey").at(-1)!.m.epoch;
      await b.send({ t: "cmd", id: newId(), name: "leave", args: ["#lobby"] });
      await b.sync();
      // Within a second of the epoch's start the room's lines are ordinary; then a new epoch.
      await a.say("soon after");
      const soon = await a.until((r) => r.m.text === "soon after");
      await new Promise((r) => setTimeout(r, 1100));
      await a.say("later");
      const later = await a.until((r) => r.m.text === "later");
      assert.equal(later.room, true);
      const now = a.got.filter((r) => r.m.t === "rkey").at(-1)!.m.epoch;
      assert.notEqual(now, old, "a new epoch after the leave");
      // soon after is ordinary unless the epoch was already a second old.
      assert.ok(soon.room === false || a.got.filter((r) => r.m.t === "rkey").length >= 2);
      await b.sync();
      assert.equal(b.got.filter((r) => r.m.text === "later").length, 0);
      assert.equal(b.got.filter((r) => r.m.t === "rkey" && r.m.epoch === now).length, 0);
      assert.equal((await b.sync()).m.rooms, undefined, "bob holds no epoch after leaving");
    } finally {
      for (const c of clients) c.close();
    }
  });
});

Deno.test("room records over sockets: --limit roomRecords=0 turns them off", async () => {
  await withServer({ roomRecords: 0 }, async (port) => {
    const a = await RoomClient.login(port, "alice", true);
    try {
      assert.equal(a.roomRecords, false);
      await a.say("plain");
      const r = await a.until((r) => r.m.text === "plain");
      assert.equal(r.room, false);
      assert.equal(a.got.filter((r) => r.m.t === "rkey").length, 0);
    } finally {
      a.close();
    }
  });
});
