import assert from "node:assert/strict";
import fc from "fast-check";
import {
  decodeKeys,
  flushKeys,
  type Key,
  MAX_PASTE,
  newDecoderState,
} from "../../client/key_decoder.ts";

const enc = new TextEncoder();

function decodeAll(chunks: (string | Uint8Array)[], maxPaste?: number): Key[] {
  const st = newDecoderState(maxPaste);
  const keys = chunks.flatMap((c) => decodeKeys(c, st));
  return [...keys, ...flushKeys(st)];
}

/** Keys with adjacent typed text runs merged (a chunk boundary may split a run). */
function merged(keys: Key[]): Key[] {
  const out: Key[] = [];
  for (const k of keys) {
    const last = out.at(-1);
    if (k.name === "text" && last?.name === "text" && !k.alt && !last.alt) {
      out[out.length - 1] = { ...last, text: last.text! + k.text! };
    } else out.push(k);
  }
  return out;
}

Deno.test("key decoder: text runs, control keys, Enter, Backspace, Tab", () => {
  assert.deepEqual(decodeAll(["héllo 中"]), [{ name: "text", text: "héllo 中" }]);
  assert.deepEqual(decodeAll(["a\rb\x7f\t\x01\x05\x15\x17\x0b\x03\x04"]), [
    { name: "text", text: "a" },
    { name: "enter" },
    { name: "text", text: "b" },
    { name: "backspace" },
    { name: "tab" },
    { name: "a", ctrl: true },
    { name: "e", ctrl: true },
    { name: "u", ctrl: true },
    { name: "w", ctrl: true },
    { name: "k", ctrl: true },
    { name: "c", ctrl: true },
    { name: "d", ctrl: true },
  ]);
  assert.deepEqual(decodeAll(["x\r\ny\n"]), [
    { name: "text", text: "x" },
    { name: "enter" },
    { name: "text", text: "y" },
    { name: "enter" },
  ]);
});

Deno.test("key decoder: CSI and SS3 keys with xterm modifiers", () => {
  const cases: [string, Key][] = [
    ["\x1b[A", { name: "up" }],
    ["\x1b[B", { name: "down" }],
    ["\x1b[C", { name: "right" }],
    ["\x1b[D", { name: "left" }],
    ["\x1bOC", { name: "right" }],
    ["\x1b[H", { name: "home" }],
    ["\x1b[F", { name: "end" }],
    ["\x1bOH", { name: "home" }],
    ["\x1b[1~", { name: "home" }],
    ["\x1b[4~", { name: "end" }],
    ["\x1b[3~", { name: "delete" }],
    ["\x1b[5~", { name: "pageup" }],
    ["\x1b[6~", { name: "pagedown" }],
    ["\x1b[1;5C", { name: "right", ctrl: true }],
    ["\x1b[1;5D", { name: "left", ctrl: true }],
    ["\x1b[1;3D", { name: "left", alt: true }],
    ["\x1b[1;2A", { name: "up", shift: true }],
    ["\x1b[3;5~", { name: "delete", ctrl: true }],
    ["\x1b[Z", { name: "tab", shift: true }],
    ["\x1bOP", { name: "f1" }],
    ["\x1b[15~", { name: "f5" }],
    ["\x1b\x1b[D", { name: "left", alt: true }],
    ["\x1b[99~", { name: "unknown", seq: "\x1b[99~" }],
    ["\x1b[?1;2c", { name: "unknown", seq: "\x1b[?1;2c" }],
    // Keys reported as code points with modifiers (CSI u, and xterm's modifyOtherKeys).
    ["\x1b[13;3u", { name: "enter", alt: true }],
    ["\x1b[13;2u", { name: "enter", shift: true }],
    ["\x1b[27;3;13~", { name: "enter", alt: true }],
    ["\x1b[97;5u", { name: "a", ctrl: true }],
    ["\x1b[50;3u", { name: "digit", alt: true, n: 2 }],
    ["\x1b[97;2u", { name: "text", text: "A" }],
    ["\x1b[32u", { name: "text", text: " " }],
    ["\x1b[127;3u", { name: "backspace", alt: true }],
    ["\x1b[1u", { name: "unknown", seq: "\x1b[1u" }],
    ["\x1b[55296u", { name: "unknown", seq: "\x1b[55296u" }],
    ["\x1b[9999999u", { name: "unknown", seq: "\x1b[9999999u" }],
  ];
  for (const [seq, key] of cases) assert.deepEqual(decodeAll([seq]), [key], JSON.stringify(seq));
});

Deno.test("key decoder: the Alt prefix", () => {
  assert.deepEqual(decodeAll(["\x1bb\x1bf\x1bB\x1b3\x1b\r\x1b\x7f\x1b\x17"]), [
    { name: "b", alt: true },
    { name: "f", alt: true },
    { name: "b", alt: true, shift: true },
    { name: "digit", alt: true, n: 3 },
    { name: "enter", alt: true },
    { name: "backspace", alt: true },
    { name: "w", ctrl: true, alt: true },
  ]);
});

