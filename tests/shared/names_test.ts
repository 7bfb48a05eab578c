import assert from "node:assert/strict";
import fc from "fast-check";
import {
  Blacklist,
  checkName,
  checkRoom,
  DEFAULT_ROOM,
  nameKey,
  RESERVED_NAMES,
} from "../../shared/names.ts";

const RULE =
  "Names are 2–16 characters: ASCII letters (a-z, A-Z), digits, _ and -, starting with a letter.";
const validName = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_-]{1,15}$/);
const reservedVariant = fc.mixedCase(fc.constantFrom(...RESERVED_NAMES));

Deno.test("checkName: names that pass never equal a reserved name after case folding", () => {
  const candidates = fc.oneof(
    validName,
    reservedVariant,
    fc.string({ unit: "binary", maxLength: 20 }),
  );
  fc.assert(
    fc.property(candidates, (name) => {
      const r = checkName(name);
      if (r.ok) {
        assert.equal(r.key, nameKey(name));
        assert.equal(RESERVED_NAMES.has(r.key), false);
        assert.equal(RESERVED_NAMES.has(name.toLowerCase()), false);
      }
    }),
    { numRuns: 1000 },
  );
  fc.assert(
    fc.property(reservedVariant, (name) => {
      assert.deepEqual(checkName(name), {
        ok: false,
        code: "name_reserved",
        reason: `The name "${name}" is reserved. Please choose another name.`,
      });
    }),
  );
});

Deno.test("nameKey: keys are equal exactly when names are equal ignoring ASCII case", () => {
  fc.assert(
    fc.property(validName, validName, (a, b) => {
      assert.equal(nameKey(a) === nameKey(b), a.toLowerCase() === b.toLowerCase());
    }),
  );
  fc.assert(
    fc.property(fc.mixedCase(validName), fc.mixedCase(validName), (a, b) => {
      const ra = checkName(a);
      const rb = checkName(b);
      if (ra.ok && rb.ok && a.toLowerCase() === b.toLowerCase()) assert.equal(ra.key, rb.key);
    }),
  );
  const shared = validName.chain((n) => fc.tuple(fc.mixedCase(fc.constant(n)), fc.constant(n)));
  fc.assert(
    fc.property(shared, ([variant, original]) => {
      assert.equal(nameKey(variant), nameKey(original));
      assert.equal(nameKey(variant), original.toLowerCase());
    }),
  );
});

Deno.test("nameKey: folds ASCII only", () => {
  assert.equal(nameKey("AliCE_9-Z"), "alice_9-z");
  assert.equal(nameKey("alice"), "alice");
  assert.equal(nameKey("\u212aelvin"), "\u212aelvin"); // KELVIN SIGN is not "k"
  assert.equal(nameKey("ÀB"), "Àb");
});

Deno.test("checkName: accepts valid names and returns the folded key", () => {
  assert.deepEqual(checkName("Alice"), { ok: true, key: "alice" });
  assert.deepEqual(checkName("bo"), { ok: true, key: "bo" });
  assert.deepEqual(checkName("a234567890123456"), { ok: true, key: "a234567890123456" });
  assert.deepEqual(checkName("x_Y-z"), { ok: true, key: "x_y-z" });
  assert.deepEqual(checkName("admins"), { ok: true, key: "admins" });
});

Deno.test("checkName: each syntax rule rejects with name_invalid and its reason", () => {
  const cases: [string, string][] = [
    ["", "That name is too short."],
    ["a", "That name is too short."],
    ["a2345678901234567", "That name is too long."],
    ["x".repeat(10_000), "That name is too long."],
    ["1alice", "That name does not start with a letter."],
    ["_alice", "That name does not start with a letter."],
    ["-alice", "That name does not start with a letter."],
    ["al ice", "That name contains a character that is not allowed."],
    ["alice!", "That name contains a character that is not allowed."],
    ["élodie", "That name contains a character that is not allowed."],
    ["al\x1bice", "That name contains a character that is not allowed."],
    ["alice\n", "That name contains a character that is not allowed."],
    ["\u212aelvin", "That name contains a character that is not allowed."],
  ];
  for (const [name, first] of cases) {
    assert.deepEqual(
      checkName(name),
      { ok: false, code: "name_invalid", reason: `${first} ${RULE}` },
      JSON.stringify(name),
    );
  }
});

Deno.test("checkName: reserved names in any case are name_reserved", () => {
  assert.equal(RESERVED_NAMES.size, 29);
  for (const name of ["server", "ADMIN", "Root", "sysOp", "op", "me", "Undefined", "chat"]) {
    const r = checkName(name);
    assert.equal(r.ok, false, name);
    assert.equal(!r.ok && r.code, "name_reserved", name);
  }
  assert.deepEqual(checkName("Admin"), {
    ok: false,
    code: "name_reserved",
    reason: 'The name "Admin" is reserved. Please choose another name.',
  });
  assert.equal(checkName("serverX").ok, true);
});

