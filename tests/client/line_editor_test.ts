import assert from "node:assert/strict";
import fc from "fast-check";
import type { Key } from "../../client/key_decoder.ts";
import { type EditorResult, LineEditor } from "../../client/line_editor.ts";
import { graphemes, textWidth } from "../../client/text_width.ts";

const FAMILY = "👨‍👩‍👧";
const SEG = new Intl.Segmenter(undefined, { granularity: "grapheme" });
const FLAG = "🇫🇷";
const ACCENT = "e\u0301";

function type(ed: LineEditor, ...keys: (string | Key)[]): EditorResult[] {
  return keys.map((k) => ed.feed(typeof k === "string" ? { name: "text", text: k } : k));
}
const k = (name: string, mods: Partial<Key> = {}): Key => ({ name, ...mods });

Deno.test("line editor: typing, cursor moves and deletion work on whole clusters", () => {
  const ed = new LineEditor();
  type(ed, `a${FAMILY}b${FLAG}${ACCENT}中`);
  assert.equal(ed.cursor, ed.text.length);
  type(ed, k("backspace"));
  assert.equal(ed.text, `a${FAMILY}b${FLAG}${ACCENT}`);
  type(ed, k("backspace"));
  assert.equal(ed.text, `a${FAMILY}b${FLAG}`, "the accent goes with its letter");
  type(ed, k("left"), k("backspace"));
  assert.equal(ed.text, `a${FAMILY}${FLAG}`);
  type(ed, k("left"));
  assert.equal(ed.cursor, 1, "left skips the whole family");
  type(ed, k("delete"));
  assert.equal(ed.text, `a${FLAG}`);
  type(ed, k("right"), "x");
  assert.equal(ed.text, `a${FLAG}x`);
  type(ed, k("home"), "<", k("end"), ">");
  assert.equal(ed.text, `<a${FLAG}x>`);
  type(ed, k("a", { ctrl: true }), k("f", { ctrl: true }), k("f", { ctrl: true }), "|");
  assert.equal(ed.text, `<a|${FLAG}x>`);
  type(ed, k("e", { ctrl: true }), k("b", { ctrl: true }), k("d", { ctrl: true }));
  assert.equal(ed.text, `<a|${FLAG}x`);
});

Deno.test("line editor: a combining mark typed after a letter joins it", () => {
  const ed = new LineEditor();
  type(ed, "e", "\u0301");
  assert.equal(ed.text, ACCENT);
  type(ed, k("left"));
  assert.equal(ed.cursor, 0);
  // Typed before a mark, a letter takes the mark: the cursor lands after the new cluster.
  const ed2 = new LineEditor();
  ed2.setText("\u0301x");
  type(ed2, k("home"), "a");
  assert.equal(ed2.text, "a\u0301x");
  assert.equal(ed2.cursor, 2);
});

Deno.test("line editor: a deletion that joins its neighbours into one cluster", () => {
  const ed = new LineEditor();
  ed.setText("🇩x🇪");
  type(ed, k("left"), k("backspace"));
  assert.equal(ed.text, "🇩🇪");
  assert.equal(ed.cursor, 0, "the cursor is not left inside the flag");
  ed.setText("e\nz");
  ed.feed(k("home"));
  ed.feed(k("right"));
  type(ed, k("delete"), k("delete"), "\u0301");
  assert.equal(ed.text, "e\u0301", "the mark typed after e joins it");
  assert.equal(ed.cursor, 2);
  ed.setText("e\n\u0301");
  type(ed, k("left"), k("backspace"));
  assert.equal(ed.text, "e\u0301");
  assert.equal(ed.cursor, 0);
  assert.deepEqual(ed.clusters, ["e\u0301"]);
});

