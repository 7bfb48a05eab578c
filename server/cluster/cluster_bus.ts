/**
 * The bus of a cluster node: live events between the nodes over NATS core subjects (no
 * storage). Every node publishes on one subject and listens to it: room and server events
 * said here (joins, leaves, topics, kicks…), changes to its users (for `/who`, `/whois`,
 * `/keys`, `/rooms` and member counts elsewhere), mutes, kicks of a user connected here, and
 * a heartbeat. A node that starts says hello and every other node sends it all its users; a
 * node that missed a change asks for them again; a node not heard from for a few seconds is
 * forgotten with its users. Private messages to a user on another node go to that node's own
 * subject as a request, answered once delivered.
 * @module
 */

import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import { decodeUtf8 } from "../../shared/encoding.ts";
import { EVENT_KINDS, type EventKind, type EventMessage } from "../../shared/messages.ts";
import type { Bus, BusEvents, UserChange } from "../hub_options.ts";
import { parseCard, type UserCard } from "../roster.ts";
import type { Subjects } from "./subjects.ts";

/** How often a node says it is alive (ms). */
export const ALIVE_EVERY_MS = 2000;
/** A node not heard from for this long is forgotten with its users (ms). */
export const NODE_SILENT_MS = 7000;
/** Users per message when a node sends all of them. */
const CARDS_PER_MESSAGE = 200;
/** Largest bus message accepted (bytes, checked before decoding). */
const BUS_MESSAGE_MAX = 1024 * 1024;
/** Most other nodes tracked. */
const NODES_MAX = 256;

/** Checks an event from the bus; undefined when malformed. */
function parseEvent(v: unknown): EventMessage | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (o.t !== "event" || typeof o.ts !== "number" || !EVENT_KINDS.has(o.kind as string)) {
    return undefined;
  }
  const ev: EventMessage = { t: "event", ts: o.ts, kind: o.kind as EventKind };
  for (const k of ["room", "name", "by", "reason", "old", "text"] as const) {
    const x = o[k];
    if (x === undefined) continue;
    if (typeof x !== "string") return undefined;
    ev[k] = x;
  }
  return ev;
}

interface Peer {
  gen: number;
  seenAt: number;
  /** A full roster being received: its generation and the cards so far. */
  full?: { gen: number; cards: UserCard[] };
}

/** What a {@linkcode ClusterBus} works with. */
export interface ClusterBusOptions {
  /** The connection to NATS. */
  nc: NatsConnection;
  /** The cluster's names. */
  subjects: Subjects;
  /** This node's unique id. */
  nodeId: string;
  /** Deadline of a private message handed to another node (ms). */
  timeoutMs: number;
  /** Clock for staleness (ms). */
  now: () => number;
  /** Hooks the store's events (remote messages, bans) to the hub. */
  attachStore: (to: BusEvents) => void;
}

/** The NATS bus. Create with the connection; {@linkcode attach} starts it. */
export class ClusterBus implements Bus {
  readonly #o: ClusterBusOptions;
  readonly #subject: string;
  readonly #peers = new Map<string, Peer>();
  #to?: BusEvents;
  #subs: Subscription[] = [];
  #timer?: ReturnType<typeof setInterval>;
  #gen = 0;
  #closed = false;

  /** A bus over `o.nc`. */
  constructor(o: ClusterBusOptions) {
    this.#o = o;
    this.#subject = `${o.subjects.bus}.ev`;
  }

