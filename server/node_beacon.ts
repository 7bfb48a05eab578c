/**
 * A cluster node's beacon: publishes this node's {@linkcode NodeBoard} announcement on one NATS
 * subject every few seconds and feeds every node's announcements back into the board, so that
 * `/service` and `/stats` can list the cluster's nodes with their users. Leaving, it says
 * goodbye so the others drop it at once; a node that vanishes is dropped when it goes stale.
 * @module
 */

import { connect, type NatsConnection } from "@nats-io/transport-node";
import { NodeBoard, type NodeStatus } from "./nodes.ts";
import { CLUSTER_NAME } from "./cluster/subjects.ts";

/** How often a node announces itself by default (ms). */
export const ANNOUNCE_EVERY_MS = 2000;

/** A node counts as gone when it has not announced itself for this long (ms). */
export const NODE_STALE_MS = 3 * ANNOUNCE_EVERY_MS + 1000;

/** A running beacon. */
export interface NodeBeacon {
  /** Says goodbye, stops announcing and listening. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts announcing `board`'s node on `subject` through `nc` (now, then every `everyMs`) and
 * hands each announcement heard on it to `board.receive` (which bounds and checks it).
 */
export function startNodeBeacon(
  nc: Pick<NatsConnection, "publish" | "subscribe" | "flush" | "isClosed">,
  subject: string,
  board: NodeBoard,
  everyMs: number = ANNOUNCE_EVERY_MS,
): NodeBeacon {
  const sub = nc.subscribe(subject, {
    callback: (err, msg) => {
      if (err === null) board.receive(msg.data);
    },
  });
  const announce = () => {
    // While NATS is away the client buffers a little and drops the rest: announcements are
    // only ever current, so a lost one costs nothing.
    if (!nc.isClosed()) nc.publish(subject, board.announce());
  };
  announce();
  const timer = setInterval(announce, everyMs);
  let stopped: Promise<void> | undefined;
  return {
    stop() {
      stopped ??= (async () => {
        clearInterval(timer);
        sub.unsubscribe();
        if (nc.isClosed()) return;
        nc.publish(subject, board.farewell());
        await nc.flush().catch(() => {});
      })();
      return stopped;
    },
  };
}

/** The subject the nodes of cluster `name` announce themselves on. */
export function nodesSubject(name: string): string {
  if (!CLUSTER_NAME.test(name)) throw new RangeError("bad cluster name");
  return `chat.${name}.nodes`;
}

/** A node's view of its cluster's nodes, kept current over its own NATS connection. */
export interface ClusterNodes {
  /** The other nodes as last heard (for `HubOptions.nodes`). */
  board: NodeBoard;
  /** Says goodbye and closes the connection. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Connects to NATS (`servers`, reconnecting by itself) and starts this node's beacon on cluster
 * `name`'s nodes subject; `self` gives this node's figures when it announces itself. Rejects
 * when NATS cannot be reached within `timeoutMs`.
 */
export async function joinClusterNodes(o: {
  servers: string[];
  name: string;
  self: () => NodeStatus;
  now: () => number;
  timeoutMs?: number;
}): Promise<ClusterNodes> {
  const subject = nodesSubject(o.name);
  const nc = await connect({
    servers: o.servers,
    name: `chat ${o.name} nodes`,
    timeout: o.timeoutMs ?? 5000,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
  });
  const board = new NodeBoard({
    id: crypto.randomUUID(),
    self: o.self,
    now: o.now,
    staleMs: NODE_STALE_MS,
  });
  const beacon = startNodeBeacon(nc, subject, board);
  let stopped: Promise<void> | undefined;
  return {
    board,
    stop() {
      stopped ??= (async () => {
        await beacon.stop();
        await nc.close().catch(() => {});
      })();
      return stopped;
    },
  };
}
