/**
 * Node beacons over a real nats-server: three nodes see each other with their figures; one that
 * stops says goodbye and is gone from the others' lists at once; one whose process vanishes
 * (no goodbye) drops out once stale.
 */

import assert from "node:assert/strict";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { startNodeBeacon } from "../../server/node_beacon.ts";
import { NodeBoard, type NodeStatus } from "../../server/nodes.ts";
import { natsAvailable, startNats } from "../support/nats.ts";
import { waitFor } from "../support/procs.ts";

const ignore = !natsAvailable("node beacon tests");

Deno.test({
  name: "node beacon: nodes list each other; a goodbye removes at once, silence once stale",
  ignore,
  fn: async () => {
    await using nats = await startNats();
    const conns: NatsConnection[] = [];
    const statuses: NodeStatus[] = [
      { name: "alpha", users: 1, connections: 2 },
      { name: "beta", users: 3, connections: 4 },
      { name: "gamma", users: 5, connections: 6 },
    ];
    const boards = statuses.map((s, i) =>
      new NodeBoard({ id: `node-${i}`, self: () => s, now: Date.now, staleMs: 600 })
    );
    try {
      for (let i = 0; i < 3; i++) {
        conns.push(await connect({ servers: nats.url, timeout: 5000, reconnect: false }));
      }
      const beacons = boards.map((b, i) => startNodeBeacon(conns[i], "chat.test.nodes", b, 100));
      const names = (i: number) => boards[i].others().map((n) => n.name).join(",");
      await waitFor(
        () => names(0) === "beta,gamma" && names(1) === "alpha,gamma" && names(2) === "alpha,beta",
        5000,
        "every node to see the others",
      );
      assert.deepEqual(boards[0].others(), statuses.slice(1));
      statuses[1].users = 9; // the next announcement carries it
      await waitFor(() => boards[0].others()[0].users === 9, 5000, "beta's new figure");

      await beacons[1].stop(); // goodbye: gone before it could go stale
      await waitFor(() => names(0) === "gamma", 400, "beta gone at once");

      // gamma's connection vanishes without a goodbye: alpha drops it once stale.
      await conns[2].close();
      await beacons[2].stop(); // nothing left to say on a closed connection
      await waitFor(() => names(0) === "", 3000, "gamma stale");
      await beacons[0].stop();
    } finally {
      for (const c of conns) await c.close().catch(() => {});
    }
  },
});