Deno.test("key decoder: a lone ESC waits for more, and is Escape after a pause", () => {
  const st = newDecoderState();
  assert.deepEqual(decodeKeys("ab\x1b", st), [{ name: "text", text: "ab" }]);
  assert.equal(st.pending, "\x1b");
  assert.deepEqual(decodeKeys("[", st), []);
  assert.deepEqual(decodeKeys("1;5", st), []);
  assert.deepEqual(decodeKeys("C", st), [{ name: "right", ctrl: true }]);
  assert.deepEqual(decodeKeys("\x1b", st), []);
  assert.deepEqual(flushKeys(st), [{ name: "escape" }]);
  assert.deepEqual(flushKeys(st), []);
});

Deno.test("key decoder: UTF-8 split across chunks", () => {
  const bytes = enc.encode("é👨‍👩‍👧中");
  const st = newDecoderState();
  const keys = [...bytes].flatMap((b) => decodeKeys(Uint8Array.of(b), st));
  assert.equal(keys.map((k) => k.text).join(""), "é👨‍👩‍👧中");
  assert.ok(keys.every((k) => k.name === "text"));
});

Deno.test("key decoder: a bracketed paste is one key, newlines and escapes kept as text", () => {
  assert.deepEqual(decodeAll(["x\x1b[200~line 1\rline 2\n\x1b[A\x1b[201~y"]), [
    { name: "text", text: "x" },
    { name: "paste", text: "line 1\rline 2\n\x1b[A" },
    { name: "text", text: "y" },
  ]);
  // The end marker split across chunks, one byte at a time.
  const whole = "\x1b[200~abc\x1b[201~";
  assert.deepEqual(decodeAll([...whole]), [{ name: "paste", text: "abc" }]);
  // A paste never ended stays open: nothing comes out, even after a pause.
  const st = newDecoderState();
  assert.deepEqual(decodeKeys("\x1b[200~abc", st), []);
  assert.deepEqual(flushKeys(st), []);
  assert.deepEqual(decodeKeys("def\x1b[201~", st), [{ name: "paste", text: "abcdef" }]);
  // Unless the caller ends it (its end marker was lost): then it is the paste so far.
  assert.deepEqual(decodeKeys("\x1b[200~lost\x1b[20", st), []);
  assert.deepEqual(flushKeys(st, true), [{ name: "paste", text: "lost\x1b[20" }]);
  assert.deepEqual(decodeKeys("typed", st), [{ name: "text", text: "typed" }]);
});

Deno.test("key decoder: a paste over the bound keeps its beginning and says so", () => {
  const st = newDecoderState(10);
  const keys = [
    ...decodeKeys("\x1b[200~0123456", st),
    ...decodeKeys("789abcdef", st),
    ...decodeKeys("x".repeat(1000), st),
  ];
  assert.deepEqual(keys, []);
  assert.equal(st.paste, "0123456789", "nothing past the bound was accumulated");
  assert.deepEqual(decodeKeys("\x1b[201~z", st), [
    { name: "paste", text: "0123456789", truncated: true },
    { name: "text", text: "z" },
  ]);
  assert.equal(st.paste, undefined);
  assert.deepEqual(decodeKeys("\x1b[200~ok\x1b[201~", st), [{ name: "paste", text: "ok" }]);
  assert.throws(() => newDecoderState(-1), RangeError);
  assert.ok(MAX_PASTE >= 65_536);
});

Deno.test("key decoder: an over-long escape sequence is skipped, not accumulated", () => {
  const long = "\x1b[" + "1;".repeat(100) + "Cok";
  for (const chunks of [[long], [...long]]) {
    const keys = merged(decodeAll(chunks));
    assert.equal(keys.length, 2);
    assert.equal(keys[0].name, "unknown");
    assert.ok(keys[0].seq!.length <= 32);
    assert.deepEqual(keys[1], { name: "text", text: "ok" });
  }
});

Deno.test("key decoder: property — any split of the input gives the same keys", () => {
  const piece = fc.constantFrom(
    "a",
    "é",
    "中",
    "👨‍👩‍👧",
    "\r",
    "\x7f",
    "\x1b[A",
    "\x1b[1;5C",
    "\x1bb",
    "\x1b3",
    "\x1bOH",
    "\x1b[3~",
    "\x1b[200~pasted\nline\x1b[201~",
    "\x01",
  );
  fc.assert(
    fc.property(
      fc.array(piece, { maxLength: 30 }),
      fc.array(fc.nat(), { maxLength: 5 }),
      (ps, cuts) => {
        const bytes = enc.encode(ps.join(""));
        const whole = decodeAll([bytes]);
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const chunks: Uint8Array[] = [];
        let at = 0;
        for (const p of points) {
          chunks.push(bytes.slice(at, p));
          at = p;
        }
        chunks.push(bytes.slice(at));
        assert.deepEqual(merged(decodeAll(chunks)), merged(whole));
      },
    ),
  );
});

Deno.test("key decoder: property — arbitrary bytes never throw and paste stays bounded", () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), (chunks) => {
      const st = newDecoderState(16);
      for (const c of chunks) {
        for (const k of decodeKeys(c, st)) {
          assert.equal(typeof k.name, "string");
          if (k.name === "paste") assert.ok(k.text!.length <= 16);
        }
        assert.ok((st.paste?.length ?? 0) <= 16);
      }
      flushKeys(st);
    }),
  );
});
