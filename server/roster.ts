/**
 * The users connected to the other nodes of a cluster, as their nodes last described them over
 * the bus: one entry per name in use (its sessions on that node together), with the keys,
 * rooms and away text `/who`, `/whois`, `/keys`, `/rooms` and private messages need. A single
 * server's roster stays empty. Pure state, bounded.
 * @module
 */

import type { UserView } from "./command_host.ts";

/** Most remote users kept (all nodes together); beyond it new ones are ignored. */
export const ROSTER_MAX = 200_000;

/** A user as one node describes it to the others (JSON on the bus). */
export interface UserCard {
  /** Display name. */
  name: string;
  /** Case-folded name. */
  key: string;
  /** Identity fingerprint. */
  fingerprint: string;
  /** b64 raw Ed25519 public key. */
  sigPub: string;
  /** b64 SPKI of the KEM key, if any. */
  kemPub?: string;
  /** Signature over the KEM key, if any. */
  kemSig?: string;
  /** Rooms of the name's sessions on that node. */
  rooms: string[];
  /** Away text. */
  away?: string;
  /** Authentication time (ms since the epoch). */
  since: number;
  /** Time of the last request that node noted (ms since the epoch). */
  lastActive: number;
  /** Remote address of its first session. */
  ip: string;
}

const isStr = (v: unknown): v is string => typeof v === "string" && v.length <= 4096;
const isTime = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v);

/** Checks a card received from the bus; undefined when malformed. */
export function parseCard(v: unknown): UserCard | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (
    !isStr(o.name) || !isStr(o.key) || !isStr(o.fingerprint) || !isStr(o.sigPub) ||
    !isStr(o.ip) || !isTime(o.since) || !isTime(o.lastActive) || !Array.isArray(o.rooms) ||
    o.rooms.length > 1000 || !o.rooms.every(isStr) ||
    (o.kemPub !== undefined && !isStr(o.kemPub)) ||
    (o.kemSig !== undefined && !isStr(o.kemSig)) || (o.away !== undefined && !isStr(o.away))
  ) return undefined;
  const card: UserCard = {
    name: o.name,
    key: o.key,
    fingerprint: o.fingerprint,
    sigPub: o.sigPub,
    rooms: o.rooms as string[],
    since: o.since,
    lastActive: o.lastActive,
    ip: o.ip,
  };
  if (o.kemPub !== undefined) card.kemPub = o.kemPub as string;
  if (o.kemSig !== undefined) card.kemSig = o.kemSig as string;
  if (o.away !== undefined) card.away = o.away as string;
  return card;
}

/** A user connected to another node, as commands see it. */
export class RemoteUser implements UserView {
  /** The node it is connected to. */
  readonly node: string;
  /** Display name. */
  readonly name: string;
  /** Case-folded name. */
  readonly key: string;
  /** Identity fingerprint. */
  readonly fingerprint: string;
  /** b64 raw Ed25519 public key. */
  readonly sigPub: string;
  /** b64 SPKI of the KEM key. */
  readonly kemPub?: string;
  /** Signature over the KEM key. */
  readonly kemSig?: string;
  /** Rooms. */
  readonly rooms: ReadonlySet<string>;
  /** Away text. */
  readonly away?: string;
  /** Authentication time. */
  readonly since: number;
  /** Last request noted. */
  readonly lastActive: number;
  /** Remote address. */
  readonly ip: string;

  /** The user `card` on `node`. */
  constructor(node: string, card: UserCard) {
    this.node = node;
    this.name = card.name;
    this.key = card.key;
    this.fingerprint = card.fingerprint;
    this.sigPub = card.sigPub;
    if (card.kemPub !== undefined) this.kemPub = card.kemPub;
    if (card.kemSig !== undefined) this.kemSig = card.kemSig;
    this.rooms = new Set(card.rooms);
    if (card.away !== undefined) this.away = card.away;
    this.since = card.since;
    this.lastActive = card.lastActive;
    this.ip = card.ip;
  }
}

/** The remote users of every other node, by node and name. */
export class Roster {
  readonly #nodes = new Map<string, Map<string, RemoteUser>>();
  readonly #byKey = new Map<string, RemoteUser>(); // one per name (the first node's)
  readonly #rooms = new Map<string, Map<string, RemoteUser>>(); // room → key → user
  #count = 0;
  /**
   * Hears each change of {@link members}: the name `key` is now (`present`) or no longer listed
   * in `room` (not when one node's user stands in for another's of the same name).
   */
  onMember: (room: string, key: string, present: boolean) => void = () => {};

  /** Number of distinct remote names. */
  get size(): number {
    return this.#byKey.size;
  }

  /** Sets (`card`) or removes (undefined) the user `key` of `node`. */
  set(node: string, key: string, card: UserCard | undefined): void {
    let users = this.#nodes.get(node);
    const before = users?.get(key);
    if (before !== undefined) {
      users!.delete(key);
      this.#count--;
      this.#unindex(before);
    }
    if (card === undefined || card.key !== key) {
      if (users?.size === 0) this.#nodes.delete(node);
      return;
    }
    if (this.#count >= ROSTER_MAX) return;
    if (users === undefined) this.#nodes.set(node, users = new Map());
    const u = new RemoteUser(node, card);
    users.set(key, u);
    this.#count++;
    this.#index(u);
  }

  /** Replaces everything known of `node` with `cards` (undefined: the node is gone). */
  replace(node: string, cards: UserCard[] | undefined): void {
    for (const key of [...this.#nodes.get(node)?.keys() ?? []]) this.set(node, key, undefined);
    for (const c of cards ?? []) this.set(node, c.key, c);
  }

  /** The nodes with users. */
  nodes(): string[] {
    return [...this.#nodes.keys()];
  }

  /** The remote user with case-folded name `key`. */
  user(key: string): RemoteUser | undefined {
    return this.#byKey.get(key);
  }

  /** Every remote user, one per name. */
  users(): IterableIterator<RemoteUser> {
    return this.#byKey.values();
  }

  /** The remote members of `room`, one per name. */
  members(room: string): ReadonlyMap<string, RemoteUser> | undefined {
    return this.#rooms.get(room);
  }

  /** Rooms with remote members. */
  rooms(): IterableIterator<string> {
    return this.#rooms.keys();
  }

  #index(u: RemoteUser): void {
    if (!this.#byKey.has(u.key)) this.#byKey.set(u.key, u);
    for (const r of u.rooms) {
      let m = this.#rooms.get(r);
      if (m === undefined) this.#rooms.set(r, m = new Map());
      if (m.has(u.key)) continue;
      m.set(u.key, u);
      this.onMember(r, u.key, true);
    }
  }

  #unindex(u: RemoteUser): void {
    /** Another node's user of the same name (in `room`, when given). */
    const other = (room?: string) => {
      for (const users of this.#nodes.values()) {
        const o = users.get(u.key);
        if (o !== undefined && (room === undefined || o.rooms.has(room))) return o;
      }
      return undefined;
    };
    if (this.#byKey.get(u.key) === u) {
      const o = other();
      if (o === undefined) this.#byKey.delete(u.key);
      else this.#byKey.set(u.key, o);
    }
    for (const r of u.rooms) {
      const m = this.#rooms.get(r);
      if (m?.get(u.key) !== u) continue;
      const o = other(r);
      if (o !== undefined) {
        m.set(u.key, o);
        continue;
      }
      m.delete(u.key);
      if (m.size === 0) this.#rooms.delete(r);
      this.onMember(r, u.key, false);
    }
  }
}
