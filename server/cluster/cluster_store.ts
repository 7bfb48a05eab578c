/**
 * The store and bus of a cluster node (`chat server --cluster nats://…`): room history in
 * JetStream streams (server/cluster/room_log.ts), names, bans, operators and topics in JetStream
 * key-value buckets mirrored in memory (server/cluster/kv_replica.ts). The hub reads it
 * synchronously as it reads the embedded store; writes go to NATS. While NATS cannot be
 * reached, connected users stay, and what would change shared state is refused with
 * `unavailable`; the node catches up by itself when NATS is back.
 * @module
 */

import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { HubStore } from "../hub_options.ts";
import { ClusterBus } from "./cluster_bus.ts";
import type { AppendResult, Ban, NameOwner, NewMessage, StoredMessage } from "../store.ts";
import { DAY_MS, type Expired, type QuotaKind } from "../upkeep.ts";
import { type Decode, KvReplica } from "./kv_replica.ts";
import { RoomLog, unavailable } from "./room_log.ts";
import { clusterSubjects } from "./subjects.ts";
import { NO_PRIVATE_ROOMS } from "../room_members.ts";

/** What {@linkcode ClusterStore.open} needs. */
export interface ClusterOptions {
  /** NATS server URLs (`nats://host:4222`); the client fails over between them. */
  servers: string[];
  /** The cluster's name: nodes with the same name share one chat (default `chat`). */
  name: string;
  /** Messages a room keeps. */
  historyKept: number;
  /** Messages of each room a node holds in memory for history and resume. */
  cached: number;
  /** Names one identity may own. */
  namesPerIdentity: number;
  /** Clock, ms since the epoch. */
  now: () => number;
  /** Operator log. */
  log: (level: "debug" | "info" | "warn", message: string, props: Record<string, unknown>) => void;
  /** Deadline of one NATS request and of the first connection, ms (default 5000). */
  timeoutMs?: number;
}

/** A round trip to NATS slower than this counts as NATS unreachable (ms). */
const PROBE_MS = 1500;

const isStr = (v: unknown): v is string => typeof v === "string";
const isNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | undefined =>
  typeof v === "object" && v !== null ? v as Obj : undefined;

const decodeOwner: Decode<NameOwner> = (v) => {
  const o = obj(v);
  if (!o || !isStr(o.name) || !isStr(o.fingerprint) || !isNum(o.created) || !isNum(o.lastUsed)) {
    return undefined;
  }
  return { name: o.name, fingerprint: o.fingerprint, created: o.created, lastUsed: o.lastUsed };
};
const BAN_KINDS = new Set(["name", "fingerprint", "ip"]);
const decodeBan: Decode<Ban> = (v) => {
  const o = obj(v);
  if (
    !o || !isStr(o.target) || !BAN_KINDS.has(o.kind as string) || !isStr(o.by) ||
    !isStr(o.reason) || !isNum(o.created) || !(o.expires === null || isNum(o.expires))
  ) return undefined;
  return {
    target: o.target,
    kind: o.kind as Ban["kind"],
    by: o.by,
    reason: o.reason,
    created: o.created,
    expires: o.expires as number | null,
  };
};
const decodeTrue: Decode<true> = (v) => v === true ? true : undefined;
interface Topic {
  topic: string;
  by: string;
  updated: number;
}
const decodeTopic: Decode<Topic> = (v) => {
  const o = obj(v);
  if (!o || !isStr(o.topic) || !isStr(o.by) || !isNum(o.updated)) return undefined;
  return { topic: o.topic, by: o.by, updated: o.updated };
};

/** A cluster node's store and bus. Open with {@linkcode ClusterStore.open}. */
export class ClusterStore implements HubStore {
  /** The node's bus (live events between the nodes), to hand to the hub. */
  readonly bus: ClusterBus;
  readonly #o: ClusterOptions;
  readonly #nc: NatsConnection;
  readonly #rooms: RoomLog;
  readonly #names: KvReplica<NameOwner>;
  readonly #bans: KvReplica<Ban>;
  readonly #ops: KvReplica<true>;
  readonly #topics: KvReplica<Topic>;
  readonly #settings: KvReplica<string>;
  readonly #owned = new Map<string, number>(); // fingerprint → names owned
  readonly #ownerOf = new Map<string, string>(); // name key → fingerprint
  readonly #usage = new Map<string, { day: number; n: number }>(); // per node, in memory
  #closed = false;
  #probe?: ReturnType<typeof setInterval>;
  #probing = false;

