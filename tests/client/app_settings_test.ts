import assert from "node:assert/strict";
import { AppSettings, memorySettings, type SettingsHost } from "../../client/app_settings.ts";
import { AppState } from "../../client/app_state.ts";
import type { ErrorMessage, ReplyMessage } from "../../shared/messages.ts";
import type { ClientEvent } from "../../client/view.ts";

const HP = "h:1";
const ME = "SHA256:" + "M".repeat(43);
const EVE = "SHA256:" + "E".repeat(43);

function setup(
  remember: boolean,
  whois: Record<string, string> = {},
  pins: Record<string, string> = {},
  liveColors = false,
  noColor?: string,
) {
  const state = new AppState("#lobby");
  const shown: string[] = [];
  const commands: string[] = [];
  const host: SettingsHost = {
    state,
    hostPort: HP,
    remember,
    liveColors,
    noColor,
    command(name, args): Promise<ReplyMessage | ErrorMessage> {
      commands.push(`${name} ${args.join(" ")}`);
      const fp = whois[args[0]];
      return Promise.resolve(
        fp === undefined
          ? { t: "error", code: "no_such_user", message: `Nobody called ${args[0]} is connected.` }
          : { t: "reply", id: "r", data: { name: args[0], fingerprint: fp } },
      );
    },
    pinned: (name) => pins[name],
    info: (text, level = "info") => shown.push(`${level}: ${text}`),
  };
  const store = memorySettings({});
  const app = new AppSettings(host, store);
  return { state, shown, commands, store, app };
}

const welcome = (name: string, rooms: string[]): ClientEvent => ({
  t: "welcome",
  msg: {
    t: "welcome",
    name,
    fingerprint: ME,
    server: { name: "s", version: "1", motd: "" },
    limits: {},
    rooms: rooms.map((r) => ({ name: r, topic: "", members: 1 })),
  },
});

Deno.test("app settings: interactive sessions remember the first name and follow the rooms", async () => {
  const { state, store, app, shown } = setup(true);
  state.apply(welcome("alice", ["#lobby", "#dev"]));
  app.observe(welcome("alice", ["#lobby", "#dev"]));
  await app.idle();
  assert.equal(store.settings.servers[HP].name, "alice");
  assert.deepEqual(store.settings.servers[HP].rooms, ["#lobby", "#dev"]);
  assert.ok(shown.includes("info: alice is remembered for h:1 (/set name to change it)"));
  state.exit("#dev");
  state.enter("#ops");
  app.trackRooms();
  await app.idle();
  assert.deepEqual(store.settings.servers[HP].rooms, ["#lobby", "#ops"]);
  // A second welcome (after a reconnect) under another name keeps the saved name.
  state.apply(welcome("alice2", ["#lobby", "#ops"]));
  app.observe(welcome("alice2", ["#lobby", "#ops"]));
  await app.idle();
  assert.equal(store.settings.servers[HP].name, "alice");
});

Deno.test("app settings: /set rooms holds; later joins add to it and leaves take away", async () => {
  const { state, store, app } = setup(true);
  const rooms = () => store.settings.servers[HP].rooms;
  state.apply(welcome("alice", ["#lobby", "#dev"]));
  app.observe(welcome("alice", ["#lobby", "#dev"]));
  await app.idle();
  assert.deepEqual(rooms(), ["#lobby", "#dev"]);
  await app.perform({ kind: "set", key: "rooms", value: "#ops #dev" });
  app.trackRooms(); // nothing joined or left: the list set stays
  await app.idle();
  assert.deepEqual(rooms(), ["#ops", "#dev"]);
  state.enter("#misc");
  app.trackRooms();
  await app.idle();
  assert.deepEqual(rooms(), ["#ops", "#dev", "#misc"], "a join adds, #lobby is not put back");
  state.exit("#lobby");
  state.exit("#dev");
  app.trackRooms();
  await app.idle();
  assert.deepEqual(rooms(), ["#ops", "#misc"], "a leave takes away; #ops is untouched");
  // A reconnection's welcome with the same rooms changes nothing.
  state.apply(welcome("alice", ["#misc"]));
  app.observe(welcome("alice", ["#misc"]));
  await app.idle();
  assert.deepEqual(rooms(), ["#ops", "#misc"]);
});

Deno.test("app settings: plain sessions save neither name nor rooms on their own", async () => {
  const { state, store, app } = setup(false);
  state.apply(welcome("robot", ["#lobby"]));
  app.observe(welcome("robot", ["#lobby"]));
  await app.idle();
  assert.equal(store.settings.servers[HP], undefined);
  await app.perform({ kind: "set", key: "bell", value: "all" });
  assert.equal(store.settings.bell, "all");
  assert.equal(state.bell, "all");
});

Deno.test("app settings: /ignore by fingerprint (whois, else the pin); not oneself; nick followed", async () => {
  const { state, store, app, shown, commands } = setup(false, { eve: EVE, alice: ME }, {
    mallory: "SHA256:" + "Z".repeat(43),
  });
  app.observe(welcome("alice", ["#lobby"]));
  await app.perform({ kind: "ignore", name: "eve" });
  await app.perform({ kind: "ignore", name: "alice" });
  await app.perform({ kind: "ignore", name: "mallory" });
  await app.perform({ kind: "ignore", name: "nobody" });
  assert.deepEqual(commands, ["whois eve", "whois alice", "whois mallory", "whois nobody"]);
  assert.deepEqual(shown, [
    "info: ignoring eve SHA256:EEEEEEEE…: their room and private messages are hidden, under any name they use",
    "error: you cannot ignore yourself",
    "info: ignoring mallory SHA256:ZZZZZZZZ…: their room and private messages are hidden, under any name they use",
    "error: Nobody called nobody is connected. Cannot ignore nobody: ignoring is by identity, and nobody is not connected and has no pinned key. Try again while they are online.",
  ]);
  assert.deepEqual([...state.ignored].sort(), ["eve", "mallory"]);
  const nick: ClientEvent = {
    t: "server",
    msg: { t: "event", ts: 0, kind: "nick", name: "Eve2", old: "eve" },
  };
  app.observe(nick);
  assert.ok(state.ignored.has("eve2"), "hidden at once");
  await app.idle();
  assert.deepEqual(store.settings.servers[HP].ignore[0].names, ["Eve2", "eve"]);
  await app.perform({ kind: "unignore", name: "EVE2" });
  await app.perform({ kind: "unignore", name: "eve" });
  assert.deepEqual([...state.ignored], ["mallory"]);
  assert.deepEqual(shown.slice(-2), [
    "info: no longer ignoring Eve2, eve SHA256:EEEEEEEE…",
    "error: you were not ignoring eve",
  ]);
});

