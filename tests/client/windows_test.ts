/** The window model: scrollback bounds and order, routing, hotlist, unread marker, switching. */
import assert from "node:assert/strict";
import { Scrollback } from "../../client/scrollback.ts";
import { Level, WindowList } from "../../client/windows.ts";
import { UNREAD_MARK, windowRows } from "../../client/screen.ts";
import type { ViewEvent } from "../../client/view.ts";
import type { MsgMessage } from "../../shared/messages.ts";

const me = { me: "alice", ignored: new Set<string>() };
let nextSeq = 1;
function msg(room: string, from: string, text: string, extra: Partial<MsgMessage> = {}): ViewEvent {
  const seq = extra.seq ?? nextSeq++;
  return {
    t: "server",
    msg: { t: "msg", id: `m${room}${seq}`, room, from, text, ts: 1_000 * seq, seq, ...extra },
  };
}

Deno.test("scrollback: never holds more than its bounds in lines or characters", () => {
  const sb = new Scrollback(100, 5_000);
  for (let i = 0; i < 10_000; i++) {
    sb.add({ text: `line ${i} ${"x".repeat(i % 90)}`, ts: i, indent: 0, id: `i${i}`, seq: i + 1 });
    assert.ok(sb.lines.length <= 100);
    assert.ok(sb.chars <= 5_000);
  }
  assert.match(sb.lines.at(-1)!.text, /^line 9999 /);
  // One line larger than the character bound is cut to it, and is then all there is.
  sb.add({ text: "y".repeat(9_000), ts: 0, indent: 0 });
  assert.equal(sb.lines.length, 1);
  assert.equal(sb.chars, 5_000);
  assert.throws(() => new Scrollback(0), RangeError);
});

Deno.test("scrollback: same id replaces, same seq is a duplicate, older seq goes in order", () => {
  const sb = new Scrollback(10);
  assert.equal(sb.add({ text: "pending …", ts: 1, indent: 0, id: "a" }), "added");
  assert.equal(sb.add({ text: "acked", ts: 1, indent: 0, id: "a", seq: 20 }), "replaced");
  assert.equal(sb.lines.length, 1);
  assert.equal(sb.add({ text: "b", ts: 2, indent: 0, id: "b", seq: 21 }), "added");
  assert.equal(sb.add({ text: "b again", ts: 2, indent: 0, id: "b2", seq: 21 }), "duplicate");
  assert.equal(sb.add({ text: "old", ts: 0, indent: 0, id: "o", seq: 5 }), "added");
  assert.equal(sb.add({ text: "local", ts: 3, indent: 0 }), "added");
  assert.deepEqual(sb.lines.map((e) => e.text), ["old", "acked", "b", "local"]);
  assert.equal(sb.oldestSeq, 5);
  // Full: an older message than all held is dropped at once.
  const small = new Scrollback(2);
  small.add({ text: "x", ts: 0, indent: 0, seq: 10 });
  small.add({ text: "y", ts: 0, indent: 0, seq: 11 });
  assert.equal(small.add({ text: "z", ts: 0, indent: 0, seq: 3 }), "dropped");
  assert.deepEqual(small.lines.map((e) => e.text), ["x", "y"]);
});

Deno.test("windows: routing of events to rooms, conversations, the status window", () => {
  const wl = new WindowList();
  wl.syncRooms(["#lobby", "#dev"]);
  assert.deepEqual(wl.all.map((w) => w.name), ["status", "#lobby", "#dev"]);
  assert.equal(wl.route(msg("#dev", "bob", "hi"), me).name, "#dev");
  assert.equal(wl.route(msg("#new", "bob", "hi"), me).name, "#new", "opened for its history");
  wl.syncRooms([], ["#new"]);
  const join: ViewEvent = {
    t: "server",
    msg: { t: "event", kind: "join", room: "#dev", name: "carol", ts: 1 },
  };
  assert.equal(wl.route(join, me).name, "#dev");
  const kicked: ViewEvent = {
    t: "server",
    msg: { t: "event", kind: "kick", room: "#dev", name: "Alice", by: "op", ts: 1 },
  };
  assert.equal(wl.route(kicked, me), wl.status);
  const dm: ViewEvent = {
    t: "dm",
    id: "d",
    ts: 1,
    from: "bob",
    to: "alice",
    text: "psst",
    out: false,
  };
  assert.equal(wl.route(dm, me).name, "bob");
  const out: ViewEvent = {
    t: "dm",
    id: "e",
    ts: 1,
    from: "alice",
    to: "BOB",
    text: "yes",
    out: true,
  };
  assert.equal(wl.route(out, me).name, "bob", "the conversation is found whatever the case");
  assert.equal(wl.all.length, 4);
  assert.equal(wl.route({ t: "local", level: "info", text: "x" }, me), wl.current);
  assert.equal(wl.route({ t: "status", state: "lost", detail: "" }, me), wl.status);
  assert.equal(Level.Highlight, WindowList.levelOf(dm, me));
  assert.equal(Level.Highlight, WindowList.levelOf(msg("#dev", "bob", "hey ALICE!"), me));
  assert.equal(Level.Message, WindowList.levelOf(msg("#dev", "bob", "hey malice"), me));
  assert.equal(Level.None, WindowList.levelOf(msg("#dev", "alice", "mine"), me));
  assert.equal(Level.None, WindowList.levelOf(msg("#dev", "bob", "old", { replay: true }), me));
  const ignoring = { me: "alice", ignored: new Set(["bob"]) };
  assert.equal(Level.None, WindowList.levelOf(msg("#dev", "bob", "alice"), ignoring));
});