  /** Quotas and bookkeeping (quotas are counted per node; nothing expires in a cluster yet). */
  /** Private rooms are not kept by a cluster yet: every room is plain, `/private` refused. */
  readonly members = NO_PRIVATE_ROOMS;
  readonly upkeep: {
    touchName(key: string, lastUsed?: number): void;
    roomExists(room: string): boolean;
    charge(fingerprint: string, kind: QuotaKind, limit: number): boolean;
    expire(): Expired;
    readonly atCap: boolean;
  };

  private constructor(
    o: ClusterOptions,
    nc: NatsConnection,
    rooms: RoomLog,
    kv: [
      KvReplica<NameOwner>,
      KvReplica<Ban>,
      KvReplica<true>,
      KvReplica<Topic>,
      KvReplica<string>,
    ],
    nodeId: string,
  ) {
    this.#o = o;
    this.#nc = nc;
    this.#rooms = rooms;
    [this.#names, this.#bans, this.#ops, this.#topics, this.#settings] = kv;
    this.bus = new ClusterBus({
      nc,
      subjects: clusterSubjects(o.name),
      nodeId,
      timeoutMs: o.timeoutMs ?? 5000,
      now: Date.now,
      attachStore: (to) => {
        this.#rooms.onRemote = (m) => to.message(m);
        this.#bans.onChange = (_key, ban, local) => {
          if (!local && ban !== undefined) to.banned(ban);
        };
      },
    });
    for (const [key, owner] of this.#names.entries()) this.#countOwner(key, owner);
    const prev = this.#names.onChange;
    this.#names.onChange = (key, owner, local) => {
      this.#countOwner(key, owner);
      prev(key, owner, local);
    };
    this.upkeep = {
      touchName: (key, lastUsed = -Infinity) => {
        const now = o.now();
        const owner = this.#names.get(key);
        if (owner === undefined || lastUsed >= now - DAY_MS || !this.#rooms.available) return;
        this.#write(this.#names.put(key, { ...owner, lastUsed: now }));
      },
      roomExists: (room) => this.#rooms.has(room) || this.#topics.get(room) !== undefined,
      charge: (fp, kind, limit) => {
        const day = Math.floor(o.now() / DAY_MS);
        const k = `${kind} ${fp}`;
        const u = this.#usage.get(k);
        if (u !== undefined && u.day === day && u.n >= limit) return false;
        if (this.#usage.size >= 100_000) this.#usage.clear();
        this.#usage.set(k, { day, n: u !== undefined && u.day === day ? u.n + 1 : 1 });
        return true;
      },
      expire: () => ({ rooms: [], names: [], bans: 0 }),
      atCap: false,
    };
  }

  /**
   * Connects to NATS (failing over between `servers`, reconnecting forever once connected),
   * creates or finds the cluster's buckets and loads them and the rooms' newest history.
   * Rejects when NATS cannot be reached or has no JetStream.
   */
  static async open(o: ClusterOptions): Promise<ClusterStore> {
    const timeoutMs = o.timeoutMs ?? 5000;
    const s = clusterSubjects(o.name);
    const nodeId = crypto.randomUUID();
    const nc = await connect({
      servers: o.servers,
      name: `chat ${o.name}`,
      timeout: timeoutMs,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      pingInterval: 2000,
      maxPingOut: 2,
    });
    let rooms: RoomLog | undefined;
    try {
      // JetStream may still be starting (NATS just restarted): ask again for a while.
      const deadline = Date.now() + 3 * timeoutMs;
      let jsm;
      for (;;) {
        try {
          jsm = await jetstreamManager(nc, { timeout: timeoutMs });
          break;
        } catch (e) {
          if (Date.now() > deadline) throw e;
          o.log("info", "cluster: waiting for JetStream", { error: String(e) });
          await new Promise((r) => setTimeout(r, 500));
        }
      }
      const js = jetstream(nc, { timeout: timeoutMs });
      rooms = await RoomLog.open({
        nc,
        js,
        jsm,
        cluster: o.name,
        kept: o.historyKept,
        cached: o.cached,
        dupWindowMs: 10 * 60_000,
        timeoutMs,
        nodeId,
        log: o.log,
      });
      const kvm = new Kvm(js);
      const open = <T>(what: string, d: Decode<T>) =>
        KvReplica.open(kvm, s.bucket(what), d, timeoutMs);
      const settled = await Promise.allSettled([
        open("names", decodeOwner),
        open("bans", decodeBan),
        open("ops", decodeTrue),
        open("topics", decodeTopic),
        open("settings", (v) => typeof v === "string" ? v : undefined),
      ]);
      const failed = settled.find((r) => r.status === "rejected");
      if (failed !== undefined) {
        for (const r of settled) if (r.status === "fulfilled") r.value.close();
        throw failed.reason;
      }
      const kv = settled.map((r) => (r as PromiseFulfilledResult<unknown>).value) as [
        KvReplica<NameOwner>,
        KvReplica<Ban>,
        KvReplica<true>,
        KvReplica<Topic>,
        KvReplica<string>,
      ];
      const store = new ClusterStore(o, nc, rooms, kv, nodeId);
      store.#watchStatus();
      return store;
    } catch (e) {
      rooms?.close();
      await nc.close().catch(() => {});
      throw e;
    }
  }

  /**
   * Follows the connection: refuses writes while NATS is away (a disconnect, or a round trip
   * not answered within `PROBE_MS`, checked every second), catches up when it is back.
   */
  #watchStatus(): void {
    (async () => {
      for await (const s of this.#nc.status()) {
        if (s.type === "disconnect" || s.type === "staleConnection") this.#down();
        else if (s.type === "reconnect") this.#up();
      }
    })().catch(() => {});
    this.#probe = setInterval(() => {
      if (this.#probing || this.#closed) return;
      this.#probing = true;
      let timer: ReturnType<typeof setTimeout> | undefined;
      Promise.race([
        this.#nc.rtt(),
        new Promise((_, reject) =>
          timer = setTimeout(() => reject(new Error("timeout")), PROBE_MS)
        ),
      ]).then(() => this.#up(), () => this.#down()).finally(() => {
        clearTimeout(timer);
        this.#probing = false;
      });
    }, 1000);
  }

  #down(): void {
    if (!this.#rooms.available || this.#closed) return;
    this.#o.log("warn", "cluster: NATS unreachable; sends are refused until it is back", {});
    this.#rooms.available = false;
  }

  #up(): void {
    if (this.#rooms.available || this.#closed) return;
    this.#o.log("info", "cluster: NATS reachable again", {});
    this.#rooms.available = true;
    const failed = (e: unknown) =>
      this.#o.log("warn", "cluster: catching up failed", { error: String(e) });
    this.#rooms.resync().catch(failed);
    for (const r of [this.#names, this.#bans, this.#ops, this.#topics, this.#settings]) {
      r.refresh().catch(failed);
    }
  }

  /** Stops listening and closes the connection to NATS (pending writes are flushed first). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#probe);
    this.bus.close();
    this.#rooms.close();
    for (const r of [this.#names, this.#bans, this.#ops, this.#topics, this.#settings]) r.close();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.#nc.drain().catch(() => {}),
      new Promise((r) => timer = setTimeout(r, 2000)),
    ]);
    clearTimeout(timer);
    await this.#nc.close().catch(() => {});
  }

  #countOwner(key: string, owner: NameOwner | undefined): void {
    const before = this.#ownerOf.get(key);
    if (before !== undefined) {
      const n = (this.#owned.get(before) ?? 1) - 1;
      if (n > 0) this.#owned.set(before, n);
      else this.#owned.delete(before);
      this.#ownerOf.delete(key);
    }
    if (owner !== undefined) {
      this.#ownerOf.set(key, owner.fingerprint);
      this.#owned.set(owner.fingerprint, (this.#owned.get(owner.fingerprint) ?? 0) + 1);
    }
  }

  /** Throws `unavailable` while NATS cannot be reached. */
  #need(): void {
    if (!this.#rooms.available) throw unavailable();
  }

  /** Reports a failed write through to NATS (the local copy has it already). */
  #write(p: Promise<void>): void {
    p.catch((e) => this.#o.log("warn", "cluster: a write failed", { error: String(e) }));
  }

  /** Nothing waits to be committed here: each message goes to NATS as it is said. */
  flush(): void {}

  /** See {@linkcode RoomLog.append}. */
  append(m: NewMessage, done: (r: AppendResult) => void): void {
    if (typeof done !== "function") throw new TypeError("done must be a function");
    this.#rooms.append(m, done);
  }

  /** The cached message `senderFp` sent with id `id`. */
  findById(senderFp: string, id: string): StoredMessage | undefined {
    return this.#rooms.findById(senderFp, id);
  }

  /** The room's last seq known to this node. */
  lastSeq(room: string): number {
    return this.#rooms.lastSeq(room);
  }

  /** Cached messages after `seq`. */
  after(room: string, seq: number, max: number): StoredMessage[] {
    return this.#rooms.after(room, seq, max);
  }

  /** The room's topic. */
  topic(room: string): string {
    return this.#topics.get(room)?.topic ?? "";
  }

  /** Sets the room's topic everywhere. */
  setTopic(room: string, topic: string, by: string): void {
    this.#need();
    this.#write(this.#topics.put(room, { topic, by, updated: this.#o.now() }));
  }

  /** The owner of a name. */
  ownerOf(key: string): NameOwner | undefined {
    const o = this.#names.get(key);
    return o === undefined ? undefined : { ...o };
  }

  /** How many names `fingerprint` owns. */
  namesOwnedBy(fingerprint: string): number {
    return this.#owned.get(fingerprint) ?? 0;
  }

  /**
   * Claims a name for `fingerprint` with an atomic create in the names bucket: of two nodes
   * racing for one name, exactly one wins. Skipped when the name has an owner already or
   * `fingerprint` owns as many names as it may; a failure leaves the name unclaimed (then
   * `claimName` answers `unavailable`).
   */
  async reserveName(key: string, name: string, fingerprint: string): Promise<void> {
    if (this.#names.get(key) !== undefined || !this.#rooms.available) return;
    if (this.namesOwnedBy(fingerprint) >= this.#o.namesPerIdentity) return;
    const now = this.#o.now();
    try {
      await this.#names.create(key, { name, fingerprint, created: now, lastUsed: now });
    } catch (e) {
      this.#o.log("warn", "cluster: a name could not be claimed", { error: String(e) });
    }
  }

  /** The outcome of the claim settled by {@linkcode reserveName}. */
  claimName(
    key: string,
    _displayName: string,
    fingerprint: string,
  ): "claimed" | "owned_by_you" | "owned_by_other" {
    const owner = this.#names.get(key);
    if (owner === undefined) throw unavailable();
    return owner.fingerprint === fingerprint ? "owned_by_you" : "owned_by_other";
  }

  /** Frees a name `fingerprint` owns, everywhere. */
  releaseName(key: string, fingerprint: string): boolean {
    if (this.#names.get(key)?.fingerprint !== fingerprint) return false;
    this.#need();
    this.#write(this.#names.delete(key));
    return true;
  }

  /** The bans in force. */
  bans(): Ban[] {
    const now = this.#o.now();
    const out: Ban[] = [];
    for (const [, b] of this.#bans.entries()) {
      if (b.expires === null || b.expires > now) out.push({ ...b });
    }
    return out.sort((a, b) => a.created - b.created || (a.target < b.target ? -1 : 1));
  }

  /** Adds a ban everywhere (other nodes close matching sessions when they see it). */
  addBan(b: Ban): void {
    const ban = decodeBan(b);
    if (ban === undefined) throw new TypeError("malformed ban");
    this.#need();
    this.#write(this.#bans.put(ban.target, ban));
  }

  /** Removes a ban everywhere. */
  removeBan(target: string): boolean {
    if (this.#bans.get(target) === undefined) return false;
    this.#need();
    this.#write(this.#bans.delete(target));
    return true;
  }

  /** True when `fingerprint` was made an operator. */
  isOp(fingerprint: string): boolean {
    return this.#ops.get(fingerprint) === true;
  }

  /** Makes `fingerprint` an operator everywhere. */
  addOp(fingerprint: string): void {
    this.#need();
    this.#write(this.#ops.put(fingerprint, true));
  }

  /** Removes an operator everywhere. */
  removeOp(fingerprint: string): boolean {
    if (!this.isOp(fingerprint)) return false;
    this.#need();
    this.#write(this.#ops.delete(fingerprint));
    return true;
  }

  /** The message of the day set with `/motd` anywhere in the cluster, if any. */
  motd(): string | undefined {
    return this.#settings.get("motd");
  }

  /** Sets the message of the day for every node. */
  setMotd(text: string): void {
    this.#need();
    this.#write(this.#settings.put("motd", text));
  }

  /** Nothing to prune locally: each room's stream keeps `historyKept` messages. */
  pruneOldest(_n: number): number {
    return 0;
  }
}
