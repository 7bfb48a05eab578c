/**
 * `chat bench`: a load generator. It connects real chat/1 clients (bench/load_client.ts) in
 * one process, lets some of them send timestamped messages to one room, counts every
 * delivery, and reports throughput, latency, handshake times, losses and errors. A second
 * mode runs sequential connect + handshake + auth + bye cycles. With `--server-pid` it also
 * reads the server's CPU time and resident memory from /proc (Linux).
 * @module
 */

import { parseCommonArgs, type UsageError } from "./bench_args.ts";
import { sampleProc, sampleProcs, sleep, spread, Tally } from "./measure.ts";
import { formatReport, type HandshakeReport, type LoadReport } from "./bench_report.ts";
import { checkRoom } from "../shared/names.ts";
import {
  type BenchIdentity,
  benchIdentity,
  benchName,
  LoadClient,
  LoadClientError,
  withDmKey,
} from "./load_client.ts";
import { type BenchConfig, dmKeySpki, roomOf } from "./load_config.ts";
import { absoluteNow, LoadShard, type ShardPlan } from "./load_shard.ts";
import { WorkerShard } from "./load_worker.ts";

export type { BenchConfig } from "./load_config.ts";

/** Usage text of `chat bench`. */
export const BENCH_USAGE =
  `Usage: chat bench HOST[:PORT][,HOST[:PORT]…] (--accept-new | --fingerprint SHA256:…) [options]
  Several addresses (the nodes of a cluster): client i connects to address i mod N.
  --clients N        clients to connect, named bench0001… (default 100)
  --senders N        how many of them send (default 10)
  --messages N       messages in total, split over the senders (default 1000)
  --rate N           messages per second in total; 0 = as fast as possible (default 0)
  --window N         unacknowledged messages per sender at most (default 32)
  --size BYTES       text size of each message, 32…2048 (default 64)
  --room #R          the room (default #bench)
  --rooms N          spread the clients round-robin over N rooms #R-1…#R-N (default 1: #R)
  --accept-new       accept any server key (no pin check)
  --fingerprint FP   connect only if the server key has this fingerprint
  --handshakes N     instead: N sequential connect + handshake + auth + bye
  --soak MINUTES     instead: a long run with misbehaving clients and a verdict (--soak 1 --help)
  --memory N1,N2,…   instead: server RSS per idle connection, in steps (--memory 1 --help)
  --attack           instead: a canary's round trips under expensive requests (--attack --help)
  --no-room-records  do not offer room records (every delivery in a record sealed for its
                     member alone, as older clients get them; default: offer them)
  --dm-key           send a DM key (kem_pub + kem_sig) in auth, as real clients do
                     (one fixed key, the same in every run)
  --private          the room is private (end-to-end encrypted; created by client 1 if new):
                     senders give their keys to every member first, then send sealed lines
                     (implies --dm-key; one room)
  --workers N        spread the clients over N threads (1…16; default 1: all in this one),
                     so that one thread's reads do not delay another's
  --concurrency N    connections being set up at once (default 50)
  --hold SECONDS     keep every connection open this long after the run (default 0)
  --drain SECONDS    wait this long for outstanding deliveries (default 10)
  --timeout SECONDS  deadline for connect + handshake + auth (default 10)
  --server-pid PID[,PID…]  read the servers' CPU time and memory from /proc (Linux), summed
  --nats-pid PID     also read the NATS server's CPU time (a cluster), reported apart
  --json             print one JSON object instead of text
The bench names' keys are derived from the names: run it against test servers only.
Exit codes: 0 ok, 1 losses or failed clients, 2 usage, 3 server key mismatch, 5 no connection.
`;

