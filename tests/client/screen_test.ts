/** Cells, wrapping with a hanging indent, window rows, the status line and whole frames. */
import assert from "node:assert/strict";
import { cellWidth, stripSgr, wrap } from "../../client/cells.ts";
import {
  composeFrame,
  statusLine,
  UNREAD_MARK,
  viewport,
  windowLabel,
  windowRows,
} from "../../client/screen.ts";
import { Level, WindowList } from "../../client/windows.ts";

Deno.test("cells: colour codes take none, wide and emoji take two, marks none", () => {
  assert.equal(cellWidth("abc"), 3);
  assert.equal(cellWidth("\x1b[31mab\x1b[39m"), 2);
  assert.equal(cellWidth("日本"), 4);
  assert.equal(cellWidth("👨‍👩‍👧"), 2);
  assert.equal(cellWidth("🇫🇷"), 2);
  assert.equal(cellWidth("e\u0301"), 1);
});

Deno.test("wrap: at spaces, hanging indent, colours carried, every row within the width", () => {
  const rows = wrap("12:00 bob: the quick brown fox jumps over the lazy dog", 20, 11);
  assert.deepEqual(rows, [
    "12:00 bob: the quick",
    "      brown fox",
    "      jumps over the",
    "      lazy dog",
  ], "the indent is cut to a third of the width");
  assert.deepEqual(wrap("12:00 bob: the quick brown", 30, 11), ["12:00 bob: the quick brown"]);
  assert.deepEqual(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"], "a long word is cut");
  const red = wrap("\x1b[31mred words here\x1b[39m", 9, 0);
  assert.equal(red.length, 2);
  assert.ok(red[1].startsWith("\x1b[31m"), "the colour goes on on the next row");
  for (const width of [1, 2, 5, 13, 40]) {
    for (const r of wrap("日本語のテキスト and 👨‍👩‍👧 emoji mixed in a line", width, 4)) {
      assert.ok(cellWidth(r) <= Math.max(width, 2), `row ${JSON.stringify(r)} fits ${width}`);
    }
  }
});

Deno.test("window rows: date separators between days, the unread marker where the user left", () => {
  const wl = new WindowList();
  wl.syncRooms(["#a"]);
  const a = wl.room("#a")!;
  const day = (ts: number) => (ts < 100 ? "Sun Nov 29 2026" : "Mon Nov 30 2026");
  wl.focus(a);
  wl.add(a, { text: "old one", ts: 10, indent: 0 }, Level.Message);
  wl.add(a, { text: "old two", ts: 20, indent: 0 }, Level.Message);
  wl.focus(wl.status);
  wl.add(a, { text: "new one", ts: 200, indent: 0 }, Level.Message);
  wl.focus(a);
  const { rows, top } = windowRows(a, 40, 100, { color: false, day });
  assert.ok(top);
  assert.deepEqual(rows.map((r) => r.replace(/─+/g, "-")), [
    "old one",
    "old two",
    `- ${UNREAD_MARK} -`,
    "- Mon Nov 30 2026 -",
    "new one",
  ]);
  // Only the rows asked for are made (plus the rest of the last line).
  const few = windowRows(a, 40, 1, { color: false, day });
  assert.equal(few.top, false);
  assert.equal(few.rows.at(-1), "new one");
});

Deno.test("viewport: exactly the height, scroll clamped, top reached", () => {
  const wl = new WindowList();
  const s = wl.status;
  for (let i = 1; i <= 30; i++) wl.add(s, { text: `line ${i}`, ts: 0, indent: 0 }, Level.None);
  const bottom = viewport(s, 20, 10, 0, { color: false });
  assert.equal(bottom.rows.length, 10);
  assert.equal(bottom.rows.at(-1), "line 30");
  assert.equal(bottom.atTop, false);
  const up = viewport(s, 20, 10, 15, { color: false });
  assert.equal(up.rows.at(-1), "line 15");
  const over = viewport(s, 20, 10, 1_000, { color: false });
  assert.equal(over.scroll, 20);
  assert.equal(over.rows[0], "line 1");
  assert.ok(over.atTop);
  const empty = viewport(new WindowList().status, 20, 3, 0, { color: false });
  assert.deepEqual(empty.rows, ["", "", ""]);
});

Deno.test("status line: numbers, names, unread counts, marks; fits the width", () => {
  const infos = [
    { n: 1, name: "status", kind: "status", unread: 0, level: 0, current: false, badge: "" },
    { n: 2, name: "#lobby", kind: "room", unread: 0, level: 0, current: true, badge: "" },
    { n: 3, name: "#dev", kind: "room", unread: 4, level: 2, current: false, badge: "" },
    { n: 4, name: "bob", kind: "query", unread: 1, level: 3, current: false, badge: "" },
    { n: 5, name: "#priv", kind: "room", unread: 0, level: 3, current: false, badge: "*" },
  ] as const;
  assert.equal(windowLabel(infos[1]), "[2:#lobby]");
  assert.equal(windowLabel(infos[2]), "3:#dev(4)");
  assert.equal(windowLabel(infos[3]), "4:bob(1!)");
  assert.equal(windowLabel(infos[4]), "5:#priv*(!)");
  const line = statusLine(infos, 60, "[alice]", "", false);
  assert.equal(line.trimEnd(), "[alice] 1:status [2:#lobby] 3:#dev(4) 4:bob(1!) 5:#priv*(!)");
  assert.equal(cellWidth(line), 60);
  const narrow = statusLine(infos, 45, "[alice]", "", false);
  assert.equal(
    narrow.trimEnd(),
    "[alice] [2:#lobby] 3:#dev(4) 4:bob(1!) 5:#priv*(!) …".slice(0, 45).trimEnd(),
  );
  for (const w of [1, 5, 20]) {
    assert.equal(cellWidth(statusLine(infos, w, "[alice]", "-MORE-", true)), w);
  }
  assert.equal(stripSgr(statusLine(infos, 80, "", "-MORE-", true)).endsWith("-MORE-"), true);
});

Deno.test("frame: content, status line and input rows in place, the cursor in the input", () => {
  const out = composeFrame({
    width: 20,
    height: 5,
    content: ["a", "b", "c", "d"],
    status: "STATUS",
    input: { rows: ["#a> hello"], cursorRow: 0, cursorCol: 9 },
  });
  assert.ok(out.includes("\x1b[1;1Hb\x1b[0m\x1b[K"), "the last rows of the content show");
  assert.ok(out.includes("\x1b[3;1Hd\x1b[0m\x1b[K"));
  assert.ok(out.includes("\x1b[4;1HSTATUS"));
  assert.ok(out.includes("\x1b[5;1H#a> hello"));
  assert.ok(out.endsWith("\x1b[5;10H\x1b[?25h"));
  const tall = composeFrame({
    width: 20,
    height: 6,
    content: [],
    status: "S",
    input: { rows: ["r1", "r2", "r3", "r4", "r5"], cursorRow: 4, cursorCol: 2 },
  });
  assert.ok(
    tall.includes("\x1b[4;1Hr3"),
    "at most half the height for input, the cursor's row shown",
  );
  assert.ok(tall.endsWith("\x1b[6;3H\x1b[?25h"));
});
