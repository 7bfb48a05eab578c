/**
 * The charging rules of server/charge.ts on a hand-driven clock: the paste rule for `say` only,
 * one token per command, answers paid by their rows and cut when the bucket is short, automatic
 * requests in their own bucket without strikes, strikes within a minute.
 */

import assert from "node:assert/strict";
import { AUTO_COMMANDS, type ChargeLimits, Charges } from "../../server/charge.ts";
import { DEFAULT_LIMITS, TokenBucket } from "../../shared/limits.ts";

const LIMITS: ChargeLimits = {
  rateBurst: 10,
  ratePerSecond: 2,
  rateStrikes: 5,
  pasteLines: 20,
  autoBurst: 4,
  autoPerSecond: 1,
  replayRowsPerToken: 25,
  listRowsPerToken: 100,
};

function setup(over: Partial<ChargeLimits> = {}) {
  const clock = { t: 1_000_000 };
  const c = new Charges({ ...LIMITS, ...over }, () => clock.t);
  return { c, clock };
}

const SAY = { t: "say" } as const;
const cmd = (name: string, auto?: boolean) => ({ t: "cmd", name, auto }) as const;

Deno.test("charge: 20 say lines of one record are one token; the 21st takes another", () => {
  const { c } = setup({ rateBurst: 2, ratePerSecond: 0.001 });
  c.record();
  for (let i = 0; i < 20; i++) assert.equal(c.request(SAY), "ok", `line ${i}`);
  assert.equal(c.request(SAY), "ok", "21st: the second token");
  for (let i = 0; i < 19; i++) c.request(SAY);
  assert.equal(c.request(SAY), "limited", "41st: no third token");
});

Deno.test("charge: commands in one record take a token each (the paste rule is for say)", () => {
  const { c } = setup();
  c.record();
  const verdicts = Array.from({ length: 12 }, () => c.request(cmd("history")));
  assert.deepEqual(verdicts, [...Array(10).fill("ok"), "limited", "limited"]);
  c.record();
  assert.equal(c.request({ t: "dm" }), "limited", "a dm takes a token too");
  assert.equal(c.request(SAY), "limited", "and so does the first say of a record");
});

Deno.test("charge: the request token pays for 25 replay rows; more take tokens first", () => {
  const { c } = setup();
  c.record();
  assert.equal(c.request(cmd("history")), "ok"); // 9 left
  assert.equal(c.rows("replay", 50), 50, "25 from the request, 25 for one more token");
  assert.equal(c.request(cmd("history")), "ok"); // 7 left
  assert.equal(c.rows("replay", 500), 25 + 7 * 25, "cut to what the bucket holds");
  assert.equal(c.request(cmd("history")), "limited", "nothing left for the next request");
});

Deno.test("charge: list rows are cheaper than replay rows; an empty answer costs nothing more", () => {
  const { c } = setup({ rateBurst: 2 });
  c.record();
  assert.equal(c.request(cmd("rooms")), "ok");
  assert.equal(c.rows("list", 0), 0);
  assert.equal(c.rows("list", 150), 150, "100 from the request, 50 for half a token");
  assert.equal(c.request(cmd("who")), "limited", "half a token is not a request");
});

Deno.test("charge: tokens come back with time, up to the burst", () => {
  const { c, clock } = setup({ rateBurst: 1, ratePerSecond: 2 });
  assert.equal(c.request(cmd("who")), "ok");
  assert.equal(c.request(cmd("who")), "limited");
  clock.t += 500;
  assert.equal(c.request(cmd("who")), "ok");
  clock.t += 60_000;
  assert.equal(c.request(cmd("who")), "ok");
  assert.equal(c.request(cmd("who")), "limited", "the burst is one");
});

