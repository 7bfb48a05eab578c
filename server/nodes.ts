/**
 * The nodes of a chat as `/service` and the console's `/stats` show them: this node's name and
 * figures, and the other nodes of a cluster as they last announced themselves. A single server
 * is one node. A cluster's bus carries the announcements ({@linkcode NodeBoard}: small JSON
 * objects, parsed within bounds) between the nodes. Pure: the clock is passed in.
 * @module
 */

import { decodeUtf8, utf8 } from "../shared/encoding.ts";

/** One node's figures. */
export interface NodeStatus {
  /** The node's name (`chat server --node NAME`). */
  name: string;
  /** Users authenticated on it. */
  users: number;
  /** Connections open on it, authenticated or not. */
  connections: number;
}

/**
 * The other nodes of a cluster, as last heard. A cluster's bus fills one (a
 * {@linkcode NodeBoard}); a single server has none.
 */
export interface NodeDirectory {
  /** The other nodes that announced themselves recently, by name. */
  others(): NodeStatus[];
}

/** A node name: 1 to 64 of `A-Z a-z 0-9 . _ : -`. */
export const NODE_NAME: RegExp = /^[A-Za-z0-9._:-]{1,64}$/;

/** Largest announcement accepted, in bytes (checked before decoding). */
export const NODE_ANNOUNCE_MAX = 512;

/** Most other nodes a board keeps. */
export const NODES_MAX = 256;

/**
 * The default node name: the host name (characters outside {@linkcode NODE_NAME} dropped) and
 * the port, e.g. `web1:5000`.
 */
export function defaultNodeName(hostname: string, port: number): string {
  const host = hostname.replace(/[^A-Za-z0-9._-]/g, "").slice(0, 50) || "node";
  return `${host}:${port}`;
}

/** Whole numbers from 0 to 10^9 (a figure in an announcement). */
function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0 && v <= 1e9;
}

/** What a {@linkcode NodeBoard} needs. */
export interface NodeBoardOptions {
  /** This node's id, unique in the cluster (its own announcements come back and are skipped). */
  id: string;
  /** This node's current figures. */
  self: () => NodeStatus;
  /** Clock, ms. */
  now: () => number;
  /** A node not heard from for this long is left out (ms). */
  staleMs: number;
}

/**
 * The nodes of a cluster as they announce themselves: `announce()` is this node's status to
 * publish every few seconds, `receive()` takes every node's announcements, `others()` lists the
 * nodes heard within `staleMs`. At most {@linkcode NODES_MAX} other nodes are kept.
 */
export class NodeBoard implements NodeDirectory {
  readonly #o: NodeBoardOptions;
  readonly #nodes = new Map<string, NodeStatus & { seenAt: number }>();

  /** A board with no other node yet. */
  constructor(o: NodeBoardOptions) {
    if (o.id === "" || o.id.length > 64) throw new RangeError("a node id is 1 to 64 characters");
    if (!(o.staleMs > 0)) throw new RangeError("staleMs must be positive");
    this.#o = o;
  }

  /** This node's announcement (JSON). */
  announce(): Uint8Array {
    const s = this.#o.self();
    return utf8.encode(JSON.stringify({
      v: 1,
      id: this.#o.id,
      name: s.name,
      users: s.users,
      connections: s.connections,
    }));
  }

  /** The announcement that this node is leaving (others forget it at once). */
  farewell(): Uint8Array {
    return utf8.encode(JSON.stringify({ v: 1, id: this.#o.id, gone: true }));
  }

  /**
   * Takes one announcement; false when it is refused (too large, malformed, a bad name or
   * figure, this node's own, or a new node when {@linkcode NODES_MAX} are known).
   */
  receive(bytes: Uint8Array): boolean {
    if (bytes.length > NODE_ANNOUNCE_MAX) return false;
    let v: unknown;
    try {
      v = JSON.parse(decodeUtf8(bytes));
    } catch {
      return false;
    }
    if (typeof v !== "object" || v === null) return false;
    const m = v as Record<string, unknown>;
    if (m.v !== 1 || typeof m.id !== "string" || m.id === "" || m.id.length > 64) return false;
    if (m.id === this.#o.id) return false;
    if (m.gone === true) return this.#nodes.delete(m.id);
    if (typeof m.name !== "string" || !NODE_NAME.test(m.name)) return false;
    if (!isCount(m.users) || !isCount(m.connections)) return false;
    const now = this.#o.now();
    if (!this.#nodes.has(m.id) && this.#nodes.size >= NODES_MAX) {
      this.#prune(now);
      if (this.#nodes.size >= NODES_MAX) return false;
    }
    this.#nodes.set(m.id, {
      name: m.name,
      users: m.users,
      connections: m.connections,
      seenAt: now,
    });
    return true;
  }

  /** The other nodes heard within `staleMs`, by name. */
  others(): NodeStatus[] {
    this.#prune(this.#o.now());
    return [...this.#nodes.values()]
      .map(({ name, users, connections }) => ({ name, users, connections }))
      .sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  }

  #prune(now: number): void {
    for (const [id, n] of this.#nodes) {
      if (now - n.seenAt > this.#o.staleMs) this.#nodes.delete(id);
    }
  }
}
