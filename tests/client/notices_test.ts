import assert from "node:assert/strict";
import { ECHO_MS, ECHOES_MAX, NoticeFilter, OwnEchoes } from "../../client/notices.ts";
import type { EventMessage } from "../../shared/messages.ts";

const T = 1_700_000_000_000;
const ev = (kind: EventMessage["kind"], over: Partial<EventMessage> = {}): EventMessage => ({
  t: "event",
  ts: T,
  kind,
  ...over,
});

Deno.test("notices: the leave that repeats a kick is not shown; other leaves are", () => {
  const f = new NoticeFilter();
  assert.equal(f.show(ev("kick", { name: "bob", room: "#a", by: "carol" })), true);
  assert.equal(f.show(ev("leave", { name: "Bob", room: "#a", reason: "kicked by carol" })), false);
  assert.equal(f.show(ev("leave", { name: "bob", room: "#a", reason: "kicked by carol" })), true);
  assert.equal(f.show(ev("leave", { name: "bob", room: "#a", reason: "quit" })), true);
});

Deno.test("notices: the events of the user's own commands are recognised once, then forgotten", () => {
  const e = new OwnEchoes();
  const join = e.expect("join", ["#Dev"], "alice");
  const nick = e.expect("nick", ["al2"], "alice");
  const topic = e.expect("topic", ["#dev", "cats"], "al2");
  const away = e.expect("away", ["lunch"], "al2");
  assert.equal(e.expect("topic", ["#dev"], "al2"), -1, "showing the topic causes no event");
  assert.equal(e.expect("who", ["#dev"], "al2"), -1);
  assert.equal(e.expect("join", ["#dev"], ""), -1, "no name yet");
  // The event may come before the reply.
  assert.equal(e.isEcho(ev("join", { name: "ALICE", room: "#dev" }), T), true);
  assert.equal(e.isEcho(ev("join", { name: "alice", room: "#dev" }), T), false, "once");
  e.settled(join, true, T);
  assert.equal(e.isEcho(ev("nick", { name: "al2", old: "bob" }), T), false, "someone else's");
  assert.equal(e.isEcho(ev("join", { name: "bob", room: "#dev" }), T), false);
  // Or after it, within ECHO_MS.
  e.settled(nick, true, T);
  e.settled(topic, true, T);
  assert.equal(e.isEcho(ev("nick", { name: "al2", old: "alice" }), T + ECHO_MS - 1), true);
  assert.equal(
    e.isEcho(ev("topic", { by: "al2", room: "#dev", text: "cats" }), T + ECHO_MS + 1),
    false,
  );
  // A refused command expects nothing.
  e.settled(away, false, T);
  assert.equal(e.isEcho(ev("away", { name: "al2", text: "lunch" }), T), false);
  // Bounded: past ECHOES_MAX waiting, commands expect nothing (their events are shown).
  const f = new OwnEchoes();
  for (let i = 0; i < ECHOES_MAX; i++) assert.notEqual(f.expect("back", [], "alice"), -1);
  assert.equal(f.expect("back", [], "alice"), -1);
});
