import assert from "node:assert/strict";
import { Model } from "../../client/gui/web/model.ts";
import { clock, day, nickClass, pieces } from "../../client/gui/web/text.ts";
import { typed } from "../../client/gui/web/typed.ts";
import type { GuiState } from "../../client/gui/wire.ts";
import type { MsgMessage } from "../../shared/messages.ts";

const STATE: GuiState = {
  me: "alice",
  server: "127.0.0.1:5000",
  room: "#lobby",
  rooms: ["#dev", "#lobby"],
  sealed: [],
  names: {},
  commands: [],
  known: [],
  timestamps: true,
  colors: true,
  bell: "mention",
  ignored: [],
};

function msg(room: string, seq: number, from: string, text: string, extra = {}): MsgMessage {
  return { t: "msg", room, seq, ts: 1_000 * seq, from, text, id: `m${seq}`, ...extra };
}

function model(): Model {
  const m = new Model(() => 5_000_000);
  m.setState(STATE);
  m.open("#lobby");
  return m;
}

Deno.test("model: messages go to their room; others count as unread, mentions are marked", () => {
  const m = model();
  m.apply({ t: "server", msg: msg("#lobby", 1, "bob", "hi all") });
  m.apply({ t: "server", msg: msg("#dev", 2, "bob", "hi") });
  const fx = m.apply({ t: "server", msg: msg("#dev", 3, "bob", "ALICE: look") });
  assert.equal(m.conv("#lobby").unread, 0);
  assert.equal(m.conv("#dev").unread, 2);
  assert.equal(m.conv("#dev").mentioned, true);
  assert.deepEqual(fx.notify, { title: "bob in #dev", body: "ALICE: look", conv: "#dev" });
  assert.equal(m.conv("#dev").lines[1].mention, true);
  // Not a whole word: no mention.
  m.apply({ t: "server", msg: msg("#dev", 4, "bob", "malice") });
  assert.equal(m.conv("#dev").lines[2].mention, false);
  m.open("#dev");
  assert.equal(m.conv("#dev").unread, 0);
  assert.equal(m.conv("#dev").mentioned, false);
  // A page out of view counts the active room too.
  m.apply({ t: "server", msg: msg("#dev", 5, "bob", "alice?") }, { visible: false });
  assert.equal(m.conv("#dev").unread, 1);
  assert.deepEqual(m.order(), ["#dev", "#lobby"]);
});

Deno.test("model: a pending line is replaced by its acknowledgement, or by the failure", () => {
  const m = model();
  m.apply({ t: "pending", id: "x1", room: "#lobby", text: "one", me: false });
  m.apply({ t: "pending", id: "x2", room: "#lobby", text: "two", me: true });
  assert.deepEqual(m.conv("#lobby").lines.map((l) => [l.text, l.pending]), [
    ["one", true],
    ["two", true],
  ]);
  m.apply({ t: "acked", id: "x1", msg: msg("#lobby", 7, "alice", "one", { id: "x1" }) });
  m.apply({ t: "failed", id: "x2", room: "#lobby", text: "two", reason: "too long" });
  const lines = m.conv("#lobby").lines;
  assert.deepEqual(lines.map((l) => [l.kind, l.text, l.pending ?? false, l.own ?? false]), [
    ["msg", "one", false, true],
    ["error", "not delivered to #lobby: two (too long)", false, false],
  ]);
  // The echo of the same message later is not a second line.
  m.apply({ t: "server", msg: msg("#lobby", 7, "alice", "one", { id: "x1" }) });
  assert.equal(m.conv("#lobby").lines.length, 2);
});

Deno.test("model: history arrives after newer lines and is put before them, once", () => {
  const m = model();
  m.apply({ t: "server", msg: msg("#lobby", 10, "bob", "ten") });
  for (const s of [8, 9, 10]) {
    m.apply({ t: "server", msg: msg("#lobby", s, "bob", `n${s}`, { replay: true }) });
  }
  m.apply({ t: "server", msg: msg("#lobby", 11, "bob", "eleven") });
  assert.deepEqual(m.conv("#lobby").lines.map((l) => l.seq), [8, 9, 10, 11]);
  assert.equal(m.conv("#lobby").lines[2].text, "ten");
});

Deno.test("model: private messages have their own conversation; answers go where typed", () => {
  const m = model();
  const fx = m.apply({
    t: "dm",
    id: "d1",
    ts: 1,
    from: "bob",
    to: "alice",
    text: "psst",
    out: false,
  });
  assert.equal(fx.notify?.conv, "@bob");
  m.apply({ t: "dm", id: "d2", ts: 2, from: "alice", to: "bob", text: "yes?", out: true });
  assert.deepEqual(m.conv("@bob").lines.map((l) => [l.from, l.text, l.own]), [
    ["bob", "psst", false],
    ["alice", "yes?", true],
  ]);
  assert.equal(m.conv("@bob").unread, 1);
  assert.equal(m.conv("#lobby").lines.length, 0);
  m.apply({ t: "local", level: "info", text: "safety number with bob:\n  1 2" }, {
    where: "@bob",
  });
  assert.deepEqual(m.conv("@bob").lines.at(-1)?.text, "safety number with bob:\n  1 2");
  m.apply({ t: "dm_failed", to: "carol", text: "x", reason: "offline" });
  assert.equal(m.conv("@carol").lines[0].kind, "error");
  assert.deepEqual(m.order(), ["#dev", "#lobby", "@bob", "@carol"]);
});

