/**
 * Per-connection token bucket (DESIGN.md §4): `rateBurst` rapid messages pass, the next gets
 * `error rate_limited` with its id and is not relayed; `rateStrikes` rejections disconnect the
 * sender with `bye "flooding"`, while another client in the room keeps chatting undelayed.
 */

import assert from "node:assert/strict";
import { EvilClient } from "../support/evil_client.ts";
import { closeAll, joined, keep, sleep, withServer } from "./helpers.ts";

const BURST = 3;

/** Seals `n` says and writes them back to back (one write), returning their ids. */
async function burst(c: EvilClient, prefix: string, n: number): Promise<string[]> {
  const says = Array.from({ length: n }, (_, i) => EvilClient.say(`${prefix}${i}`));
  const frames: Uint8Array[] = [];
  for (const s of says) {
    const body = await c.seal(s);
    const f = new Uint8Array(4 + body.length);
    new DataView(f.buffer).setUint32(0, body.length);
    f.set(body, 4);
    frames.push(f);
  }
  const all = new Uint8Array(frames.reduce((a, f) => a + f.length, 0));
  let o = 0;
  for (const f of frames) {
    all.set(f, o);
    o += f.length;
  }
  await c.sendRaw(all);
  return says.map((s) => s.id);
}

Deno.test("token bucket: burst passes, burst+1 → rate_limited with its id, not relayed", async () => {
  // ratePerSecond 0.01: no token comes back during the test.
  await withServer({ rateBurst: BURST, ratePerSecond: 0.01, rateStrikes: 100 }, async (t) => {
    const open: EvilClient[] = [];
    try {
      const bob = keep(open, await joined(t, "bob"));
      const alice = keep(open, await joined(t, "alice"));
      await bob.sync();
      const ids = await burst(alice, "m", BURST + 1);
      const answers = await alice.sync();
      const mine = answers.filter((m) =>
        (m.t === "msg" || m.t === "error") && ids.includes(m.id as string)
      );
      assert.deepEqual(
        mine.map((m) => m.t === "msg" ? ["msg", m.id, m.text] : ["error", m.id, m.code]),
        [
          ...ids.slice(0, BURST).map((id, i) => ["msg", id, `m${i}`]),
          ["error", ids[BURST], "rate_limited"],
        ],
      );
      const relayed = (await bob.sync()).filter((m) => m.t === "msg").map((m) => m.text);
      assert.deepEqual(relayed, ["m0", "m1", "m2"]);
      assert.equal(alice.peerClosed, false, "one rejection does not disconnect");
    } finally {
      await closeAll(...open);
    }
  });
});

Deno.test("token bucket: rateStrikes rejections → bye 'flooding'; the room keeps chatting", async () => {
  const strikes = 4;
  await withServer({ rateBurst: BURST, ratePerSecond: 0.01, rateStrikes: strikes }, async (t) => {
    const open: EvilClient[] = [];
    try {
      const bob = keep(open, await joined(t, "bob"));
      const carol = keep(open, await joined(t, "carol"));
      const flooder = keep(open, await joined(t, "fred"));
      await bob.sync();
      // Good case first: one strike short of the limit keeps the connection.
      const ids = await burst(flooder, "f", BURST + strikes - 1);
      const seen1 = await flooder.sync();
      const errors1 = seen1.filter((m) => m.t === "error");
      assert.deepEqual(
        errors1.map((m) => [m.id, m.code]),
        ids.slice(BURST).map((id) => [id, "rate_limited"]),
      );
      // The last strike: rate_limited for it, then bye "flooding", then the close.
      const last = await burst(flooder, "g", 1);
      const { match, seen } = await flooder.readUntil((m) => m.t === "bye", 3000);
      assert.deepEqual(match, { t: "bye", reason: "flooding" });
      assert.deepEqual(
        seen.filter((m) => m.t === "error").map((m) => [m.id, m.code]),
        [[last[0], "rate_limited"]],
      );
      assert.equal(await flooder.waitClosed(3000), true);
      // Bob saw the burst and fred's leave, and he and carol still chat.
      const { match: leave, seen: bobSaw } = await bob.readUntil(
        (m) => m.t === "event" && m.kind === "leave" && m.name === "fred",
        3000,
      );
      assert.equal(leave?.reason, "connection lost");
      assert.deepEqual(bobSaw.filter((m) => m.t === "msg").map((m) => m.text), ["f0", "f1", "f2"]);
      const hello = EvilClient.say("hello carol");
      await bob.send(hello);
      const { match: got } = await carol.readUntil((m) => m.t === "msg" && m.id === hello.id, 3000);
      assert.equal(got?.text, "hello carol");
    } finally {
      await closeAll(...open);
    }
  });
});

Deno.test("token bucket: a flood from one client does not delay another's messages", async () => {
  // 20 tokens/s: bob's 10 messages per second always pass; the flooder's 50-message bursts don't.
  await withServer({ rateBurst: BURST, ratePerSecond: 20, rateStrikes: 1_000_000 }, async (t) => {
    const open: EvilClient[] = [];
    try {
      const bob = keep(open, await joined(t, "bob"));
      const flooder = keep(open, await joined(t, "fred"));
      await bob.sync();
      let flooding = true;
      let sent = 0;
      const flood = (async () => {
        while (flooding) {
          await burst(flooder, "x", 50);
          sent += 50;
          await flooder.readUntil(() => false, 1).catch(() => {}); // drain a little
        }
      })();
      const latencies: number[] = [];
      for (let i = 0; i < 10; i++) {
        await sleep(100);
        const say = EvilClient.say(`b${i}`);
        const at = performance.now();
        await bob.send(say);
        const { match } = await bob.readUntil((m) => m.id === say.id, 3000);
        assert.equal(match?.t, "msg", `bob's own copy: ${JSON.stringify(match)}`);
        latencies.push(performance.now() - at);
      }
      flooding = false;
      await flood;
      assert.ok(sent >= 100, `the flood ran (${sent} messages)`);
      latencies.sort((a, b) => a - b);
      const p90 = latencies[Math.floor(latencies.length * 0.9)];
      // Loose bound: a flood served ahead of bob would cost seconds; a busy test machine, not.
      assert.ok(p90 < 500, `bob's round trips under the flood: p90 ${p90.toFixed(1)} ms`);
      assert.equal(flooder.peerClosed, false);
    } finally {
      await closeAll(...open);
    }
  });
});
