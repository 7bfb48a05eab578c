/**
 * The nodes of a chat: the announcement board a cluster's bus fills (bounded parsing, own
 * announcements skipped, stale and departed nodes left out), and what `/service` and the
 * console's `/stats` say with one node and with three.
 */

import assert from "node:assert/strict";
import { FakePeer } from "../support/fake_peer.ts";
import { DEFAULT_LIMITS } from "../../shared/limits.ts";
import { utf8 } from "../../shared/encoding.ts";
import { Blacklist } from "../../shared/names.ts";
import { Hub, type HubOptions } from "../../server/hub.ts";
import { Store } from "../../server/store.ts";
import {
  defaultNodeName,
  NODE_ANNOUNCE_MAX,
  NodeBoard,
  NODES_MAX,
  type NodeStatus,
} from "../../server/nodes.ts";

const fp = (c: string) => "SHA256:" + c.repeat(43);

function board(id: string, self: NodeStatus, clock: { t: number }, staleMs = 5000): NodeBoard {
  return new NodeBoard({ id, self: () => self, now: () => clock.t, staleMs });
}

const raw = (o: unknown) => utf8.encode(JSON.stringify(o));

Deno.test("nodes: boards exchange announcements; own skipped, stale and departed left out", () => {
  const clock = { t: 1000 };
  const a = board("id-a", { name: "alpha", users: 2, connections: 3 }, clock);
  const b = board("id-b", { name: "beta", users: 5, connections: 6 }, clock);
  const c = board("id-c", { name: "gamma", users: 0, connections: 1 }, clock);
  for (const from of [a, b, c]) {
    const bytes = from.announce();
    for (const to of [a, b, c]) to.receive(bytes);
  }
  assert.deepEqual(a.others(), [
    { name: "beta", users: 5, connections: 6 },
    { name: "gamma", users: 0, connections: 1 },
  ]);
  assert.equal(a.receive(a.announce()), false, "its own announcement");
  // beta keeps announcing, gamma falls silent: after staleMs only beta is left.
  clock.t += 3000;
  a.receive(b.announce());
  clock.t += 2500;
  assert.deepEqual(a.others().map((n) => n.name), ["beta"]);
  // beta says goodbye: gone at once.
  assert.equal(a.receive(b.farewell()), true);
  assert.deepEqual(a.others(), []);
});

Deno.test("nodes: malformed, oversized and out-of-range announcements are refused", () => {
  const clock = { t: 0 };
  const a = board("me", { name: "alpha", users: 0, connections: 0 }, clock);
  const good = { v: 1, id: "x", name: "beta", users: 1, connections: 1 };
  const bad: [string, Uint8Array][] = [
    ["not JSON", utf8.encode("{")],
    ["not an object", raw(7)],
    ["version", raw({ ...good, v: 2 })],
    ["no id", raw({ ...good, id: "" })],
    ["long id", raw({ ...good, id: "i".repeat(65) })],
    ["control characters in the name", raw({ ...good, name: "be\u001b[2Jta" })],
    ["a space in the name", raw({ ...good, name: "be ta" })],
    ["long name", raw({ ...good, name: "n".repeat(65) })],
    ["negative users", raw({ ...good, users: -1 })],
    ["fractional connections", raw({ ...good, connections: 1.5 })],
    ["huge users", raw({ ...good, users: 1e12 })],
    ["oversized", raw({ ...good, pad: "x".repeat(NODE_ANNOUNCE_MAX) })],
  ];
  for (const [what, bytes] of bad) assert.equal(a.receive(bytes), false, what);
  assert.deepEqual(a.others(), []);
  assert.equal(a.receive(raw(good)), true);
  assert.deepEqual(a.others(), [{ name: "beta", users: 1, connections: 1 }]);
});

Deno.test("nodes: at most NODES_MAX others; a stale one makes room", () => {
  const clock = { t: 0 };
  const a = board("me", { name: "alpha", users: 0, connections: 0 }, clock, 1000);
  for (let i = 0; i < NODES_MAX; i++) {
    assert.ok(a.receive(raw({ v: 1, id: `n${i}`, name: `n${i}`, users: 0, connections: 0 })));
  }
  const extra = raw({ v: 1, id: "extra", name: "extra", users: 0, connections: 0 });
  assert.equal(a.receive(extra), false, "full");
  assert.equal(a.others().length, NODES_MAX);
  clock.t += 1001;
  assert.equal(a.receive(extra), true, "the stale ones went");
  assert.deepEqual(a.others().map((n) => n.name), ["extra"]);
});

