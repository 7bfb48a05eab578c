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
      // The automatic bucket belongs to the address: a new connection does not refill it.
      const again = keep(open, await EvilClient.joined(s.port, "looker2"));
      const more = cmd("keys", ["target"], true);
      const typedKeys = cmd("keys", ["target"]);
      await again.send(record([more, typedKeys]));
      assert.deepEqual((await answers(again, [more.id, typedKeys.id])).map((m) => m?.code), [
        "rate_limited",
        "no_kem_key",
      ]);
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

/** Connects and logs in as `name` with `rooms`, reading up to its own join of the last room. */
async function inRooms(port: number, name: string, rooms: string[]): Promise<EvilClient> {
  const c = await EvilClient.connect(port);
  try {
    await c.handshake();
    await c.auth({ name, rooms });
    const { match } = await c.readUntil((m) =>
      m.t === "event" && m.kind === "join" && m.name === name && m.room === rooms.at(-1)
    );
    assert.ok(match, `${name} joined`);
    return c;
  } catch (e) {
    await c.close();
    throw e;
  }
}

/** Sends `records` pastes of 20 says to `room` from `c` and waits until the last is relayed. */
async function fill(c: EvilClient, room: string, records: number, tag: string): Promise<void> {
  for (let r = 0; r < records; r++) {
    const says = Array.from({ length: 20 }, (_, i) => EvilClient.say(`${tag} ${r}.${i}`, room));
    await c.send(record(says));
  }
  const last = `${tag} ${records - 1}.19`;
  const { match } = await c.readUntil((m) => m.t === "msg" && m.text === last, 20_000);
  assert.ok(match, `${tag} filled`);
}

