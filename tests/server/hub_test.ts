import { FakePeer } from "../support/fake_peer.ts";
import assert from "node:assert/strict";
import { DEFAULT_LIMITS, type Limits } from "../../shared/limits.ts";
import type { AuthMessage } from "../../shared/messages.ts";
import { Blacklist } from "../../shared/names.ts";
import { Hub, type HubOptions, MAX_SESSIONS_PER_IDENTITY } from "../../server/hub.ts";
import { CONSOLE_LINE_MAX, LineSplitter, runConsole } from "../../server/console.ts";
import { Store } from "../../server/store.ts";
import type { TranscriptEntry } from "../../server/transcript.ts";

/** A stand-in for a connection: records what the hub sends. */

const fp = (c: string) => "SHA256:" + c.repeat(43);
const mid = (n: number) => btoa(String(n).padStart(16, "0"));

interface World {
  hub: Hub;
  store: Store;
  log: TranscriptEntry[];
  clock: { t: number };
  opts: HubOptions;
}

function world(
  over: Partial<Omit<HubOptions, "limits">> & { limits?: Partial<Limits> } = {},
  store?: Store,
): World {
  const clock = { t: 1_700_000_000_000 };
  const s = store ?? Store.open(":memory:", { now: () => clock.t, schedule: (commit) => commit() });
  const log: TranscriptEntry[] = [];
  const opts: HubOptions = {
    store: s,
    now: () => clock.t,
    serverName: "test",
    version: "0.1.0",
    motd: () => "",
    hostFingerprint: fp("H"),
    admins: new Set([fp("A")]),
    blacklist: () => Blacklist.parse("evil*\n"),
    transcript: { write: (e) => log.push(e) },
    startedAt: clock.t,
    connectionCount: () => 0,
    ...over,
    limits: { ...DEFAULT_LIMITS, ...over.limits },
  };
  return { hub: new Hub(opts), store: s, log, clock, opts };
}

function auth(name: string, rooms = ["#lobby"], resume?: Record<string, number>): AuthMessage {
  const a: AuthMessage = { t: "auth", name, sig_pub: "x", proof: "p", client: "t/0", rooms };
  if (resume) a.resume = resume;
  return a;
}

let nextId = 1;
function connect(
  w: World,
  name: string,
  who: string,
  rooms?: string[],
  ip?: string,
  kem = false,
): FakePeer {
  const p = new FakePeer(nextId++, fp(who), ip, kem ? "kem-" + who : undefined, "ksig");
  assert.equal(w.hub.authenticate(p, auth(name, rooms)), "ok");
  p.take();
  return p;
}

function say(w: World, p: FakePeer, text: string, n: number, room = "#lobby", me?: boolean) {
  w.hub.handle(p.id, { t: "say", id: mid(n), room, text, ...(me ? { me } : {}) });
}

Deno.test("authenticate: welcome, history (replay), join event, MOTD, in that order", () => {
  const w = world({ motd: () => "be nice" });
  try {
    const bob = connect(w, "bob", "B");
    for (let i = 1; i <= 3; i++) say(w, bob, `m${i}`, i);
    bob.take();
    const alice = new FakePeer(99, fp("C"));
    assert.equal(w.hub.authenticate(alice, auth("Alice", ["#lobby", "#dev", "bad room"])), "ok");
    const got = alice.take();
    assert.deepEqual(got.map((m) => m.t + (m.kind ?? "")), [
      "welcome",
      "msg",
      "msg",
      "msg",
      "eventjoin",
      "eventjoin",
      "eventmotd",
    ]);
    const welcome = got[0];
    assert.equal(welcome.name, "Alice");
    assert.equal(welcome.fingerprint, fp("C"));
    assert.deepEqual(welcome.server, { name: "test", version: "0.1.0", motd: "be nice" });
    assert.equal(welcome.limits.textBytes, 2048);
    assert.deepEqual(welcome.rooms, [
      { name: "#lobby", topic: "", members: 2 },
      { name: "#dev", topic: "", members: 1 },
    ]);
    assert.deepEqual(got.slice(1, 4).map((m) => [m.text, m.seq, m.replay, m.from]), [
      ["m1", 1, true, "bob"],
      ["m2", 2, true, "bob"],
      ["m3", 3, true, "bob"],
    ]);
    assert.deepEqual(got[4], {
      t: "event",
      ts: w.clock.t,
      kind: "join",
      name: "Alice",
      room: "#lobby",
    });
    assert.equal(got[5].room, "#dev");
    assert.equal(got[6].text, "be nice");
    // bob sees the join in #lobby only
    assert.deepEqual(bob.take().map((m) => [m.kind, m.room, m.name]), [[
      "join",
      "#lobby",
      "Alice",
    ]]);
    // the name is stored before welcome
    assert.equal(w.store.ownerOf("alice")?.fingerprint, fp("C"));
  } finally {
    w.store.close();
  }
});