Deno.test("nodes: the default node name is the host name and port, within NODE_NAME", () => {
  assert.equal(defaultNodeName("web1.example", 5000), "web1.example:5000");
  assert.equal(defaultNodeName("we b\u001b1", 5000), "web1:5000");
  assert.equal(defaultNodeName("", 5000), "node:5000");
  assert.equal(defaultNodeName("h".repeat(80), 1).length, 52);
});

function hub(nodes?: NodeBoard): Hub {
  const t = 1_700_000_000_000;
  const store = Store.open(":memory:", { now: () => t, schedule: (commit) => commit() });
  const opts: HubOptions = {
    store,
    now: () => t,
    serverName: "test",
    version: "0.1.0",
    motd: () => "",
    hostFingerprint: fp("H"),
    admins: new Set(),
    blacklist: () => Blacklist.empty(),
    startedAt: t,
    connectionCount: () => 4,
    nodeName: "alpha",
    nodes,
    limits: DEFAULT_LIMITS,
  };
  return new Hub(opts);
}

function login(h: Hub, id: number, name: string): FakePeer {
  const p = new FakePeer(id, fp(String.fromCharCode(65 + id)));
  assert.equal(
    h.authenticate(p, { t: "auth", name, sig_pub: "x", proof: "p", client: "t/0", rooms: [] }),
    "ok",
  );
  p.take();
  return p;
}

function service(h: Hub, p: FakePeer): { text: string; data: Record<string, unknown> } {
  h.handle(p.id, { t: "cmd", id: "q1", name: "service", args: [] });
  const reply = p.take().find((m) => m.t === "reply") as Record<string, unknown>;
  assert.ok(reply, "a reply");
  return { text: reply.text as string, data: reply.data as Record<string, unknown> };
}

Deno.test("nodes: /service and /stats of a single server show its one node", () => {
  const h = hub();
  const p = login(h, 1, "alice");
  login(h, 2, "bob");
  const r = service(h, p);
  assert.match(r.text, /^Node: alpha \(a single server\)$/m);
  assert.match(r.text, /^Nodes: 1, 2 users — alpha 2 users \(this one\)$/m);
  assert.equal(r.data.node, "alpha");
  assert.deepEqual(r.data.nodes, [{ name: "alpha", users: 2 }]);
  const stats = h.consoleLine("/stats");
  assert.match(stats, /^node: alpha$/m);
  assert.match(stats, /^nodes: 1, 2 users\n {2}alpha: 2 users, 4 connections \(this one\)$/m);
});

Deno.test("nodes: /service and /stats of a node in a cluster list every node heard", () => {
  const clock = { t: 0 };
  const me = board("id-a", { name: "alpha", users: 0, connections: 0 }, clock);
  me.receive(raw({ v: 1, id: "id-c", name: "gamma", users: 3, connections: 3 }));
  me.receive(raw({ v: 1, id: "id-b", name: "beta", users: 7, connections: 9 }));
  const h = hub(me);
  const p = login(h, 1, "alice");
  const r = service(h, p);
  assert.match(r.text, /^Node: alpha$/m);
  assert.match(
    r.text,
    /^Nodes: 3, 11 users — alpha 1 user \(this one\), beta 7 users, gamma 3 users$/m,
  );
  assert.equal(r.data.nodeCount, 3);
  assert.deepEqual(r.data.nodes, [
    { name: "alpha", users: 1 },
    { name: "beta", users: 7 },
    { name: "gamma", users: 3 },
  ]);
  assert.equal(
    h.consoleLine("/stats").split("\n").slice(-4).join("\n"),
    [
      "nodes: 3, 11 users",
      "  alpha: 1 user, 4 connections (this one)",
      "  beta: 7 users, 9 connections",
      "  gamma: 3 users, 3 connections",
    ].join("\n"),
  );
});
