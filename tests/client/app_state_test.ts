/** The application's pure parts: input parsing, what replies teach it, and its state. */

import assert from "node:assert/strict";
import { AppState, commandsInHelp, namesInData } from "../../client/app_state.ts";
import { type Action, parseInput } from "../../client/input.ts";
import { msg, TS, welcome } from "../support/client_events.ts";

// ---- parseInput ----

Deno.test("app: parseInput sorts lines into messages, local and server commands", () => {
  const cases: [string, Action][] = [
    ["hello", { kind: "say", text: "hello", me: false }],
    ["  hello  ", { kind: "say", text: "  hello", me: false }],
    ["   ", { kind: "none" }],
    ["<exit chat>", { kind: "quit" }],
    ["  <exit chat> ", { kind: "quit" }],
    ["/quit", { kind: "quit" }],
    ["/QUIT", { kind: "quit" }],
    ["//etc/passwd is a path", { kind: "say", text: "/etc/passwd is a path", me: false }],
    ["/me waves  hello", { kind: "say", text: "waves  hello", me: true }],
    ["/me", { kind: "error", text: "usage: /me action" }],
    ["/msg bob hi", { kind: "error", text: "private messages are not available yet" }],
    ["/help", { kind: "help" }],
    ["/clear", { kind: "clear" }],
    ["/ignore", { kind: "ignore", name: undefined }],
    ["/ignore bob", { kind: "ignore", name: "bob" }],
    ["/unignore", { kind: "error", text: "usage: /unignore NAME" }],
    ["/unignore bob", { kind: "unignore", name: "bob" }],
    ["/timestamp off", { kind: "timestamp", on: false }],
    ["/timestamp maybe", { kind: "error", text: "usage: /timestamp on|off" }],
    ["/bell all", { kind: "bell", mode: "all" }],
    ["/bell loud", { kind: "error", text: "usage: /bell mention|all|off" }],
    ["/join #dev", { kind: "join", room: "#dev" }],
    ["/join dev", { kind: "join", room: "#dev" }],
    ["/join", { kind: "error", text: "usage: /join #room [--private]" }],
    ["/join #team --private", { kind: "join", room: "#team", private: true }],
    ["/join #team --secret", { kind: "error", text: "usage: /join #room [--private]" }],
    ["/rooms", { kind: "command", name: "rooms", args: [] }],
    ["/whois  bob ", { kind: "command", name: "whois", args: ["bob"] }],
    ["/who", { kind: "command", name: "who", args: [] }],
    ["/who #dev", { kind: "command", name: "who", args: ["#dev"] }],
    ["/history 20", { kind: "command", name: "history", args: ["#lobby", "20"] }],
    ["/leave", { kind: "command", name: "leave", args: ["#lobby"] }],
    ["/topic cats  and dogs", {
      kind: "command",
      name: "topic",
      args: ["#lobby", "cats  and dogs"],
    }],
    ["/topic #dev cats", { kind: "command", name: "topic", args: ["#dev", "cats"] }],
    ["/topic", { kind: "command", name: "topic", args: ["#lobby"] }],
    ["/mode +i", { kind: "command", name: "mode", args: ["#lobby", "+i"] }],
    ["/mode #dev +t", { kind: "command", name: "mode", args: ["#dev", "+t"] }],
    ["/invite bob", { kind: "command", name: "invite", args: ["bob", "#lobby"] }],
    ["/invite bob #dev", { kind: "command", name: "invite", args: ["bob", "#dev"] }],
    ["/invite", { kind: "command", name: "invite", args: [] }],
    ["/away gone  fishing", { kind: "command", name: "away", args: ["gone  fishing"] }],
    ["/away", { kind: "command", name: "away", args: [] }],
    ["/kick bob being rude", { kind: "command", name: "kick", args: ["bob", "being rude"] }],
    ["/kick #dev bob being rude", {
      kind: "command",
      name: "kick",
      args: ["#dev", "bob", "being rude"],
    }],
    ["/ban bob", { kind: "command", name: "ban", args: ["bob"] }],
    ["/ban bob 10m  spam", { kind: "command", name: "ban", args: ["bob", "10m", "spam"] }],
    ["/motd be nice", { kind: "command", name: "motd", args: ["be nice"] }],
    ["/nick new name", { kind: "command", name: "nick", args: ["new", "name"] }],
    ["/nick release bob", { kind: "command", name: "nick", args: ["release", "bob"] }],
    ["/Service", { kind: "command", name: "service", args: [] }],
    ["/x;y", { kind: "error", text: "unknown command; try /help" }],
    ["/win 3", { kind: "win", spec: "3" }],
    ["/win #dev", { kind: "win", spec: "#dev" }],
    ["/win", { kind: "error", text: "usage: /win N|#room|NAME" }],
    ["/query bob", { kind: "query", name: "bob" }],
    ["/query", { kind: "error", text: "usage: /query NAME" }],
    ["/close", { kind: "close" }],
    ["/close now", { kind: "error", text: "usage: /close" }],
    ["/unban " + "a ".repeat(33), { kind: "error", text: "at most 32 arguments" }],
  ];
  for (const [line, want] of cases) assert.deepEqual(parseInput(line, "#lobby"), want, line);
  assert.equal(parseInput("/join #Bad!", "#lobby").kind, "error");
});

