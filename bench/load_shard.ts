/**
 * One shard of a `chat bench` load run: the clients `i` with `i mod shards = shard`, connected,
 * sending (those that are senders) and counting what each of them receives. A run has one shard
 * in the main thread, or one per worker thread with `--workers` (bench/load_worker.ts), so that
 * one thread's reads do not delay another's. The shards share the senders' counts through a
 * `SharedArrayBuffer` and one clock: times are absolute (`performance.timeOrigin + now()`, ms),
 * the same in every thread of the process; a message's latency is from its sender's stamp, taken
 * just before sealing, to the arrival of the record that holds it at each receiver.
 * @module
 */

import { LagProbe, pool, Reservoir, sleep, Tally } from "./measure.ts";
import { BENCH_DM_SPKI, type BenchConfig, dmKeySpki, roomOf } from "./load_config.ts";
import { fromBase64 } from "../shared/encoding.ts";
import { newId, type ServerMessage } from "../shared/messages.ts";
import { PrivateSender } from "./private_load.ts";
import { fingerprint } from "../shared/crypto.ts";
import {
  type BenchIdentity,
  benchIdentity,
  benchName,
  LoadClient,
  LoadClientError,
  withDmKey,
} from "./load_client.ts";

/** What a shard is told. Structured-cloneable: it is posted to a worker as it is. */
export interface ShardPlan {
  /** The run's options. */
  config: BenchConfig;
  /** This shard's number, 0…shards-1. */
  shard: number;
  /** Shards in the run. */
  shards: number;
  /** The run's tag (the first word of every text, so other runs' messages are ignored). */
  tag: string;
  /**
   * `Int32Array` over it: per sender k (client k), [2k] messages sent and [2k+1] rejected by
   * the server; [2 × senders] senders finished.
   */
  counters: SharedArrayBuffer;
}

/** A shard after connecting. */
export interface ShardConnected {
  /** Connect → welcome of each client that connected (ms). */
  handshakeMs: number[];
  /** The pin mismatch, when the server's key was not the expected one. */
  pin?: string;
  /** Connected clients per room. */
  members: Record<string, number>;
  /** The server's text limit (from a welcome), if any client connected. */
  textBytes?: number;
}

/** A shard's figures after its senders finished and its receivers drained. */
export interface ShardResult {
  /** Messages its senders sent. */
  sent: number;
  /** Own copies its senders received (their acknowledgements). */
  acknowledged: number;
  /** Messages its receivers got (each at most once per receiver). */
  deliveries: number;
  /** Second copies. */
  duplicates: number;
  /** Absolute time of the last delivery and of the last acknowledgement (0: none). */
  lastDelivery: number;
  lastAck: number;
  /** A uniform sample of the delivery latencies (ms), and the largest. */
  latency: number[];
  latencyMax: number;
  /** Per message: the latency of its first and of its last delivery here (-1: none). */
  firstAt: Float64Array;
  lastAt: Float64Array;
  /** Room records opened, and distinct signatures verified (this thread's memo). */
  roomRecords: number;
  roomSignaturesVerified?: number;
  /** How late this thread's 10 ms timer ran during the run (ms). */
  lag: number[];
}

/** Absolute time in ms, the same clock in every thread of the process. */
export function absoluteNow(): number {
  return performance.timeOrigin + performance.now();
}

interface SenderState {
  /** The sender's number (its client index). */
  k: number;
  client: LoadClient;
  /** The sender key of a private room (`--private`). */
  sealer?: PrivateSender;
  name: string;
  room: string;
  sent: number;
  outstanding: Set<string>;
  wake: (() => void) | null;
}

const NONE: [number, number] = [-1, 0];