/** Parses `chat bench` arguments; throws what `usage` builds for any mistake. */
export function parseBenchArgs(
  args: string[],
  usage: UsageError,
): BenchConfig | "help" {
  const a = parseCommonArgs(
    args,
    {
      clients: { type: "string" },
      senders: { type: "string" },
      messages: { type: "string" },
      rate: { type: "string" },
      window: { type: "string" },
      size: { type: "string" },
      room: { type: "string" },
      rooms: { type: "string" },
      handshakes: { type: "string" },
      "dm-key": { type: "boolean" },
      private: { type: "boolean" },
      "no-room-records": { type: "boolean" },
      concurrency: { type: "string" },
      hold: { type: "string" },
      drain: { type: "string" },
      timeout: { type: "string" },
      "nats-pid": { type: "string" },
      workers: { type: "string" },
    },
    BENCH_USAGE,
    usage,
    true,
  );
  if (a === "help") return "help";
  const { int, str } = a;
  const room = str("room") ?? "#bench";
  if (!checkRoom(room).ok) throw a.fail(`bad --room "${room}"`);
  const clients = int("clients", str("clients"), 100, 1, 9999);
  const senders = int("senders", str("senders"), Math.min(10, clients), 1, 9999);
  if (senders > clients) throw a.fail("--senders cannot exceed --clients");
  const rooms = str("rooms");
  if (rooms !== undefined && room.length + 1 + rooms.length > 33) {
    throw a.fail(`--room "${room}" is too long for --rooms ${rooms}`);
  }
  const natsPid = str("nats-pid");
  if (a.flag("private") && rooms !== undefined && rooms !== "1") {
    throw a.fail("--private takes one room");
  }
  const workers = int("workers", str("workers"), 1, 1, 16);
  if (a.flag("private") && workers > 1) throw a.fail("--private runs in one thread (--workers 1)");
  return {
    host: a.host,
    port: a.port,
    targets: a.targets,
    fingerprint: a.fingerprint,
    clients,
    senders,
    messages: int("messages", str("messages"), 1000, 0, 10_000_000),
    rate: int("rate", str("rate"), 0, 0, 10_000_000),
    window: int("window", str("window"), 32, 1, 100_000),
    size: int("size", str("size"), 64, 32, 2048),
    room,
    rooms: int("rooms", rooms, 1, 1, 9999),
    handshakes: int("handshakes", str("handshakes"), 0, 1, 9999),
    dmKey: a.flag("dm-key") || a.flag("private"),
    private: a.flag("private"),
    roomRecords: !a.flag("no-room-records"),
    concurrency: int("concurrency", str("concurrency"), 50, 1, 10_000),
    holdMs: int("hold", str("hold"), 0, 0, 86_400) * 1000,
    drainMs: int("drain", str("drain"), 10, 0, 3600) * 1000,
    timeoutMs: int("timeout", str("timeout"), 10, 1, 3600) * 1000,
    serverPids: a.serverPids,
    natsPid: natsPid === undefined ? undefined : int("nats-pid", natsPid, 0, 1, 2 ** 31),
    json: a.json,
    workers,
  };
}

