/**
 * History replay is pulled as the connection drains, so it never counts against the send queue:
 * a join, a resume or `/history` larger than the queue arrives whole, in order, and the client
 * stays connected. Answers too large for one record become `error too_long` for their request;
 * a welcome never goes missing; a peer dropped in the middle of its own login leaves no ghost.
 */

import assert from "node:assert/strict";
import { EvilClient } from "../support/evil_client.ts";
import { newId } from "../../shared/messages.ts";
import { closeAll, joined, keep, withServer } from "./helpers.ts";

const LIMITS = {
  sendQueueEvents: 20,
  sendQueueBytes: 16 * 1024,
  rateBurst: 100_000,
  ratePerSecond: 100_000,
};

/** Sends `n` messages of about `size` bytes from `c` and waits for their acknowledgements. */
async function fill(c: EvilClient, n: number, size: number, room = "#lobby"): Promise<void> {
  for (let i = 1; i <= n; i++) {
    await c.send(EvilClient.say(`${i} ${"h".repeat(size)}`, room));
    if (i % 10 === 0 || i === n) {
      const want = String(i);
      const { match } = await c.readUntil(
        (m) => m.t === "msg" && String(m.text).split(" ")[0] === want,
      );
      assert.ok(match, `ack of message ${i}`);
    }
  }
}

/** Reads until a message satisfies `pred`; returns the `msg` objects seen up to it. */
async function msgsUntil(c: EvilClient, pred: (m: Record<string, unknown>) => boolean) {
  const { match, seen } = await c.readUntil(pred, 10_000);
  assert.ok(match, `expected end marker; saw ${seen.length} messages, closed=${c.peerClosed}`);
  return seen.filter((m) => m.t === "msg");
}

Deno.test("replay: join, resume and /history larger than the send queue arrive whole", async () => {
  await withServer(LIMITS, async (t) => {
    const open: EvilClient[] = [];
    try {
      const writer = keep(open, await joined(t, "writer"));
      await fill(writer, 300, 400); // 300 × ~0.5 KB: far over 20 events / 16 KiB

      // join: the last 50 (historyOnJoin), replayed, then the join event
      const late = keep(open, await EvilClient.connect(t.port));
      await late.handshake();
      await late.auth({ name: "late" });
      const joinMsgs = await msgsUntil(late, (m) => m.t === "event" && m.kind === "join");
      assert.deepEqual(joinMsgs.map((m) => m.seq), Array.from({ length: 50 }, (_, i) => 251 + i));
      assert.ok(joinMsgs.every((m) => m.replay === true));

      // /history 200: 200 messages in order, then the reply
      const id = newId();
      await late.send({ t: "cmd", id, name: "history", args: ["#lobby", "200"] });
      const hist = await msgsUntil(late, (m) => m.t === "reply" && m.id === id);
      assert.deepEqual(hist.map((m) => m.seq), Array.from({ length: 200 }, (_, i) => 101 + i));

      // resume from 0: everything kept (300), in order, then the join event
      const back = keep(open, await EvilClient.connect(t.port));
      await back.handshake();
      await back.auth({ name: "back", extra: { resume: { "#lobby": 0 } } });
      const resumed = await msgsUntil(back, (m) => m.t === "event" && m.kind === "join");
      assert.deepEqual(resumed.map((m) => m.seq), Array.from({ length: 300 }, (_, i) => i + 1));

      // and everyone is still connected and chatting
      await writer.send(EvilClient.say("still here"));
      for (const c of [late, back]) {
        const { match } = await c.readUntil((m) => m.t === "msg" && m.text === "still here");
        assert.ok(match);
      }
    } finally {
      await closeAll(...open);
    }
  });
});

