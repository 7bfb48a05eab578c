/** SortedNames keeps names in `Array.prototype.sort` order through adds and removals. */

import assert from "node:assert/strict";
import fc from "fast-check";
import { SortedNames } from "../../server/sorted_names.ts";

Deno.test("sorted names: same order and members as a sorted set, whatever the operations", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.boolean(), fc.string({ maxLength: 4 })), { maxLength: 200 }),
      (ops) => {
        const s = new SortedNames();
        const ref = new Set<string>();
        for (const [add, name] of ops) {
          if (add) {
            s.add(name);
            ref.add(name);
          } else assert.equal(s.delete(name), ref.delete(name));
        }
        assert.deepEqual([...s], [...ref].sort());
        assert.equal(s.size, ref.size);
        for (const name of ref) assert.ok(s.has(name));
      },
    ),
  );
});

Deno.test("sorted names: from() starts at the first name not below its argument", () => {
  const s = new SortedNames();
  for (const n of ["#c", "#a", "#e", "#b"]) s.add(n);
  assert.deepEqual([...s.from("#b")], ["#b", "#c", "#e"]);
  assert.deepEqual([...s.from("#d")], ["#e"]);
  assert.deepEqual([...s.from("#z")], []);
  assert.equal(s.delete("#x"), false);
});
