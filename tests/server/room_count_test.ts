/**
 * A room's member count in a cluster (server/rooms.ts `count`, with server/roster.ts): names here
 * and on other nodes, a name connected to several nodes or twice here counted once. The count is
 * kept up to date on every local join, leave, drop and rename and every remote change (a user
 * card, a node lost), so it costs no walk of the remote members; random sequences of all of these
 * are checked against the definition, and a count must not iterate the remote members at all.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { HubCore } from "../../server/hub_core.ts";
import { nick } from "../../server/name_claims.ts";
import type { UserCard } from "../../server/roster.ts";
import { Session } from "../../server/sessions.ts";
import { FakePeer } from "../support/fake_peer.ts";
import { fp, peerId, world } from "../support/hub_world.ts";

const ROOMS = ["#lobby", "#a", "#b"];
const NAMES = ["ann", "bob", "cat", "dan", "eve"];
const NODES = ["n1", "n2", "n3"];
const NO_HISTORY = { next: () => [] };

type Op =
  | { k: "login"; who: number }
  | { k: "enter"; s: number; room: number }
  | { k: "exit"; s: number; room: number }
  | { k: "drop"; s: number }
  | { k: "nick"; s: number; name: number }
  | { k: "card"; node: number; name: number; rooms: boolean[] }
  | { k: "gone"; node: number; name: number }
  | { k: "nodeLost"; node: number };

const i = (n: number) => fc.nat({ max: n - 1 });
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ k: fc.constant("login" as const), who: i(NAMES.length) }),
  fc.record({ k: fc.constant("enter" as const), s: i(8), room: i(ROOMS.length) }),
  fc.record({ k: fc.constant("exit" as const), s: i(8), room: i(ROOMS.length) }),
  fc.record({ k: fc.constant("drop" as const), s: i(8) }),
  fc.record({ k: fc.constant("nick" as const), s: i(8), name: i(NAMES.length) }),
  fc.record({
    k: fc.constant("card" as const),
    node: i(NODES.length),
    name: i(NAMES.length),
    rooms: fc.array(fc.boolean(), { minLength: ROOMS.length, maxLength: ROOMS.length }),
  }),
  fc.record({ k: fc.constant("gone" as const), node: i(NODES.length), name: i(NAMES.length) }),
  fc.record({ k: fc.constant("nodeLost" as const), node: i(NODES.length) }),
);

function card(name: string, rooms: string[]): UserCard {
  return {
    name,
    key: name,
    fingerprint: fp("r"),
    sigPub: "x",
    rooms,
    since: 0,
    lastActive: 0,
    ip: "",
  };
}

/** The cards the other nodes sent, as the test keeps them: node → name → rooms. */
type Cards = Map<string, Map<string, string[]>>;

/** The definition: distinct names with a session in `room` here or in a card listing it. */
function expected(core: HubCore, cards: Cards, room: string): number {
  const names = new Set<string>();
  for (const s of core.sessions.byId.values()) if (s.rooms.has(room)) names.add(s.key);
  for (const users of cards.values()) {
    for (const [key, rooms] of users) if (rooms.includes(room)) names.add(key);
  }
  return names.size;
}