/** One shard of a load run; see the module doc. */
export class LoadShard {
  readonly #c: BenchConfig;
  readonly #p: ShardPlan;
  readonly #counts: Int32Array;
  readonly #clients: (LoadClient | undefined)[];
  readonly #ids: (BenchIdentity | undefined)[];
  readonly #got: (Uint8Array | undefined)[];
  readonly #errors = new Tally();
  readonly #latency: Reservoir;
  readonly #firstAt: Float64Array;
  readonly #lastAt: Float64Array;
  readonly #senders = new Map<number, SenderState>(); // by client index
  /** Sealed lines are not opened by the bench: their index and send time, by request id. */
  readonly #sealedIds = new Map<string, [number, number]>();
  /** A room record's messages are parsed once for every connection: so are their stamps. */
  readonly #stamps = new WeakMap<object, [number, number]>();
  readonly #origin = performance.timeOrigin;
  #deliveries = 0;
  #duplicates = 0;
  #acknowledged = 0;
  #lastDelivery = 0;
  #lastAck = 0;
  #measuring = false;
  #answered = 0; // replies and errors to the key distribution and the private join

  /** A shard as `plan` says (nothing connected yet). */
  constructor(plan: ShardPlan) {
    this.#p = plan;
    this.#c = plan.config;
    this.#counts = new Int32Array(plan.counters);
    this.#clients = new Array(this.#c.clients);
    this.#ids = new Array(this.#c.clients);
    this.#got = new Array(this.#c.clients);
    this.#latency = new Reservoir(Math.ceil(1_000_000 / plan.shards));
    this.#firstAt = new Float64Array(this.#c.messages).fill(-1);
    this.#lastAt = new Float64Array(this.#c.messages);
  }

