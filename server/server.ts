/**
 * The chat server: listener, accept loop, connection caps, deadlines sweep,
 * and orderly shutdown. Rooms and users live in the hub.
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { Connection } from "./connection.ts";
import type { ConnectionContext } from "./connection_ports.ts";
import { VerifiedIdentities } from "./verified_identities.ts";
import { noticeLog } from "./log_sink.ts";
import { Hub } from "./hub.ts";
import { auditTrail } from "./audit.ts";
import { StorageError, Store } from "./store.ts";
import { DAY_MS, type Expired, type ExpireOptions } from "./upkeep.ts";
import type { HubStore, HubUpkeep } from "./hub_options.ts";
import type { ClusterStore } from "./cluster/cluster_store.ts";
import type { ClusterNodes } from "./node_beacon.ts";
import { Transcript } from "./transcript.ts";
import { addressGroup } from "./ip_prefix.ts";
import { loadHostKey, loadOrCreateHostKey } from "../shared/keys.ts";
import { Blacklist } from "../shared/names.ts";
import { accessWarning, readRegularFile } from "../shared/safe_file.ts";
import { DEFAULT_LIMITS, type Limits, TokenBucket } from "../shared/limits.ts";
import { RoomRecords } from "./room_records.ts";
import { VERSION } from "../version.ts";
import { defaultNodeName } from "./nodes.ts";

/** The machine's host name, or "" when it cannot be read. */
function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "";
  }
}

/** Identities whose keys stay verified in memory (about 1 KiB each with a DM key). */
const VERIFIED_CACHE = 1024;

/** Everything `chat server` can be told. */
export interface ServerOptions {
  /** Address to bind; default all interfaces. */
  host?: string;
  /** Port; 0 picks a free one. */
  port: number;
  /** Data directory (host key, database). */
  dataDir: string;
  /**
   * Host key file to present instead of `${dataDir}/host_key` (the same file on every node of a
   * cluster); read only, never created.
   */
  hostKeyPath?: string;
  /** Limits; missing ones take the defaults. */
  limits?: Partial<Limits>;
  /** Identity fingerprints with operator rights. */
  admins?: string[];
  /** Message of the day. */
  motd?: string;
  /** Blacklist file (names and `*` patterns). */
  blacklistPath?: string;
  /** JSON Lines chat log. */
  logPath?: string;
  /** Size at which the log rotates (default 100 MiB). */
  logMaxBytes?: number;
  /** Rotated log files kept (default 5). */
  logKeep?: number;
  /** Server name shown to clients. */
  name?: string;
  /** This node's name in `/service` and `/stats` (default host name and port, `web1:5000`). */
  nodeName?: string;
  /** Clock (ms). */
  now?: () => number;
  /**
   * Join a cluster: NATS server URLs and the cluster's name (default `chat`). Without it the
   * server keeps its own database in the data directory.
   */
  cluster?: { servers: string[]; name?: string };
}

/** What the server asks of its store besides the hub's calls (upkeep, pruning, closing). */
type ServerStore = HubStore & {
  /** Commits what is pending and closes. */
  close(): void | Promise<void>;
  /** Removes the `n` oldest messages anywhere; how many there were. */
  pruneOldest(n: number): number;
  /** Quotas, expiry and the size cap. */
  readonly upkeep: HubUpkeep & {
    expire(o: ExpireOptions): Expired;
    readonly atCap: boolean;
  };
};

/** A running server. */
export class ChatServer {
  /** The address really listened on. */
  readonly addr: Deno.NetAddr;
  /** Host-key fingerprint. */
  readonly fingerprint: string;
  /** True when the host key was created by this start. */
  readonly createdKey: boolean;
  /** The hub (for the operator console). */
  readonly hub: Hub;

  #listener: Deno.TcpListener;
  #store: ServerStore;
  #transcript?: Transcript;
  #limits: Limits;
  #conns = new Map<number, Connection>();
  #unauth = new Set<Connection>();
  /** Per address group: live connections, recent accepts, the automatic bucket they share. */
  #perIp = new Map<string, { live: number; recent: number[]; auto?: TokenBucket }>();
  #groups = new WeakMap<Connection, string>(); // each connection's address group, worked out once
  #nextId = 1;
  #prunedAt = 0;
  #sweep: ReturnType<typeof setInterval>;
  #expiredAt = -Infinity;
  #roomMadeAt = -Infinity;
  #dmsExpiredAt = -Infinity;
  #accepting: Promise<void>;
  #blacklistPath?: string;
  #blacklist: Blacklist;
  #now: () => number;
  #closed?: Promise<void>;
  #nodes?: ClusterNodes;

