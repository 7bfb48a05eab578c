import assert from "node:assert/strict";
import { App, runApp } from "../../client/app.ts";
import { HISTORY_PAGE, NO_WINDOWS_TEXT, STATUS_WINDOW_HINT } from "../../client/app_windows.ts";
import { WindowList } from "../../client/windows.ts";
import type {
  ChatClientLike,
  ClientEvent,
  Completions,
  RenderState,
  View,
  ViewEvent,
} from "../../client/view.ts";
import type { ErrorMessage, ReplyMessage } from "../../shared/messages.ts";
import { LOCAL_HELP } from "../../client/input.ts";
import { msg, TS, welcome } from "../support/client_events.ts";

// ---- App with fakes ----

class FakeClient implements ChatClientLike {
  name = "alice";
  says: { room: string; text: string; me: boolean }[] = [];
  commands: { name: string; args: string[] }[] = [];
  closed: string[] = [];
  pending = 0;
  answer: (name: string, args: string[]) => ReplyMessage | ErrorMessage = () => ({
    t: "reply",
    id: "r",
    text: "ok",
  });
  say(room: string, text: string, me = false): string {
    this.says.push({ room, text, me });
    return `id${this.says.length}`;
  }
  autos: { name: string; args: string[] }[] = [];
  command(name: string, args: string[], auto = false): Promise<ReplyMessage | ErrorMessage> {
    (auto ? this.autos : this.commands).push({ name, args });
    return Promise.resolve(this.answer(name, args));
  }
  pendingCount(): number {
    return this.pending;
  }
  close(reason?: string): Promise<void> {
    this.closed.push(reason ?? "");
    return Promise.resolve();
  }
}

class FakeView implements View {
  shown: ViewEvent[] = [];
  states: RenderState[] = [];
  room = "";
  completions: Completions | undefined;
  cleared = 0;
  closed = 0;
  #lines: string[];
  #gate: Promise<void>;
  constructor(
    readonly interactive: boolean,
    lines: string[],
    gate: Promise<void> = Promise.resolve(),
  ) {
    this.#lines = lines;
    this.#gate = gate;
  }
  show(ev: ViewEvent, state: RenderState): void {
    this.shown.push(ev);
    this.states.push(state);
  }
  askName(): Promise<string> {
    return Promise.resolve("alice");
  }
  async *lines(): AsyncGenerator<string, void, void> {
    for (const l of this.#lines) {
      await Promise.resolve();
      yield l;
    }
    await this.#gate;
  }
  setCompletions(c: Completions): void {
    this.completions = c;
  }
  /** The prompt marks a private room. */
  isPrivate = false;
  setRoom(room: string, isPrivate = false): void {
    this.room = room;
    this.isPrivate = isPrivate;
  }
  clear(): void {
    this.cleared++;
  }
  close(): Promise<void> {
    this.closed++;
    return Promise.resolve();
  }
  locals(): string[] {
    return this.shown.flatMap((e) => e.t === "local" ? [`${e.level}: ${e.text}`] : []);
  }
}

Deno.test("app: messages go to the current room; /me is an action; local commands stay local", async () => {
  const client = new FakeClient();
  const view = new FakeView(false, [
    "hello",
    "/me waves",
    "/msg bob hi",
    "/ignore Bob",
    "/timestamp off",
    "/bell off",
    "/clear",
    "<exit chat>",
    "never sent",
  ]);
  const fp = "SHA256:" + "B".repeat(43);
  client.answer = (name, args) =>
    name === "whois"
      ? { t: "reply", id: "r", data: { name: args[0], fingerprint: fp } }
      : { t: "reply", id: "r", text: "ok" };
  const code = await runApp(client, view, { room: "#lobby", json: false });
  assert.equal(code, 0);
  assert.deepEqual(client.says, [
    { room: "#lobby", text: "hello", me: false },
    { room: "#lobby", text: "waves", me: true },
  ]);
  // /ignore asks who Bob is (the identity is ignored, by fingerprint); nothing else is sent.
  assert.deepEqual(client.commands, [{ name: "whois", args: ["Bob"] }]);
  assert.deepEqual(view.locals(), [
    "error: private messages are not available yet",
    "info: ignoring Bob SHA256:BBBBBBBB…: their room and private messages are hidden, under any " +
    "name they use",
    "info: timestamps off",
    "info: bell: off",
  ]);
  const last = view.states.at(-1)!;
  assert.equal(last.timestamps, false);
  assert.equal(last.bell, "off");
  assert.ok(last.ignored.has("bob"));
  assert.equal(view.cleared, 1);
  assert.deepEqual(client.closed, ["quit"]);
  assert.equal(view.closed, 1);
});