Deno.test("authenticate: no rooms given means #lobby; no MOTD event when MOTD is empty", () => {
  const w = world();
  try {
    const p = new FakePeer(1, fp("B"));
    assert.equal(w.hub.authenticate(p, auth("bob", [])), "ok");
    const got = p.take();
    assert.deepEqual(got.map((m) => m.kind ?? m.t), ["welcome", "join"]);
    assert.equal(got[1].room, "#lobby");
  } finally {
    w.store.close();
  }
});

Deno.test("authenticate: name_invalid and name_reserved are retryable, with reasons", () => {
  const w = world();
  try {
    const p = new FakePeer(1, fp("B"));
    for (
      const [name, code] of [
        ["x", "name_invalid"],
        ["9lives", "name_invalid"],
        ["a b", "name_invalid"],
        ["Admin", "name_reserved"],
        ["evilbob", "name_reserved"], // blacklist pattern
      ]
    ) {
      assert.equal(w.hub.authenticate(p, auth(name)), "retry", name);
      const [e] = p.take();
      assert.equal(e.t, "error");
      assert.equal(e.code, code, name);
      assert.equal(e.retry, true);
      assert.ok(e.message.length > 10);
    }
    assert.equal(w.hub.authenticate(p, auth("bob")), "ok");
  } finally {
    w.store.close();
  }
});

Deno.test("authenticate: name_taken by a live other identity, name_owned after it left", () => {
  const w = world();
  try {
    const bob = connect(w, "bob", "B");
    const mallory = new FakePeer(50, fp("M"));
    assert.equal(w.hub.authenticate(mallory, auth("BOB")), "retry");
    assert.deepEqual(mallory.take()[0].code, "name_taken");
    w.hub.disconnect(bob.id, "quit");
    assert.equal(w.hub.authenticate(mallory, auth("Bob")), "retry");
    const [e] = mallory.take();
    assert.equal(e.code, "name_owned");
    assert.equal(e.retry, true);
    assert.equal(w.hub.authenticate(mallory, auth("mallory")), "ok");
  } finally {
    w.store.close();
  }
});