  /** Starts listening, says hello, and hands what other nodes say to `to`. */
  attach(to: BusEvents): void {
    this.#to = to;
    this.#o.attachStore(to);
    const { nc } = this.#o;
    this.#subs.push(nc.subscribe(this.#subject, {
      callback: (e, m) => {
        if (e === null) this.#onBus(m);
      },
    }));
    this.#subs.push(
      nc.subscribe(`${this.#o.subjects.bus}.dm.${this.#o.nodeId}`, {
        callback: (e, m) => {
          if (e === null) this.#onDm(m);
        },
      }),
    );
    this.#send({ t: "hello" });
    this.#timer = setInterval(() => this.#tick(), ALIVE_EVERY_MS);
  }

  /** Says goodbye and stops. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    if (this.#to !== undefined) this.#send({ t: "bye" });
    for (const s of this.#subs) s.unsubscribe();
  }

  /** An event said here, for the members (or everyone) on the other nodes. */
  event(ev: EventMessage): void {
    this.#send({ t: "event", ev });
  }

  /** Changes to this node's users. */
  users(changes: UserChange[]): void {
    if (changes.length === 0) return;
    for (let i = 0; i < changes.length; i += CARDS_PER_MESSAGE) {
      this.#send({
        t: "users",
        gen: ++this.#gen,
        changes: changes.slice(i, i + CARDS_PER_MESSAGE),
      });
    }
  }

  /** Mutes (`on`) or unmutes identity `fp` on every node. */
  mute(fp: string, by: string, on: boolean): void {
    this.#send({ t: "mute", fp, by, on });
  }

  /** Kicks the user `key` connected to `node`. */
  kick(node: string, key: string, by: string, reason: string): void {
    this.#send({ t: "kick", to: node, key, by, reason });
  }

  /** Hands a private message to the user `key` on `node`; true once delivered there. */
  async dm(node: string, key: string, line: string): Promise<boolean> {
    try {
      const r = await this.#o.nc.request(
        `${this.#o.subjects.bus}.dm.${node}`,
        JSON.stringify({ key, line }),
        { timeout: this.#o.timeoutMs },
      );
      return r.string() === "1";
    } catch {
      return false;
    }
  }

  #send(body: Record<string, unknown>): void {
    if (this.#o.nc.isClosed()) return;
    try {
      this.#o.nc.publish(this.#subject, JSON.stringify({ ...body, node: this.#o.nodeId }));
    } catch {
      // NATS away: live events are only ever current; a node that missed some asks again
    }
  }

  #tick(): void {
    this.#send({ t: "alive", gen: this.#gen });
    const now = this.#o.now();
    for (const [node, p] of this.#peers) {
      if (now - p.seenAt > NODE_SILENT_MS) {
        this.#peers.delete(node);
        this.#to?.nodeGone(node);
      }
    }
  }

  #sendAll(): void {
    const cards = this.#to?.roster() ?? [];
    const gen = this.#gen;
    if (cards.length === 0) this.#send({ t: "full", gen, part: 0, last: true, cards: [] });
    for (let i = 0; i < cards.length; i += CARDS_PER_MESSAGE) {
      this.#send({
        t: "full",
        gen,
        part: i / CARDS_PER_MESSAGE,
        last: i + CARDS_PER_MESSAGE >= cards.length,
        cards: cards.slice(i, i + CARDS_PER_MESSAGE),
      });
    }
  }

  #onDm(m: Msg): void {
    let ok = false;
    try {
      const v = JSON.parse(decodeUtf8(m.data));
      const d = typeof v?.line === "string" ? JSON.parse(v.line) : undefined;
      // Only a well-formed `dm` line is handed on to a user, rebuilt from its fields.
      if (
        typeof v?.key === "string" && d?.t === "dm" && typeof d.id === "string" &&
        typeof d.from === "string" && typeof d.ts === "number" && typeof d.envelope === "string"
      ) {
        const line = JSON.stringify({
          t: "dm",
          id: d.id,
          from: d.from,
          ts: d.ts,
          envelope: d.envelope,
        });
        ok = this.#to?.dm(v.key, line) ?? false;
      }
    } catch {
      ok = false;
    }
    m.respond(ok ? "1" : "0");
  }

  #onBus(m: Msg): void {
    const to = this.#to;
    if (to === undefined || m.data.length > BUS_MESSAGE_MAX) return;
    let v: Record<string, unknown>;
    try {
      v = JSON.parse(decodeUtf8(m.data));
    } catch {
      return;
    }
    if (typeof v !== "object" || v === null) return;
    const node = v.node;
    if (typeof node !== "string" || node === this.#o.nodeId || node.length > 64) return;
    if (v.t === "bye") {
      this.#peers.delete(node);
      to.nodeGone(node);
      return;
    }
    let p = this.#peers.get(node);
    if (p === undefined) {
      if (this.#peers.size >= NODES_MAX) return;
      this.#peers.set(node, p = { gen: -1, seenAt: this.#o.now() });
    }
    p.seenAt = this.#o.now();
    switch (v.t) {
      case "hello":
        this.#sendAll();
        return;
      case "sync":
        if (v.want === this.#o.nodeId) this.#sendAll();
        return;
      case "alive":
        if (v.gen !== p.gen && p.full === undefined) this.#send({ t: "sync", want: node });
        return;
      case "users": {
        if (typeof v.gen !== "number" || !Array.isArray(v.changes)) return;
        if (v.gen <= p.gen) return;
        if (v.gen !== p.gen + 1 && p.full === undefined) this.#send({ t: "sync", want: node });
        p.gen = v.gen;
        const changes: UserChange[] = [];
        for (const c of v.changes as Array<Record<string, unknown>>) {
          if (typeof c?.key !== "string") continue;
          const card = c.card === undefined ? undefined : parseCard(c.card);
          if (c.card !== undefined && card === undefined) continue;
          changes.push(card === undefined ? { key: c.key } : { key: c.key, card });
        }
        to.users(node, changes, false);
        return;
      }
      case "full": {
        if (typeof v.gen !== "number" || !Array.isArray(v.cards) || typeof v.part !== "number") {
          return;
        }
        if (v.part === 0 || p.full?.gen !== v.gen) p.full = { gen: v.gen, cards: [] };
        for (const c of v.cards) {
          const card = parseCard(c);
          if (card !== undefined) p.full.cards.push(card);
        }
        if (v.last === true) {
          const cards = p.full.cards;
          p.full = undefined;
          p.gen = v.gen;
          to.users(node, cards.map((card) => ({ key: card.key, card })), true);
        }
        return;
      }
      case "event": {
        const ev = parseEvent(v.ev);
        if (ev !== undefined) to.event(ev);
        return;
      }
      case "mute":
        if (typeof v.fp === "string" && typeof v.by === "string") {
          to.muted(v.fp, v.by, v.on === true);
        }
        return;
      case "kick":
        if (
          v.to === this.#o.nodeId && typeof v.key === "string" && typeof v.by === "string" &&
          typeof v.reason === "string"
        ) to.kick(v.key, v.by, v.reason);
        return;
    }
  }
}