Deno.test("model: leaving a room drops its conversation; the connection state is kept", () => {
  const m = model();
  m.open("#dev");
  m.setState({ ...STATE, rooms: ["#lobby"] });
  assert.deepEqual([...m.convs.keys()], ["#lobby"]);
  assert.equal(m.active, "#lobby");
  m.apply({ t: "status", state: "reconnecting", detail: "in 2 s" });
  assert.deepEqual(m.link, { up: false, text: "reconnecting: in 2 s" });
  m.apply({ t: "status", state: "connected", detail: "" });
  assert.equal(m.link.up, true);
});

Deno.test("text: network text is made visible and cut around mentions", () => {
  assert.deepEqual(pieces("hey Alice,\u202Eevil\u200B", "alice"), [
    { text: "hey ", mention: false },
    { text: "Alice", mention: true },
    { text: ",<U+202E>evil<U+200B>", mention: false },
  ]);
  assert.deepEqual(pieces("<b>x</b>\x1b[2J", ""), [{ text: "<b>x</b>\u241b[2J", mention: false }]);
  assert.equal(nickClass("Bob"), nickClass("bob"));
  assert.match(nickClass("someone"), /^nick-([0-9]|1[01])$/);
  assert.match(clock(0), /^\d\d:\d\d$/);
  assert.match(day(0), /^19(69|70)-\d\d-\d\d$/);
});

Deno.test("typed: window commands act on the page; private conversations take text and /me", () => {
  const order = ["#dev", "#lobby", "@bob"];
  assert.deepEqual(typed("hello", "#dev", order, "alice"), { kind: "send", text: "hello" });
  assert.deepEqual(typed("/who", "@bob", order, "alice"), { kind: "send", text: "/who" });
  assert.deepEqual(typed("hi there", "@bob", order, "alice"), {
    kind: "send",
    text: "/msg bob hi there",
  });
  assert.deepEqual(typed("/me waves", "@bob", order, "alice"), {
    kind: "send",
    text: "/msg bob * alice waves",
  });
  assert.deepEqual(typed("/win 2", "#dev", order, "alice"), { kind: "open", conv: "#lobby" });
  assert.deepEqual(typed("/win bob", "#dev", order, "alice"), { kind: "open", conv: "@bob" });
  assert.deepEqual(typed("/win 9", "#dev", order, "alice"), {
    kind: "error",
    text: "there is no conversation 9",
  });
  assert.deepEqual(typed("/query carol", "#dev", order, "alice"), {
    kind: "open",
    conv: "@carol",
  });
  assert.deepEqual(typed("/close", "@bob", order, "alice"), { kind: "close", conv: "@bob" });
  assert.deepEqual(typed("/close", "#dev", order, "alice"), { kind: "send", text: "/leave #dev" });
  assert.deepEqual(typed("   ", "#dev", order, "alice"), { kind: "none" });
});

Deno.test("typed: bad window commands say how to use them", () => {
  assert.deepEqual(typed("/query #x", "#dev", [], "a"), {
    kind: "error",
    text: "usage: /query NAME",
  });
  assert.deepEqual(typed("/win", "#dev", [], "a"), {
    kind: "error",
    text: "usage: /win N|#room|NAME",
  });
  assert.deepEqual(typed("/close now", "@b", [], "a"), { kind: "error", text: "usage: /close" });
  assert.deepEqual(typed("//slash", "@b", [], "a"), { kind: "send", text: "/msg b /slash" });
  assert.deepEqual(typed("/me", "#dev", [], "a"), { kind: "send", text: "/me" });
});

Deno.test("model: the bell setting picks the notifications: mention, all or off", () => {
  const dm = (id: string) => ({
    t: "dm" as const,
    id,
    ts: 1,
    from: "bob",
    to: "alice",
    text: "psst",
    out: false,
  });
  const all = new Model(() => 5_000_000);
  all.setState({ ...STATE, bell: "all" });
  all.open("#lobby");
  assert.equal(
    all.apply({ t: "server", msg: msg("#dev", 1, "bob", "plain") }).notify?.conv,
    "#dev",
  );
  assert.equal(
    all.apply({ t: "server", msg: msg("#lobby", 2, "bob", "in view") }).notify,
    undefined,
    "not for the conversation in view",
  );
  assert.equal(all.apply({ t: "server", msg: msg("#dev", 3, "alice", "own") }).notify, undefined);
  const mention = model();
  assert.equal(
    mention.apply({ t: "server", msg: msg("#dev", 1, "bob", "plain") }).notify,
    undefined,
  );
  assert.equal(mention.apply(dm("d1")).notify?.conv, "@bob");
  const off = new Model(() => 5_000_000);
  off.setState({ ...STATE, bell: "off" });
  off.open("#lobby");
  assert.equal(
    off.apply({ t: "server", msg: msg("#dev", 1, "bob", "alice: hi") }).notify,
    undefined,
  );
  assert.equal(off.apply(dm("d2")).notify, undefined);
  assert.equal(off.conv("#dev").unread, 1, "still counted as unread");
  assert.equal(off.conv("@bob").mentioned, true);
});
