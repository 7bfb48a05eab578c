import assert from "node:assert/strict";
import { Outbox, ResumePoints, sayMessage } from "../../client/outbox.ts";
import { afterFlood, FLOOD_STREAK_MS, NO_RECONNECT } from "../../client/backoff.ts";
import type { ClientEvent } from "../../client/view.ts";

Deno.test("outbox: bounded, too-long text refused, failures say whether a message was sent", () => {
  const box = new Outbox(2);
  assert.equal(box.refusal("hi", 10), undefined);
  assert.equal(box.refusal("é".repeat(6), 10), "too long: 12 bytes, at most 10 bytes");
  assert.equal(box.refusal("a\nb", 10), undefined);
  assert.match(box.refusal("a\rb", 10) ?? "", /carriage return/);
  assert.equal(box.refusal(Array(51).fill("x").join("\n"), 200), "at most 50 lines (this has 51)");
  assert.equal(box.refusal("é".repeat(5), 10), undefined);
  box.add({ id: "a", room: "#r", text: "one", me: false, sent: true });
  box.add({ id: "b", room: "#r", text: "two", me: true });
  assert.equal(box.refusal("hi", 10), "too many messages waiting");
  assert.equal(box.take("x"), undefined);
  const seen: ClientEvent[] = [];
  const sizes: number[] = [];
  box.failAll((ev) => {
    seen.push(ev);
    sizes.push(box.size);
  });
  assert.deepEqual(seen, [
    {
      t: "failed",
      id: "a",
      room: "#r",
      text: "one",
      reason: "not confirmed by the server (it may have arrived)",
    },
    { t: "failed", id: "b", room: "#r", text: "two", reason: "not sent" },
  ]);
  assert.deepEqual(sizes, [2, 2]); // still waiting while the failures are heard
  assert.equal(box.size, 0);
  assert.deepEqual(sayMessage({ id: "c", room: "#r", text: "t", me: true }), {
    t: "say",
    id: "c",
    room: "#r",
    text: "t",
    me: true,
  });
  assert.deepEqual(sayMessage({ id: "c", room: "#r", text: "t", me: false }), {
    t: "say",
    id: "c",
    room: "#r",
    text: "t",
  });
});

Deno.test("resume points: live copies of seen messages are not shown; replays are", () => {
  const r = new ResumePoints();
  assert.equal(r.resume(["#a"]), undefined);
  assert.equal(r.see("#a", 5, undefined), true);
  assert.equal(r.see("#a", 5, undefined), false);
  assert.equal(r.see("#a", 3, undefined), false);
  assert.equal(r.see("#a", 3, true), true);
  assert.equal(r.see("#b", 1, false), true);
  assert.deepEqual(r.resume(["#a", "#b", "#c"]), { "#a": 5, "#b": 1 });
  r.forget("#a");
  assert.deepEqual(r.resume(["#a", "#b"]), { "#b": 1 });
});

Deno.test("reconnect policy: floods in a row start later; final byes", () => {
  assert.deepEqual(afterFlood(0, 1_000), { floods: 1, first: 2 });
  assert.deepEqual(afterFlood(3, FLOOD_STREAK_MS - 1), { floods: 4, first: 5 });
  assert.deepEqual(afterFlood(9, 1_000), { floods: 10, first: 8 });
  assert.deepEqual(afterFlood(9, FLOOD_STREAK_MS), { floods: 1, first: 2 });
  assert.equal(NO_RECONNECT.has("banned"), true);
  assert.equal(NO_RECONNECT.has("flooding"), false);
});
