/**
 * A cluster node's beacon: publishes this node's {@linkcode NodeBoard} announcement on one NATS
 * subject every few seconds and feeds every node's announcements back into the board, so that
 * `/service` and `/stats` can list the cluster's nodes with their users. Leaving, it says
 * goodbye so the others drop it at once; a node that vanishes is dropped when it goes stale.
 * @module
 */

import type { NatsConnection } from "@nats-io/transport-node";
import type { NodeBoard } from "./nodes.ts";

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
