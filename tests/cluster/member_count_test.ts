/**
 * Member counts in a cluster with real processes (one nats-server, two `chat server --cluster`
 * nodes): a name connected to both nodes counts once in `/rooms` and in the answer to `/join`,
 * through joins and leaves on either node, a rename on the other node, and the loss of that node.
 * Skipped (with a message) when nats-server is missing.
 */

import assert from "node:assert/strict";
import { command, commandUntil as pollUntil, login, TestCluster } from "../support/cluster.ts";
import type { EvilClient } from "../support/evil_client.ts";
import { natsAvailable } from "../support/nats.ts";

type Obj = Record<string, unknown>;

/** Polls `/name args` until `pred` holds, for up to `ms` (10 s by default: nodes take a while). */
const commandUntil = (
  c: EvilClient,
  name: string,
  args: string[],
  pred: (answer: Obj) => boolean,
  ms = 10_000,
): Promise<Obj> => pollUntil(c, name, args, pred, ms);

const ignore = !natsAvailable("cluster member count tests");

/** The member count `/rooms` gives for `room` in `answer` (undefined: not listed). */
function members(answer: Obj, room: string): number | undefined {
  return (answer.data as Obj[] | undefined)?.find((r) => r.name === room)?.members as
    | number
    | undefined;
}

Deno.test({
  name: "cluster: a name on two nodes counts once; joins, leaves, a rename and a lost node",
  ignore,
  fn: async () => {
    await using cluster = await TestCluster.start();
    // Many commands from one client: a generous rate limit.
    const [n1, n2] = await cluster.startNodes(2, {
      args: ["--limit", "ratePerSecond=100", "--limit", "rateBurst=200"],
    });
    const alice1 = await login(n1.port, "alice");
    cluster.clients.push(alice1);
    const alice2 = await login(n2.port, "alice", alice1.key); // the same identity and name
    const bob = await login(n2.port, "bob");
    cluster.clients.push(alice2, bob);
    const rooms = (room: string, n: number | undefined) =>
      commandUntil(alice1, "rooms", [], (r) => members(r, room) === n);

    // #lobby on node 1: alice (here and on node 2) and bob.
    await rooms("#lobby", 2);
    // alice joins #dev on node 2, then on node 1: the join's answer counts her once.
    assert.equal((await command(alice2, "join", ["#dev"])).t, "reply");
    await rooms("#dev", 1);
    const joined = await command(alice1, "join", ["#dev"]);
    assert.equal((joined.data as Obj).members, 1, JSON.stringify(joined));
    assert.equal(members(await command(alice1, "rooms"), "#dev"), 1);
    // bob joins #dev on node 2: 2; alice leaves it on node 2: still 2 (she is in it on node 1).
    assert.equal((await command(bob, "join", ["#dev"])).t, "reply");
    await rooms("#dev", 2);
    assert.equal((await command(alice2, "leave", ["#dev"])).t, "reply");
    await commandUntil(alice2, "rooms", [], (r) => members(r, "#dev") === 2);
    assert.equal(members(await command(alice1, "rooms"), "#dev"), 2);
    // alice leaves #dev on node 1 too: bob alone; she joins again on node 2: 2.
    assert.equal((await command(alice1, "leave", ["#dev"])).t, "reply");
    await rooms("#dev", 1);
    assert.equal((await command(alice2, "join", ["#dev"])).t, "reply");
    await rooms("#dev", 2);
    // bob renames on node 2: still 2 in #dev and #lobby.
    assert.equal((await command(bob, "nick", ["robert"])).t, "reply");
    await commandUntil(alice1, "who", ["#dev"], (r) => JSON.stringify(r).includes("robert"));
    const after = await command(alice1, "rooms");
    assert.equal(members(after, "#dev"), 2, JSON.stringify(after));
    assert.equal(members(after, "#lobby"), 2, JSON.stringify(after));
    // Node 2 is lost: #dev is gone from node 1's list, #lobby has alice alone.
    await n2.stop("SIGKILL");
    const lost = await commandUntil(
      alice1,
      "rooms",
      [],
      (r) => members(r, "#dev") === undefined,
      30_000,
    );
    assert.equal(members(lost, "#lobby"), 1, JSON.stringify(lost));
    const joinedAgain = await command(alice1, "join", ["#dev"]);
    assert.equal((joinedAgain.data as Obj).members, 1, JSON.stringify(joinedAgain));
  },
});
