/**
 * Charging by work against a real server process (docs/protocol.md §5 "Charging"): commands
 * in one record take a token each, automatic requests have a bucket of their own and are never
 * strikes, and the legitimate use next to each attack passes.
 */

import assert from "node:assert/strict";
import { EvilClient } from "../support/evil_client.ts";
import { newId } from "../../shared/messages.ts";
import { type ServerProcess, startServer } from "../support/procs.ts";
import { closeAll, keep } from "./helpers.ts";

/** Runs `body` against a `chat server` process started with `--limit` for each of `limits`. */
async function withProcess(
  limits: Record<string, number>,
  body: (s: ServerProcess) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "chat-charge-" });
  const args = Object.entries(limits).flatMap(([k, v]) => ["--limit", `${k}=${v}`]);
  const server = await startServer({ dataDir: dir, args });
  try {
    await body(server);
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

/** One record of many messages (one line each). */
function record(msgs: unknown[]): Uint8Array {
  return new TextEncoder().encode(msgs.map((m) => JSON.stringify(m)).join("\n"));
}

function cmd(name: string, args: string[], auto?: boolean) {
  return { t: "cmd", id: newId(), name, args, ...(auto ? { auto: true } : {}) };
}

/** Reads until every id in `ids` got its reply or error; returns them by id. */
async function answers(c: EvilClient, ids: string[], ms = 10_000) {
  const want = new Set(ids);
  const got = new Map<string, Record<string, unknown>>();
  const { match } = await c.readUntil((m) => {
    const id = m.id as string;
    if ((m.t === "reply" || m.t === "error") && want.has(id)) got.set(id, m);
    return got.size === want.size || m.t === "bye";
  }, ms);
  assert.ok(match, `connection closed after ${got.size} of ${want.size} answers`);
  return ids.map((id) => got.get(id));
}

Deno.test("charge (process): 20 commands in one record take 20 tokens, not one", async () => {
  // No refill during the test: the default burst of 10 is all there is.
  await withProcess({ ratePerSecond: 0.001 }, async (s) => {
    const open: EvilClient[] = [];
    try {
      const c = keep(open, await EvilClient.joined(s.port, "asker"));
      const reqs = Array.from({ length: 20 }, () => cmd("who", []));
      await c.send(record(reqs));
      const got = await answers(c, reqs.map((r) => r.id));
      assert.deepEqual(
        got.map((m) => m?.t === "reply" ? "reply" : m?.code),
        [...Array(10).fill("reply"), ...Array(10).fill("rate_limited")],
      );
      assert.equal(c.peerClosed, false, "ten strikes do not disconnect");
    } finally {
      await closeAll(...open);
    }
  });
});

Deno.test("charge (process): 20 say lines of a paste are one token; a second paste is another", async () => {
  await withProcess({ ratePerSecond: 0.001, rateBurst: 2 }, async (s) => {
    const open: EvilClient[] = [];
    try {
      const c = keep(open, await EvilClient.joined(s.port, "paster"));
      for (const tag of ["a", "b"]) {
        const says = Array.from({ length: 20 }, (_, i) => EvilClient.say(`${tag}${i}`));
        await c.send(record(says));
        const { seen } = await c.readUntil((m) => m.t === "msg" && m.text === `${tag}19`);
        assert.equal(seen.filter((m) => m.t === "msg").length, 20);
        assert.ok(!seen.some((m) => m.t === "error"), JSON.stringify(seen));
      }
      const who = cmd("who", []);
      await c.send(who);
      assert.equal((await answers(c, [who.id]))[0]?.code, "rate_limited", "both tokens spent");
    } finally {
      await closeAll(...open);
    }
  });
});

Deno.test("charge (process): automatic lookups are bounded by their own bucket, never strikes", async () => {
  await withProcess({ ratePerSecond: 0.001, autoPerSecond: 0.001, rateStrikes: 5 }, async (s) => {
    const open: EvilClient[] = [];
    try {
      const c = keep(open, await EvilClient.joined(s.port, "looker"));
      keep(open, await EvilClient.joined(s.port, "target"));
      // 100 automatic lookups: the bucket of 64 answers 64, refuses the rest without a strike
      // (5 strikes would disconnect).
      const lookups = Array.from({ length: 100 }, () => cmd("keys", ["target"], true));
      await c.send(record(lookups));
      const got = await answers(c, lookups.map((r) => r.id));
      const codes = got.map((m) => m?.code);
      assert.deepEqual(codes, [
        ...Array(64).fill("no_kem_key"), // answered: the target has no DM key
        ...Array(36).fill("rate_limited"),
      ]);
      assert.equal(c.peerClosed, false);
      // The user's own budget is whole: ten typed requests pass.
      const typed = Array.from({ length: 10 }, () => cmd("who", []));
      await c.send(record(typed));
      const ok = await answers(c, typed.map((r) => r.id));
      assert.deepEqual(ok.map((m) => m?.t), Array(10).fill("reply"));
      // `auto` on a command that changes state is charged as typed: strikes count again.
      const joins = Array.from({ length: 5 }, (_, i) => cmd("join", [`#r${i}`], true));
      await c.send(record(joins));
      const { match } = await c.readUntil((m) => m.t === "bye", 10_000);
      assert.equal(match?.reason, "flooding");
    } finally {
      await closeAll(...open);
    }
  });
});
