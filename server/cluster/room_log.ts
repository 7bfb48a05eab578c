/**
 * Room history in a cluster: one JetStream stream per room, whose stream sequence is the room's
 * `seq` (JetStream decides the order; no node's clock does). The stream republishes every
 * stored message, with its sequence, on a live subject every node listens to; each node keeps
 * the newest messages of every room in memory (so the hub reads history synchronously) and
 * hands them on in `seq` order, fetching from the stream whatever the live subject missed.
 * A message is acknowledged to its sender only when its live copy came back: it is stored.
 * @module
 */

import type { JetStreamClient, JetStreamManager, StoredMsg } from "@nats-io/jetstream";
import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import { ProtocolError } from "../../shared/errors.ts";
import type { AppendResult, NewMessage, StoredMessage } from "../store.ts";
import { clusterSubjects, type Subjects } from "./subjects.ts";

/** Messages of one room held back until the ones before them arrive, at most. */
const AHEAD_MAX = 10_000;
/** How long a stored message's live copy is awaited before its sender is told to resend (ms). */
const CONFIRM_MS = 10_000;
/** A gap is filled one message request at a time, at most this many per pass. */
const FILL_MAX = 2_000;

/** What a {@linkcode RoomLog} works with. */
export interface RoomLogOptions {
  /** The connection to NATS. */
  nc: NatsConnection;
  /** JetStream. */
  js: JetStreamClient;
  /** JetStream management. */
  jsm: JetStreamManager;
  /** The cluster's name (prefix of its subjects and streams). */
  cluster: string;
  /** Messages a room's stream keeps (older ones are discarded). */
  kept: number;
  /** Messages of each room held in memory (history and resume read these). */
  cached: number;
  /** How long JetStream remembers a message id to drop a resend, ms. */
  dupWindowMs: number;
  /** Deadline of one JetStream request, ms. */
  timeoutMs: number;
  /** This node's unique id (scope of the ids of messages that carry none). */
  nodeId: string;
  /** Operator log. */
  log: (level: "debug" | "info" | "warn", message: string, props: Record<string, unknown>) => void;
}

interface Rec {
  m: StoredMessage;
  fp: string;
}

interface Pending {
  done: (r: AppendResult) => void;
  settled: boolean;
  /** Timers waiting for the live copy after JetStream acknowledged it. */
  timers?: ReturnType<typeof setTimeout>[];
}

interface RoomState {
  /** The last seq handed on (0: none yet). */
  last: number;
  /** The newest messages, oldest first, at most `cached`. */
  cache: Rec[];
  /** Messages that arrived before the ones preceding them, by seq. */
  ahead: Map<number, { rec: Rec; msgId: string }>;
  /** True while a gap is being fetched. */
  filling: boolean;
  /** The stream exists (created or found), once settled. */
  ready?: Promise<void>;
  /** Callbacks waiting for a seq not yet handed on (the original of a resent id). */
  waiting: Map<number, Array<(m: StoredMessage) => void>>;
}

/** The error a send gets while the cluster's storage cannot be reached. */
export function unavailable(): ProtocolError {
  return new ProtocolError(
    "unavailable",
    "The chat cluster's storage cannot be reached right now; nothing was stored. Try again shortly.",
  );
}

/** Decodes a stored payload; undefined for anything malformed. */
function decode(room: string, seq: number, data: Uint8Array): Rec | undefined {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(new TextDecoder().decode(data));
  } catch {
    return undefined;
  }
  if (
    typeof v !== "object" || v === null || typeof v.ts !== "number" ||
    typeof v.from !== "string" || typeof v.text !== "string" || typeof v.id !== "string" ||
    typeof v.fp !== "string"
  ) return undefined;
  return {
    m: { room, seq, ts: v.ts, from: v.from, text: v.text, me: v.me === true, id: v.id },
    fp: v.fp,
  };
}