Deno.test("line editor: words, Ctrl-W, Ctrl-U, Ctrl-K, Ctrl-Y", () => {
  const ed = new LineEditor();
  type(ed, "hello big  world");
  type(ed, k("b", { alt: true }));
  assert.equal(ed.cursor, "hello big  ".length);
  type(ed, k("left", { ctrl: true }));
  assert.equal(ed.cursor, "hello ".length);
  type(ed, k("right", { ctrl: true }));
  assert.equal(ed.cursor, "hello big".length);
  type(ed, k("f", { alt: true }));
  assert.equal(ed.cursor, ed.text.length);
  type(ed, k("w", { ctrl: true }));
  assert.equal(ed.text, "hello big  ");
  type(ed, k("backspace", { alt: true }));
  assert.equal(ed.text, "hello ");
  type(ed, k("y", { ctrl: true }));
  assert.equal(ed.text, "hello big  ");
  type(ed, k("home"), k("d", { alt: true }));
  assert.equal(ed.text, " big  ");
  type(ed, k("right"), k("k", { ctrl: true }));
  assert.equal(ed.text, " ");
  type(ed, "abc", k("u", { ctrl: true }));
  assert.equal(ed.text, "");
});

Deno.test("line editor: Enter submits, history is bounded and deduplicated", () => {
  const ed = new LineEditor({ historySize: 3 });
  for (const line of ["one", "two", "one", "three", "four"]) {
    assert.deepEqual(type(ed, line, k("enter")).at(-1), { kind: "submit", text: line });
  }
  assert.deepEqual(ed.history, ["one", "three", "four"]);
  assert.equal(ed.text, "");
  type(ed, "draft", k("up"));
  assert.equal(ed.text, "four");
  type(ed, k("up"), k("up"), k("up"));
  assert.equal(ed.text, "one");
  type(ed, k("down"), k("down"), k("down"));
  assert.equal(ed.text, "draft");
  assert.deepEqual(type(ed, k("enter"), k("enter")), [
    { kind: "submit", text: "draft" },
    { kind: "submit", text: "" },
  ]);
});

Deno.test("line editor: Alt+Enter inserts a newline; Up/Down move between its lines", () => {
  const ed = new LineEditor();
  type(ed, "first", k("enter", { alt: true }), "second");
  assert.equal(ed.text, "first\nsecond");
  type(ed, k("enter", { shift: true }), k("backspace"));
  assert.equal(ed.text, "first\nsecond", "Shift+Enter is a line break too");
  type(ed, k("up"));
  assert.equal(ed.cursor, "first".length);
  type(ed, k("home"), k("down"));
  assert.equal(ed.cursor, "first\n".length);
  assert.deepEqual(type(ed, k("enter")), [{ kind: "submit", text: "first\nsecond" }]);
});

Deno.test("line editor: a paste is inserted with its lines; more than 5 asks first", () => {
  const ed = new LineEditor();
  type(ed, "<>", k("left"));
  type(ed, { name: "paste", text: "a\r\nb\tc\x1b[31m\n" });
  assert.equal(
    ed.text,
    "<a\nb    c[31m>",
    "controls dropped, tabs as spaces, last newline dropped",
  );
  ed.clear();
  const seven = "1\n2\n3\n4\n5\n6\n7";
  type(ed, "x", { name: "paste", text: seven });
  assert.equal(ed.asking, true);
  assert.equal(ed.render(80, "> ").rows[0], "paste 7 lines as one message? (y/n) ");
  type(ed, "q", k("enter"), k("backspace"));
  assert.equal(ed.asking, true, "other keys do not answer");
  assert.deepEqual(type(ed, "n"), [{ kind: "handled", notice: "paste dropped" }]);
  assert.equal(ed.text, "x");
  type(ed, { name: "paste", text: seven }, "Y");
  assert.equal(ed.text, "x" + seven);
  type(ed, { name: "paste", text: seven }, k("c", { ctrl: true }));
  assert.equal(ed.asking, false, "Ctrl-C answers no");
  assert.deepEqual(type(ed, { name: "paste", text: "z", truncated: true }), [{
    kind: "handled",
    notice: "the paste was too long; only its beginning was kept",
  }]);
});

Deno.test("line editor: the check refuses a submit and keeps the text", () => {
  const ed = new LineEditor({ check: (t) => t.length > 5 ? `too long: ${t.length}` : undefined });
  assert.deepEqual(type(ed, "abcdefg", k("enter")).at(-1), {
    kind: "refused",
    reason: "too long: 7",
  });
  assert.equal(ed.text, "abcdefg");
  assert.deepEqual(ed.history, []);
  type(ed, k("backspace"), k("backspace"));
  assert.deepEqual(type(ed, k("enter")), [{ kind: "submit", text: "abcde" }]);
});