Deno.test("app settings: /set shows everything, refuses bad values and saves nothing then", async () => {
  const { store, app, shown } = setup(true);
  await app.perform({ kind: "set" });
  assert.match(shown.at(-1)!, /^info: settings \(memory\):\n {2}bell {8}mention/);
  await app.perform({ kind: "set", key: "bell", value: "loud" });
  await app.perform({ kind: "set", key: "bell" });
  await app.perform({ kind: "set", key: "colours", value: "off" });
  assert.deepEqual(shown.slice(1), [
    'error: /set bell: expected mention, all or off, not "loud"',
    "error: usage: /set bell VALUE (/set shows every setting)",
    "info: colours set to off (from the next start)",
  ]);
  assert.equal(store.settings.bell, "mention");
  assert.equal(store.settings.colors, false);
});

Deno.test("app settings: each /set reply says when the change takes effect", async () => {
  for (const live of [false, true]) {
    const { store, app, shown } = setup(true, {}, {}, live);
    const set = (key: string, value: string) => app.perform({ kind: "set", key, value });
    await set("colors", "off");
    await set("Bell", "all");
    await set("timestamps", "off");
    await set("name", " Zed ");
    await set("rooms", "dev, #ops dev");
    await set("name", "-");
    await set("rooms", "-");
    assert.deepEqual(shown, [
      `info: colors set to off${live ? "" : " (from the next start)"}`,
      "info: bell set to all",
      "info: timestamps set to off",
      "info: name set to Zed (used from the next start; /nick Zed changes it now)",
      "info: rooms set to #dev #ops (joined at the next start)",
      "info: name removed (the next start asks for one)",
      "info: rooms removed (the next start joins #lobby)",
    ]);
    assert.equal(store.settings.colors, false);
    assert.deepEqual(store.settings.servers[HP].rooms, []);
  }
});

Deno.test("app settings: /set colors under --no-color or NO_COLOR says they stay off", async () => {
  const said = async (noColor: string | undefined, live = false) => {
    const { app, shown, store } = setup(true, {}, {}, live, noColor);
    await app.perform({ kind: "set", key: "colors", value: "on" });
    await app.perform({ kind: "set", key: "colors", value: "off" });
    await app.perform({ kind: "set", key: "colours", value: "on" });
    assert.equal(store.settings.colors, true, "saved all the same");
    return shown;
  };
  assert.deepEqual(await said("NO_COLOR"), [
    "info: colors set to on, but NO_COLOR is set: colours stay off while it is",
    "info: colors set to off (they are off now too: NO_COLOR)",
    "info: colours set to on, but NO_COLOR is set: colours stay off while it is",
  ]);
  assert.deepEqual(await said("--no-color"), [
    "info: colors set to on: from the next start without --no-color",
    "info: colors set to off (they are off now too: --no-color)",
    "info: colours set to on: from the next start without --no-color",
  ]);
  assert.deepEqual(await said(undefined), [
    "info: colors set to on (from the next start)",
    "info: colors set to off (from the next start)",
    "info: colours set to on (from the next start)",
  ]);
  // The page draws colours from the setting: at once, whatever the terminal's flags.
  assert.deepEqual(await said("NO_COLOR", true), [
    "info: colors set to on",
    "info: colors set to off",
    "info: colours set to on",
  ]);
});

Deno.test("app settings: a new name of an ignored identity is found by one bounded lookup", async () => {
  const { state, store, app, commands } = setup(false, {
    eve: EVE,
    eve3: EVE,
    bob: "SHA256:" + "b".repeat(43),
  });
  const msg = (from: string, replay = false): ClientEvent => ({
    t: "server",
    msg: {
      t: "msg",
      room: "#lobby",
      seq: 1,
      ts: 0,
      from,
      text: "hi",
      id: "x",
      ...(replay ? { replay } : {}),
    },
  });
  app.observe(msg("bob"));
  assert.deepEqual(commands, [], "nobody ignored: no lookups");
  await app.perform({ kind: "ignore", name: "eve" });
  app.observe(msg("eve3", true));
  assert.deepEqual(commands, ["whois eve"], "replayed lines are not looked up");
  app.observe(msg("eve3"));
  app.observe(msg("eve3"));
  app.observe(msg("bob"));
  app.observe({
    t: "server",
    msg: { t: "event", ts: 0, kind: "join", name: "carol", room: "#lobby" },
  });
  app.observe(msg("bob"));
  await new Promise((r) => setTimeout(r, 0));
  await app.idle();
  assert.deepEqual(commands, ["whois eve", "whois eve3", "whois bob", "whois carol"]);
  assert.ok(state.ignored.has("eve3"));
  assert.ok(!state.ignored.has("bob"));
  assert.deepEqual(store.settings.servers[HP].ignore[0].names, ["eve3", "eve"]);
});
