/**
 * What flows through the hub: room lines, private messages, and the operator console's lines
 * (announcements, /say, the console's line reader).
 */

import assert from "node:assert/strict";
import { CONSOLE_LINE_MAX, LineSplitter, runConsole } from "../../server/console.ts";
import { connect, mid, say, world } from "../support/hub_world.ts";

Deno.test("say: relayed once-serialised to every member, the sender's copy is its ack", () => {
  const w = world();
  try {
    const a = connect(w, "alice", "C");
    const b = connect(w, "bob", "B");
    const d = connect(w, "dave", "D", ["#dev"]);
    a.take();
    say(w, a, "hello", 1);
    say(w, a, "waves", 2, "#lobby", true);
    assert.equal(a.lines[0], b.lines[0]);
    const got = b.take();
    assert.deepEqual(got[0], {
      t: "msg",
      room: "#lobby",
      seq: 1,
      ts: w.clock.t,
      from: "alice",
      text: "hello",
      id: mid(1),
    });
    assert.equal(got[1].me, true);
    assert.equal(got[1].seq, 2);
    assert.equal(a.take().length, 2);
    assert.deepEqual(d.take(), []);
    assert.deepEqual(w.log.slice(-2).map((e) => [e.kind, e.from, e.text, e.room]), [
      ["msg", "alice", "hello", "#lobby"],
      ["me", "alice", "waves", "#lobby"],
    ]);
  } finally {
    w.store.close();
  }
});

Deno.test("say: several lines (LF) relayed and stored as sent, up to 50 lines", () => {
  const w = world();
  try {
    const a = connect(w, "alice", "C");
    const b = connect(w, "bob", "B");
    a.take();
    const fifty = Array.from({ length: 50 }, (_, i) => `line ${i + 1}`).join("\n");
    const texts = ["two\nlines", "  indented\n\n\x1b[2J after a blank line", fifty];
    let n = 0;
    for (const text of texts) {
      say(w, a, text, ++n);
      const [m] = b.take();
      assert.equal(m.t, "msg");
      assert.equal(m.text, text);
    }
    assert.equal(w.store.lastSeq("#lobby"), 3);
    assert.deepEqual(w.store.recent("#lobby", 3).map((m) => m.text), texts);
  } finally {
    w.store.close();
  }
});

Deno.test("say: errors not_in_room, bad_text (empty, CR, edge LF, 51 lines) with the request id", () => {
  const w = world();
  try {
    const a = connect(w, "alice", "C");
    const b = connect(w, "bob", "B");
    a.take();
    const cases: [string, string, string][] = [
      ["#dev", "hi", "not_in_room"],
      ["#lobby", "", "bad_text"],
      ["#lobby", "two\rlines", "bad_text"],
      ["#lobby", "two\r\nlines", "bad_text"],
      ["#lobby", "\nstarts with a break", "bad_text"],
      ["#lobby", "ends with a break\n", "bad_text"],
      ["#lobby", "\n", "bad_text"],
      ["#lobby", Array.from({ length: 51 }, () => "x").join("\n"), "bad_text"],
    ];
    let n = 10;
    for (const [room, text, code] of cases) {
      say(w, a, text, ++n, room);
      const [e] = a.take();
      assert.equal(e.t, "error");
      assert.equal(e.code, code, JSON.stringify(text));
      assert.equal(e.id, mid(n));
    }
    assert.deepEqual(b.take(), []);
    assert.equal(w.store.lastSeq("#lobby"), 0);
  } finally {
    w.store.close();
  }
});

