import assert from "node:assert/strict";
import fc from "fast-check";
import {
  formatClock,
  formatEvent,
  isMention,
  mentionOffsets,
  NAME_COLORS,
  nameColor,
  shouldBell,
  useColor,
} from "../../client/render.ts";
import type { RenderState, ViewEvent } from "../../client/view.ts";
import type { EventMessage, MsgMessage, ServerMessage } from "../../shared/messages.ts";

const TS = Date.UTC(2024, 0, 2, 3, 4, 5);
const HM = formatClock(TS);
const st = (over: Partial<RenderState> = {}): RenderState => ({
  me: "alice",
  timestamps: true,
  ignored: new Set(),
  bell: "mention",
  ...over,
});
const plain = { color: false, now: TS };
const colored = { color: true, now: TS };
const msg = (over: Partial<MsgMessage> = {}): MsgMessage => ({
  t: "msg",
  room: "#lobby",
  seq: 1,
  ts: TS,
  from: "bob",
  text: "hi",
  id: "x",
  ...over,
});
const srv = (m: ServerMessage): ViewEvent => ({ t: "server", msg: m });
const ev = (kind: EventMessage["kind"], over: Partial<EventMessage> = {}): ViewEvent =>
  srv({ t: "event", ts: TS, kind, room: "#lobby", ...over });
const fmt = (e: ViewEvent, s = st()) => formatEvent(e, s, plain);

Deno.test("render: formatClock is HH:MM in local time", () => {
  const d = new Date(TS);
  assert.match(HM, /^\d\d:\d\d$/);
  assert.equal(Number(HM.slice(0, 2)), d.getHours());
  assert.equal(Number(HM.slice(3)), d.getMinutes());
});

Deno.test("render: room messages, actions and timestamps", () => {
  assert.equal(fmt(srv(msg())), `${HM} [#lobby] bob: hi`);
  assert.equal(fmt(srv(msg({ me: true, text: "waves" }))), `${HM} [#lobby] * bob waves`);
  assert.equal(fmt(srv(msg()), st({ timestamps: false })), "[#lobby] bob: hi");
  assert.equal(fmt(srv(msg({ replay: true }))), `${HM} [#lobby] bob: hi`);
});

Deno.test("render: colour per name, stable and case-insensitive", () => {
  const c = nameColor("bob");
  assert.ok(NAME_COLORS.includes(c));
  assert.equal(nameColor("BoB"), c);
  const spread = new Set(Array.from({ length: 60 }, (_, i) => nameColor(`user${i}`)));
  assert.ok(spread.size >= 8, `only ${spread.size} colours used`);
  assert.equal(
    formatEvent(srv(msg()), st({ timestamps: false }), colored),
    `[#lobby] \x1b[${c}mbob\x1b[39m: hi`,
  );
});

Deno.test("render: mentions are whole words, case-insensitive", () => {
  assert.equal(isMention("hi alice", "alice"), true);
  assert.equal(isMention("ALICE: look", "alice"), true);
  assert.equal(isMention("@Alice!", "alice"), true);
  assert.equal(isMention("malice", "alice"), false);
  assert.equal(isMention("alice_2 and alice-b and alicex", "alice"), false);
  assert.equal(isMention("anything", ""), false);
  assert.deepEqual(mentionOffsets("alice, alice", "alice"), [0, 7]);
  const line = formatEvent(srv(msg({ text: "hey Alice" })), st({ timestamps: false }), colored);
  assert.equal(
    line,
    `[#lobby] \x1b[${nameColor("bob")}mbob\x1b[39m: hey \x1b[1;7mAlice\x1b[22;27m`,
  );
  assert.equal(
    fmt(srv(msg({ text: "hey Alice" })), st({ timestamps: false })),
    "[#lobby] bob: hey Alice",
  );
});