Deno.test("too large: an answer over one record is error too_long for its request", async () => {
  await withServer({ rateBurst: 1000, ratePerSecond: 1000 }, async (t) => {
    const open: EvilClient[] = [];
    try {
      const odd = keep(open, await joined(t, "odd"));
      const asker = keep(open, await joined(t, "asker"));
      // 2,000 control characters: each becomes \u0001 in JSON, so /whois needs ~24 KB
      const set = newId();
      await odd.send({ t: "cmd", id: set, name: "away", args: ["\x01".repeat(2000)] });
      assert.equal((await odd.readUntil((m) => m.id === set)).match?.t, "reply");
      const id = newId();
      await asker.send({ t: "cmd", id, name: "whois", args: ["odd"] });
      const { match } = await asker.readUntil((m) => m.id === id);
      assert.deepEqual([match?.t, match?.code], ["error", "too_long"]);
      // /who still answers: list entries are cut to fit
      const who = newId();
      await asker.send({ t: "cmd", id: who, name: "who", args: [] });
      assert.equal((await asker.readUntil((m) => m.id === who)).match?.t, "reply");
      await asker.sync();
    } finally {
      await closeAll(...open);
    }
  });
});

Deno.test("welcome: long topics never keep anyone out", async () => {
  await withServer({ rateBurst: 1000, ratePerSecond: 1000 }, async (t) => {
    const open: EvilClient[] = [];
    try {
      const op = keep(open, await joined(t, "topper"));
      for (const room of ["#a", "#b"]) {
        for (const [name, args] of [["join", [room]], ["topic", [room, "\x02".repeat(2000)]]]) {
          const id = newId();
          await op.send({ t: "cmd", id, name, args });
          assert.equal((await op.readUntil((m) => m.id === id)).match?.t, "reply");
        }
      }
      const c = keep(open, await EvilClient.connect(t.port));
      await c.handshake();
      await c.auth({ name: "joiner", rooms: ["#a", "#b"] });
      const { match } = await c.readUntil((m) => m.t === "welcome" || m.t === "error");
      assert.equal(match?.t, "welcome");
      assert.deepEqual(
        (match?.rooms as { name: string; topic: string }[]).map((r) => [r.name, r.topic]),
        [["#a", ""], ["#b", ""]],
      );
    } finally {
      await closeAll(...open);
    }
  });
});

Deno.test("ghosts: a peer dropped during its own login is not left in the room", async () => {
  // A queue of 200 bytes overflows with the welcome: the connection is dropped while the hub is
  // still adding it to #lobby.
  await withServer({ sendQueueBytes: 200 }, async (t) => {
    const open: EvilClient[] = [];
    try {
      const c = keep(open, await EvilClient.connect(t.port));
      await c.handshake();
      await c.auth({ name: "ghost" });
      assert.equal(await c.waitClosed(5000), true, "dropped as a slow consumer");
      await new Promise((r) => setTimeout(r, 50));
      const n = t.server.connections;
      assert.equal(n, 0, "no connection left");
      assert.match(t.server.hub.consoleLine("/who"), /^0 users/);
      assert.doesNotMatch(t.server.hub.consoleLine("/rooms"), /#lobby \(1 member/);
    } finally {
      await closeAll(...open);
    }
  });
});

Deno.test("pings: a record full of pings gets at most a burst of pongs", async () => {
  await withServer({ rateBurst: 5, ratePerSecond: 1 }, async (t) => {
    const open: EvilClient[] = [];
    try {
      const c = keep(open, await joined(t, "pinger"));
      const many = Array.from({ length: 100 }, (_, n) => JSON.stringify({ t: "ping", n }));
      await c.send(new TextEncoder().encode(many.join("\n")));
      const got: Record<string, unknown>[] = [];
      try {
        for (let m = await c.readMessages(500); m !== null; m = await c.readMessages(500)) {
          got.push(...m);
        }
      } catch {
        // nothing more within 500 ms
      }
      const pongs = got.filter((m) => m.t === "pong").length;
      assert.ok(pongs >= 1 && pongs <= 5, `pongs: ${pongs}`);
    } finally {
      await closeAll(...open);
    }
  });
});