Deno.test("line editor: Tab completes, extends to the common prefix, lists candidates", () => {
  const names = ["bob", "bobby", "carol"];
  const ed = new LineEditor({
    complete: (before) => {
      const word = before.slice(before.lastIndexOf(" ") + 1);
      const hits = names.filter((n) => n.startsWith(word));
      return [hits.length === 1 ? [hits[0] + " "] : hits, word];
    },
  });
  type(ed, "hi c", k("tab"));
  assert.equal(ed.text, "hi carol ");
  type(ed, "b", k("tab"));
  assert.equal(ed.text, "hi carol bob");
  assert.deepEqual(type(ed, k("tab")), [{ kind: "candidates", items: ["bob", "bobby"] }]);
  type(ed, "b", k("tab"));
  assert.equal(ed.text, "hi carol bobby ");
});

Deno.test("line editor: Ctrl-C, Ctrl-D and keys left to the caller", () => {
  const ed = new LineEditor();
  assert.deepEqual(type(ed, k("d", { ctrl: true })), [{ kind: "eof" }]);
  assert.deepEqual(type(ed, k("c", { ctrl: true })), [{ kind: "interrupt" }]);
  for (
    const key of [
      k("pageup"),
      k("pagedown"),
      k("digit", { alt: true, n: 2 }),
      k("left", { alt: true }),
      k("right", { alt: true }),
      k("p", { ctrl: true }),
      k("n", { ctrl: true }),
      k("l", { ctrl: true }),
      k("f5"),
    ]
  ) {
    assert.deepEqual(ed.feed(key), { kind: "unhandled", key });
  }
  assert.equal(ed.text, "");
});

Deno.test("line editor: the buffer is bounded", () => {
  const ed = new LineEditor({ maxLength: 10 });
  assert.deepEqual(type(ed, "12345678", FAMILY), [{ kind: "handled" }, {
    kind: "handled",
    notice: "input is limited to 10 characters",
  }]);
  assert.equal(ed.text, "12345678", "a cluster that does not fit whole is not cut");
  ed.setText("x".repeat(50));
  assert.equal(ed.text.length, 10);
});

Deno.test("line editor: render wraps at the width, counts wide clusters, places the cursor", () => {
  const ed = new LineEditor();
  type(ed, "abcdefgh");
  assert.deepEqual(ed.render(5, "> "), {
    rows: ["> abc", "defgh", ""],
    cursorRow: 2,
    cursorCol: 0,
  });
  ed.setText("ab中文字");
  // "> ab" is 4 columns: 中 does not fit in the 5th and goes to the next row.
  assert.deepEqual(ed.render(5, "> "), {
    rows: ["> ab", "中文", "字"],
    cursorRow: 2,
    cursorCol: 2,
  });
  ed.setText(`${FAMILY}${FLAG}\u202e`);
  type(ed, k("home"), k("right"));
  assert.deepEqual(ed.render(20, "> "), {
    rows: [`> ${FAMILY}${FLAG}<U+202E>`],
    cursorRow: 0,
    cursorCol: 4,
  });
  // A prepended mark with nothing to join is shown by its code point, not joined to the next.
  ed.setText("\u0600\u202e");
  assert.deepEqual(ed.render(40, "> "), {
    rows: ["> <U+0600><U+202E>"],
    cursorRow: 0,
    cursorCol: 18,
  });
  ed.setText("\u00a0\u{e0020}");
  assert.deepEqual(ed.render(40, "> ").rows, ["> \u00a0<U+E0020>"]);
  assert.deepEqual(ed.render(3, "> ").rows, ["> ?", ""], "too wide for a row: shown as ?");
  ed.setText("\u{1f3fd}\u{1f3fd}");
  assert.deepEqual(ed.render(40, "> ").rows, ["> <U+1F3FD><U+1F3FD>"]);
  ed.setText("one\ntwo");
  assert.deepEqual(ed.render(20, "#r> "), {
    rows: ["#r> one", "    two"],
    cursorRow: 1,
    cursorCol: 7,
  });
  ed.setText("x".repeat(98));
  // Exactly full rows: the cursor is at the start of a row of its own; 3 rows are shown.
  const v = ed.render(10, "> ", 3);
  assert.deepEqual(v, { rows: ["x".repeat(10), "x".repeat(10), ""], cursorRow: 2, cursorCol: 0 });
  type(ed, k("home"));
  assert.deepEqual(ed.render(10, "> ", 3).rows[0], "> xxxxxxxx");
});