Deno.test("charge (process): a record of 20 × /history 500 is charged by rows; the sender floods out, a reader is served", async () => {
  // No refill during the test; default burst (10), strikes (30), rows per token (25).
  await withProcess({ ratePerSecond: 0.001 }, async (s) => {
    const open: EvilClient[] = [];
    try {
      // 320 messages in #big from two fillers (8 pastes each, one token per paste).
      for (const f of ["fa", "fb"]) {
        await fill(keep(open, await inRooms(s.port, f, ["#big"])), "#big", 8, f);
      }
      const attacker = keep(open, await inRooms(s.port, "attacker", ["#big"]));
      const reader = keep(open, await inRooms(s.port, "reader", ["#big"]));

      // The attack: one record asking 20 times for the whole history.
      const first = Array.from({ length: 20 }, () => cmd("history", ["#big", "500"]));
      await attacker.send(record(first));
      const { match: reply, seen } = await attacker.readUntil((m) => m.id === first[0].id);
      const replayed = seen.filter((m) => m.t === "msg" && m.replay === true);
      // One token for the request (25 rows) and the other nine for 225 more: the newest 250.
      assert.equal(replayed.length, 250);
      assert.equal(replayed[0].seq, 71);
      assert.equal(replayed.at(-1)?.seq, 320);
      assert.equal(reply?.t, "reply");
      assert.deepEqual(reply?.data, { room: "#big", shown: 250, wanted: 320 });
      assert.match(String(reply?.text), /^Only the last 250 of 320 messages of #big/);
      const rest = await answers(attacker, first.slice(1).map((r) => r.id));
      assert.deepEqual(rest.map((m) => m?.code), Array(19).fill("rate_limited"));
      assert.ok(!rest.some((m) => m?.t === "msg"), "no more history");

      // Again: strikes 20 to 30; the thirtieth ends the connection.
      const second = Array.from({ length: 20 }, () => cmd("history", ["#big", "500"]));
      await attacker.send(record(second));
      const { match: bye, seen: after } = await attacker.readUntil((m) => m.t === "bye");
      assert.equal(bye?.reason, "flooding");
      assert.deepEqual(
        after.filter((m) => m.t === "error").map((m) => [m.id, m.code]),
        second.slice(0, 11).map((r) => [r.id, "rate_limited"]),
      );
      assert.ok(!after.some((m) => m.t === "msg" && m.replay === true), "nothing replayed");
      assert.equal(await attacker.waitClosed(5000), true);

      // Legitimate use next to it: an occasional /history (50 rows: two tokens), a paste of 20
      // lines (one token), and another /history, all served whole.
      const h1 = cmd("history", ["#big"]);
      await reader.send(h1);
      const got1 = await reader.readUntil((m) => m.id === h1.id);
      assert.equal(got1.seen.filter((m) => m.t === "msg" && m.replay === true).length, 50);
      assert.deepEqual(got1.match?.data, { room: "#big", shown: 50, wanted: 50 });
      assert.equal(got1.match?.text, "End of the history of #big.");
      const paste = Array.from({ length: 20 }, (_, i) => EvilClient.say(`r${i}`, "#big"));
      await reader.send(record(paste));
      const got2 = await reader.readUntil((m) => m.t === "msg" && m.text === "r19");
      assert.equal(got2.seen.filter((m) => m.t === "msg" && m.from === "reader").length, 20);
      assert.ok(!got2.seen.some((m) => m.t === "error"), JSON.stringify(got2.seen));
      const h2 = cmd("history", ["#big", "100"]);
      await reader.send(h2);
      const got3 = await reader.readUntil((m) => m.id === h2.id);
      assert.equal(got3.seen.filter((m) => m.t === "msg" && m.replay === true).length, 100);
      assert.equal(got3.match?.t, "reply");
    } finally {
      await closeAll(...open);
    }
  });
});

Deno.test("charge (process): /rooms lists the first page in order, cut to the rows the budget pays for", async () => {
  await withProcess({ ratePerSecond: 0.001, rateBurst: 1, roomsPerDay: 1000 }, async (s) => {
    const open: EvilClient[] = [];
    try {
      // 7 × 32 = 224 live rooms (#lobby not among them), joined in an order unlike their names.
      const names: string[] = [];
      for (let u = 0; u < 7; u++) {
        const rooms = Array.from({ length: 32 }, (_, i) => `#r${String((i * 7 + u) % 224 + 100)}`);
        names.push(...rooms);
        keep(open, await inRooms(s.port, `member${u}`, rooms));
      }
      const asker = keep(open, await EvilClient.joined(s.port, "asker"));
      const q = cmd("rooms", []);
      await asker.send(q);
      const [reply] = await answers(asker, [q.id]);
      const data = reply?.data as { name: string }[];
      // One token pays for 100 list rows; the page would hold more.
      assert.deepEqual(data.map((r) => r.name), ["#lobby", ...names.sort()].slice(0, 100));
      const text = String(reply?.text).split("\n");
      assert.equal(text[0], "225 rooms:");
      assert.equal(text.at(-1), "and 125 more (rate limited: ask again in a few seconds)");
      const again = cmd("rooms", []);
      await asker.send(again);
      assert.equal((await answers(asker, [again.id]))[0]?.code, "rate_limited");
    } finally {
      await closeAll(...open);
    }
  });
});

Deno.test("charge (process): resume is bounded by the automatic bucket and leaves the message bucket whole", async () => {
  // An automatic bucket of 4 tokens pays for 100 replayed messages.
  await withProcess({ autoBurst: 4, autoPerSecond: 0.001, ratePerSecond: 0.001 }, async (s) => {
    const open: EvilClient[] = [];
    try {
      await fill(keep(open, await inRooms(s.port, "filler", ["#long"])), "#long", 8, "m");
      const c = keep(open, await EvilClient.connect(s.port));
      await c.handshake();
      await c.auth({ name: "resumer", rooms: ["#long"], extra: { resume: { "#long": 0 } } });
      const { match, seen } = await c.readUntil((m) =>
        m.t === "event" && m.kind === "join" && m.name === "resumer"
      );
      assert.ok(match);
      const replayed = seen.filter((m) => m.t === "msg" && m.replay === true);
      assert.deepEqual([replayed.length, replayed[0]?.seq, replayed.at(-1)?.seq], [100, 61, 160]);
      const typed = Array.from({ length: 10 }, () => cmd("who", []));
      await c.send(record(typed));
      const got = await answers(c, typed.map((r) => r.id));
      assert.deepEqual(
        got.map((m) => m?.t),
        Array(10).fill("reply"),
        "the message bucket is whole",
      );
    } finally {
      await closeAll(...open);
    }
  });
});