Deno.test("app: /join asks the server, then switches the room; a joined room switches at once", async () => {
  const client = new FakeClient();
  const view = new FakeView(false, ["/join #dev", "in dev", "/join #lobby", "in lobby", "/quit"]);
  const app = new App(view, { room: "#lobby", json: false });
  app.onEvent(welcome(["#lobby"]));
  const code = await app.run(client);
  assert.equal(code, 0);
  assert.deepEqual(client.commands, [{ name: "join", args: ["#dev"] }]);
  assert.deepEqual(client.says.map((s) => s.room), ["#dev", "#lobby"]);
  assert.equal(view.room, "#lobby");
  assert.deepEqual(view.locals(), ["info: now talking in #dev", "info: now talking in #lobby"]);
});

Deno.test("app: a refused /join keeps the room and shows the error", async () => {
  const client = new FakeClient();
  client.answer = () => ({ t: "error", id: "r", code: "banned", message: "you are banned" });
  const view = new FakeView(false, ["/join #dev", "still here"]);
  await runApp(client, view, { room: "#lobby", json: false });
  assert.deepEqual(client.says.map((s) => s.room), ["#lobby"]);
  assert.ok(view.shown.some((e) => e.t === "server" && e.msg.t === "error"));
});

Deno.test("app: server commands and /help show their replies; stray replies show too", async () => {
  const client = new FakeClient();
  client.answer = (name) => ({ t: "reply", id: "r", text: `${name} done` });
  const view = new FakeView(false, ["/topic cats", "/help"]);
  const app = new App(view, { room: "#lobby", json: false });
  // A reply no pending command was waiting for (e.g. after a timeout) is still shown; pings not.
  app.onEvent({ t: "server", msg: { t: "reply", id: "r", text: "late" } });
  app.onEvent({ t: "server", msg: { t: "ping", n: 1 } });
  app.onEvent({ t: "server", msg: { t: "pong", n: 1 } });
  await app.run(client);
  assert.deepEqual(client.commands, [
    { name: "topic", args: ["#lobby", "cats"] },
    { name: "help", args: [] },
  ]);
  const replies = view.shown.flatMap((e) =>
    e.t === "server" && e.msg.t === "reply" ? [e.msg.text] : []
  );
  assert.deepEqual(replies, ["late", "topic done", "help done"]);
  assert.equal(view.shown.filter((e) => e.t === "server").length, 3);
  assert.deepEqual(view.locals(), [`info: ${LOCAL_HELP}`]);
});

Deno.test("app: the MOTD event right after welcome is not shown twice", () => {
  const view = new FakeView(true, []);
  const app = new App(view, { room: "#lobby", json: false });
  const w = welcome();
  if (w.t === "welcome") w.msg.server.motd = "be nice";
  const motd = (text: string): ClientEvent => ({
    t: "server",
    msg: { t: "event", ts: TS, kind: "motd", text },
  });
  app.onEvent(w);
  app.onEvent(motd("be nice"));
  app.onEvent(motd("be nice"));
  app.onEvent(motd("changed"));
  assert.deepEqual(
    view.shown.map((e) => e.t === "server" && e.msg.t === "event" ? e.msg.text : e.t),
    [
      "welcome",
      "be nice",
      "changed",
    ],
  );
});