Deno.test("authenticate: name ownership survives a new hub on the same database", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const w1 = world({}, Store.open(`${dir}/db`));
    connect(w1, "alice", "C");
    w1.store.close();
    const w2 = world({}, Store.open(`${dir}/db`));
    try {
      const m = new FakePeer(1, fp("M"));
      assert.equal(w2.hub.authenticate(m, auth("alice")), "retry");
      assert.equal(m.take()[0].code, "name_owned");
      const a = new FakePeer(2, fp("C"));
      assert.equal(w2.hub.authenticate(a, auth("alice")), "ok");
    } finally {
      w2.store.close();
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("authenticate: bans by name, fingerprint and IP prefix are fatal", () => {
  const w = world();
  try {
    const ban = (target: string, kind: "name" | "fingerprint" | "ip") =>
      w.store.addBan({ target, kind, by: "op", reason: "spam", created: 0, expires: null });
    ban("carol", "name");
    ban(fp("F"), "fingerprint");
    ban("10.0.0.0/8", "ip");
    ban("2001:db8::/32", "ip");
    const cases: [string, string, string][] = [
      ["Carol", "D", "192.0.2.9"],
      ["dave", "F", "192.0.2.9"],
      ["erin", "E", "10.200.3.4"],
      ["erin", "E", "2001:db8:1::5"],
      ["erin", "E", "::ffff:10.1.1.1"],
    ];
    for (const [name, who, ip] of cases) {
      const p = new FakePeer(nextId++, fp(who), ip);
      assert.equal(w.hub.authenticate(p, auth(name)), "fatal", `${name} ${ip}`);
      const [e] = p.take();
      assert.equal(e.code, "banned");
      assert.equal(e.retry, false);
      assert.match(e.message, /spam/);
    }
    // just outside the prefixes
    const ok = new FakePeer(nextId++, fp("E"), "11.0.0.1");
    assert.equal(w.hub.authenticate(ok, auth("erin")), "ok");
    assert.equal(w.hub.isIpBanned("10.255.255.255"), true);
    assert.equal(w.hub.isIpBanned("11.0.0.0"), false);
    assert.equal(w.hub.isIpBanned("2001:db9::1"), false);
  } finally {
    w.store.close();
  }
});

Deno.test("authenticate: same identity and name twice: both stay and receive, presence once", () => {
  const w = world();
  try {
    const bob = connect(w, "bob", "B");
    const first = connect(w, "alice", "C", ["#lobby", "#dev"]);
    const dev = connect(w, "dave", "D", ["#dev"]);
    bob.take();
    dev.take();
    first.take();
    const second = new FakePeer(77, fp("C"));
    assert.equal(w.hub.authenticate(second, auth("alice", ["#lobby"])), "ok");
    assert.equal(first.closed, undefined);
    const welcome = second.take();
    assert.equal(welcome[0].t, "welcome");
    assert.equal(welcome[0].rooms[0].members, 2, "alice is counted once");
    assert.deepEqual(bob.take(), [], "no second join");
    // Both sessions receive room lines.
    say(w, bob, "hi", 1);
    assert.equal(first.take()[0].text, "hi");
    assert.equal(second.take()[0].text, "hi");
    bob.take();
    // The first session leaving #lobby is not a leave: alice is still there.
    w.hub.disconnect(first.id, "connection lost");
    assert.deepEqual(bob.take(), []);
    assert.deepEqual(dev.take().map((m) => [m.kind, m.name, m.reason]), [
      ["leave", "alice", "connection lost"],
    ]);
    // The last one is.
    w.hub.disconnect(second.id, "connection lost");
    assert.deepEqual(bob.take().map((m) => [m.kind, m.name, m.reason]), [
      ["leave", "alice", "connection lost"],
    ]);
  } finally {
    w.store.close();
  }
});

Deno.test("authenticate: resume replays exactly the messages after seq", () => {
  const w = world({ limits: { resumeMax: 3 } });
  try {
    const bob = connect(w, "bob", "B");
    for (let i = 1; i <= 8; i++) say(w, bob, `m${i}`, i);
    const a = new FakePeer(5, fp("C"));
    assert.equal(w.hub.authenticate(a, auth("alice", ["#lobby"], { "#lobby": 4 })), "ok");
    const msgs = a.take().filter((m) => m.t === "msg");
    assert.deepEqual(msgs.map((m) => [m.seq, m.replay]), [[5, true], [6, true], [7, true]]);
    const b = new FakePeer(6, fp("D"));
    assert.equal(w.hub.authenticate(b, auth("dave", ["#lobby"], { "#lobby": 8 })), "ok");
    assert.deepEqual(b.take().filter((m) => m.t === "msg"), []);
  } finally {
    w.store.close();
  }
});

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

Deno.test("disconnect: leave with the reason to each room, once; empty rooms forgotten", () => {
  const w = world();
  try {
    const a = connect(w, "alice", "C", ["#lobby", "#dev"]);
    const b = connect(w, "bob", "B", ["#lobby"]);
    a.take();
    void b;
    w.hub.disconnect(a.id, "connection lost");
    w.hub.disconnect(a.id, "quit");
    assert.deepEqual(b.take(), [
      {
        t: "event",
        ts: w.clock.t,
        kind: "leave",
        name: "alice",
        reason: "connection lost",
        room: "#lobby",
      },
    ]);
    assert.deepEqual(a.take(), []);
    assert.match(w.hub.consoleLine("/rooms"), /^1 room:\n#lobby \(1 member\)$/);
    assert.equal(w.log.filter((e) => e.kind === "leave").length, 2);
    // an unauthenticated peer is ignored
    w.hub.disconnect(12345, "quit");
  } finally {
    w.store.close();
  }
});

Deno.test("shutdown: every peer closed with reason shutdown, no leave events", () => {
  const w = world();
  try {
    const a = connect(w, "alice", "C");
    const b = connect(w, "bob", "B");
    a.take();
    w.hub.shutdown();
    assert.equal(a.closed, "shutdown");
    assert.equal(b.closed, "shutdown");
    assert.deepEqual(a.take(), []);
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

Deno.test("names: an identity owns at most namesPerIdentity names (auth and /nick)", () => {
  const w = world({ limits: { ...DEFAULT_LIMITS, namesPerIdentity: 2 } });
  try {
    const p = connect(w, "first", "N");
    w.hub.handle(p.id, { t: "cmd", id: mid(1), name: "nick", args: ["second"] });
    assert.equal(p.take().at(-1)?.t, "reply");
    w.hub.handle(p.id, { t: "cmd", id: mid(2), name: "nick", args: ["third"] });
    const err = p.take().at(-1);
    assert.equal(err?.code, "name_limit");
    assert.equal(w.store.ownerOf("third"), undefined, "nothing claimed");
    // names already owned stay usable
    w.hub.handle(p.id, { t: "cmd", id: mid(3), name: "nick", args: ["first"] });
    assert.equal(p.take().at(-1)?.t, "reply");
    w.hub.disconnect(p.id, "quit");
    const again = new FakePeer(nextId++, fp("N"));
    assert.equal(w.hub.authenticate(again, auth("fourth")), "retry");
    const e = again.take()[0];
    assert.deepEqual([e.code, e.retry], ["name_limit", true]);
    assert.equal(w.hub.authenticate(again, auth("second")), "ok");
  } finally {
    w.store.close();
  }
});

Deno.test("authenticate: an identity has at most MAX_SESSIONS_PER_IDENTITY sessions", () => {
  const w = world();
  try {
    for (let i = 0; i < MAX_SESSIONS_PER_IDENTITY; i++) connect(w, "alice", "C");
    const extra = new FakePeer(nextId++, fp("C"));
    assert.equal(w.hub.authenticate(extra, auth("alice")), "fatal");
    const [e] = extra.take();
    assert.deepEqual([e.t, e.code, e.retry], ["error", "too_many_sessions", false]);
    // Another identity is not affected.
    connect(w, "bob", "B");
  } finally {
    w.store.close();
  }
});
