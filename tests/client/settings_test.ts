import assert from "node:assert/strict";
import {
  addIgnore,
  applySet,
  defaultSettings,
  describeSettings,
  ignoredNames,
  parseSettings,
  removeIgnore,
  renameIgnored,
  roomName,
  serializeSettings,
  SETTINGS_MAX_BYTES,
  SettingsError,
  startSettings,
} from "../../client/settings.ts";
import { SettingsFile } from "../../client/settings_file.ts";

const FP = "SHA256:" + "A".repeat(43);
const FP2 = "SHA256:" + "B".repeat(43);
const HP = "127.0.0.1:5000";

Deno.test("settings: a full file is read; unknown keys are kept at every level", () => {
  const text = JSON.stringify({
    bell: "all",
    timestamps: false,
    colors: false,
    theme: { dark: true },
    servers: {
      [HP]: {
        name: "alice",
        rooms: ["#lobby", "#dev"],
        ignore: [{ fingerprint: FP, names: ["eve", "eve2"] }],
        note: "kept",
      },
    },
  });
  const s = parseSettings(text);
  assert.equal(s.bell, "all");
  assert.equal(s.timestamps, false);
  assert.equal(s.colors, false);
  assert.deepEqual(s.other, { theme: { dark: true } });
  assert.equal(s.servers[HP].name, "alice");
  assert.deepEqual(s.servers[HP].rooms, ["#lobby", "#dev"]);
  assert.deepEqual(s.servers[HP].other, { note: "kept" });
  assert.deepEqual([...ignoredNames(s, HP)].sort(), ["eve", "eve2"]);
  // Round trip: the same object back, unknown keys included.
  assert.deepEqual(JSON.parse(serializeSettings(s)), JSON.parse(text));
  assert.deepEqual(parseSettings("{}"), defaultSettings());
});

Deno.test("settings: a bad file is refused with an error naming the key", () => {
  const cases: [string, string][] = [
    ["[]", "(file)"],
    ["{", "(file)"],
    ['{"bell":"loud"}', "bell"],
    ['{"timestamps":"yes"}', "timestamps"],
    ['{"colors":1}', "colors"],
    ['{"servers":[]}', "servers"],
    [`{"servers":{"${HP}":{"name":"no spaces allowed"}}}`, `servers.${HP}.name`],
    [`{"servers":{"${HP}":{"rooms":["#ok","bad room"]}}}`, `servers.${HP}.rooms`],
    [
      `{"servers":{"${HP}":{"rooms":${JSON.stringify(Array(33).fill("#r"))}}}}`,
      `servers.${HP}.rooms`,
    ],
    [
      `{"servers":{"${HP}":{"ignore":[{"fingerprint":"x","names":["eve"]}]}}}`,
      `servers.${HP}.ignore[0]`,
    ],
    [
      `{"servers":{"${HP}":{"ignore":[{"fingerprint":"${FP}","names":[]}]}}}`,
      `servers.${HP}.ignore[0].names`,
    ],
    ['{"__proto__":{"bell":"off"}}', "__proto__"],
  ];
  for (const [text, key] of cases) {
    assert.throws(() => parseSettings(text), (e: unknown) => {
      assert.ok(e instanceof SettingsError, text);
      assert.equal(e.key, key, text);
      assert.ok(e.message.includes(`"${key}"`), e.message);
      return true;
    });
  }
});

Deno.test("settings: /set validates and changes one key; bad values leave everything as it was", () => {
  const s = defaultSettings();
  applySet(s, HP, "bell", "off");
  applySet(s, HP, "timestamps", "off");
  applySet(s, HP, "colours", "no");
  applySet(s, HP, "name", "alice");
  applySet(s, HP, "rooms", "dev #ops, lobby");
  assert.equal(s.bell, "off");
  assert.equal(s.timestamps, false);
  assert.equal(s.colors, false);
  assert.equal(s.servers[HP].name, "alice");
  assert.deepEqual(s.servers[HP].rooms, ["#dev", "#ops", "#lobby"]);
  const before = structuredClone(s);
  const bad: [string, string, RegExp][] = [
    ["bell", "loud", /expected mention, all or off/],
    ["timestamps", "maybe", /expected on or off/],
    ["name", "a b", /\/set name: That name contains a character/],
    ["rooms", "#ok bad!room", /"bad!room" is not a room name/],
    ["rooms", "", /at least one room/],
    ["volume", "11", /unknown setting "volume"; known: bell, timestamps, colors, name, rooms/],
  ];
  for (const [k, v, why] of bad) assert.throws(() => applySet(s, HP, k, v), why);
  assert.deepEqual(s, before);
  applySet(s, HP, "name", "-");
  applySet(s, HP, "rooms", "-");
  assert.equal(s.servers[HP].name, undefined);
  assert.deepEqual(s.servers[HP].rooms, []);
  assert.match(describeSettings(s, HP, "/x/config.json"), /bell {8}off\n {2}timestamps {2}off/);
});