/** Runs `ops` on a fresh hub core (identity `who` logs in as `NAMES[who]`), checking each step. */
function run(ops: Op[]): void {
  const core = new HubCore(world().opts);
  const live: Session[] = [];
  const cards: Cards = new Map(NODES.map((n) => [n, new Map()]));
  for (const [step, o] of ops.entries()) {
    const s = "s" in o ? live[o.s % Math.max(1, live.length)] : undefined;
    switch (o.k) {
      case "login": {
        const key = NAMES[o.who];
        const who = String.fromCharCode(65 + o.who);
        const sib = core.sessions.byName.get(key);
        if (sib !== undefined && sib.fingerprint !== fp(who)) break; // the name is someone else's
        if ([...core.sessions.byFp.get(fp(who)) ?? []].some((x) => x.key !== key)) break;
        const x = new Session(new FakePeer(peerId(), fp(who)), key, key, 0);
        core.sessions.add(x, sib === undefined);
        live.push(x);
        break;
      }
      case "enter":
        if (s !== undefined && !s.rooms.has(ROOMS[o.room])) {
          core.rooms.enter(s, ROOMS[o.room], NO_HISTORY);
        }
        break;
      case "exit":
        if (s !== undefined) core.rooms.exit(s, ROOMS[o.room], "left");
        break;
      case "drop":
        if (s !== undefined) {
          core.drop(s, "connection lost");
          live.splice(live.indexOf(s), 1);
        }
        break;
      case "nick":
        if (s !== undefined) {
          try {
            nick(core, s, NAMES[o.name]);
          } catch {
            // in use here, or another identity's: refused, nothing changed
          }
        }
        break;
      case "card": {
        const name = NAMES[o.name];
        const rooms = ROOMS.filter((_, j) => o.rooms[j]);
        core.roster.set(NODES[o.node], name, card(name, rooms));
        cards.get(NODES[o.node])!.set(name, rooms);
        break;
      }
      case "gone":
        core.roster.set(NODES[o.node], NAMES[o.name], undefined);
        cards.get(NODES[o.node])!.delete(NAMES[o.name]);
        break;
      case "nodeLost":
        core.roster.replace(NODES[o.node], undefined);
        cards.get(NODES[o.node])!.clear();
        break;
    }
    for (const room of ROOMS) {
      const want = expected(core, cards, room);
      assert.equal(core.rooms.count(room), want, `${room} after step ${step} ${JSON.stringify(o)}`);
      assert.equal(core.rooms.members(room)?.size ?? 0, want, `${room} listed, step ${step}`);
      assert.equal(core.rooms.info(room).members, want);
    }
  }
}

Deno.test("room count: random joins, leaves, drops, renames, remote cards and lost nodes", () => {
  fc.assert(fc.property(fc.array(op, { maxLength: 80 }), run), { numRuns: 300 });
});

Deno.test("room count: the same name on two nodes and here counts once, through a rename", () => {
  run([
    { k: "login", who: 0 }, // ann here, in nothing yet
    { k: "card", node: 0, name: 0, rooms: [true, true, false] }, // ann on n1
    { k: "card", node: 1, name: 0, rooms: [true, false, true] }, // ann on n2
    { k: "enter", s: 0, room: 0 },
    { k: "enter", s: 0, room: 1 },
    { k: "login", who: 0 }, // a second session of ann
    { k: "enter", s: 1, room: 0 },
    { k: "gone", node: 0, name: 0 }, // n2's ann stays listed in #lobby, n1's #a goes
    { k: "nick", s: 0, name: 1 }, // ann is bob now, here
    { k: "card", node: 2, name: 1, rooms: [true, true, true] },
    { k: "nodeLost", node: 1 },
    { k: "drop", s: 1 },
    { k: "exit", s: 0, room: 0 },
    { k: "nodeLost", node: 2 },
  ]);
});

Deno.test("room count: a name leaving one node stays listed in a room another node has it in", () => {
  run([
    { k: "card", node: 0, name: 2, rooms: [false, true, false] }, // cat on n1 in #a
    { k: "card", node: 1, name: 2, rooms: [true, false, false] }, // cat on n2, not in #a
    { k: "card", node: 2, name: 2, rooms: [false, true, false] }, // cat on n3 in #a
    { k: "gone", node: 0, name: 2 }, // #a still has cat (n3's)
    { k: "nodeLost", node: 2 },
  ]);
});

Deno.test("room count: counting does not walk the remote members", () => {
  const core = new HubCore(world().opts);
  for (let n = 0; n < 1000; n++) {
    core.roster.set("n1", `u${n}`, card(`u${n}`, ["#lobby"]));
  }
  const x = new Session(new FakePeer(peerId(), fp("A")), "u7", "u7", 0);
  core.sessions.add(x, true);
  core.rooms.enter(x, "#lobby", NO_HISTORY);
  const members = core.roster.members.bind(core.roster);
  core.roster.members = (room) => {
    const m = members(room);
    if (m === undefined) return undefined;
    const fail = () => {
      throw new Error("the remote members were walked");
    };
    return {
      size: m.size,
      has: (k: string) => m.has(k),
      get: (k: string) => m.get(k),
      values: fail,
      keys: fail,
      entries: fail,
      forEach: fail,
      [Symbol.iterator]: fail,
    } as unknown as ReadonlyMap<string, never>;
  };
  assert.equal(core.rooms.count("#lobby"), 1000);
  assert.equal(core.rooms.info("#lobby").members, 1000);
});
