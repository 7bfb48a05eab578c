/**
 * The server's rules for private rooms (docs/protocol.md §8), on the hub over a real store: a
 * room's kind, who may post what, durable membership (kept on a lost connection, ended by leave,
 * kick and ban), sender keys relayed and replayed only to their addressee, key requests.
 */

import assert from "node:assert/strict";
import { FakePeer, type Json } from "../support/fake_peer.ts";
import { DEFAULT_LIMITS } from "../../shared/limits.ts";
import { Blacklist } from "../../shared/names.ts";
import { Hub } from "../../server/hub.ts";
import { Store } from "../../server/store.ts";

const fp = (c: string) => "SHA256:" + c.repeat(43);
let n = 0;
const mid = () => btoa(String(++n).padStart(16, "0"));
const ENV = btoa("x".repeat(600));

async function withHub(
  body: (w: { hub: Hub; store: Store }) => void | Promise<void>,
  limits = DEFAULT_LIMITS,
) {
  const dir = await Deno.makeTempDir({ prefix: "chat_private_" });
  const store = Store.open(`${dir}/db.sqlite`, { schedule: (c) => c() });
  const hub = new Hub({
    store,
    limits,
    now: () => 1_700_000_000_000,
    serverName: "test",
    version: "0.1.0",
    motd: () => "",
    hostFingerprint: fp("H"),
    admins: new Set([fp("A")]),
    blacklist: () => Blacklist.parse(""),
    startedAt: 0,
    connectionCount: () => 0,
  });
  try {
    await body({ hub, store });
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

let peers = 0;
function connect(hub: Hub, name: string, opts: { kem?: boolean; rooms?: string[] } = {}) {
  const p = new FakePeer(
    ++peers,
    fp(name[0].toUpperCase()),
    "192.0.2.1",
    opts.kem === false ? undefined : `kem-${name}`,
    opts.kem === false ? undefined : `kemsig-${name}`,
  );
  const auth = {
    t: "auth" as const,
    name,
    sig_pub: "x",
    proof: "p",
    client: "t",
    rooms: opts.rooms ?? ["#lobby"],
  };
  assert.equal(hub.authenticate(p, auth), "ok");
  return p;
}

function cmd(hub: Hub, p: FakePeer, name: string, ...args: string[]): Json {
  const id = mid();
  hub.handle(p.id, { t: "cmd", id, name, args });
  const all = p.take();
  const r = all.find((m) => m.id === id && (m.t === "reply" || m.t === "error"));
  assert.ok(r, JSON.stringify(all));
  return r;
}

const codeOf = (r: Json) => r.t === "error" ? r.code : "ok";

Deno.test("private rooms: kinds are chosen at creation and shown; plain rooms are untouched", async () => {
  await withHub(({ hub }) => {
    const a = connect(hub, "alice");
    const r = cmd(hub, a, "join", "#team", "--private");
    assert.equal(codeOf(r), "ok");
    assert.deepEqual(r.data, { name: "#team", topic: "", members: 1, private: true });
    assert.equal(codeOf(cmd(hub, a, "join", "#open")), "ok");
    const b = connect(hub, "bob");
    assert.equal(codeOf(cmd(hub, b, "join", "#open", "--private")), "not_private");
    assert.equal(codeOf(cmd(hub, b, "join", "#lobby", "--private")), "not_private");
    assert.equal(codeOf(cmd(hub, b, "join", "#x", "--secret")), "bad_args");
    const j = cmd(hub, b, "join", "#team");
    assert.equal(j.data.private, true, "joining a private room says so");
    const rooms = cmd(hub, b, "rooms");
    assert.match(rooms.text, /#team \[private\]/);
    assert.ok(!/#open \[private\]/.test(rooms.text));
    // A client without a private-message key cannot be a member.
    const c = connect(hub, "carol", { kem: false });
    assert.equal(codeOf(cmd(hub, c, "join", "#team")), "dm_key_required");
    assert.equal(codeOf(cmd(hub, c, "join", "#new", "--private")), "dm_key_required");
  });
});

Deno.test("private rooms: /private by the only member, announced; never with others present", async () => {
  await withHub(({ hub }) => {
    const a = connect(hub, "alice");
    cmd(hub, a, "join", "#r");
    const b = connect(hub, "bob");
    cmd(hub, b, "join", "#r");
    a.take();
    assert.equal(codeOf(cmd(hub, a, "private", "#r")), "not_permitted");
    cmd(hub, b, "leave", "#r");
    const id = mid();
    hub.handle(a.id, { t: "cmd", id, name: "private", args: ["#r"] });
    const got = a.take();
    assert.ok(got.some((m) => m.t === "event" && m.kind === "mode" && m.text === "+private"));
    assert.equal(cmd(hub, b, "join", "#r").data.private, true);
    assert.equal(codeOf(cmd(hub, a, "private", "#lobby")), "not_permitted");
    assert.deepEqual(
      cmd(hub, a, "members", "#r").data.members.map((m: Json) => m.name),
      ["alice", "bob"],
    );
  });
});

Deno.test("private rooms: only sealed lines, only by members; plain rooms refuse sealed ones", async () => {
  await withHub(({ hub }) => {
    const a = connect(hub, "alice");
    cmd(hub, a, "join", "#team", "--private");
    cmd(hub, a, "join", "#open");
    const say = (p: FakePeer, room: string, m: Record<string, unknown>) => {
      const id = mid();
      hub.handle(p.id, { t: "say", id, room, text: "", ...m } as never);
      return p.take().find((x) => x.id === id)!;
    };
    assert.equal(say(a, "#team", { text: "in clear" }).code, "private_room");
    assert.equal(say(a, "#open", { sealed: ENV }).code, "not_private");
    assert.equal(say(a, "#team", { sealed: "not base64!" }).code, "bad_envelope");
    assert.equal(say(a, "#team", { sealed: btoa("x".repeat(8193)) }).code, "too_long");
    const ok = say(a, "#team", { sealed: ENV });
    assert.equal(ok.t, "msg");
    assert.equal(ok.sealed, ENV);
    assert.equal(ok.text, undefined);
    const b = connect(hub, "bob");
    assert.equal(say(b, "#team", { sealed: ENV }).code, "not_in_room");
  });
});

Deno.test("private rooms: a sender key reaches, live and replayed, only its addressee", async () => {
  await withHub(({ hub }) => {
    const a = connect(hub, "alice");
    cmd(hub, a, "join", "#team", "--private");
    const b = connect(hub, "bob");
    cmd(hub, b, "join", "#team");
    const c = connect(hub, "carol");
    cmd(hub, c, "join", "#team");
    a.take();
    b.take();
    const kid = mid();
    assert.equal(codeOf(cmd(hub, a, "skey", "#team", "bob", kid, ENV)), "ok");
    const toBob = b.take().filter((m) => m.t === "msg");
    assert.deepEqual(toBob.map((m) => [m.key, m.text, m.from]), [[ENV, undefined, "alice"]]);
    assert.deepEqual(c.take().filter((m) => m.t === "msg"), [], "carol gets nothing");
    assert.equal(codeOf(cmd(hub, a, "skey", "#team", "dave", mid(), ENV)), "not_in_room");
    assert.equal(codeOf(cmd(hub, a, "skey", "#team", "bob", "short", ENV)), "bad_args");
    assert.equal(
      codeOf(cmd(hub, a, "skey", "#team", "bob", mid(), btoa("k".repeat(2049)))),
      "too_long",
    );
    // The history shows the key to bob only.
    const hb = mid();
    hub.handle(b.id, { t: "cmd", id: hb, name: "history", args: ["#team", "10"] });
    assert.ok(b.take().some((m) => m.t === "msg" && m.key === ENV && m.replay === true));
    const hc = mid();
    hub.handle(c.id, { t: "cmd", id: hc, name: "history", args: ["#team", "10"] });
    assert.ok(!c.take().some((m) => m.t === "msg"));
    // keyreq goes to the addressee's sessions only, as an event.
    cmd(hub, c, "keyreq", "#team", "alice");
    assert.deepEqual(
      a.take().filter((m) => m.t === "event").map((m) => [m.kind, m.name, m.room]),
      [["keyreq", "carol", "#team"]],
    );
    assert.deepEqual(b.take(), []);
  });
});

Deno.test("private rooms: membership survives a lost connection; leave and kick end it", async () => {
  await withHub(({ hub }) => {
    const a = connect(hub, "alice");
    cmd(hub, a, "join", "#team", "--private");
    const names = () => cmd(hub, a, "members", "#team").data.members.map((m: Json) => m.name);
    const b = connect(hub, "bob", { rooms: ["#team"] });
    const c = connect(hub, "carol", { rooms: ["#team"] });
    const d = connect(hub, "dave", { rooms: ["#team"] });
    assert.deepEqual(names(), ["alice", "bob", "carol", "dave"]);
    hub.disconnect(b.id, "connection lost");
    assert.deepEqual(names(), ["alice", "bob", "carol", "dave"], "bob is away, still a member");
    // bob's keys are served from the membership while he is away.
    assert.equal(cmd(hub, a, "keys", "bob", "#team").data.kem_pub, "kem-bob");
    // And without the room, from the keys kept for owners who are offline (the DM queue).
    assert.equal(cmd(hub, a, "keys", "bob").data.kem_pub, "kem-bob");
    cmd(hub, c, "leave", "#team");
    cmd(hub, a, "kick", "#team", "dave");
    assert.deepEqual(names(), ["alice", "bob"]);
    assert.equal(codeOf(cmd(hub, a, "keys", "carol", "#team")), "not_in_room");
    assert.equal(codeOf(cmd(hub, d, "members", "#team")), "not_in_room");
    // The room stays private when it empties, and bob is a member when he comes back.
    hub.disconnect(a.id, "quit");
    const b2 = connect(hub, "bob", { rooms: ["#team"] });
    const r = cmd(hub, b2, "members", "#team");
    assert.deepEqual(r.data.members.map((m: Json) => m.name), ["alice", "bob"]);
    assert.equal(cmd(hub, b2, "rooms").text.includes("#team [private]"), true);
  });
});

Deno.test("private rooms: a member who is away can be kicked or banned from them, announced", async () => {
  await withHub(({ hub }) => {
    const a = connect(hub, "alice");
    cmd(hub, a, "join", "#team", "--private");
    const names = () => cmd(hub, a, "members", "#team").data.members.map((m: Json) => m.name);
    const b = connect(hub, "bob", { rooms: ["#team"] });
    const c = connect(hub, "carol", { rooms: ["#team"] });
    hub.disconnect(b.id, "connection lost");
    hub.disconnect(c.id, "connection lost");
    a.take();
    const kid = mid();
    hub.handle(a.id, { t: "cmd", id: kid, name: "kick", args: ["#team", "bob", "bye"] });
    const kicked = a.take();
    assert.deepEqual(
      kicked.map((m) => m.t === "event" ? `${m.kind} ${m.name} ${m.reason}` : m.t),
      ["kick bob bye", "reply"],
    );
    assert.deepEqual(names(), ["alice", "carol"]);
    assert.equal(codeOf(cmd(hub, a, "kick", "#team", "bob")), "no_such_user");
    const id = mid();
    hub.handle(a.id, { t: "cmd", id, name: "ban", args: ["carol"] });
    const got = a.take();
    assert.ok(got.some((m) => m.t === "event" && m.kind === "ban" && m.name === "carol"));
    assert.deepEqual(names(), ["alice"]);
  });
});

Deno.test("private rooms: an ended membership is told to everyone even in a quiet room", async () => {
  await withHub(({ hub }) => {
    const a = connect(hub, "alice");
    cmd(hub, a, "join", "#team", "--private");
    const b = connect(hub, "bob", { rooms: ["#team"] });
    const c = connect(hub, "carol", { rooms: ["#team"] });
    a.take();
    b.take();
    hub.disconnect(c.id, "connection lost");
    assert.deepEqual(
      a.take().filter((m) => m.t === "event"),
      [],
      "quiet: a lost connection is not told",
    );
    const c2 = connect(hub, "carol", { rooms: ["#team"] });
    a.take();
    cmd(hub, c2, "leave", "#team");
    const told = a.take().filter((m) => m.t === "event").map((m) => [m.kind, m.name, m.reason]);
    assert.deepEqual(told, [["leave", "carol", "left"]]);
    assert.deepEqual(b.take().filter((m) => m.t === "event").length, 1);
  }, { ...DEFAULT_LIMITS, quietRoomMembers: 1 });
});