Deno.test("render: the bell follows the bell mode", () => {
  const mention = srv(msg({ text: "alice?" }));
  const other = srv(msg({ text: "hello" }));
  const own = srv(msg({ from: "Alice", text: "alice" }));
  assert.equal(shouldBell(mention, st()), true);
  assert.equal(shouldBell(other, st()), false);
  assert.equal(shouldBell(other, st({ bell: "all" })), true);
  assert.equal(shouldBell(mention, st({ bell: "off" })), false);
  assert.equal(shouldBell(own, st({ bell: "all" })), false);
  assert.equal(shouldBell(srv(msg({ text: "alice", replay: true })), st()), false);
  assert.equal(shouldBell(mention, st({ ignored: new Set(["bob"]) })), false);
});

Deno.test("render: ignored names are hidden, case-insensitively; their events are not", () => {
  const s = st({ ignored: new Set(["bob"]) });
  assert.equal(fmt(srv(msg({ from: "BOB" })), s), null);
  assert.equal(fmt(srv({ t: "dm", id: "x", from: "bob", ts: TS, envelope: "" }), s), null);
  assert.equal(fmt(ev("join", { name: "bob" }), s), `${HM} -- bob joined #lobby`);
  assert.equal(fmt(srv(msg({ from: "carol" })), s), `${HM} [#lobby] carol: hi`);
});

Deno.test("render: every system event kind", () => {
  const cases: [ViewEvent, string][] = [
    [ev("join", { name: "bob" }), "bob joined #lobby"],
    [ev("leave", { name: "bob", reason: "quit" }), "bob left #lobby (quit)"],
    // A /leave's reason only repeats the verb; the others say why.
    [ev("leave", { name: "bob", reason: "left" }), "bob left #lobby"],
    [ev("leave", { name: "bob" }), "bob left #lobby"],
    [ev("leave", { name: "bob", reason: "connection lost" }), "bob left #lobby (connection lost)"],
    [ev("leave", { name: "bob", reason: "kicked by carol" }), "bob left #lobby (kicked by carol)"],
    [ev("leave", { name: "bob", reason: "shutdown" }), "bob left #lobby (server shutdown)"],
    [ev("nick", { name: "robert", old: "bob", room: undefined }), "bob is now known as robert"],
    // The user's own new name (as another session of theirs sees it).
    [ev("nick", { name: "alice", old: "al", room: undefined }), "you are now known as alice"],
    [ev("topic", { by: "bob", text: "cats" }), "bob set the topic of #lobby: cats"],
    [ev("topic", { text: "cats" }), "topic of #lobby: cats"],
    [ev("away", { name: "bob", text: "lunch" }), "bob is away: lunch"],
    [ev("away", { name: "bob" }), "bob is away"],
    [ev("away", { name: "bob", text: "away" }), "bob is away"], // a bare /away's text
    [
      ev("kick", { name: "alice", by: "carol", reason: "spam" }),
      "you were kicked from #lobby by carol (spam)",
    ],
    [ev("ban", { name: "Alice", by: "carol", room: undefined }), "you were banned by carol"],
    [ev("mute", { name: "alice", by: "carol" }), "you were muted in #lobby by carol"],
    [ev("back", { name: "bob" }), "bob is back"],
    [
      ev("kick", { name: "bob", by: "carol", reason: "spam" }),
      "bob was kicked from #lobby by carol (spam)",
    ],
    [ev("ban", { name: "bob", by: "carol", room: undefined }), "bob was banned by carol"],
    [ev("mute", { name: "bob", by: "carol" }), "bob was muted in #lobby by carol"],
    [ev("announce", { text: "restart soon", room: undefined }), "announcement: restart soon"],
    [
      ev("motd", { text: "hello\nworld", room: undefined }),
      "message of the day: hello\n" +
      " ".repeat(`${HM} -- message of the day: `.length) + "world",
    ],
  ];
  for (const [e, want] of cases) assert.equal(fmt(e), `${HM} -- ${want}`);
  assert.equal(
    formatEvent(ev("back", { name: "bob" }), st(), colored),
    `\x1b[2m${HM} -- bob is back\x1b[22m`,
  );
  assert.equal(
    formatEvent(ev("kick", { name: "alice" }), st({ timestamps: false }), colored),
    "\x1b[31m-- you were kicked from #lobby\x1b[39m",
  );
});

