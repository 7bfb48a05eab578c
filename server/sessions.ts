/**
 * The session registry: every authenticated connection, indexed by connection, by name in use
 * and by identity. One identity may be connected several times (devices, scripts); the
 * sessions of one identity under one name are siblings and show as one name. Pure state.
 * @module
 */

import { ProtocolError } from "../shared/errors.ts";
import type { UserView } from "./command_host.ts";
import type { Peer } from "./peer.ts";

/** Most sessions one identity may have at once (devices, scripts). */
export const MAX_SESSIONS_PER_IDENTITY = 8;

/** An authenticated connection: its peer, its name and the rooms it is in. */
export class Session implements UserView {
  /** The connection. */
  readonly peer: Peer;
  /** Display name. */
  name: string;
  /** Case-folded name. */
  key: string;
  /** Rooms this session is in. */
  readonly rooms = new Set<string>();
  /** Away text, when away. */
  away: string | undefined = undefined;
  /** Authentication time (ms since the epoch). */
  readonly since: number;
  /** Time of the last request (ms since the epoch). */
  lastActive: number;
  /**
   * The offline queue's delivery to this session, once it asked with a `dm_ack`: the last queue
   * number sent and those sent but not acknowledged yet (server/dm.ts).
   */
  dmQueue: { last: number; inFlight: Set<number> } | undefined = undefined;

  /** A session of `peer` under `name` (case-folded `key`), authenticated at `now`. */
  constructor(peer: Peer, name: string, key: string, now: number) {
    this.peer = peer;
    this.name = name;
    this.key = key;
    this.since = now;
    this.lastActive = now;
  }
  /** Identity fingerprint. */
  get fingerprint(): string {
    return this.peer.fingerprint;
  }
  /** b64 raw Ed25519 public key. */
  get sigPub(): string {
    return this.peer.sigPub;
  }
  /** b64 SPKI of the KEM key, if any. */
  get kemPub(): string | undefined {
    return this.peer.kemPub;
  }
  /** Signature over the KEM key, if any. */
  get kemSig(): string | undefined {
    return this.peer.kemSig;
  }
  /** Remote address. */
  get ip(): string {
    return this.peer.ip;
  }
}

/** Every authenticated session, by connection id, by name in use and by identity. */
export class SessionRegistry {
  /** Sessions by connection id, in connection order. */
  readonly byId = new Map<number, Session>();
  /** One session per name in use (the first); siblings share its name and identity. */
  readonly byName = new Map<string, Session>();
  /** Sessions by identity fingerprint. */
  readonly byFp = new Map<string, Set<Session>>();

  /** How many sessions identity `fp` has now. */
  countOf(fp: string): number {
    return this.byFp.get(fp)?.size ?? 0;
  }

  /** Registers `s`; `named`: it becomes the session of its name (no sibling holds it yet). */
  add(s: Session, named: boolean): void {
    this.byId.set(s.peer.id, s);
    if (named) this.byName.set(s.key, s);
    let fps = this.byFp.get(s.fingerprint);
    if (fps === undefined) this.byFp.set(s.fingerprint, fps = new Set());
    fps.add(s);
  }

  /** Forgets `s` (its rooms are the caller's business); a sibling takes over its name. */
  remove(s: Session): void {
    this.byId.delete(s.peer.id);
    const fps = this.byFp.get(s.fingerprint);
    if (fps !== undefined) {
      fps.delete(s);
      if (fps.size === 0) this.byFp.delete(s.fingerprint);
    }
    this.#unname(s);
  }

  /** True while `s` is registered. */
  isLive(s: Session): boolean {
    return this.byId.get(s.peer.id) === s;
  }

  /** The live session behind a user view; `no_such_user` when it is gone. */
  session(u: UserView): Session {
    if (!(u instanceof Session) || !this.isLive(u)) {
      throw new ProtocolError("no_such_user", `${u.name} is not connected.`);
    }
    return u;
  }

  /** Another session of `s`'s identity under the same name in `room`, if any. */
  sibling(s: Session, room: string): Session | undefined {
    for (const o of this.byFp.get(s.fingerprint) ?? []) {
      if (o !== s && o.key === s.key && o.rooms.has(room)) return o;
    }
    return undefined;
  }

  /** Every connected session of `s`'s identity under the same name, `s` included. */
  siblings(s: Session): Session[] {
    return [...this.byFp.get(s.fingerprint) ?? [s]].filter((o) => o.key === s.key);
  }

  /** `s` no longer answers to its name: a sibling (if any) becomes the name's session. */
  #unname(s: Session): void {
    if (this.byName.get(s.key) !== s) return;
    const next = [...this.byFp.get(s.fingerprint) ?? []].find((o) => o !== s && o.key === s.key);
    if (next === undefined) this.byName.delete(s.key);
    else this.byName.set(s.key, next);
  }
}

/** The rooms any of `sessions` is in, each once. */
export function roomsOf(sessions: readonly Session[]): Set<string> {
  return new Set(sessions.flatMap((x) => [...x.rooms]));
}
