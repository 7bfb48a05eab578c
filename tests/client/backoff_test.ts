import assert from "node:assert/strict";
import fc from "fast-check";
import { BACKOFF_CAP_MS, nextDelay } from "../../client/backoff.ts";

const take = (n: number, random: () => number) =>
  Array.from({ length: n }, (_, attempt) => nextDelay(attempt, random));

Deno.test("backoff: without jitter 0.5 s doubles to a 30 s cap", () => {
  assert.deepEqual(take(9, () => 0.5), [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
});

Deno.test("backoff: jitter stays within ±20% and never exceeds the cap", () => {
  assert.deepEqual(take(8, () => 0), [400, 800, 1600, 3200, 6400, 12800, 24000, 24000]);
  const high = 1 - 2 ** -40;
  assert.deepEqual(take(8, () => high), [600, 1200, 2400, 4800, 9600, 19200, 30000, 30000]);
});

Deno.test("backoff: every delay lies in [0.8, 1.2) × the base, capped", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 2000 }),
      fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
      (attempt, r) => {
        const base = Math.min(500 * 2 ** Math.min(attempt, 20), BACKOFF_CAP_MS);
        const d = nextDelay(attempt, () => r);
        assert.ok(
          d >= Math.floor(base * 0.8) && d <= Math.min(Math.ceil(base * 1.2), BACKOFF_CAP_MS),
        );
      },
    ),
  );
});

Deno.test("backoff: bad attempt or random value is a RangeError", () => {
  for (const a of [-1, 1.5, NaN, Infinity]) {
    assert.throws(() => nextDelay(a, () => 0.5), RangeError);
  }
  for (const r of [1, -0.1, NaN, 2]) {
    assert.throws(() => nextDelay(0, () => r), RangeError);
  }
  assert.equal(nextDelay(0, () => 0.5), 500);
});