Deno.test("say: too_long at exactly limit+1 UTF-8 bytes; limit bytes pass; never truncated", () => {
  const w = world({ limits: { textBytes: 12 } });
  try {
    const a = connect(w, "alice", "C");
    const ok = ["x".repeat(12), "é".repeat(6), "€".repeat(4), "😀😀😀", "ab😀é€"];
    let n = 0;
    for (const text of ok) {
      say(w, a, text, ++n);
      const [m] = a.take();
      assert.equal(m.t, "msg", text);
      assert.equal(m.text, text);
    }
    const bad = ["x".repeat(13), "é".repeat(6) + "x", "€".repeat(4) + "x", "😀😀😀x", "x😀😀😀"];
    for (const text of bad) {
      say(w, a, text, ++n);
      const [e] = a.take();
      assert.equal(e.code, "too_long", text);
    }
    assert.equal(w.store.lastSeq("#lobby"), ok.length);
  } finally {
    w.store.close();
  }
});

Deno.test("say: a repeated id is acknowledged to the sender only, with the original", () => {
  const w = world();
  try {
    const a = connect(w, "alice", "C");
    const b = connect(w, "bob", "B");
    a.take();
    say(w, a, "once", 7);
    const [first] = a.take();
    b.take();
    say(w, a, "once (resent)", 7);
    assert.deepEqual(a.take(), [first]);
    assert.deepEqual(b.take(), []);
    assert.equal(w.store.lastSeq("#lobby"), 1);
    // a different identity may use the same id
    say(w, b, "mine", 7);
    assert.equal(b.take()[0].seq, 2);
  } finally {
    w.store.close();
  }
});

Deno.test("say: a muted user gets error muted and nothing is relayed", () => {
  const w = world();
  try {
    const op = connect(w, "root1", "A");
    const a = connect(w, "alice", "C");
    w.hub.handle(op.id, { t: "cmd", id: mid(1), name: "mute", args: ["alice"] });
    op.take();
    a.take();
    say(w, a, "hi", 2);
    assert.equal(a.take()[0].code, "muted");
    assert.deepEqual(op.take(), []);
  } finally {
    w.store.close();
  }
});

Deno.test("dm: relayed to the recipient, ack to the sender; queued, no_such_user, too_long", () => {
  const w = world({ limits: { envelopeBytes: 30 } });
  try {
    const a = connect(w, "alice", "C", undefined, undefined, true);
    const b = connect(w, "bob", "B");
    const m = connect(w, "mallory", "D");
    a.take();
    b.take();
    // A sender without a DM key is refused: nobody could answer, nothing reaches bob.
    w.hub.handle(m.id, { t: "dm", id: mid(9), to: "bob", envelope: "AAAA" });
    const [refused] = m.take();
    assert.equal(refused.code, "dm_key_required");
    assert.equal(refused.id, mid(9));
    assert.deepEqual(b.take(), []);
    const max = Math.ceil(30 / 3) * 4; // 40 chars
    const env = "A".repeat(max);
    w.hub.handle(a.id, { t: "dm", id: mid(1), to: "BOB", envelope: env });
    assert.deepEqual(b.take(), [
      { t: "dm", id: mid(1), from: "alice", ts: w.clock.t, envelope: env },
    ]);
    assert.deepEqual(a.take(), [{ t: "ack", id: mid(1) }]);
    w.hub.handle(a.id, { t: "dm", id: mid(2), to: "bob", envelope: env + "AAAA" });
    assert.equal(a.take()[0].code, "too_long");
    w.hub.handle(a.id, { t: "dm", id: mid(3), to: "bob", envelope: "not base64!" });
    assert.equal(a.take()[0].code, "bad_envelope");
    w.hub.handle(a.id, { t: "dm", id: mid(4), to: "nobody", envelope: "AAAA" });
    assert.equal(a.take()[0].code, "no_such_user");
    w.hub.disconnect(b.id, "quit");
    a.take();
    w.hub.handle(a.id, { t: "dm", id: mid(5), to: "bob", envelope: "AAAA" });
    assert.deepEqual(a.take(), [{ t: "ack", id: mid(5), queued: true }]);
    assert.ok(w.log.every((x) => !JSON.stringify(x).includes("AAAA")));
  } finally {
    w.store.close();
  }
});