  private constructor(
    listener: Deno.TcpListener,
    store: ServerStore,
    transcript: Transcript | undefined,
    limits: Limits,
    hub: Hub,
    fp: string,
    created: boolean,
    blacklist: Blacklist,
    opts: ServerOptions,
    ctxBase: Omit<ConnectionContext<Connection>, "hub" | "onClosed" | "onAuthenticated">,
  ) {
    this.#listener = listener;
    this.addr = listener.addr;
    this.#store = store;
    this.#transcript = transcript;
    this.#limits = limits;
    this.hub = hub;
    this.fingerprint = fp;
    this.createdKey = created;
    this.#blacklist = blacklist;
    this.#blacklistPath = opts.blacklistPath;
    this.#now = opts.now ?? Date.now;
    const ctx: ConnectionContext<Connection> = {
      ...ctxBase,
      hub,
      onClosed: (c) => this.#onClosed(c),
      onAuthenticated: (c) => this.#unauth.delete(c),
    };
    const period = Math.max(
      10,
      Math.min(1000, limits.handshakeMs / 4, limits.idlePingMs / 4, limits.stalledWriteMs / 4),
    );
    this.#expire(this.#now()); // what aged while the server was down goes before anyone logs in
    this.#expireDms(this.#now());
    this.#sweep = setInterval(() => {
      try {
        const now = this.#now();
        for (const c of this.#conns.values()) c.tick(now);
        if (now - this.#prunedAt >= 1000) this.#pruneAddresses(now);
        if (now - this.#expiredAt >= EXPIRE_EVERY_MS) this.#expire(now);
        if (now - this.#roomMadeAt >= CAP_CHECK_MS) this.#makeRoom(now);
        if (now - this.#dmsExpiredAt >= CAP_CHECK_MS) this.#expireDms(now);
      } catch (e) {
        // A throw from a timer would end the process: report it and sweep again next time.
        getLogger(["chat", "server"]).error("sweep failed: {error}", { error: String(e) });
      }
    }, period);
    this.#accepting = this.#acceptLoop(ctx);
  }

  /** Opens the data dir, host key, database and log, and starts listening. */
  static async start(opts: ServerOptions): Promise<ChatServer> {
    const log = getLogger(["chat", "server"]);
    const storageLog = getLogger(["chat", "storage"]);
    const modLog = getLogger(["chat", "moderation"]);
    const limits: Limits = { ...DEFAULT_LIMITS, ...opts.limits };
    const now = opts.now ?? Date.now;
    await Deno.mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
    for (const path of [opts.dataDir, `${opts.dataDir}/chat.db`]) {
      const warning = await accessWarning(path);
      if (warning !== undefined) log.warn(`WARNING: ${warning}`);
    }
    const { key, created } = opts.hostKeyPath === undefined
      ? await loadOrCreateHostKey(opts.dataDir)
      : { key: await loadHostKey(opts.hostKeyPath), created: false };
    const blacklist = opts.blacklistPath
      ? await readBlacklist(opts.blacklistPath)
      : Blacklist.empty();
    const ref: { server?: ChatServer } = {};
    const dbPath = `${opts.dataDir}/chat.db`;
    let store: ServerStore;
    let cluster: ClusterStore | undefined;
    if (opts.cluster !== undefined) {
      const { ClusterStore } = await import("./cluster/cluster_store.ts");
      const clusterLog = getLogger(["chat", "cluster"]);
      try {
        store = cluster = await ClusterStore.open({
          servers: opts.cluster.servers,
          name: opts.cluster.name ?? "chat",
          historyKept: limits.historyKept,
          cached: Math.min(
            limits.historyKept,
            Math.max(limits.resumeMax, limits.historyMax, limits.historyOnJoin),
          ),
          namesPerIdentity: limits.namesPerIdentity,
          now,
          log: (level, message, props) => clusterLog[level](message, props),
        });
      } catch (e) {
        if (e instanceof TypeError || e instanceof RangeError) throw e;
        const why = e instanceof Error ? e.message : String(e);
        throw new Error(`cannot join the cluster at ${opts.cluster.servers.join(",")}: ${why}`, {
          cause: e,
        });
      }
    } else {
      try {
        store = Store.open(dbPath, {
          historyKept: limits.historyKept,
          historyTotal: limits.historyTotal,
          commitWindowMs: limits.commitWindowMs,
          maxBytes: limits.dbBytes,
          now,
          checkpoints: "worker",
          onCheckpointError: storageWarning(
            (text) => storageLog.error(text),
            "database checkpoint",
            () => "",
            "The server keeps running; checkpoints are tried again (by the server's own " +
              "connection if the checkpoint worker stopped).",
          ),
          onError: storageWarning(
            (text) => storageLog.error(text),
            "database",
            () =>
              ref.server?.atCap
                ? ` (the database has reached its cap, --limit dbBytes=${limits.dbBytes})`
                : "",
          ),
        });
      } catch (e) {
        if (e instanceof TypeError || e instanceof RangeError) throw e;
        const why = e instanceof Error ? e.message : String(e);
        throw new Error(`cannot open the database ${dbPath}: ${why}`, { cause: e });
      }
    }
    let transcript: Transcript | undefined;
    let listener: Deno.TcpListener | undefined;
    try {
      transcript = opts.logPath
        ? await Transcript.open(opts.logPath, {
          maxBytes: opts.logMaxBytes,
          keep: opts.logKeep,
          onError: storageWarning((text) => storageLog.error(text), `log ${opts.logPath}`),
        })
        : undefined;
      if (transcript?.warning !== undefined) log.warn(`WARNING: log ${transcript.warning}`);
      listener = Deno.listen({ hostname: opts.host ?? "0.0.0.0", port: opts.port });
    } catch (e) {
      await store.close();
      await transcript?.close();
      throw e;
    }
    let nodes: ClusterNodes | undefined;
    if (opts.cluster !== undefined) {
      const { joinClusterNodes } = await import("./node_beacon.ts");
      const idle = { name: "", users: 0, connections: 0 };
      try {
        nodes = await joinClusterNodes({
          servers: opts.cluster.servers,
          name: opts.cluster.name ?? "chat",
          self: () => ref.server?.hub.nodeStatus() ?? idle,
          now,
        });
      } catch (e) {
        listener.close();
        await store.close();
        await transcript?.close();
        throw e;
      }
    }
    const startedAt = now();
    const hub = new Hub({
      store,
      bus: cluster?.bus,
      limits,
      now,
      serverName: opts.name ?? "chat",
      version: VERSION,
      motd: () => opts.motd ?? "",
      hostFingerprint: key.fingerprint,
      admins: new Set(opts.admins ?? []),
      blacklist: () => ref.server ? ref.server.blacklist : blacklist,
      transcript,
      startedAt,
      connectionCount: () => ref.server ? ref.server.connections : 0,
      nodeName: opts.nodeName ?? defaultNodeName(hostname(), listener.addr.port),
      nodes: nodes?.board,
      log: noticeLog(log),
      roomRecords: limits.roomRecords > 0 ? new RoomRecords(key.privateKey, now) : undefined,
      audit: auditTrail({
        log: (message, props) => modLog.info(message, props),
        transcript,
        now,
      }),
    });
    ref.server = new ChatServer(
      listener,
      store,
      transcript,
      limits,
      hub,
      key.fingerprint,
      created,
      blacklist,
      opts,
      {
        hostKey: key,
        limits,
        now,
        log: (level, message, props) => log[level](message, props ?? {}),
        verified: new VerifiedIdentities(VERIFIED_CACHE),
      },
    );
    ref.server.#nodes = nodes;
    return ref.server;
  }

  /** Re-reads the blacklist file (SIGHUP). */
  async reloadBlacklist(): Promise<number> {
    if (!this.#blacklistPath) return 0;
    this.#blacklist = await readBlacklist(this.#blacklistPath);
    return this.#blacklist.size;
  }

  /** The blacklist in force. */
  get blacklist(): Blacklist {
    return this.#blacklist;
  }

  /** Number of open connections. */
  get connections(): number {
    return this.#conns.size;
  }

  async #acceptLoop(ctx: ConnectionContext<Connection>): Promise<void> {
    for (;;) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch (e) {
        if (this.#closed) return;
        if (e instanceof Deno.errors.BadResource) return;
        await new Promise((r) => setTimeout(r, 50)); // e.g. EMFILE: back off
        continue;
      }
      try {
        const c = new Connection(conn, this.#nextId++, ctx);
        this.#conns.set(c.id, c);
        this.#admit(c);
        if (c.open) c.run();
      } catch (e) {
        // One bad connection never stops the accept loop.
        getLogger(["chat", "server"]).error("accept failed: {error}", { error: String(e) });
      }
    }
  }

  /** Applies the connection caps (DESIGN.md §4) to a new connection. */
  #admit(c: Connection): void {
    const l = this.#limits;
    const now = this.#now();
    const group = addressGroup(c.ip);
    this.#groups.set(c, group);
    let ip = this.#perIp.get(group);
    if (!ip) this.#perIp.set(group, ip = { live: 0, recent: [] });
    ip.live++;
    while (ip.recent.length > 0 && now - ip.recent[0] > l.perIpWindowMs) ip.recent.shift();
    if (this.hub.isIpBanned(c.ip)) return c.refuse("banned");
    if (this.#conns.size > l.maxConnections) return c.refuse("full");
    if (ip.live > l.perIpConcurrent) return c.refuse("per_ip_limit");
    if (ip.recent.length >= l.perIpNew) return c.refuse("throttled");
    ip.recent.push(now);
    // Reconnecting must not refill what automatic requests and replays may cost (charge.ts).
    ip.auto ??= new TokenBucket(l.autoBurst, l.autoPerSecond, this.#now);
    c.shareAutomaticBudget(ip.auto);
    if (this.#unauth.size >= l.maxUnauthenticated) {
      const oldest = this.#unauth.values().next().value;
      if (oldest) {
        this.#unauth.delete(oldest);
        oldest.abort("evicted");
      }
    }
    this.#unauth.add(c);
  }

  /** True when the database has reached `--limit dbBytes`. */
  get atCap(): boolean {
    try {
      return this.#store.upkeep.atCap;
    } catch {
      return false;
    }
  }

  /**
   * Near the `dbBytes` cap, prunes the oldest 2% of the history so new messages fit again (the
   * freed pages are reused; the file does not grow).
   */
  #makeRoom(now: number): void {
    this.#roomMadeAt = now;
    try {
      if (!this.#store.upkeep.atCap) return;
      const n = this.#store.pruneOldest(Math.max(100, Math.ceil(this.#limits.historyTotal / 50)));
      getLogger(["chat", "storage"]).warn(
        "WARNING: the database is at its cap (--limit dbBytes={cap}): pruned the {n} oldest " +
          "messages to make room",
        { cap: this.#limits.dbBytes, n },
      );
    } catch (e) {
      if (!(e instanceof StorageError)) throw e; // a storage failure was warned about already
    }
  }

  /** Drops private messages queued longer than `dmQueueDays` (their senders are told). */
  #expireDms(now: number): void {
    this.#dmsExpiredAt = now;
    try {
      const n = this.hub.expireQueuedDms();
      if (n > 0) {
        getLogger(["chat", "server"]).info(
          "dropped {n} queued private messages older than {days} days",
          { n, days: this.#limits.dmQueueDays },
        );
      }
    } catch (e) {
      if (!(e instanceof StorageError)) throw e; // a storage failure was warned about already
    }
  }

  /** Releases unused names and removes empty rooms, expired bans and old quota counters. */
  #expire(now: number): void {
    this.#expiredAt = now;
    const l = this.#limits;
    try {
      this.#store.dmQueue?.forgetOrphanKeys();
      const out = this.#store.upkeep.expire({
        nameUnusedMs: l.nameExpiryDays * DAY_MS,
        roomIdleMs: l.roomExpiryDays * DAY_MS,
        nameInUse: (key) => this.hub.nameInUse(key),
        liveRoom: (room) => this.hub.roomIsLive(room),
      });
      if (out.names.length + out.rooms.length + out.bans > 0) {
        getLogger(["chat", "server"]).info(
          "expired {names} unused names, {rooms} empty rooms, {bans} bans",
          { names: out.names.length, rooms: out.rooms.length, bans: out.bans },
        );
      }
    } catch (e) {
      if (!(e instanceof StorageError)) throw e; // a storage failure was warned about already
    }
  }

  /** Forgets addresses with no connection and no admission inside the window. */
  #pruneAddresses(now: number): void {
    this.#prunedAt = now;
    const window = this.#limits.perIpWindowMs;
    for (const [addr, ip] of this.#perIp) {
      while (ip.recent.length > 0 && now - ip.recent[0] > window) ip.recent.shift();
      if (ip.live <= 0 && ip.recent.length === 0) this.#perIp.delete(addr);
    }
  }

  #onClosed(c: Connection): void {
    if (!this.#conns.delete(c.id)) return;
    this.#unauth.delete(c);
    const group = this.#groups.get(c) ?? addressGroup(c.ip);
    const ip = this.#perIp.get(group);
    if (ip) {
      ip.live--;
      if (ip.live <= 0 && ip.recent.length === 0) this.#perIp.delete(group);
    }
    // Not from inside the hub's own call stack (a send that overflowed a queue ends up here):
    // the hub finishes what it was doing first, then forgets the peer.
    queueMicrotask(() => this.hub.disconnect(c.id, "connection lost", c.closeReason));
  }

  /** Says goodbye to everyone, flushes the database and log, and stops. Idempotent. */
  shutdown(): Promise<void> {
    this.#closed ??= this.#shutdown();
    return this.#closed;
  }

  async #shutdown(): Promise<void> {
    try {
      this.#listener.close();
    } catch {
      // already closed
    }
    await this.#accepting;
    const leaving = this.#nodes?.stop(); // the other nodes drop this one at once
    this.hub.shutdown();
    for (const c of this.#conns.values()) c.close("shutdown");
    const deadline = performance.now() + 2000; // real time, whatever clock the hub was given
    while (this.#conns.size > 0 && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    for (const c of [...this.#conns.values()]) c.abort("shutdown");
    clearInterval(this.#sweep);
    try {
      await this.#transcript?.close();
    } catch {
      // already reported by onError; the database is closed all the same
    } finally {
      await leaving;
      await this.#store.close();
    }
  }
}

/** How often the database is checked against its cap. */
const CAP_CHECK_MS = 5_000;

/** How often unused names, empty rooms and expired bans are removed. */
const EXPIRE_EVERY_MS = 10 * 60_000;

/** How often one kind of storage failure is repeated on the console at most. */
const STORAGE_WARNING_MS = 30_000;

/**
 * A reporter of storage failures of `what` that prints a loud warning at most every 30 s
 * (with a count of the failures in between), so a full disk is noticed but cannot flood the
 * console.
 */
function storageWarning(
  print: (text: string) => void,
  what: string,
  more: () => string = () => "",
  consequence = "Users get storage_full/internal errors until space is freed.",
): (e: StorageError | unknown) => void {
  let last = -Infinity;
  let quiet = 0;
  return (e) => {
    const now = performance.now();
    if (now - last < STORAGE_WARNING_MS) {
      quiet++;
      return;
    }
    last = now;
    const cause = e instanceof Error && e.cause !== undefined ? e.cause : e;
    const detail = cause instanceof Error ? cause.message : String(cause);
    const full = (e as { code?: unknown }).code === "storage_full" || /full|ENOSPC|space/i.test(
      detail,
    );
    const repeats = quiet > 0 ? ` (${quiet} more failures since the last warning)` : "";
    quiet = 0;
    print(
      `WARNING: ${what} ${full ? "storage is FULL" : "write failed"}: ${
        detail.replace(/\.$/, "")
      }${more()}${repeats}. ${consequence}`,
    );
  };
}

/** Largest `--blacklist` file accepted, in bytes. */
export const BLACKLIST_MAX = 1024 * 1024;

/**
 * Reads the blacklist: it must be a regular file of at most 1 MiB (a FIFO, device or directory
 * is refused before it is opened, so a start or SIGHUP never blocks on it).
 */
async function readBlacklist(path: string): Promise<Blacklist> {
  let bytes: Uint8Array;
  try {
    bytes = await readRegularFile(path, BLACKLIST_MAX);
  } catch (e) {
    const why = e instanceof TypeError
      ? "is not a regular file"
      : e instanceof RangeError
      ? `is larger than ${BLACKLIST_MAX} bytes`
      : `cannot be read (${e instanceof Error ? e.message : e})`;
    throw new TypeError(`blacklist ${path} ${why}`, { cause: e });
  }
  return Blacklist.parse(new TextDecoder().decode(bytes));
}