Deno.test("windows: hotlist counts, marks, unread marker, switching and closing", () => {
  const wl = new WindowList();
  let switches = 0;
  wl.onSwitch = () => switches++;
  wl.syncRooms(["#lobby", "#dev"]);
  assert.ok(wl.focusNumber(2));
  const lobby = wl.current;
  const line = (text: string) => ({ text, ts: 0, indent: 0 });
  wl.add(lobby, line("seen"), Level.Message);
  assert.equal(lobby.unread, 0, "the window shown has nothing unread");
  const dev = wl.room("#dev")!;
  wl.add(dev, line("one"), Level.Message);
  wl.add(dev, line("two"), Level.Highlight);
  wl.add(dev, line("joined"), Level.Activity);
  assert.deepEqual(
    wl.infos().map((i) => [i.n, i.name, i.unread, i.level, i.current]),
    [[1, "status", 0, 0, false], [2, "#lobby", 0, 0, true], [3, "#dev", 2, 3, false]],
  );
  wl.focus(dev);
  assert.equal(switches, 2);
  assert.equal(dev.unread, 0);
  assert.equal(dev.level, Level.None);
  assert.equal(dev.newFrom, -1, "never left before: no marker");
  assert.equal(lobby.newFrom, -1, "nothing came yet since the user left");
  wl.focus(lobby);
  assert.equal(lobby.newFrom, -1, "nothing new came: no marker");
  wl.focus(dev);
  wl.cycle(1);
  assert.equal(wl.current, wl.status, "cycling wraps around");
  wl.cycle(-1);
  assert.equal(wl.current, dev);
  assert.equal(wl.find("2"), lobby);
  assert.equal(wl.find("#dev"), dev);
  assert.equal(wl.find("dev"), dev);
  assert.equal(wl.find("9"), undefined);
  assert.equal(wl.focusNumber(9), false);
  // Closing the window shown: the one shown before it is shown again.
  wl.syncRooms(["#lobby"], ["#dev"]);
  assert.equal(wl.current, wl.status, "shown before #dev");
  const bob = wl.openQuery("bob")!;
  wl.focus(lobby);
  wl.close(wl.status);
  wl.focus(bob);
  wl.close(lobby);
  wl.close(bob);
  assert.equal(wl.current, wl.status, "the one before, when the one shown before is gone");
  wl.syncRooms(["#lobby"]);
  wl.focus(wl.room("#lobby")!);
  // Leaving the last room: the status window.
  wl.syncRooms([], ["#lobby"]);
  assert.equal(wl.current, wl.status);
  wl.close(wl.status);
  assert.equal(wl.all.length, 1, "the status window stays");
});

Deno.test("windows: a flood into a background window costs bounded memory; windows are bounded", () => {
  const wl = new WindowList({ maxLines: 50, maxChars: 10_000, maxWindows: 5 });
  wl.syncRooms(["#a"]);
  const a = wl.room("#a")!;
  for (let i = 0; i < 20_000; i++) {
    wl.add(a, { text: "z".repeat(400), ts: i, indent: 0, seq: i + 1 }, Level.Message);
  }
  assert.ok(a.scrollback.lines.length <= 50);
  assert.ok(a.scrollback.chars <= 10_000);
  assert.equal(a.unread, 20_000, "the count goes on; only lines are bounded");
  for (const n of ["b", "c", "d"]) assert.ok(wl.openQuery(n));
  assert.equal(wl.openQuery("e"), undefined);
  const dm: ViewEvent = {
    t: "dm",
    id: "d",
    ts: 1,
    from: "zed",
    to: "alice",
    text: "x",
    out: false,
  };
  assert.equal(wl.route(dm, me), wl.status, "no room for another window: the status window");
});