Deno.test("console: plain text announces to everyone; /say stores a server message", () => {
  const w = world();
  try {
    const a = connect(w, "alice", "C");
    const d = connect(w, "dave", "D", ["#dev"]);
    a.take();
    assert.equal(w.hub.consoleLine("  maintenance at noon "), "Announced to 2 users.");
    for (const p of [a, d]) {
      assert.deepEqual(p.take(), [
        { t: "event", ts: w.clock.t, kind: "announce", by: "console", text: "maintenance at noon" },
      ]);
    }
    assert.equal(w.hub.consoleLine(""), "");
    assert.match(w.hub.consoleLine("/say #dev hello there"), /seq 1/);
    const [m] = d.take();
    assert.deepEqual([m.from, m.text, m.room, m.seq], ["server", "hello there", "#dev", 1]);
    assert.deepEqual(a.take(), []);
    assert.match(w.hub.consoleLine("/say"), /^usage/);
    assert.match(w.hub.consoleLine("/stats"), /users: 2\nrooms: 2\nmessages relayed: 1/);
    assert.match(w.hub.consoleLine("/nope"), /^error \(unknown_command\)/);
    assert.match(w.hub.consoleLine("/join #x"), /^error \(not_permitted\)/);
    assert.match(w.hub.consoleLine("/kick"), /^error \(bad_args\): usage: \/kick \[#room\] NAME/);
    assert.match(w.hub.consoleLine("/kick dave flooding"), /Kicked dave/);
    assert.equal(d.closed, "kicked");
    assert.match(w.hub.consoleLine("/who"), /1 user online: alice/);
  } finally {
    w.store.close();
  }
});

Deno.test("runConsole: runs each line, rejects lines over 4 KiB, stops at end of input", async () => {
  const w = world();
  try {
    const a = connect(w, "alice", "C");
    const enc = new TextEncoder();
    const long = "x".repeat(CONSOLE_LINE_MAX + 1);
    const chunks = ["hel", "lo all\r\n/wh", "o\n", long + "\n", "/rooms"];
    const input = new ReadableStream<Uint8Array>({
      start(c) {
        for (const s of chunks) c.enqueue(enc.encode(s));
        c.close();
      },
    });
    const out: string[] = [];
    await runConsole(w.hub, input, (t) => out.push(t), new AbortController().signal);
    assert.equal(out.length, 4);
    assert.equal(out[0], "Announced to 1 users.");
    assert.match(out[1], /1 user online: alice/);
    assert.match(out[2], /line longer than 4096 bytes/);
    assert.match(out[3], /#lobby/);
    assert.equal(a.take()[0].text, "hello all");
  } finally {
    w.store.close();
  }
});

Deno.test("runConsole: abort cancels a pending read", async () => {
  const w = world();
  try {
    let cancelled = false;
    const input = new ReadableStream<Uint8Array>({
      cancel() {
        cancelled = true;
      },
    });
    const ac = new AbortController();
    const done = runConsole(w.hub, input, () => {}, ac.signal);
    ac.abort();
    await done;
    assert.equal(cancelled, true);
  } finally {
    w.store.close();
  }
});

Deno.test("LineSplitter: exact 4096 bytes pass (also with CRLF); 4097 rejected; bounded", () => {
  const s = new LineSplitter(4);
  const enc = new TextEncoder();
  const dec = (xs: (Uint8Array | undefined)[]) =>
    xs.map((x) => x === undefined ? null : new TextDecoder().decode(x));
  assert.deepEqual(dec(s.push(enc.encode("abcd\nabcd\r\nabcde\nab"))), [
    "abcd",
    "abcd",
    null,
  ]);
  assert.deepEqual(dec(s.push(enc.encode("cdefgh"))), []);
  assert.deepEqual(dec(s.push(enc.encode("\nok\n"))), [null, "ok"]);
  assert.deepEqual(dec(s.end()), []);
  assert.deepEqual(dec(s.push(enc.encode("tail"))), []);
  assert.deepEqual(dec(s.end()), ["tail"]);
});
