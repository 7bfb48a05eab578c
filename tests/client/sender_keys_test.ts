import assert from "node:assert/strict";
import { SENDER_KEY_LIMITS, SenderKeys } from "../../client/sender_keys.ts";

interface Keys {
  name: string;
}

/** A fetch whose answers the test gives by hand, recording every call. */
function manual() {
  const calls: { name: string; resolve: (k: Keys) => void; reject: (e: Error) => void }[] = [];
  const fetch = (name: string) =>
    new Promise<Keys>((resolve, reject) => calls.push({ name, resolve, reject }));
  return { calls, fetch };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

Deno.test("SenderKeys: one lookup per sender in flight, shared by every caller; answers remembered", async () => {
  const { calls, fetch } = manual();
  const now = { t: 0 };
  const sk = new SenderKeys<Keys>(fetch, { now: () => now.t });
  const waits = [sk.get("alice"), sk.get("ALICE"), sk.get("alice")];
  await tick();
  assert.equal(calls.length, 1);
  calls[0].resolve({ name: "alice" });
  assert.deepEqual(await Promise.all(waits), [{ name: "alice" }, { name: "alice" }, {
    name: "alice",
  }]);
  assert.deepEqual(await sk.get("Alice"), { name: "alice" });
  assert.equal(calls.length, 1, "remembered");
  now.t = SENDER_KEY_LIMITS.keepMs;
  const p = sk.get("alice");
  await tick();
  assert.equal(calls.length, 2, "forgotten after keepMs");
  calls[1].resolve({ name: "alice" });
  await p;
  assert.equal(sk.lookups, 2);
});

Deno.test("SenderKeys: at most inFlight lookups at once; a bounded number of senders wait; more are refused", async () => {
  const { calls, fetch } = manual();
  const sk = new SenderKeys<Keys>(fetch, { limits: { inFlight: 2, waiting: 3 } });
  const got = ["a", "b", "c", "d", "e", "f", "g"].map((n) => sk.get(n));
  await tick();
  assert.deepEqual(calls.map((c) => c.name), ["a", "b"], "two in flight");
  assert.equal(await got[5], null, "the sixth sender is refused at once");
  assert.equal(await got[6], null);
  calls[0].resolve({ name: "a" });
  await tick();
  await tick();
  assert.deepEqual(calls.map((c) => c.name), ["a", "b", "c"], "a slot passes to a waiter");
  calls[1].reject(new Error("no_such_user"));
  calls[2].resolve({ name: "c" });
  await tick();
  await tick();
  assert.deepEqual(calls.map((c) => c.name), ["a", "b", "c", "d", "e"]);
  calls[3].resolve({ name: "d" });
  calls[4].resolve({ name: "e" });
  assert.deepEqual(await Promise.all(got), [
    { name: "a" },
    null,
    { name: "c" },
    { name: "d" },
    { name: "e" },
    null,
    null,
  ]);
  assert.equal(sk.lookups, 5);
});

Deno.test("SenderKeys: a failure waits failBaseMs, doubling to failMaxMs; a success or remember clears it", async () => {
  const now = { t: 0 };
  let ok = false;
  let calls = 0;
  const sk = new SenderKeys<Keys>(
    (name) => {
      calls++;
      return ok ? Promise.resolve({ name }) : Promise.reject(new Error("offline"));
    },
    { now: () => now.t, limits: { failBaseMs: 1000, failMaxMs: 3000 } },
  );
  const at = async (t: number) => {
    now.t = t;
    return await sk.get("mallory");
  };
  assert.equal(await at(0), null);
  assert.equal(calls, 1);
  assert.equal(await at(999), null);
  assert.equal(calls, 1, "waiting");
  assert.equal(await at(1000), null);
  assert.equal(calls, 2);
  assert.equal(await at(2999), null);
  assert.equal(calls, 2, "twice as long");
  await at(3000);
  assert.equal(calls, 3);
  await at(5999);
  assert.equal(calls, 3, "capped at failMaxMs");
  await at(6000);
  assert.equal(calls, 4);
  sk.remember({ name: "Mallory" });
  assert.deepEqual(await at(6001), { name: "Mallory" });
  assert.equal(calls, 4);
  ok = true;
  now.t = 6001 + SENDER_KEY_LIMITS.keepMs;
  assert.deepEqual(await sk.get("mallory"), { name: "mallory" });
});

Deno.test("SenderKeys: a transient failure (the client's own budget) waits transientMs and keeps the backoff", async () => {
  const now = { t: 0 };
  let error = "rate_limited";
  let calls = 0;
  const sk = new SenderKeys<Keys>(
    () => {
      calls++;
      return Promise.reject(new Error(error));
    },
    {
      now: () => now.t,
      limits: { failBaseMs: 1000, failMaxMs: 8000, transientMs: 100 },
      transient: (e) => e instanceof Error && e.message === "rate_limited",
    },
  );
  const at = async (t: number) => {
    now.t = t;
    await sk.get("ann");
    return calls;
  };
  assert.equal(await at(0), 1);
  assert.equal(await at(99), 1, "a short wait");
  assert.equal(await at(100), 2);
  error = "offline";
  assert.equal(await at(200), 3);
  assert.equal(await at(1199), 3, "a real failure: failBaseMs");
  error = "rate_limited";
  assert.equal(await at(1200), 4);
  assert.equal(await at(1300), 5, "transient again: short");
  error = "offline";
  assert.equal(await at(3299), 6);
  assert.equal(await at(5298), 6, "the backoff kept its length and doubled: 2000");
  assert.equal(await at(5299), 7);
});
