import assert from "node:assert/strict";
import { withDeadline, writeAll } from "../../shared/io.ts";

Deno.test("writeAll: keeps writing until a writer that takes 3 bytes a call has everything", async () => {
  const got: number[] = [];
  const w = {
    write: (p: Uint8Array) =>
      Promise.resolve(got.push(...p.subarray(0, 3)) && Math.min(3, p.length)),
  };
  await writeAll(w, Uint8Array.from([1, 2, 3, 4, 5, 6, 7]));
  assert.deepEqual(got, [1, 2, 3, 4, 5, 6, 7]);
});

Deno.test("withDeadline: the value in time, the error after the deadline, no timer left", async () => {
  assert.equal(await withDeadline(Promise.resolve(7), 1000, () => new Error("late")), 7);
  const never = new Promise<never>(() => {});
  await assert.rejects(withDeadline(never, 10, () => new RangeError("late")), RangeError);
});