Deno.test("app: runApp handles early events first, then takes over the event sink", async () => {
  const client = new FakeClient();
  const early: ClientEvent[] = [welcome(["#dev"])];
  const events = { push: (_ev: ClientEvent) => assert.fail("old sink used") };
  const view = new FakeView(false, ["hi"]);
  const done = runApp(client, view, { room: "#lobby", json: false, early, events });
  assert.deepEqual(early, []);
  events.push({ t: "server", msg: msg({ room: "#dev" }) });
  assert.equal(await done, 0);
  assert.deepEqual(client.says, [{ room: "#dev", text: "hi", me: false }]);
  assert.deepEqual(view.shown.map((e) => e.t), ["welcome", "local", "server"]);
});

Deno.test("app: --log appends messages, events and failures as JSON lines", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/t.jsonl`;
    const client = new FakeClient();
    let open!: () => void;
    const view = new FakeView(false, [], new Promise((r) => open = r));
    const log = await Deno.open(path, { append: true, create: true, mode: 0o600 });
    const app = new App(view, { room: "#lobby", json: false, log });
    const done = app.run(client).finally(() => log.close());
    await new Promise((r) => setTimeout(r, 5));
    app.onEvent({ t: "server", msg: msg({ text: "a\u202eb" }) });
    app.onEvent({
      t: "server",
      msg: { t: "event", ts: TS, kind: "join", room: "#lobby", name: "x" },
    });
    app.onEvent({ t: "server", msg: { t: "ping", n: 1 } });
    app.onEvent({ t: "failed", id: "1", room: "#lobby", text: "t", reason: "r" });
    open();
    assert.equal(await done, 1);
    const lines = (await Deno.readTextFile(path)).split("\n");
    assert.equal(lines.length, 4);
    assert.deepEqual(JSON.parse(lines[0]), msg({ text: "a\u202eb" }));
    assert.equal(JSON.parse(lines[1]).kind, "join");
    assert.deepEqual({ ...JSON.parse(lines[2]), ts: 0 }, {
      t: "failed",
      ts: 0,
      room: "#lobby",
      text: "t",
      reason: "r",
    });
    assert.equal(lines[3], "");
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("app: a command that throws is reported, not fatal", async () => {
  const client = new FakeClient();
  client.command = () => Promise.reject(new Error("deadline passed"));
  const view = new FakeView(false, ["/rooms", "after"]);
  assert.equal(await runApp(client, view, { room: "#lobby", json: false }), 0);
  const err = view.shown.find((e) => e.t === "server" && e.msg.t === "error");
  assert.deepEqual(err, {
    t: "server",
    msg: { t: "error", code: "failed", message: "/rooms failed: deadline passed" },
  });
  assert.equal(client.says.length, 1);
});

Deno.test("app: plain mode waits at end of input until every message is acknowledged", async () => {
  const client = new FakeClient();
  const view = new FakeView(false, ["one", "two"]);
  const app = new App(view, { room: "#lobby", json: false, drainMs: 5_000 });
  const origSay = client.say.bind(client);
  client.say = (room, text, me) => {
    client.pending++;
    return origSay(room, text, me);
  };
  const done = app.run(client);
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(client.closed, [], "not closed while messages are pending");
  client.pending = 1;
  app.onEvent({ t: "acked", id: "id1", msg: msg({ from: "alice", text: "one" }) });
  assert.deepEqual(client.closed, []);
  client.pending = 0;
  app.onEvent({ t: "acked", id: "id2", msg: msg({ from: "alice", text: "two" }) });
  assert.equal(await done, 0);
  assert.deepEqual(client.closed, ["quit"]);
});

Deno.test("app: plain mode exits 1 when a message failed or was never confirmed", async () => {
  const failing = new FakeClient();
  const v1 = new FakeView(false, ["one"]);
  const app = new App(v1, { room: "#lobby", json: false });
  app.onEvent({ t: "failed", id: "id1", room: "#lobby", text: "one", reason: "too_long" });
  assert.equal(await app.run(failing), 1);

  const stuck = new FakeClient();
  stuck.pending = 1;
  const v2 = new FakeView(false, ["one"]);
  assert.equal(await runApp(stuck, v2, { room: "#lobby", json: false, drainMs: 30 }), 1);
  assert.deepEqual(v2.locals(), ["error: 1 message(s) not confirmed by the server"]);
  assert.deepEqual(stuck.closed, ["quit"]);
});

Deno.test("app: a connection closed for good ends the session with 1, without a second close", async () => {
  const client = new FakeClient();
  let open!: () => void;
  const view = new FakeView(true, [], new Promise((r) => open = r));
  const app = new App(view, { room: "#lobby", json: false });
  const done = app.run(client);
  await new Promise((r) => setTimeout(r, 5));
  app.onEvent({ t: "status", state: "closed", detail: "banned" });
  assert.equal(await done, 1);
  assert.deepEqual(client.closed, []);
  assert.equal(view.closed, 1);
  open();
});

Deno.test("app: interactive mode seeds completion with the server's commands and names", async () => {
  const client = new FakeClient();
  client.answer = (name) =>
    name === "help"
      ? { t: "reply", id: "r", text: "/service  about\n/frobnicate  new" }
      : { t: "reply", id: "r", data: { members: [{ name: "zed" }, { name: "bob" }] } };
  let open!: () => void;
  const view = new FakeView(true, [], new Promise((r) => open = r));
  const app = new App(view, { room: "#lobby", json: false });
  const done = app.run(client);
  app.onEvent(welcome());
  await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(client.autos, [{ name: "help", args: [] }, {
    name: "who",
    args: ["#lobby"],
  }]);
  assert.ok(view.completions!.commands.includes("frobnicate"));
  assert.deepEqual(view.completions!.names, ["bob", "zed"]);
  assert.equal(view.shown.filter((e) => e.t === "server").length, 0, "seeding is silent");
  open();
  assert.equal(await done, 0);
});

Deno.test("app: incoming DMs: an ignored sender's are dropped unopened; at most 256 in hand", async () => {
  const view = new FakeView(false, []);
  const client = new FakeClient();
  const app = new App(view, {
    room: "#lobby",
    json: false,
    dm: {
      identity: {
        fingerprint: "SHA256:x",
        sigPrivate: undefined as never,
        kemPrivate: undefined as never,
      },
      knownUsers: {
        lookup: () => undefined,
        pin: () => Promise.resolve(),
        trust: () => Promise.resolve(),
        isVerified: () => false,
      },
      hostPort: "127.0.0.1:5000",
    },
  });
  app.state.ignored.add("eve");
  const dm = (from: string, i: number): ClientEvent => ({
    t: "server",
    msg: { t: "dm", id: `id${i}`, from, ts: 1, envelope: "AAAA" },
  });
  for (let i = 0; i < 300; i++) app.onEvent(dm("Eve", i));
  assert.deepEqual(view.locals(), [], "ignored: nothing held, nothing shown");
  for (let i = 0; i < 300; i++) app.onEvent(dm("mal", i));
  assert.deepEqual(view.locals(), [
    "error: too many private messages at once: dropping some unread",
  ]);
  assert.equal(await app.run(client), 0);
  const unread = view.locals().filter((l) => l === "error: cannot decrypt message from mal");
  assert.equal(unread.length, 256, "the first 256 were opened (and failed), the rest dropped");
  assert.deepEqual(client.commands, []);
});

Deno.test("app: with windows, text goes to the window's room; status takes commands; /close parts", async () => {
  const client = new FakeClient();
  const wl = new WindowList();
  const view = new FakeView(false, [
    "/join #dev",
    "in dev",
    "/win 2",
    "in lobby",
    "/win 1",
    "status text",
    "/win #dev",
    "/close",
    "/win 9",
    "/query bob",
  ]);
  const app = new App(view, { room: "#lobby", json: false, windows: wl });
  app.onEvent(welcome(["#lobby"]));
  assert.equal(wl.current.name, "#lobby", "the start room is shown");
  await app.run(client);
  assert.deepEqual(client.says.map((s) => [s.room, s.text]), [
    ["#dev", "in dev"],
    ["#lobby", "in lobby"],
  ]);
  assert.deepEqual(client.commands, [
    { name: "join", args: ["#dev"] },
    { name: "leave", args: ["#dev"] },
  ]);
  assert.deepEqual(view.locals(), [
    `error: ${STATUS_WINDOW_HINT}`,
    "error: there is no window 9",
    "error: private messages are not available yet",
  ]);
  assert.deepEqual(wl.all.map((w) => w.name), ["status", "#lobby"], "#dev's window is closed");

  // Scrolling past the top asks for the page before the oldest message held, automatically.
  const lobby = wl.room("#lobby")!;
  lobby.scrollback.add({ text: "x", ts: 0, indent: 0, seq: 71 });
  wl.onNeedHistory(lobby);
  wl.onNeedHistory(lobby);
  await Promise.resolve();
  assert.deepEqual(client.autos.filter((c) => c.name === "history"), [
    { name: "history", args: ["#lobby", String(HISTORY_PAGE), "71"] },
  ], "one request at a time");
});

Deno.test("app: without windows, /win, /query and /close say so", async () => {
  const client = new FakeClient();
  const view = new FakeView(false, ["/win 2", "/query bob", "/close"]);
  await runApp(client, view, { room: "#lobby", json: false });
  assert.deepEqual(view.locals(), Array(3).fill(`error: ${NO_WINDOWS_TEXT}`));
});

Deno.test("app: a private room is marked in the prompt and in the window list", async () => {
  const client = new FakeClient() as FakeClient & { isPrivate(room: string): boolean };
  client.isPrivate = (room) => room === "#team";
  const view = new FakeView(false, ["/join #team --private", "secret", "/quit"]);
  const windows = new WindowList();
  const app = new App(view, { room: "#lobby", json: false, windows });
  app.onEvent(welcome(["#lobby"]));
  assert.equal(view.isPrivate, false);
  await app.run(client);
  assert.deepEqual(client.commands, [{ name: "join", args: ["#team", "--private"] }]);
  assert.equal(view.room, "#team");
  assert.equal(view.isPrivate, true);
  assert.equal(windows.room("#team")?.badge, "[e2e]");
  assert.equal(windows.room("#lobby")?.badge, "");
});

Deno.test("app: a command's answer goes to the window it was typed in, a /join's to the room joined", async () => {
  const wl = new WindowList();
  const client = new FakeClient();
  let release = () => {};
  const held = new Promise<void>((r) => release = r);
  client.command = (name, args, auto = false) => {
    (auto ? client.autos : client.commands).push({ name, args });
    if (name === "who" && !auto) {
      return held.then(() => ({ t: "reply", id: "r", text: "who in #lobby" }));
    }
    if (name === "join" && args[0] === "#ops") {
      // The server says the user joined (the window opens), then answers.
      app.onEvent({
        t: "server",
        msg: { t: "event", ts: TS, kind: "join", room: "#ops", name: "alice" },
      });
      return Promise.resolve({ t: "reply", id: "r", text: "You joined #ops." });
    }
    if (name === "join") {
      return Promise.resolve({ t: "error", id: "r", code: "banned", message: "banned from #x" });
    }
    return Promise.resolve({ t: "reply", id: "r", text: `${name} done` });
  };
  let gate = () => {};
  const lines = [
    "/who", // typed in #lobby; its answer comes after the switch below
    "/win #dev",
    "/topic", // answered at once, in #dev
    "/join #x", // refused: the error stays in #dev
    "/join #ops", // the answer goes to #ops, shown next
    "/bell", // a local answer, typed in #ops
  ];
  const view = new FakeView(true, lines, new Promise<void>((r) => gate = r));
  const placed: string[] = [];
  view.show = (ev, state) => {
    view.shown.push(ev);
    const text = ev.t === "local"
      ? ev.text
      : ev.t === "server" && (ev.msg.t === "reply" || ev.msg.t === "error")
      ? ev.msg.t === "reply" ? ev.msg.text : ev.msg.message
      : undefined;
    if (text !== undefined) placed.push(`${wl.route(ev, state).name}: ${text}`);
  };
  const app = new App(view, { room: "#lobby", json: false, windows: wl });
  app.onEvent(welcome(["#lobby", "#dev"]));
  assert.equal(wl.current.name, "#lobby");
  const run = app.run(client);
  const shown = () => wl.current.name;
  for (let i = 0; i < 50 && shown() !== "#ops"; i++) {
    await new Promise((r) => setTimeout(r, 1));
  }
  assert.equal(shown(), "#ops", "/join shows the room joined");
  release();
  await held;
  await new Promise((r) => setTimeout(r, 1));
  gate();
  await run;
  assert.deepEqual(placed, [
    // Said where the user looks when the name is saved (the start room's window).
    "#lobby: alice is remembered for  (/set name to change it)",
    "#dev: topic done",
    "#dev: banned from #x",
    "#ops: You joined #ops.",
    "#ops: bell: mention",
    "#lobby: who in #lobby",
  ]);
});

Deno.test("app: your own /nick is one line (its reply), in rooms or in none", async () => {
  const client = new FakeClient();
  const nickEvent = (name: string, old: string): ClientEvent => ({
    t: "server",
    msg: { t: "event", ts: TS, kind: "nick", name, old },
  });
  client.answer = (name, args) => {
    if (name !== "nick") return { t: "reply", id: "r", text: "ok" };
    if (args[0] === "taken") return { t: "error", id: "r", code: "name_in_use", message: "taken" };
    // In a room, the server says so to everyone sharing it, the user's sessions included.
    if (args[0] === "al2") app.onEvent(nickEvent("al2", "alice"));
    const old = args[0] === "al2" ? "alice" : "al2";
    return {
      t: "reply",
      id: "r",
      text: `You are now ${args[0]} (was ${old}).`,
      data: { name: args[0], old },
    };
  };
  const view = new FakeView(true, ["/nick al2", "/nick taken", "/nick al3"]);
  const app = new App(view, { room: "#lobby", json: false });
  app.onEvent(welcome(["#lobby"]));
  await app.run(client);
  const lines = view.shown.flatMap((e) =>
    e.t === "server" && e.msg.t !== "welcome" ? [JSON.stringify(e.msg)] : []
  );
  assert.equal(lines.length, 3, lines.join("\n"));
  assert.deepEqual(
    view.shown.flatMap((e) => e.t === "server" && e.msg.t === "reply" ? [e.msg.text] : []),
    ["You are now al2 (was alice).", "You are now al3 (was al2)."],
  );
  assert.ok(!lines.some((l) => l.includes('"kind":"nick"')), "the event is not shown as well");
  assert.equal(app.state.me, "al3", "no event (no shared room): the reply renames");
  // Another session's /nick (or a nick event nobody here asked for) is shown.
  app.onEvent(nickEvent("al4", "al3"));
  app.onEvent(nickEvent("robert", "bob"));
  assert.deepEqual(
    view.shown.slice(-2).map((e) => e.t === "server" && e.msg.t === "event" ? e.msg.name : ""),
    ["al4", "robert"],
  );
  assert.equal(app.state.me, "al4");
});

Deno.test("app: an unknown command is said as /help says it; scripts keep the server's error", async () => {
  for (const interactive of [true, false]) {
    const client = new FakeClient();
    client.answer = (name) => ({
      t: "error",
      id: "r",
      code: "unknown_command",
      message: `There is no command /${name}. Try /help.`,
    });
    const view = new FakeView(interactive, ["/frob x"]);
    await runApp(client, view, { room: "#lobby", json: false });
    const errors = view.shown.filter((e) => e.t === "server" && e.msg.t === "error");
    if (interactive) {
      assert.deepEqual(view.locals(), ["error: there is no command /frob; /help lists them all"]);
      assert.equal(errors.length, 0);
    } else {
      assert.deepEqual(view.locals(), []);
      assert.equal(errors.length, 1);
    }
  }
});