Deno.test("render: welcome, replies, errors, dm, bye and silent kinds", () => {
  const welcome: ViewEvent = {
    t: "welcome",
    msg: {
      t: "welcome",
      name: "alice",
      fingerprint: "SHA256:x",
      server: { name: "srv", version: "1.0", motd: "be nice\nreally" },
      limits: {},
      rooms: [{ name: "#lobby", topic: "general", members: 3 }, {
        name: "#dev",
        topic: "",
        members: 1,
      }],
    },
  };
  // Lines without a server time take the time they are shown, in the same column as events;
  // the lines after the first hang under the text.
  const pad = " ".repeat(`${HM} -- `.length);
  assert.equal(
    fmt(welcome),
    `${HM} -- connected to srv (1.0) as alice\n${pad}be nice\n${pad}really\n` +
      `${pad}#lobby (3 here): general\n${pad}#dev (1 here)`,
  );
  assert.equal(
    fmt(srv({ t: "reply", id: "x", text: "one\ntwo\n" })),
    `${HM}   one\n${" ".repeat(HM.length + 3)}two`,
  );
  assert.equal(fmt(srv({ t: "reply", id: "x", data: { n: 1 } })), `${HM}   {"n":1}`);
  assert.equal(fmt(srv({ t: "reply", id: "x" })), `${HM} -- ok`);
  assert.equal(
    fmt(srv({ t: "error", code: "too_long", message: "too long" })),
    `${HM} ! too long (too_long)`,
  );
  // Without timestamps, none of them has one.
  const bare = st({ timestamps: false });
  assert.equal(formatEvent(srv({ t: "reply", id: "x", text: "one" }), bare, plain), "  one");
  assert.equal(
    formatEvent(srv({ t: "error", code: "c", message: "m" }), bare, plain),
    "! m (c)",
  );
  assert.match(formatEvent(welcome, bare, plain)!, /^-- connected to srv/);
  assert.equal(
    fmt(srv({ t: "dm", id: "x", from: "bob", ts: TS, envelope: "" })),
    `${HM} -- private message from bob not shown: private messages are not available yet`,
  );
  assert.equal(
    fmt(srv({ t: "bye", reason: "shutdown" })),
    `${HM} -- the server ended the session: shutdown`,
  );
  assert.equal(fmt(srv({ t: "ack", id: "x" })), null);
  assert.equal(fmt(srv({ t: "ping", n: 1 })), null);
  assert.equal(fmt(srv({ t: "pong", n: 1 })), null);
});

Deno.test("render: pending, acked, failed, status and local lines", () => {
  const pending: ViewEvent = { t: "pending", id: "1", room: "#lobby", text: "hi", me: false };
  assert.equal(fmt(pending), `${HM} [#lobby] alice: hi …`);
  assert.equal(formatEvent(pending, st(), colored), `\x1b[2m${HM} [#lobby] alice: hi …\x1b[22m`);
  assert.equal(fmt({ ...pending, me: true, text: "waves" }), `${HM} [#lobby] * alice waves …`);
  assert.equal(fmt({ t: "acked", id: "1", msg: msg() }), null);
  assert.equal(
    fmt({ t: "failed", id: "1", room: "#lobby", text: "hi", reason: "rate_limited" }),
    `${HM} ! not delivered to #lobby: hi (rate_limited)`,
  );
  assert.equal(
    fmt({ t: "status", state: "lost", detail: "timeout" }),
    `${HM} -- connection lost: timeout`,
  );
  assert.equal(
    fmt({ t: "status", state: "connected", detail: "x:1" }),
    null,
    "the welcome says it",
  );
  assert.equal(fmt({ t: "status", state: "connecting", detail: "x:1" }), null);
  // Notices carry the time in the same column as events (when timestamps are on).
  assert.equal(
    fmt({ t: "local", level: "info", text: "a\nb" }),
    `${HM} -- a\n${" ".repeat(HM.length + 4)}b`,
  );
  assert.equal(fmt({ t: "local", level: "error", text: "nope" }), `${HM} ! nope`);
  const bare = st({ timestamps: false });
  assert.equal(formatEvent({ t: "local", level: "info", text: "a\nb" }, bare, plain), "-- a\n   b");
  assert.equal(formatEvent({ t: "local", level: "error", text: "x" }, bare, plain), "! x");
});