Deno.test("checkName: blacklisted names are name_reserved, others pass", () => {
  const bl = Blacklist.parse("bad*\n*admin*\nTroll\n");
  assert.deepEqual(checkName("BadGuy", bl), {
    ok: false,
    code: "name_reserved",
    reason: 'The name "BadGuy" is not allowed on this server. Please choose another name.',
  });
  assert.equal(checkName("xAdMiNx", bl).ok, false);
  assert.equal(checkName("troll", bl).ok, false);
  assert.deepEqual(checkName("goodguy", bl), { ok: true, key: "goodguy" });
  assert.deepEqual(checkName("trolls", bl), { ok: true, key: "trolls" });
  assert.deepEqual(checkName("BadGuy"), { ok: true, key: "badguy" });
  assert.deepEqual(checkName("BadGuy", Blacklist.empty()), { ok: true, key: "badguy" });
});

Deno.test("Blacklist: prefix, infix, suffix and exact patterns", () => {
  const bl = Blacklist.parse("bad*\n*admin*\n*bot\nj*n*e\nexact\n");
  assert.equal(bl.size, 5);
  for (const yes of ["bad", "badguy", "admin", "sysadmin1", "xadminx", "robot", "jane", "jxnxe"]) {
    assert.equal(bl.matches(yes), true, yes);
  }
  for (const no of ["abad", "adm1n", "bots", "jn", "jan", "exactly", "xexact", ""]) {
    assert.equal(bl.matches(no), false, no);
  }
});

Deno.test("Blacklist: comments, blank lines, white space, CRLF and case", () => {
  const text = [
    "# operator blacklist",
    "",
    "   ",
    "  Spammer  ",
    "EVIL*   # trailing comment",
    "\tmallory\r",
    "#notme",
  ].join("\n");
  const bl = Blacklist.parse(text);
  assert.equal(bl.size, 3);
  assert.equal(bl.matches("spammer"), true);
  assert.equal(bl.matches("SPAMMER"), true);
  assert.equal(bl.matches("evilbob"), true);
  assert.equal(bl.matches("EvilBob"), true);
  assert.equal(bl.matches("Mallory"), true);
  assert.equal(bl.matches("notme"), false);
  assert.equal(bl.matches("operator"), false);
  assert.equal(bl.matches("spammers"), false);
});

Deno.test("Blacklist: pattern text is literal, never a regular expression", () => {
  const bl = Blacklist.parse("a.c\n(x+)+y*\n[ab]\n");
  assert.equal(bl.matches("a.c"), true);
  assert.equal(bl.matches("abc"), false);
  assert.equal(bl.matches("(x+)+y"), true);
  assert.equal(bl.matches("xxxxy"), false);
  assert.equal(bl.matches("a"), false);
  const slow = Blacklist.parse("*a*a*a*a*a*a*a*a*a*a*b\n");
  const start = performance.now();
  assert.equal(slow.matches("a".repeat(10_000)), false);
  assert.ok(performance.now() - start < 500);
});

Deno.test("Blacklist: lines over 64 characters are ignored, 64 is kept", () => {
  const bl = Blacklist.parse(`${"a".repeat(65)}\n${"b".repeat(64)}\n${"*".repeat(65)}\n`);
  assert.equal(bl.size, 1);
  assert.equal(bl.matches("a".repeat(65)), false);
  assert.equal(bl.matches("b".repeat(64)), true);
  assert.equal(bl.matches("anything"), false);
});

Deno.test("Blacklist: at most 10,000 entries", () => {
  const names = (n: number) => Array.from({ length: n }, (_, i) => `n${i}`).join("\n");
  assert.equal(Blacklist.parse(names(10_000)).size, 10_000);
  assert.equal(Blacklist.parse(names(10_000) + "\nn0\nN1\n").size, 10_000);
  assert.throws(() => Blacklist.parse(names(10_001)), {
    name: "RangeError",
    message: "blacklist has more than 10000 entries",
  });
});

Deno.test("Blacklist: empty matches nothing", () => {
  assert.equal(Blacklist.empty().size, 0);
  assert.equal(Blacklist.empty().matches("anyone"), false);
  assert.equal(Blacklist.parse("").size, 0);
  assert.equal(Blacklist.parse("# only a comment\n\n").matches("only"), false);
  assert.equal(Blacklist.parse("*").matches("anyone"), true);
});

Deno.test("checkRoom: # plus 1–32 of [a-z0-9_-]", () => {
  assert.equal(DEFAULT_ROOM, "#lobby");
  assert.deepEqual(checkRoom(DEFAULT_ROOM), { ok: true });
  assert.deepEqual(checkRoom("#a"), { ok: true });
  assert.deepEqual(checkRoom("#0-_9"), { ok: true });
  assert.deepEqual(checkRoom("#" + "r".repeat(32)), { ok: true });
  const length = "That room name has the wrong length. " +
    "Room names are # followed by 1–32 of a-z, 0-9, _ and -.";
  const chars = "That room name is not valid. " +
    "Room names are # followed by 1–32 of a-z, 0-9, _ and -.";
  assert.deepEqual(checkRoom("#"), { ok: false, reason: length });
  assert.deepEqual(checkRoom(""), { ok: false, reason: length });
  assert.deepEqual(checkRoom("#" + "r".repeat(33)), { ok: false, reason: length });
  assert.deepEqual(checkRoom("lobby"), { ok: false, reason: chars });
  assert.deepEqual(checkRoom("#Lobby"), { ok: false, reason: chars });
  assert.deepEqual(checkRoom("#lob by"), { ok: false, reason: chars });
  assert.deepEqual(checkRoom("##"), { ok: false, reason: chars });
  assert.deepEqual(checkRoom("#lobby\n"), { ok: false, reason: chars });
});