Deno.test("windows: own lines never count as unread nor move the marker; none while shown", () => {
  const wl = new WindowList();
  wl.syncRooms(["#lobby", "#dev"]);
  const lobby = wl.room("#lobby")!;
  const dev = wl.room("#dev")!;
  wl.focus(lobby);
  const add = (w: typeof lobby, ev: ViewEvent) => {
    const text = ev.t === "server" && ev.msg.t === "msg" ? ev.msg.text : ev.t;
    wl.add(w, { text, ts: 0, indent: 0 }, WindowList.levelOf(ev, me));
  };
  add(lobby, msg("#lobby", "bob", "seen"));
  wl.focus(dev);
  // Lines of the user's own (another session of the same identity) in the window left.
  add(lobby, msg("#lobby", "alice", "mine from elsewhere"));
  add(lobby, msg("#lobby", "Alice", "mine again"));
  const myJoin: ViewEvent = {
    t: "server",
    msg: { t: "event", kind: "away", room: "#lobby", name: "alice", text: "lunch", ts: 1 },
  };
  assert.equal(WindowList.levelOf(myJoin, me), Level.None, "own events are nothing new");
  add(lobby, myJoin);
  assert.equal(lobby.unread, 0);
  assert.equal(lobby.level, Level.None);
  assert.equal(lobby.newFrom, -1, "own lines place no marker");
  wl.focus(lobby);
  assert.equal(lobby.newFrom, -1, "back in it: no marker above own lines");
  // Someone else's line, then own ones: the marker above the other's, the own ones below.
  wl.focus(dev);
  add(lobby, msg("#lobby", "alice", "mine before"));
  add(lobby, msg("#lobby", "bob", "new one"));
  add(lobby, msg("#lobby", "alice", "mine after"));
  assert.equal(lobby.unread, 1);
  wl.focus(lobby);
  const marked = lobby.scrollback.lines.find((e) => e.serial === lobby.newFrom);
  assert.equal(marked?.text, "new one");
  const rows = windowRows(lobby, 40, 100, { color: false }).rows;
  assert.equal(
    rows.indexOf(rows.find((r) => r.includes(UNREAD_MARK))!),
    rows.indexOf("new one") - 1,
  );
  // Lines arriving while the window is shown add no marker and keep the old one in place.
  add(lobby, msg("#lobby", "bob", "while shown"));
  assert.equal(lobby.newFrom, marked!.serial);
  wl.focus(dev);
  wl.focus(lobby);
  assert.equal(lobby.newFrom, -1, "left and back with nothing new: the old marker is gone");
  add(lobby, msg("#lobby", "bob", "shown again"));
  assert.equal(lobby.newFrom, -1, "a line arriving while shown: no marker");
  assert.ok(
    !windowRows(lobby, 40, 100, { color: false }).rows.some((r) => r.includes(UNREAD_MARK)),
  );
  // After /close of the window shown, the one shown again gets no marker for what comes next.
  wl.focus(dev);
  wl.close(dev);
  assert.equal(wl.current, lobby);
  add(lobby, msg("#lobby", "bob", "after close"));
  assert.equal(lobby.newFrom, -1);
  // A sent private message in a conversation not shown: not unread, no marker.
  const bob = wl.openQuery("bob")!;
  wl.focus(bob);
  wl.focus(lobby);
  const out: ViewEvent = {
    t: "dm",
    id: "d1",
    ts: 1,
    from: "alice",
    to: "bob",
    text: "hi",
    out: true,
  };
  assert.equal(wl.route(out, me), bob);
  add(bob, out);
  assert.equal(bob.unread, 0);
  assert.equal(bob.newFrom, -1);
});

Deno.test("window rows: the marker's line dropped for room puts the marker at the top", () => {
  const wl = new WindowList({ maxLines: 3 });
  wl.syncRooms(["#a"]);
  const a = wl.room("#a")!;
  wl.focus(a);
  wl.focus(wl.status);
  for (let i = 1; i <= 5; i++) wl.add(a, { text: `n${i}`, ts: 0, indent: 0 }, Level.Message);
  wl.focus(a);
  const rows = windowRows(a, 40, 100, { color: false }).rows;
  assert.match(rows[0], new RegExp(UNREAD_MARK));
  assert.deepEqual(rows.slice(1), ["n3", "n4", "n5"]);
});