Deno.test("settings: ignores follow an identity's names; unignore by any name or fingerprint", () => {
  const s = defaultSettings();
  assert.equal(addIgnore(s, HP, FP, "eve"), true);
  assert.equal(addIgnore(s, HP, FP, "EVE"), false);
  assert.equal(renameIgnored(s, HP, "eve", "eve2"), true);
  assert.equal(renameIgnored(s, HP, "bob", "bob2"), false);
  assert.deepEqual(s.servers[HP].ignore, [{ fingerprint: FP, names: ["eve2", "eve"] }]);
  assert.deepEqual([...ignoredNames(s, HP)].sort(), ["eve", "eve2"]);
  assert.deepEqual([...ignoredNames(s, "other:1")], [], "ignores are per server");
  addIgnore(s, HP, FP2, "mallory");
  assert.equal(removeIgnore(s, HP, "nobody"), undefined);
  assert.equal(removeIgnore(s, HP, "Eve")?.fingerprint, FP);
  assert.equal(removeIgnore(s, HP, FP2)?.names[0], "mallory");
  assert.deepEqual(s.servers[HP].ignore, []);
});

Deno.test("settings: the command line wins over the file, the file over the defaults", () => {
  const s = parseSettings(JSON.stringify({
    bell: "off",
    colors: false,
    servers: { [HP]: { name: "alice", rooms: ["#dev", "#ops"] } },
  }));
  assert.deepEqual(startSettings(s, HP, { color: true }, true), {
    name: "alice",
    room: "#dev",
    rooms: ["#dev", "#ops"],
    bell: "off",
    timestamps: true,
    colors: false,
  });
  const flags = { name: "bob", room: "#ops", bell: "all" as const, color: true };
  assert.deepEqual(startSettings(s, HP, flags, true).rooms, ["#ops", "#dev"]);
  assert.equal(startSettings(s, HP, flags, true).name, "bob");
  assert.equal(startSettings(s, HP, flags, true).bell, "all");
  // Plain mode (no rejoin): only the --room, or #lobby.
  assert.deepEqual(startSettings(s, HP, { color: true }, false).rooms, ["#lobby"]);
  assert.deepEqual(startSettings(s, "else:1", { color: true }, true), {
    room: "#lobby",
    rooms: ["#lobby"],
    bell: "off",
    timestamps: true,
    colors: false,
  });
  assert.equal(startSettings(defaultSettings(), HP, { color: false }, true).colors, false);
  assert.equal(roomName("dev"), "#dev");
  assert.equal(roomName("#dev"), "#dev");
  assert.equal(roomName("bad room"), undefined);
  assert.equal(roomName("##"), undefined);
});

Deno.test("settings file: missing is defaults; writes are atomic, mode 0600, and keep other keys", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-settings-" });
  try {
    const path = `${dir}/home/config.json`;
    const f = await SettingsFile.load(path);
    assert.deepEqual(f.settings, defaultSettings());
    await f.update((s) => applySet(s, HP, "name", "alice"));
    if (Deno.build.os !== "windows") assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    // Someone edits the file meanwhile: an update applies to what is there now.
    const edited = JSON.parse(await Deno.readTextFile(path));
    edited.extra = [1, 2];
    edited.bell = "all";
    await Deno.writeTextFile(path, JSON.stringify(edited));
    await Promise.all([
      f.update((s) => applySet(s, HP, "rooms", "#a")),
      f.update((s) => applySet(s, HP, "timestamps", "off")),
    ]);
    const now = JSON.parse(await Deno.readTextFile(path));
    assert.deepEqual(now.extra, [1, 2]);
    assert.equal(now.bell, "all");
    assert.equal(now.timestamps, false);
    assert.deepEqual(now.servers[HP], { name: "alice", rooms: ["#a"] });
    assert.deepEqual([...Deno.readDirSync(`${dir}/home`)].map((e) => e.name), ["config.json"]);
    // A change that throws writes nothing.
    await assert.rejects(f.update((s) => applySet(s, HP, "bell", "loud")), RangeError);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(path)), now);
    // A file made bad meanwhile is left alone; the error names the key.
    await Deno.writeTextFile(path, '{"bell": 3}');
    await assert.rejects(
      f.update((s) => applySet(s, HP, "bell", "off")),
      /config\.json: settings: "bell"/,
    );
    assert.equal(await Deno.readTextFile(path), '{"bell": 3}');
    await assert.rejects(SettingsFile.load(path), SettingsError);
    // Over the bound: refused before reading.
    await Deno.writeTextFile(path, " ".repeat(SETTINGS_MAX_BYTES + 1));
    await assert.rejects(SettingsFile.load(path), /larger than/);
    // Not a regular file.
    await Deno.remove(path);
    await Deno.mkdir(path);
    await assert.rejects(SettingsFile.load(path), /not a regular file/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