Deno.test("render: useColor honours NO_COLOR (non-empty) and --no-color", () => {
  assert.equal(useColor(undefined, false), true);
  assert.equal(useColor("", false), true);
  assert.equal(useColor("1", false), false);
  assert.equal(useColor(undefined, true), false);
});

// ---- hostile input ----

const HOSTILE = [
  "\x1b[2J",
  "\x1b[H",
  "\x1b]52;c;aGVsbG8=\x07",
  "\x1b]0;PWNED\x07",
  "\x1b]0;x\x1b\\",
  "\r",
  "\n12:00 [#lobby] admin: fake",
  "\u202e",
  "\u2066",
  "\x9b31m",
  "\x00",
  "\x7f",
  "\u2028",
  "\ud800",
  "e\u0301\u0301\u0301\u0301\u0301\u0301",
];
const hostile = fc.array(
  fc.oneof(fc.constantFrom(...HOSTILE), fc.string({ unit: "binary", maxLength: 8 })),
  { maxLength: 6 },
).map((a) => a.join(""));

const hostileEvent: fc.Arbitrary<ViewEvent> = fc.tuple(
  hostile,
  hostile,
  hostile,
  hostile,
  fc.constantFrom<EventMessage["kind"]>(
    "join",
    "leave",
    "nick",
    "topic",
    "away",
    "back",
    "kick",
    "ban",
    "mute",
    "announce",
    "motd",
  ),
  fc.integer({ min: 0, max: 10 }),
).map(([a, b, c, d, kind, pick]): ViewEvent => {
  switch (pick) {
    case 0:
      return srv(msg({ room: a, from: b, text: c, me: d.length % 2 === 0 }));
    case 1:
      return srv({ t: "event", ts: TS, kind, room: a, name: b, by: c, reason: d, old: a, text: c });
    case 2:
      return {
        t: "welcome",
        msg: {
          t: "welcome",
          name: a,
          fingerprint: b,
          server: { name: b, version: c, motd: d },
          limits: {},
          rooms: [{ name: a, topic: d, members: 1 }],
        },
      };
    case 3:
      return srv({ t: "reply", id: "x", text: a + "\n" + b });
    case 4:
      return srv({ t: "reply", id: "x", data: { a, b } });
    case 5:
      return srv({ t: "error", code: a, message: b });
    case 6:
      return srv({ t: "dm", id: "x", from: a, ts: TS, envelope: b });
    case 7:
      return { t: "failed", id: "x", room: a, text: b, reason: c };
    case 8:
      return { t: "status", state: "lost", detail: a };
    case 9:
      return { t: "pending", id: "x", room: a, text: b, me: false };
    default:
      return srv({ t: "bye", reason: a });
  }
});

/**
 * Anything a terminal could act on, apart from "\n" (render's own line breaks). ZWNJ and ZWJ
 * (U+200C/D) are allowed, as in shared/sanitize.ts: scripts and emoji sequences need them.
 */
const UNSAFE =
  // deno-lint-ignore no-control-regex
  /[\x00-\x09\x0b-\x1f\x7f-\x9f\u200b\u200e\u200f\u2028-\u202e\u2060-\u206f\ufeff]|[\ud800-\udfff]/u;
