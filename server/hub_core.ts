/**
 * The hub's state and the few operations every part of it shares: the session registry, the
 * rooms, fan-out, mutes and the message of the day, and dropping a session. Pure state: no
 * socket, no key.
 * @module
 */

import type { ServiceInfo } from "./command_host.ts";
import { banCovers } from "./ban_match.ts";
import { type EventFields, Fanout } from "./fanout.ts";
import type { HubOptions } from "./hub_options.ts";
import { Roster } from "./roster.ts";
import type { NodeStatus } from "./nodes.ts";
import { RoomTable } from "./rooms.ts";
import { type Session, SessionRegistry } from "./sessions.ts";
import type { Ban } from "./store.ts";

/** What the login, relay, command and console parts of the hub act on. */
export class HubCore {
  /** Everything the hub depends on. */
  readonly o: HubOptions;
  /** Authenticated sessions. */
  readonly sessions: SessionRegistry = new SessionRegistry();
  /** Events and relayed messages, counted. */
  readonly fanout: Fanout;
  /** Live rooms, members and modes. */
  readonly rooms: RoomTable;
  /** Muted identities (in memory). */
  readonly muted = new Set<string>();
  /** The message of the day set with `/motd`, overriding the configured one. */
  motd: string | undefined = undefined;
  /** Users connected to the other nodes of a cluster. */
  readonly roster: Roster = new Roster();
  readonly #touched = new Set<string>(); // names to tell the other nodes about
  /** Set by a cluster's bus (server/hub_cluster.ts): tells the other nodes about names. */
  publishUsers: ((keys: string[]) => void) | undefined = undefined;

  /** A core with no users; `#lobby` exists. */
  constructor(o: HubOptions) {
    this.o = o;
    this.fanout = new Fanout(o, {
      everyone: () => this.sessions.byId.values(),
      members: (room) => this.rooms.sessionsIn(room),
    });
    this.rooms = new RoomTable(o, this.sessions, this.fanout, this.roster, (k) => this.touch(k));
  }

  /**
   * Notes that the name `key` logged in or out, entered or left a room, or changed its away
   * text: the other nodes of a cluster hear of it once this turn ends.
   */
  touch(key: string): void {
    const publish = this.publishUsers;
    if (publish === undefined) return;
    if (this.#touched.size === 0) {
      queueMicrotask(() => {
        const keys = [...this.#touched];
        this.#touched.clear();
        publish(keys);
      });
    }
    this.#touched.add(key);
  }

  /**
   * Mutes (`on`) or unmutes the identity `fp`; a mute is announced in the rooms of its
   * sessions here. `fromBus`: said by another node (not passed on again).
   */
  setMuted(fp: string, by: string, on: boolean, fromBus = false): boolean {
    if (!fromBus) this.o.bus?.mute(fp, by, on);
    if (!on) return this.muted.delete(fp);
    this.muted.add(fp);
    const tell = this.onceAName();
    for (const s of this.sessions.byFp.get(fp) ?? []) tell(s, "mute", { name: s.name, by });
    return true;
  }

  /**
   * Closes the sessions here that ban `b` covers, announcing it once per room and name;
   * returns how many were closed.
   */
  enforceBan(b: Ban): number {
    let closed = 0;
    const tell = this.onceAName();
    for (const s of [...this.sessions.byId.values()]) {
      if (!banCovers(b, s.key, s.fingerprint, s.peer.ip)) continue;
      tell(s, "ban", {
        name: s.name,
        by: b.by,
        ...(b.reason === "" ? {} : { reason: b.reason }),
      });
      this.drop(s, "banned");
      s.peer.close("banned");
      closed++;
    }
    return closed;
  }

  /**
   * A teller that announces a moderation event in each room of a session, once per room and
   * name however many sessions of the name are in it.
   */
  onceAName(): (s: Session, kind: "ban" | "mute", f: EventFields) => void {
    const told = new Set<string>(); // room and name, once for a name connected twice
    return (s, kind, f) => {
      for (const room of s.rooms) {
        if (told.has(`${room} ${s.key}`)) continue;
        told.add(`${room} ${s.key}`);
        this.fanout.event(room, kind, f);
      }
    };
  }

  /** Commits the messages said so far and relays them (see `Hub.settle`). */
  settle(): void {
    this.o.store.flush();
  }

  /** True when `fp` is an operator (`--admin` or `/op`). */
  isOperator(fp: string): boolean {
    return this.o.admins.has(fp) || this.o.store.isOp(fp);
  }

  /** The message of the day in force. */
  currentMotd(): string {
    return this.o.store.motd?.() ?? this.motd ?? this.o.motd();
  }

  /** This node's name and figures (what it announces to the other nodes of a cluster). */
  nodeStatus(): NodeStatus {
    return {
      name: this.o.nodeName ?? this.o.serverName,
      users: this.sessions.byName.size,
      connections: this.o.connectionCount(),
    };
  }

  /** Server figures for `/service` and `/stats`. */
  info(): ServiceInfo {
    const self = this.nodeStatus();
    return {
      serverName: this.o.serverName,
      version: this.o.version,
      startedAt: this.o.startedAt,
      hostFingerprint: this.o.hostFingerprint,
      connections: this.o.connectionCount(),
      users: this.sessions.byName.size,
      rooms: this.rooms.size,
      messages: this.fanout.messages,
      deliveries: this.fanout.deliveries,
      node: self.name,
      nodes: [self, ...this.o.nodes?.others() ?? []],
    };
  }

  /** Forgets `s` entirely; leave events carry `reason` (none when undefined). */
  drop(s: Session, reason: string | undefined, detail = reason ?? "closed"): void {
    if (!this.sessions.isLive(s)) return;
    this.o.log?.("info", "logout", {
      ip: s.peer.ip,
      name: s.name,
      fingerprint: s.fingerprint,
      reason: detail,
    });
    this.sessions.remove(s);
    for (const room of [...s.rooms]) this.rooms.exit(s, room, reason);
    this.touch(s.key);
  }
}