async function runHandshakes(c: BenchConfig): Promise<HandshakeReport> {
  const errors = new Tally();
  const ids: BenchIdentity[] = [];
  const spki = c.dmKey ? dmKeySpki() : undefined;
  for (let i = 1; i <= c.handshakes; i++) {
    const id = await benchIdentity(benchName(i));
    ids.push(spki === undefined ? id : await withDmKey(id, spki));
  }
  const times: number[] = [];
  const before = await sampleProcs(c.serverPids);
  const t0 = performance.now();
  for (const [i, id] of ids.entries()) {
    try {
      const client = await LoadClient.connect({
        ...c.targets[i % c.targets.length],
        identity: id,
        rooms: [c.room],
        fingerprint: c.fingerprint,
        timeoutMs: c.timeoutMs,
        roomRecords: c.roomRecords,
        onMessage: () => {},
      });
      times.push(client.handshakeMs);
      await client.bye();
    } catch (e) {
      if (e instanceof LoadClientError && e.kind === "pin") throw e;
      errors.add(e instanceof LoadClientError ? e.kind : "internal");
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  const after = await sampleProcs(c.serverPids);
  const r: HandshakeReport = {
    mode: "handshakes",
    handshakes: c.handshakes,
    ok: times.length,
    seconds,
    perSecond: times.length / seconds,
    handshakeMs: spread(times),
    errors: errors.counts,
  };
  if (before && after && times.length > 0) {
    r.serverCpuMsPerHandshake = (after.cpuMs - before.cpuMs) / times.length;
  }
  return r;
}

/** A shard of the run, in this thread or in a worker (the same calls). */
type Shard = LoadShard | WorkerShard;

async function runLoad(c: BenchConfig): Promise<LoadReport> {
  const errors = new Tally();
  const tag = "b" + crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
  const n = Math.min(c.workers, c.clients);
  const counters = new SharedArrayBuffer(4 * (2 * c.senders + 1));
  const plan = (shard: number): ShardPlan => ({ config: c, shard, shards: n, tag, counters });
  const shards: Shard[] = n === 1
    ? [new LoadShard(plan(0))]
    : Array.from({ length: n }, (_, i) => new WorkerShard(plan(i)));
  const add = (counts: Record<string, number>) => {
    for (const [k, v] of Object.entries(counts)) errors.add(k, v);
  };
  try {
    // Connect.
    const before = await sampleProcs(c.serverPids);
    const tc = performance.now();
    const connected = await Promise.all(shards.map((s) => s.connect()));
    const connectSeconds = (performance.now() - tc) / 1000;
    const afterConnect = await sampleProcs(c.serverPids);
    const pin = connected.find((x) => x.pin !== undefined)?.pin;
    if (pin !== undefined) throw new LoadClientError("pin", pin);
    const members = new Map<string, number>();
    for (const x of connected) {
      for (const [room, k] of Object.entries(x.members)) {
        members.set(room, (members.get(room) ?? 0) + k);
      }
    }
    const live = [...members.values()].reduce((a, b) => a + b, 0);
    const textBytes = connected.find((x) => x.textBytes !== undefined)?.textBytes ?? 2048;
    if (c.size > textBytes) errors.add("size_over_server_limit");

    /** Where the run's CPU is counted from (after the keys are given, with `--private`). */
    let runFrom = afterConnect;
    let keys: LoadReport["keys"];
    if (c.private) {
      keys = { given: await shards[0].giveKeys() };
      const afterKeys = await sampleProcs(c.serverPids);
      if (afterConnect && afterKeys) {
        keys.serverCpuMs = afterKeys.cpuMs - afterConnect.cpuMs;
        runFrom = afterKeys;
      }
    }

    // Send and receive, every shard on one schedule from t0 (absolute ms).
    const selfBefore = c.serverPids.length === 0 ? undefined : await sampleProc("self");
    const natsBefore = await sampleProc(c.natsPid);
    const t0 = absoluteNow() + (n > 1 ? 10 : 0); // the workers start together
    const results = await Promise.all(shards.map((s) => s.run(t0)));
    // The bench's own CPU is read at the end of the drain, before its figures are sorted.
    const selfAfter = selfBefore && await sampleProc("self");
    const counts = new Int32Array(counters);
    let expected = 0;
    for (let k = 0; k < c.senders; k++) {
      expected += (counts[2 * k] - counts[2 * k + 1]) * (members.get(roomOf(c, k)) ?? 0);
    }
    let deliveries = 0;
    let acknowledged = 0;
    let sent = 0;
    let duplicates = 0;
    let lastDelivery = 0;
    let lastAck = 0;
    let latencyMax = -Infinity;
    const latency: number[] = [];
    const lag: number[] = [];
    const firstAt = new Float64Array(c.messages).fill(-1);
    const lastAt = new Float64Array(c.messages);
    for (const r of results) {
      deliveries += r.deliveries;
      acknowledged += r.acknowledged;
      sent += r.sent;
      duplicates += r.duplicates;
      lastDelivery = Math.max(lastDelivery, r.lastDelivery);
      lastAck = Math.max(lastAck, r.lastAck);
      if (r.latency.length > 0) latencyMax = Math.max(latencyMax, r.latencyMax);
      for (const v of r.latency) latency.push(v);
      for (const v of r.lag) lag.push(v);
      for (let g = 0; g < c.messages; g++) {
        if (r.firstAt[g] < 0) continue;
        if (firstAt[g] < 0 || r.firstAt[g] < firstAt[g]) firstAt[g] = r.firstAt[g];
        if (r.lastAt[g] > lastAt[g]) lastAt[g] = r.lastAt[g];
      }
    }
    const verified = results.filter((r) => r.roomSignaturesVerified !== undefined);

    const span = (t: number) => (t > t0 ? (t - t0) / 1000 : NaN);
    const report: LoadReport = {
      mode: "load",
      clients: c.clients,
      connected: live,
      senders: c.senders,
      room: c.room,
      rooms: c.rooms,
      size: c.size,
      rate: c.rate,
      connectSeconds,
      handshakeMs: spread(connected.flatMap((x) => x.handshakeMs)),
      sent,
      acknowledged,
      messagesPerSecond: acknowledged / span(lastAck),
      expectedDeliveries: expected,
      deliveries,
      deliveriesPerSecond: deliveries / span(lastDelivery),
      duplicates,
      latencyMs: { ...spread(latency), max: latencyMax === -Infinity ? NaN : latencyMax },
      losses: Math.max(0, expected - deliveries),
      errors: errors.counts,
      nodes: c.targets.length,
      roomRecords: results.reduce((a, r) => a + r.roomRecords, 0),
      benchLagMs: spread(lag),
      ...firstAndLast(firstAt, lastAt),
    };
    if (n > 1) report.workers = n;
    if (verified.length > 0) {
      report.roomSignaturesVerified = verified.reduce((a, r) => a + r.roomSignaturesVerified!, 0);
    }
    if (keys !== undefined) report.keys = keys;
    const afterRun = await sampleProcs(c.serverPids);
    const natsAfter = natsBefore && await sampleProc(c.natsPid);
    if (natsBefore && natsAfter) report.natsCpuMsRun = natsAfter.cpuMs - natsBefore.cpuMs;
    if (selfBefore && selfAfter) report.benchCpuMsRun = selfAfter.cpuMs - selfBefore.cpuMs;
    if (before && afterConnect && afterRun && live > 0) {
      report.serverCpuMsPerConnection = (afterConnect.cpuMs - before.cpuMs) / live;
      report.serverCpuMsRun = afterRun.cpuMs - runFrom!.cpuMs;
    }
    if (afterConnect) report.serverRssJoinedBytes = afterConnect.rssBytes;
    if (c.holdMs > 0) await sleep(c.holdMs);
    const held = await sampleProcs(c.serverPids);
    if (held) report.serverRssBytes = held.rssBytes;
    return report;
  } finally {
    // Every shard's errors, until the goodbyes (the report holds the live counts).
    for (const x of await Promise.all(shards.map((s) => s.close()))) add(x);
  }
}

/**
 * Per message delivered at least once, the latency of its first delivery and how much later its
 * last delivery came (the spread of one message's fan-out over the receivers).
 */
function firstAndLast(
  first: Float64Array,
  last: Float64Array,
): Pick<LoadReport, "firstLatencyMs" | "fanoutSpreadMs"> {
  const f: number[] = [];
  const d: number[] = [];
  for (let g = 0; g < first.length; g++) {
    if (first[g] < 0) continue;
    f.push(first[g]);
    d.push(last[g] - first[g]);
  }
  return { firstLatencyMs: spread(f), fanoutSpreadMs: spread(d) };
}

/** Runs `chat bench`; returns the exit code (usage mistakes are thrown as `usage(...)`). */
export async function runBench(
  args: string[],
  usage: UsageError,
): Promise<number> {
  const c = parseBenchArgs(args, usage);
  if (c === "help") {
    console.log(BENCH_USAGE.trimEnd());
    return 0;
  }
  const target = c.targets.map((t) =>
    t.host.includes(":") ? `[${t.host}]:${t.port}` : `${t.host}:${t.port}`
  )
    .join(",");
  let report: LoadReport | HandshakeReport;
  try {
    report = c.handshakes > 0 ? await runHandshakes(c) : await runLoad(c);
  } catch (e) {
    if (e instanceof LoadClientError && e.kind === "pin") {
      console.error(`chat bench: ${e.message}`);
      return 3;
    }
    throw e;
  }
  console.log(c.json ? JSON.stringify(report) : formatReport(report, target));
  if (report.mode === "handshakes") {
    if (report.ok === 0) return 5;
    return report.ok < report.handshakes ? 1 : 0;
  }
  if (report.connected === 0) return 5;
  return report.losses > 0 || report.connected < report.clients ? 1 : 0;
}