/** The rooms' streams, their live copies and the in-memory newest history of each room. */
export class RoomLog {
  /** Told of every message stored by another node (or resent after a lost answer), in order. */
  onRemote: (m: StoredMessage) => void = () => {};
  /** False while NATS cannot be reached: sends are refused with `unavailable`. */
  available = true;
  readonly #o: RoomLogOptions;
  readonly #s: Subjects;
  readonly #rooms = new Map<string, RoomState>();
  readonly #byId = new Map<string, StoredMessage>(); // `${fp} ${id}` → kept message
  readonly #pending = new Map<string, Pending[]>(); // msg id header → sends awaiting their copy
  #sub?: Subscription;
  #queued: Msg[] | undefined = []; // live copies received while loading
  #counter = 0;
  #resyncing?: Promise<void>;

  private constructor(o: RoomLogOptions) {
    this.#o = o;
    this.#s = clusterSubjects(o.cluster);
  }

  /** Listens to the live copies, then loads the newest history of every room's stream. */
  static async open(o: RoomLogOptions): Promise<RoomLog> {
    const log = new RoomLog(o);
    log.#sub = o.nc.subscribe(`${log.#s.live}.>`, {
      callback: (err, msg) => {
        if (err !== null) return;
        if (log.#queued !== undefined) {
          if (log.#queued.length < AHEAD_MAX) log.#queued.push(msg);
        } else log.#onLive(msg);
      },
    });
    await log.resync();
    const queued = log.#queued ?? [];
    log.#queued = undefined;
    for (const m of queued) log.#onLive(m);
    return log;
  }

  /** Stops listening and waiting. */
  close(): void {
    this.#sub?.unsubscribe();
    for (const list of this.#pending.values()) {
      for (const p of list) for (const t of p.timers ?? []) clearTimeout(t);
    }
  }

  /**
   * Brings every room up to its stream's last message: loads rooms not known yet and fetches
   * what the live subject missed (after NATS was unreachable). Throws what NATS throws.
   */
  resync(): Promise<void> {
    this.#resyncing ??= this.#resync().finally(() => this.#resyncing = undefined);
    return this.#resyncing;
  }

  async #resync(): Promise<void> {
    const { jsm } = this.#o;
    const infos = [];
    for await (const si of jsm.streams.list(`${this.#s.room}.>`)) infos.push(si);
    for (const si of infos) {
      const room = this.#s.roomOfStream(si.config.name);
      if (room === undefined) continue;
      const st = this.#state(room);
      st.ready ??= Promise.resolve();
      const last = si.state.last_seq;
      if (last <= st.last) continue;
      if (st.last === 0 && st.cache.length === 0) {
        const from = Math.max(si.state.first_seq, last - this.#o.cached + 1, 1);
        for (const m of await this.#read(si.config.name, from, last)) this.#take(room, m);
        st.last = Math.max(st.last, last);
      } else await this.#fill(room, last);
    }
  }

  /** The room's last seq known here (0 when none). */
  lastSeq(room: string): number {
    return this.#rooms.get(room)?.last ?? 0;
  }

  /** True when the room has (or had) a stream. */
  has(room: string): boolean {
    return this.#rooms.has(room);
  }

  /** At most `max` cached messages of `room` with seq above `seq`, oldest first. */
  after(room: string, seq: number, max: number): StoredMessage[] {
    const c = this.#rooms.get(room)?.cache;
    if (c === undefined || max <= 0) return [];
    let lo = 0, hi = c.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (c[mid].m.seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    return c.slice(lo, lo + max).map((r) => r.m);
  }

  /** The cached message `fp` sent with id `id`, if any. */
  findById(fp: string, id: string): StoredMessage | undefined {
    return id === "" ? undefined : this.#byId.get(`${fp} ${id}`);
  }

  /**
   * Stores `m` in its room's stream (created on first use) with its id as JetStream's message
   * id (so a resend on any node is dropped), and calls `done` once its live copy is back, in
   * room order: with the message, with the original for a resent id, or with `unavailable`.
   */
  append(m: NewMessage, done: (r: AppendResult) => void): void {
    const later = (r: AppendResult) => queueMicrotask(() => done(r));
    const prev = this.findById(m.senderFp, m.id);
    if (prev !== undefined) return later({ ok: true, message: prev, duplicate: true });
    if (!this.available) return later({ ok: false, error: unavailable() });
    const msgId = m.id !== "" ? `${m.senderFp} ${m.id}` : `${this.#o.nodeId}.${++this.#counter}`;
    const p: Pending = { done, settled: false };
    let list = this.#pending.get(msgId);
    if (list === undefined) this.#pending.set(msgId, list = []);
    list.push(p);
    const settle = (r: AppendResult) => {
      if (p.settled) return;
      p.settled = true;
      for (const t of p.timers ?? []) clearTimeout(t);
      this.#unpend(msgId, p);
      done(r);
    };
    const st = this.#state(m.room);
    const payload = JSON.stringify({
      ts: m.ts,
      from: m.from,
      text: m.text,
      me: m.me,
      id: m.id,
      fp: m.senderFp,
    });
    const ready = st.ready ??= this.#ensure(m.room).catch((e) => {
      st.ready = undefined;
      throw e;
    });
    ready
      .then(() =>
        this.#o.js.publish(this.#s.roomSubject(m.room), payload, {
          msgID: msgId,
          timeout: this.#o.timeoutMs,
        })
      )
      .then((ack) => {
        if (p.settled) return;
        if (ack.duplicate) {
          this.#unpend(msgId, p);
          this.#original(
            m.room,
            ack.seq,
            (orig) => settle({ ok: true, message: orig, duplicate: true }),
          );
        } else if (st.last < ack.seq) {
          // The live copy normally follows at once; fetch it if it was lost. If it cannot be
          // had, the sender hears `unavailable` and resends: a resend gets the original.
          const fetch = setTimeout(() => {
            if (!p.settled && st.last < ack.seq) this.#fill(m.room, ack.seq).catch(() => {});
          }, 1000);
          const give = setTimeout(() => settle({ ok: false, error: unavailable() }), CONFIRM_MS);
          p.timers = [fetch, give];
        }
      }, (e) => {
        this.#o.log("warn", "cluster: a message could not be stored", { error: String(e) });
        settle({ ok: false, error: unavailable() });
      });
  }

  #unpend(msgId: string, p: Pending): void {
    const list = this.#pending.get(msgId);
    if (list === undefined) return;
    const i = list.indexOf(p);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#pending.delete(msgId);
  }

  /** Calls `cb` with the message of `room` at `seq` (from memory, the stream, or once it arrives). */
  #original(room: string, seq: number, cb: (m: StoredMessage) => void): void {
    const st = this.#state(room);
    if (seq > st.last) {
      const w = st.waiting.get(seq);
      if (w === undefined) st.waiting.set(seq, [cb]);
      else w.push(cb);
      return;
    }
    const hit = st.cache.find((r) => r.m.seq === seq);
    if (hit !== undefined) return cb(hit.m);
    this.#o.jsm.streams.getMessage(this.#s.streamOf(room), { seq }).then((sm) => {
      const rec = sm === null ? undefined : decode(room, seq, sm.data);
      if (rec !== undefined) cb(rec.m);
    }, () => {});
  }

  /** Creates the room's stream, or finds it. */
  async #ensure(room: string): Promise<void> {
    const name = this.#s.streamOf(room);
    const subject = this.#s.roomSubject(room);
    try {
      await this.#o.jsm.streams.add({
        name,
        subjects: [subject],
        max_msgs: this.#o.kept,
        duplicate_window: this.#o.dupWindowMs * 1_000_000,
        republish: { src: subject, dest: this.#s.liveSubject(room) },
      });
    } catch (e) {
      // Created elsewhere with other limits: use it as it is.
      await this.#o.jsm.streams.info(name).catch(() => {
        throw e;
      });
    }
  }

  #state(room: string): RoomState {
    let st = this.#rooms.get(room);
    if (st === undefined) {
      st = { last: 0, cache: [], ahead: new Map(), filling: false, waiting: new Map() };
      this.#rooms.set(room, st);
    }
    return st;
  }

  #onLive(msg: Msg): void {
    const h = msg.headers;
    if (h === undefined) return;
    const room = this.#s.roomOfStream(h.get("Nats-Stream"));
    const seq = Number(h.get("Nats-Sequence"));
    if (room === undefined || !Number.isSafeInteger(seq) || seq < 1) return;
    const rec = decode(room, seq, msg.data);
    if (rec === undefined) return;
    const st = this.#state(room);
    st.ready ??= Promise.resolve();
    if (seq <= st.last) return;
    if (seq === st.last + 1) {
      this.#deliver(st, rec, h.get("Nats-Msg-Id"));
      this.#drain(st);
      return;
    }
    if (st.ahead.size < AHEAD_MAX) st.ahead.set(seq, { rec, msgId: h.get("Nats-Msg-Id") });
    this.#fill(room, seq - 1).catch(() => {});
  }

  /** Hands on the held-back messages that now follow in order. */
  #drain(st: RoomState): void {
    for (;;) {
      const next = st.ahead.get(st.last + 1);
      if (next === undefined) break;
      st.ahead.delete(st.last + 1);
      this.#deliver(st, next.rec, next.msgId);
    }
    for (const seq of st.ahead.keys()) if (seq <= st.last) st.ahead.delete(seq);
  }

  /** Fetches the messages of `room` after the last one handed on, up to `to`, in order. */
  async #fill(room: string, to: number): Promise<void> {
    const st = this.#state(room);
    if (st.filling) return;
    st.filling = true;
    try {
      const stream = this.#s.streamOf(room);
      if (to - st.last > FILL_MAX) st.last = to - FILL_MAX; // older than anyone resumes live
      while (st.last < to) {
        const seq = st.last + 1;
        const held = st.ahead.get(seq);
        if (held !== undefined) {
          st.ahead.delete(seq);
          this.#deliver(st, held.rec, held.msgId);
          continue;
        }
        let sm: StoredMsg | null;
        try {
          sm = await this.#o.jsm.streams.getMessage(stream, { seq });
        } catch (e) {
          if (!/no message found/i.test(String(e))) throw e;
          sm = null;
        }
        if (st.last >= seq) continue; // arrived live meanwhile
        const rec = sm === null ? undefined : decode(room, seq, sm.data);
        if (rec === undefined) st.last = seq; // discarded by the stream's limits: skip it
        else this.#deliver(st, rec, sm!.header?.get("Nats-Msg-Id") ?? "");
      }
      this.#drain(st);
    } finally {
      st.filling = false;
    }
    if (st.ahead.size > 0) {
      const first = Math.min(...st.ahead.keys());
      if (first > st.last + 1) await this.#fill(room, first - 1);
    }
  }

  /** Adds a message to the room's memory (seq order), forgetting the oldest beyond `cached`. */
  #take(room: string, rec: Rec): void {
    const st = this.#state(room);
    st.cache.push(rec);
    if (rec.m.id !== "") this.#byId.set(`${rec.fp} ${rec.m.id}`, rec.m);
    while (st.cache.length > this.#o.cached) {
      const old = st.cache.shift()!;
      const key = `${old.fp} ${old.m.id}`;
      if (this.#byId.get(key) === old.m) this.#byId.delete(key);
    }
  }

  /** The next message of a room: kept, then answered to its sender or handed on. */
  #deliver(st: RoomState, rec: Rec, msgId: string): void {
    const m = rec.m;
    this.#take(m.room, rec);
    st.last = m.seq;
    const p = this.#pending.get(msgId)?.find((x) => !x.settled);
    if (p !== undefined) {
      p.settled = true;
      for (const t of p.timers ?? []) clearTimeout(t);
      this.#unpend(msgId, p);
      p.done({ ok: true, message: m, duplicate: false });
    } else this.onRemote(m);
    const w = st.waiting.get(m.seq);
    if (w !== undefined) {
      st.waiting.delete(m.seq);
      for (const cb of w) cb(m);
    }
  }

  /** Reads messages `from`..`to` of a stream with a short-lived ordered consumer. */
  async #read(stream: string, from: number, to: number): Promise<Rec[]> {
    const room = this.#s.roomOfStream(stream)!;
    const out: Rec[] = [];
    const c = await this.#o.js.consumers.get(stream, {
      deliver_policy: "by_start_sequence" as never,
      opt_start_seq: from,
    });
    let next = from;
    while (next <= to) {
      const batch = await c.fetch({ max_messages: Math.min(1000, to - next + 1), expires: 2000 });
      let got = 0;
      for await (const jm of batch) {
        got++;
        next = jm.seq + 1;
        const rec = decode(room, jm.seq, jm.data);
        if (rec !== undefined) out.push(rec);
        if (jm.seq >= to) break;
      }
      if (got === 0) break;
    }
    await c.delete().catch(() => {});
    return out;
  }
}