const KEYS: fc.Arbitrary<Key> = fc.oneof(
  fc.constantFrom(
    "a",
    " ",
    "é",
    "e",
    "\u0301",
    "\u200d",
    FAMILY,
    FLAG,
    "🇩",
    "🇪",
    "👍",
    "\u{1f3fd}",
    "中",
    "\u202e",
    "\u0600",
    "\u0915\u094d",
    "\u0937",
    "x y",
  )
    .map((text): Key => ({ name: "text", text })),
  fc.constantFrom(
    "backspace",
    "delete",
    "left",
    "right",
    "home",
    "end",
    "up",
    "down",
    "tab",
  ).map((name): Key => ({ name })),
  fc.constantFrom("w", "u", "k", "y", "b", "f", "d").map((name): Key => ({ name, ctrl: true })),
  fc.constantFrom("b", "f", "d", "backspace", "enter").map((name): Key => ({ name, alt: true })),
  fc.constantFrom("left", "right").map((name): Key => ({ name, ctrl: true })),
  fc.string({ unit: "binary", maxLength: 12 }).map((text): Key => ({ name: "paste", text })),
  fc.constant<Key>({ name: "text", text: "y" }),
);

/** Keys over a few characters that join into clusters, and the edits that make them meet. */
const JOINING: fc.Arbitrary<Key> = fc.oneof(
  fc.constantFrom("x", "🇩", "\u0301", "\u200d👨").map((text): Key => ({ name: "text", text })),
  fc.constantFrom("backspace", "delete", "left").map((name): Key => ({ name })),
  fc.constant<Key>({ name: "enter", alt: true }),
);

Deno.test("line editor: property — edits between joining characters keep the cursor whole", () => {
  fc.assert(
    fc.property(fc.array(JOINING, { maxLength: 12 }), (keys) => {
      const ed = new LineEditor();
      for (const key of keys) {
        ed.feed(key);
        const clusters = [...SEG.segment(ed.text)].map((s) => s.segment);
        assert.deepEqual(ed.clusters, clusters);
        const bounds = [0];
        for (const g of clusters) bounds.push(bounds.at(-1)! + g.length);
        assert.ok(bounds.includes(ed.cursor), `cursor ${ed.cursor} in ${JSON.stringify(ed.text)}`);
      }
    }),
    { numRuns: 2500 },
  );
});

Deno.test("line editor: property — whole clusters, cursor on a boundary, rows within the width", () => {
  fc.assert(
    fc.property(
      fc.array(KEYS, { maxLength: 60 }),
      fc.integer({ min: 1, max: 30 }),
      (keys, width) => {
        const ed = new LineEditor({ maxLength: 200 });
        for (const key of keys) {
          ed.feed(key);
          const t = ed.text;
          assert.ok(t.isWellFormed(), "no lone surrogate");
          // deno-lint-ignore no-control-regex
          assert.ok(!/[\x00-\x09\x0b-\x1f\x7f-\x9f]/.test(t), "no control character");
          assert.ok(t.length <= 200);
          const clusters = graphemes(t);
          assert.deepEqual(ed.clusters, clusters, "kept up to date as segmenting anew would");
          assert.deepEqual(clusters, [...SEG.segment(t)].map((s) => s.segment));
          const bounds = [0];
          for (const g of clusters) bounds.push(bounds.at(-1)! + g.length);
          assert.ok(bounds.includes(ed.cursor), `cursor ${ed.cursor} on a boundary of ${t}`);
          const v = ed.render(width, "#room> ", 4);
          assert.ok(v.rows.length >= 1 && v.rows.length <= 4);
          for (const row of v.rows) assert.ok(textWidth(row) <= width, `row ${row} fits ${width}`);
          assert.ok(v.cursorRow >= 0 && v.cursorRow < v.rows.length);
          assert.ok(v.cursorCol >= 0 && v.cursorCol < width);
          assert.ok(v.cursorCol <= textWidth(v.rows[v.cursorRow]));
        }
      },
    ),
    { numRuns: 400 },
  );
});