  /** True for the clients of this shard. */
  #mine(i: number): boolean {
    return i % this.#p.shards === this.#p.shard;
  }

  #identity(i: number): BenchIdentity {
    let id = this.#ids[i];
    if (id === undefined) {
      id = benchIdentity(benchName(i + 1));
      if (this.#c.dmKey) id = withDmKey(id, dmKeySpki());
      this.#ids[i] = id;
    }
    return id;
  }

  #stamped(m: { text: string; sealed?: string; id: string }): [number, number] {
    if (m.sealed !== undefined) return this.#sealedIds.get(m.id) ?? NONE;
    let s = this.#stamps.get(m);
    if (s !== undefined) return s;
    const tag = this.#p.tag;
    if (!m.text.startsWith(tag + " ")) s = NONE;
    else {
      const sp1 = m.text.indexOf(" ", tag.length + 1);
      const sp2 = m.text.indexOf(" ", sp1 + 1);
      s = [Number(m.text.slice(tag.length + 1, sp1)), Number(m.text.slice(sp1 + 1, sp2))];
    }
    this.#stamps.set(m, s);
    return s;
  }

  #onMessage(ci: number): (m: ServerMessage, at: number) => void {
    const got = this.#got[ci]!;
    return (m, at) => {
      if (m.t === "reply") this.#answered++;
      if (m.t === "msg") {
        if (m.replay || m.key !== undefined) return;
        const [g, stamp] = this.#stamped(m);
        if (!(g >= 0 && g < this.#c.messages)) return;
        if (got[g] !== 0) {
          this.#duplicates++;
          return;
        }
        got[g] = 1;
        this.#deliveries++;
        const when = this.#origin + at;
        this.#lastDelivery = when;
        const ms = when - stamp;
        this.#latency.add(ms);
        if (this.#firstAt[g] < 0) this.#firstAt[g] = ms;
        this.#lastAt[g] = ms;
        const s = this.#senders.get(ci);
        if (s !== undefined && s.name === m.from && s.outstanding.delete(m.id)) {
          this.#acknowledged++;
          this.#lastAck = when;
          s.wake?.();
        }
      } else if (m.t === "error") {
        this.#answered++;
        this.#errors.add(m.code);
        const s = this.#senders.get(ci);
        if (s && m.id !== undefined && s.outstanding.delete(m.id)) {
          Atomics.add(this.#counts, 2 * s.k + 1, 1);
          s.wake?.();
        }
      } else if (m.t === "bye" && this.#measuring) {
        this.#errors.add(`bye ${m.reason}`);
      }
    };
  }

  /** Connects this shard's clients (`concurrency` split over the shards). */
  async connect(): Promise<ShardConnected> {
    const c = this.#c;
    const times: number[] = [];
    let pin: string | undefined;
    const connectOne = async (i: number, rooms: string[]) => {
      if (pin !== undefined) return;
      this.#got[i] = new Uint8Array(c.messages);
      try {
        const client = await LoadClient.connect({
          ...c.targets[i % c.targets.length],
          identity: this.#identity(i),
          rooms,
          fingerprint: c.fingerprint,
          timeoutMs: c.timeoutMs,
          roomRecords: c.roomRecords,
          onMessage: this.#onMessage(i),
        });
        this.#clients[i] = client;
        times.push(client.handshakeMs);
      } catch (e) {
        if (e instanceof LoadClientError && e.kind === "pin") pin = e.message;
        this.#errors.add(e instanceof LoadClientError ? `connect ${e.kind}` : "connect internal");
      }
    };
    if (c.private && this.#mine(0)) {
      // Client 1 creates the room private (or joins it when it is private already).
      await connectOne(0, ["#lobby"]);
      const first = this.#clients[0];
      first?.sendRecord([{ t: "cmd", id: newId(), name: "join", args: [c.room, "--private"] }]);
      const end = performance.now() + c.timeoutMs;
      while (first !== undefined && this.#answered === 0 && performance.now() < end) {
        await sleep(5);
      }
    }
    const mine: number[] = [];
    for (let i = this.#p.shard; i < c.clients; i += this.#p.shards) {
      if (!(c.private && i === 0)) mine.push(i);
    }
    const limit = Math.max(1, Math.ceil(c.concurrency / this.#p.shards));
    await pool(mine.length, limit, async (j) => {
      await connectOne(mine[j], [roomOf(c, mine[j])]);
    });
    const members: Record<string, number> = {};
    let textBytes: number | undefined;
    this.#clients.forEach((x, i) => {
      if (x === undefined) return;
      members[roomOf(c, i)] = (members[roomOf(c, i)] ?? 0) + 1;
      textBytes ??= x.welcome.limits.textBytes;
    });
    for (let k = 0; k < c.senders; k++) {
      const client = this.#clients[k];
      if (!this.#mine(k) || client === undefined) continue;
      const name = this.#identity(k).name;
      const st: SenderState = {
        k,
        client,
        name,
        room: roomOf(c, k),
        sent: 0,
        outstanding: new Set(),
        wake: null,
      };
      if (c.private) st.sealer = new PrivateSender(this.#identity(k), st.room);
      this.#senders.set(k, st);
    }
    const r: ShardConnected = { handshakeMs: times, members };
    if (pin !== undefined) r.pin = pin;
    if (textBytes !== undefined) r.textBytes = textBytes;
    return r;
  }

  /**
   * `--private` (one shard): every sender gives its key to every member; resolves with the keys
   * given once every one was answered (or the drain deadline passed).
   */
  async giveKeys(): Promise<number> {
    const c = this.#c;
    const members: { name: string; fingerprint: string; kemPub: Uint8Array }[] = [];
    this.#clients.forEach((x, i) => {
      if (x === undefined) return;
      const id = this.#identity(i);
      members.push({
        name: id.name,
        fingerprint: fingerprint(id.sigPublic),
        kemPub: fromBase64(BENCH_DM_SPKI),
      });
    });
    const before = this.#answered;
    for (const st of this.#senders.values()) await st.sealer!.distribute(st.client, members);
    const end = performance.now() + c.drainMs;
    const want = before + this.#senders.size * members.length;
    while (this.#answered < want && performance.now() < end) await sleep(5);
    return this.#senders.size * members.length;
  }

  /**
   * Sends from this shard's senders on the run's schedule from `t0` (absolute ms), then waits
   * (at most `--drain`) until every receiver here has every message the server accepted.
   */
  async run(t0: number): Promise<ShardResult> {
    const c = this.#c;
    const lag = new LagProbe(10);
    lag.start();
    this.#measuring = true;
    const n = c.senders;
    const done = 2 * n;
    try {
      const perSender = (k: number) => Math.floor(c.messages / n) + (k < c.messages % n ? 1 : 0);
      const runs: Promise<void>[] = [];
      let base = 0;
      for (let k = 0; k < n; k++) {
        const count = perSender(k);
        const first = base;
        base += count;
        if (!this.#mine(k)) continue;
        const st = this.#senders.get(k);
        if (st === undefined) {
          Atomics.add(this.#counts, done, 1); // never connected: nothing to send
          continue;
        }
        runs.push(
          this.#send(st, first, count, t0).finally(() => Atomics.add(this.#counts, done, 1)),
        );
      }
      await Promise.all(runs);
      // Every shard's senders: a receiver here expects the messages of all of them.
      const allSent = performance.now() + c.drainMs;
      while (Atomics.load(this.#counts, done) < n && performance.now() < allSent) await sleep(5);
      const members = new Map<string, number>(); // the receivers here, by room
      this.#clients.forEach((x, i) => {
        if (x) members.set(roomOf(c, i), (members.get(roomOf(c, i)) ?? 0) + 1);
      });
      const drainEnd = performance.now() + c.drainMs;
      while (this.#deliveries < this.#expected(members) && performance.now() < drainEnd) {
        await sleep(5);
      }
    } finally {
      this.#measuring = false;
      lag.stop();
    }
    const live = this.#clients.filter((x): x is LoadClient => x !== undefined);
    const memo = live.find((x) => x.roomSignatures !== undefined)?.roomSignatures;
    const r: ShardResult = {
      sent: [...this.#senders.values()].reduce((s, x) => s + x.sent, 0),
      acknowledged: this.#acknowledged,
      deliveries: this.#deliveries,
      duplicates: this.#duplicates,
      lastDelivery: this.#lastDelivery,
      lastAck: this.#lastAck,
      latency: this.#latency.values,
      latencyMax: this.#latency.max,
      firstAt: this.#firstAt,
      lastAt: this.#lastAt,
      roomRecords: live.reduce((s, x) => s + x.roomRecords, 0),
      lag: lag.values,
    };
    if (memo !== undefined) r.roomSignaturesVerified = memo.verified;
    return r;
  }

  /** Deliveries this shard's receivers expect now: accepted messages × `members` here by room. */
  #expected(members: Map<string, number>): number {
    let e = 0;
    for (let k = 0; k < this.#c.senders; k++) {
      const accepted = Atomics.load(this.#counts, 2 * k) - Atomics.load(this.#counts, 2 * k + 1);
      e += accepted * (members.get(roomOf(this.#c, k)) ?? 0);
    }
    return e;
  }

  async #send(st: SenderState, first: number, count: number, t0: number): Promise<void> {
    const c = this.#c;
    const n = c.senders;
    for (let j = 0; j < count; j++) {
      while (st.outstanding.size >= c.window && st.client.open) {
        const progress = new Promise<void>((r) => st.wake = r);
        const stuck = await Promise.race([
          progress.then(() => false),
          sleep(c.drainMs).then(() => true),
        ]);
        st.wake = null;
        if (stuck) {
          this.#errors.add("stalled");
          return;
        }
      }
      if (!st.client.open) {
        this.#errors.add("sender_closed");
        return;
      }
      if (c.rate > 0) {
        const due = t0 + ((j * n + st.k) * 1000) / c.rate;
        const now = absoluteNow();
        if (due > now + 1) await sleep(due - now);
      }
      const g = first + j;
      const head = `${this.#p.tag} ${g} ${absoluteNow().toFixed(3)} `;
      const text = head.length >= c.size ? head.trimEnd() : head + ".".repeat(c.size - head.length);
      if (st.sealer !== undefined) {
        const t = absoluteNow(); // sealing is part of the latency
        const id = st.sealer.say(st.client, text);
        this.#sealedIds.set(id, [g, t]);
        st.outstanding.add(id);
      } else st.outstanding.add(st.client.say(st.room, text));
      st.sent++;
      Atomics.add(this.#counts, 2 * st.k, 1);
    }
  }

  /**
   * Notes why each client that is no longer open closed, says goodbye on every connection, and
   * returns every error of the shard by kind (connecting, running, closing).
   */
  async close(): Promise<Record<string, number>> {
    for (const x of this.#clients) {
      if (x && !x.open) this.#errors.add(`disconnected: ${x.endReason}`);
    }
    await pool(this.#c.clients, 500, async (i) => {
      await this.#clients[i]?.bye();
    });
    return this.#errors.counts;
  }
}
