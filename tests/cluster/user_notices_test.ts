/**
 * Cluster mode with real processes: a user's away, back and nick change reach a reader on
 * another node once, without a room, though the bus carries one copy per room they share.
 * Skipped (with a message) when nats-server is missing.
 */

import assert from "node:assert/strict";
import { command, TestCluster } from "../support/cluster.ts";
import { EvilClient } from "../support/evil_client.ts";
import { natsAvailable } from "../support/nats.ts";

type Obj = Record<string, unknown>;

const ignore = !natsAvailable("cluster user notice tests");
const ROOMS = ["#lobby", "#dev", "#ops"];

async function login(port: number, name: string): Promise<EvilClient> {
  const c = await EvilClient.connect(port);
  await c.handshake();
  await c.auth({ name, rooms: ROOMS });
  const { match } = await c.readUntil((m) => m.t === "welcome" || m.t === "error");
  assert.equal(match?.t, "welcome", JSON.stringify(match));
  return c;
}

Deno.test({
  name: "cluster: away, back and nick reach a reader on another node once",
  ignore,
  fn: async () => {
    await using cluster = await TestCluster.start();
    const { clients: open } = cluster;
    const servers = await cluster.startNodes(2);
    const bob = await login(servers[1].port, "bob");
    open.push(bob);
    const alice = await login(servers[0].port, "alice");
    open.push(alice);
    // Bob hears alice join each room: the nodes see each other.
    const joins = new Set<string>();
    while (joins.size < ROOMS.length) {
      const { match } = await bob.readUntil((m) => m.t === "event" && m.kind === "join");
      if (match?.name === "alice") joins.add(String(match.room));
    }
    for (const [name, args] of [["away", ["lunch"]], ["back", []], ["nick", ["alicia"]]]) {
      assert.equal((await command(alice, name as string, args as string[])).t, "reply");
    }
    // The bus keeps one node's order: once the marker arrives, every earlier copy has.
    assert.equal((await command(alice, "away", ["marker"])).t, "reply");
    const { seen } = await bob.readUntil((m) => m.t === "event" && m.text === "marker", 10_000);
    const notices = seen.filter((m: Obj) =>
      m.t === "event" && ["away", "back", "nick"].includes(m.kind as string)
    ).map(({ ts: _, ...m }) => m);
    assert.deepEqual(notices, [
      { t: "event", kind: "away", name: "alice", text: "lunch" },
      { t: "event", kind: "back", name: "alice" },
      { t: "event", kind: "nick", name: "alicia", old: "alice" },
      { t: "event", kind: "away", name: "alicia", text: "marker" },
    ]);
  },
});