// deno-lint-ignore no-control-regex
const OWN_SGR = /\x1b\[(?:[0-9]{1,2}(?:;[0-9]{1,2})*)m/g;

Deno.test("render: hostile strings never reach the terminal (colour off: no control at all)", () => {
  fc.assert(
    fc.property(hostileEvent, hostile, (e, me) => {
      const out = formatEvent(e, st({ me }), plain);
      if (out === null) return;
      assert.doesNotMatch(out, UNSAFE);
      const lines = out.split("\n");
      for (const l of lines.slice(1)) assert.match(l, /^ /, "continuation lines are indented");
    }),
    { numRuns: 500 },
  );
});

Deno.test("render: with colour, the only escapes are render's own SGR codes", () => {
  fc.assert(
    fc.property(hostileEvent, hostile, (e, me) => {
      const out = formatEvent(e, st({ me }), colored);
      if (out === null) return;
      assert.doesNotMatch(out.replace(OWN_SGR, ""), UNSAFE);
    }),
    { numRuns: 500 },
  );
});

Deno.test("render: a hostile message is shown visibly; its lines hang under the text column", () => {
  const text = "x\x1b[2J\x1b]0;T\x07\rbob: fake\n\u202eabc\n[#lobby] admin: hi";
  const out = fmt(srv(msg({ text })), st({ timestamps: false }));
  assert.equal(
    out,
    "[#lobby] bob: x␛[2J␛]0;T␇␍bob: fake\n" +
      "              <U+202E>abc\n" +
      "              [#lobby] admin: hi",
  );
  const plain = formatEvent(srv(msg({ text })), st({ timestamps: false }), {
    color: false,
    now: 0,
    oneLine: true,
  });
  assert.equal(plain, "[#lobby] bob: x␛[2J␛]0;T␇␍bob: fake␊<U+202E>abc␊[#lobby] admin: hi");
  const fake = fmt(srv(msg({ from: "bob\n[#lobby] admin" })), st({ timestamps: false }));
  assert.equal(fake, "[#lobby] bob␊[#lobby] admin: hi");
});

Deno.test("render: multi-line /me, DM, pending and failed lines hang under their text column", () => {
  const s = st({ timestamps: false, me: "alice" });
  assert.equal(
    fmt(srv(msg({ text: "waves\nand bows", me: true })), s),
    "[#lobby] * bob waves\n" + " ".repeat(15) + "and bows",
  );
  assert.equal(
    fmt({ t: "dm", id: "i", ts: 0, from: "bob", to: "alice", text: "a\n\tb", out: false }, s),
    "[dm] bob → you: a\n                ␉b",
  );
  assert.equal(
    fmt({ t: "pending", id: "i", room: "#lobby", text: "one\ntwo", me: false }, s),
    "[#lobby] alice: one\n                two …",
  );
  const failed = fmt({ t: "failed", id: "i", room: "#r", text: "one\ntwo", reason: "why" }, s);
  assert.equal(failed, "! not delivered to #r: one\n                       two (why)");
  // Mentions are marked on every line; continuation lines never carry a name colour.
  const out = formatEvent(srv(msg({ text: "hi\nalice, look" })), s, colored)!;
  assert.equal(out.split("\n").length, 2);
  assert.ok(out.split("\n")[1].startsWith(" ".repeat("[#lobby] bob: ".length) + "\x1b[1;7malice"));
});

Deno.test("render: any multi-line text gives one terminal line per text line, all indented", () => {
  fc.assert(
    fc.property(fc.array(fc.string({ maxLength: 20 }), { minLength: 1, maxLength: 8 }), (parts) => {
      const text = parts.join("\n");
      const out = fmt(srv(msg({ text })), st({ timestamps: true }));
      assert.ok(out !== null);
      const rows = out.split("\n");
      assert.equal(rows.length, parts.length);
      const col = rows[0].indexOf("bob: ") + 5;
      for (const r of rows.slice(1)) assert.ok(r.startsWith(" ".repeat(col)), JSON.stringify(r));
      const one = formatEvent(srv(msg({ text })), st(), { color: false, now: 0, oneLine: true });
      assert.ok(one !== null && !one.includes("\n"));
    }),
    { numRuns: 300 },
  );
});

Deno.test("render: a queued private message says so, in the stream and in its window", () => {
  const ev: ViewEvent = {
    t: "dm",
    id: "i",
    ts: 0,
    from: "alice",
    to: "bob",
    text: "later",
    out: true,
    queued: true,
  };
  const s = st({ timestamps: false, me: "alice" });
  assert.equal(fmt(ev, s), "[dm] you → bob: later (queued for bob)");
  assert.equal(
    formatEvent(ev, s, { color: false, now: 0, roomTag: false }),
    "alice: later (queued for bob)",
  );
});