Deno.test("charge: automatic lookups use their own bucket and are never strikes", () => {
  const { c } = setup({ rateBurst: 1, rateStrikes: 2 });
  c.record();
  const auto = Array.from({ length: 100 }, () => c.request(cmd("keys", true)));
  assert.deepEqual(auto.slice(0, 5), ["ok", "ok", "ok", "ok", "auto_limited"]);
  assert.ok(auto.slice(4).every((v) => v === "auto_limited"), "refused, never flooding");
  assert.equal(c.request(SAY), "ok", "the message bucket is untouched");
  assert.equal(c.request(cmd("who")), "limited", "one strike");
  assert.equal(c.request(cmd("who")), "flooding", "two strikes");
});

Deno.test("charge: `auto` on a command that changes state is charged as typed", () => {
  const { c } = setup({ rateBurst: 1, autoBurst: 100 });
  for (const name of ["join", "nick", "topic", "kick", "away"]) {
    assert.ok(!AUTO_COMMANDS.has(name), name);
  }
  assert.equal(c.request(cmd("join", true)), "ok");
  assert.equal(c.request(cmd("join", true)), "limited", "from the message bucket, a strike");
});

Deno.test("charge: automatic answers (replay after auth) are paid from the automatic bucket", () => {
  const { c } = setup({ rateBurst: 1, autoBurst: 4 });
  c.automatic();
  assert.equal(c.rows("replay", 50), 50, "two tokens, no request token to start from");
  assert.equal(c.rows("replay", 500), 50, "two left: 50 more rows");
  assert.equal(c.rows("replay", 10), 0, "nothing left");
  assert.equal(c.request(SAY), "ok", "the message bucket is untouched");
});

Deno.test("charge: strikes older than a minute are forgotten", () => {
  const { c, clock } = setup({ rateBurst: 1, ratePerSecond: 0.0001, rateStrikes: 3 });
  c.request(SAY);
  c.record();
  assert.equal(c.request(SAY), "limited");
  assert.equal(c.request(SAY), "limited");
  clock.t += 60_001;
  c.record();
  assert.equal(c.request(SAY), "limited", "the two earlier strikes expired");
  assert.equal(c.request(SAY), "limited");
  assert.equal(c.request(SAY), "flooding");
});

Deno.test("charge: a shared automatic bucket is used for automatic requests and replays", () => {
  const clock = { t: 0 };
  const shared = new TokenBucket(2, 0.001, () => clock.t);
  const a = new Charges({ ...LIMITS, autoBurst: 50 }, () => clock.t);
  const b = new Charges({ ...LIMITS, autoBurst: 50 }, () => clock.t);
  a.shareAutomatic(shared);
  b.shareAutomatic(shared);
  assert.equal(a.request(cmd("keys", true)), "ok");
  b.automatic();
  assert.equal(b.rows("replay", 100), 25, "one token left in the shared bucket");
  assert.equal(a.request(cmd("keys", true)), "auto_limited");
  assert.equal(b.request(cmd("who")), "ok", "the message buckets are their own");
});

Deno.test("charge: pings have their own bucket", () => {
  const { c } = setup({ rateBurst: 2 });
  assert.deepEqual([c.ping(), c.ping(), c.ping()], [true, true, false]);
  assert.equal(c.request(SAY), "ok");
});

Deno.test("charge: bad limits are refused; the defaults are consistent", () => {
  assert.throws(() => setup({ replayRowsPerToken: 0 }), RangeError);
  assert.throws(() => setup({ autoBurst: 0 }), RangeError);
  new Charges(DEFAULT_LIMITS, () => 0);
  // The automatic bucket covers a full reconnect's join replay: every room's recent history.
  const rows = 32 * DEFAULT_LIMITS.historyOnJoin;
  assert.ok(DEFAULT_LIMITS.autoBurst * DEFAULT_LIMITS.replayRowsPerToken >= rows);
});

Deno.test("token bucket: take(n) is all or nothing, takeUpTo takes what there is", () => {
  const b = new TokenBucket(3, 1, () => 0);
  assert.equal(b.take(4), false);
  assert.equal(b.tokens, 3);
  assert.equal(b.take(2), true);
  assert.equal(b.takeUpTo(5), 1);
  assert.equal(b.takeUpTo(1), 0);
});