Deno.test("app: names and commands are harvested from reply data and help text", () => {
  assert.deepEqual(namesInData(["bob", { name: "carol" }, 3, { x: 1 }]), ["bob", "carol"]);
  assert.deepEqual(namesInData({ members: [{ name: "bob", away: true }] }), ["bob"]);
  assert.deepEqual(namesInData("bob"), []);
  assert.deepEqual(namesInData(null), []);
  assert.deepEqual(
    commandsInHelp({
      t: "reply",
      id: "x",
      text: "/who [#room]  list\n  /rooms  all\nnot a command",
    }),
    ["who", "rooms"],
  );
  assert.deepEqual(commandsInHelp({ t: "reply", id: "x", data: [{ name: "/kick" }, "BAD!"] }), [
    "kick",
  ]);
});

// ---- AppState ----

Deno.test("app: AppState follows welcome, joins, leaves, nicks and kicks", () => {
  const s = new AppState("#lobby");
  s.apply(welcome(["#lobby", "#dev"]));
  assert.equal(s.me, "alice");
  assert.deepEqual([...s.rooms], ["#lobby", "#dev"]);
  s.apply({ t: "server", msg: msg({ from: "bob" }) });
  s.apply({
    t: "server",
    msg: { t: "event", ts: TS, kind: "join", room: "#lobby", name: "carol" },
  });
  assert.deepEqual(s.namesIn("#lobby"), ["bob", "carol"]);
  s.apply({ t: "server", msg: { t: "event", ts: TS, kind: "nick", name: "robert", old: "BOB" } });
  assert.deepEqual(s.namesIn("#lobby"), ["carol", "robert"]);
  s.apply({
    t: "server",
    msg: { t: "event", ts: TS, kind: "leave", room: "#lobby", name: "carol" },
  });
  assert.deepEqual(s.namesIn("#lobby"), ["robert"]);
  s.apply({ t: "server", msg: { t: "event", ts: TS, kind: "nick", name: "alicia", old: "alice" } });
  assert.equal(s.me, "alicia");
  s.apply({
    t: "server",
    msg: { t: "event", ts: TS, kind: "kick", room: "#lobby", name: "Alicia" },
  });
  assert.deepEqual([...s.rooms], ["#dev"]);
  assert.equal(s.room, "#dev");
  assert.deepEqual(s.completions().rooms, ["#dev", "#lobby"]);
  const other = new AppState("#gone");
  other.apply(welcome(["#lobby"]));
  assert.equal(other.room, "#lobby", "a room the server did not confirm is replaced");
});
