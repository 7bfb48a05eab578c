/**
 * `chat bench --memory N1,N2,…`: the server's memory per idle authenticated connection. Clients
 * (named mem0001…) connect and join one room in steps up to each N; after each step the bench
 * reads the server's RSS at once ("joined") and again after the connections have been idle for
 * the settle time ("settled"), then reports the KiB each added connection costs between steps.
 * Then the clients leave in the same steps, last first, and the server CPU each leave costs is
 * read per step (join and leave must not cost more per member as the room grows).
 * @module
 */

import { parseCommonArgs, type UsageError } from "./bench_args.ts";
import { checkRoom } from "../shared/names.ts";
import { benchIdentity, LoadClient, LoadClientError } from "./load_client.ts";
import { pool, sampleProc, sleep } from "./measure.ts";

/** Usage text of `chat bench --memory`. */
export const MEMORY_USAGE =
  `Usage: chat bench HOST[:PORT] --memory N1,N2,… --server-pid PID (--accept-new | --fingerprint FP)
  --memory N1,N2,…   connect clients in steps up to each count (ascending, at most 9999)
  --server-pid PID   the server process whose RSS is read from /proc (Linux; run the bench with -A)
  --room #R          the room they all join (default #bench)
  --settle SECONDS   idle time before the settled reading of each step (default 30)
  --concurrency N    connections being set up at once (default 50)
  --accept-new | --fingerprint FP   as for chat bench
  --json             print one JSON object instead of text
Exit codes: 0 ok, 1 a client failed, 2 usage, 3 server key mismatch, 5 no connection.
`;

/** Parsed memory-bench options. */
export interface MemoryConfig {
  /** Server host. */
  host: string;
  /** Server port. */
  port: number;
  /** Expected host-key fingerprint; undefined with --accept-new. */
  fingerprint?: string;
  /** Ascending connection counts. */
  steps: number[];
  /** The room. */
  room: string;
  /** Settle time (ms). */
  settleMs: number;
  /** Parallel connection setups. */
  concurrency: number;
  /** The server process. */
  serverPid: number;
  /** JSON output. */
  json: boolean;
}

/** Parses `chat bench … --memory …`; throws what `usage` builds for any mistake. */
export function parseMemoryArgs(
  args: string[],
  usage: UsageError,
): MemoryConfig | "help" {
  const a = parseCommonArgs(
    args,
    {
      memory: { type: "string" },
      room: { type: "string" },
      settle: { type: "string" },
      concurrency: { type: "string" },
    },
    MEMORY_USAGE,
    usage,
  );
  if (a === "help") return "help";
  const { int, str } = a;
  const steps = (str("memory") ?? "").split(",").map((s) => int("memory", s, NaN, 1, 9999));
  if (steps.length === 0 || steps.length > 20 || steps.some((n, i) => i > 0 && n <= steps[i - 1])) {
    throw a.fail("--memory needs 1 to 20 ascending counts, e.g. 1000,5000");
  }
  if (a.serverPid === undefined) throw a.fail("--memory needs --server-pid");
  const room = str("room") ?? "#bench";
  if (!checkRoom(room).ok) throw a.fail(`bad --room "${room}"`);
  return {
    host: a.host,
    port: a.port,
    fingerprint: a.fingerprint,
    steps,
    room,
    settleMs: int("settle", str("settle"), 30, 0, 3600) * 1000,
    concurrency: int("concurrency", str("concurrency"), 50, 1, 10_000),
    serverPid: a.serverPid,
    json: a.json,
  };
}

/** One step of the memory bench. */
export interface MemoryStep {
  /** Connections open after the step. */
  connections: number;
  /** Seconds the step's connects took (connect + handshake + auth + join, in parallel). */
  connectSeconds: number;
  /** Server CPU ms per connection of this step. */
  cpuMsPerConnection: number;
  /** This bench's own CPU ms per connection of this step (the clients' side of the connects). */
  benchCpuMsPerConnection: number;
  /** Server RSS right after the step's clients joined (MiB). */
  joinedMiB: number;
  /** Highest RSS seen during the step and its settle time (MiB). */
  peakMiB: number;
  /** Server RSS after the settle time (MiB). */
  settledMiB: number;
  /**
   * Lowest RSS read during the settle time (every 0.5 s; MiB): what the connections keep once
   * the garbage of their connects is collected, whenever the collector runs.
   */
  lowMiB: number;
  /** Settled RSS per connection added since the previous step (KiB); null for the first. */
  kibPerAddedConnection: number | null;
  /** The same from the lowest readings (KiB); null for the first step. */
  kibPerAddedConnectionLow: number | null;
}

/** One step of the clients' departure: the room shrinks from `from` to `to` members. */
export interface LeaveStep {
  /** Connections before the step. */
  from: number;
  /** Connections after it. */
  to: number;
  /** Seconds until every client of the step had its `bye` answered and the server was idle. */
  seconds: number;
  /** Server CPU ms per leaving connection. */
  cpuMsPerConnection: number;
}

/** The memory bench's result. */
export interface MemoryReport {
  mode: "memory";
  /** Server RSS before the first client (MiB). */
  startMiB: number;
  steps: MemoryStep[];
  /** The departure, largest room first (empty when the run failed before it). */
  leaves: LeaveStep[];
  /** Connects that failed, by kind. */
  errors: Record<string, number>;
}

const MiB = 1024 * 1024;

/** Longest wait for the server to go idle after a step of leaves (ms). */
const IDLE_WAIT_MS = 10_000;

/** Runs the memory bench. */
export async function runMemory(c: MemoryConfig): Promise<MemoryReport> {
  const rss = async () => (await sampleProc(c.serverPid))!.rssBytes;
  const cpu = async () => (await sampleProc(c.serverPid))!.cpuMs;
  const ownCpu = async () => (await sampleProc("self"))!.cpuMs;
  const errors: Record<string, number> = {};
  const clients: LoadClient[] = [];
  const report: MemoryReport = {
    mode: "memory",
    startMiB: await rss() / MiB,
    steps: [],
    leaves: [],
    errors,
  };
  let peak = 0;
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      peak = Math.max(peak, await rss().catch(() => 0));
      await sleep(250);
    }
  })();
  try {
    let have = 0;
    let prevSettled = NaN;
    let prevLow = NaN;
    for (const target of c.steps) {
      peak = 0;
      const cpu0 = await cpu();
      const own0 = await ownCpu();
      const t0 = performance.now();
      const first = have;
      await pool(target - first, c.concurrency, async (k) => {
        const name = `mem${String(first + k + 1).padStart(4, "0")}`;
        try {
          clients.push(
            await LoadClient.connect({
              host: c.host,
              port: c.port,
              identity: await benchIdentity(name),
              rooms: [c.room],
              fingerprint: c.fingerprint,
              timeoutMs: 60_000,
              onMessage: () => {},
            }),
          );
        } catch (e) {
          if (e instanceof LoadClientError && e.kind === "pin") throw e;
          const kind = e instanceof LoadClientError ? e.kind : "internal";
          errors[kind] = (errors[kind] ?? 0) + 1;
        }
      });
      have = target;
      const connectSeconds = (performance.now() - t0) / 1000;
      const cpuMs = await cpu() - cpu0;
      const ownMs = await ownCpu() - own0;
      const joined = await rss();
      let low = joined;
      for (const end = performance.now() + c.settleMs; performance.now() < end;) {
        await sleep(Math.min(500, end - performance.now()));
        low = Math.min(low, await rss());
      }
      const settled = await rss();
      low = Math.min(low, settled);
      const open = clients.filter((x) => x.open).length;
      report.steps.push({
        connections: open,
        connectSeconds,
        cpuMsPerConnection: cpuMs / Math.max(1, target - first),
        benchCpuMsPerConnection: ownMs / Math.max(1, target - first),
        joinedMiB: joined / MiB,
        peakMiB: Math.max(peak, joined, settled) / MiB,
        settledMiB: settled / MiB,
        lowMiB: low / MiB,
        kibPerAddedConnection: Number.isNaN(prevSettled)
          ? null
          : (settled - prevSettled) / 1024 / (target - first),
        kibPerAddedConnectionLow: Number.isNaN(prevLow)
          ? null
          : (low - prevLow) / 1024 / (target - first),
      });
      prevSettled = settled;
      prevLow = low;
    }
    // The departure, in the same steps, last first: clients[to…from) leave.
    const marks = [0, ...c.steps.map((n) => Math.min(n, clients.length))];
    for (let k = marks.length - 1; k > 0; k--) {
      const from = marks[k], to = marks[k - 1];
      if (from <= to) continue;
      const cpu0 = await cpu();
      const t0 = performance.now();
      await pool(from - to, c.concurrency, async (i) => await clients[to + i].bye());
      clients.length = to;
      const cpu1 = await untilIdle(cpu);
      report.leaves.push({
        from,
        to,
        seconds: (performance.now() - t0) / 1000,
        cpuMsPerConnection: (cpu1 - cpu0) / (from - to),
      });
    }
  } finally {
    watching = false;
    await watcher;
    await pool(clients.length, 500, async (i) => await clients[i].bye());
  }
  return report;
}

/**
 * Waits until the server's CPU time stops moving (two readings 250 ms apart within one 10 ms
 * tick), at most {@linkcode IDLE_WAIT_MS}; returns the last reading.
 */
async function untilIdle(cpu: () => Promise<number>): Promise<number> {
  const deadline = performance.now() + IDLE_WAIT_MS;
  let last = await cpu();
  while (performance.now() < deadline) {
    await sleep(250);
    const now = await cpu();
    if (now - last <= 10) return now;
    last = now;
  }
  return last;
}

/** Renders a memory report as text. */
export function formatMemory(r: MemoryReport, target: string): string {
  const f = (x: number, d = 1) => x.toFixed(d);
  const lines = [
    `chat bench ${target}: memory per idle authenticated connection (server RSS ${
      f(r.startMiB)
    } MiB before)`,
  ];
  for (const s of r.steps) {
    lines.push(
      `${String(s.connections).padStart(5)} connections: joined in ${f(s.connectSeconds)} s ` +
        `(${f(s.cpuMsPerConnection, 2)} ms server CPU each, bench ${
          f(s.benchCpuMsPerConnection, 2)
        }); RSS ${f(s.joinedMiB)} MiB right after (${f(s.joinedMiB / s.settledMiB, 2)}× ` +
        `settled), peak ${f(s.peakMiB)}, settled ${f(s.settledMiB)} MiB (lowest ${f(s.lowMiB)})` +
        (s.kibPerAddedConnection === null ? "" : `; ${f(s.kibPerAddedConnection)} KiB per added ` +
          `connection (lowest readings: ${f(s.kibPerAddedConnectionLow!)})`),
    );
  }
  for (const l of r.leaves) {
    lines.push(
      `${String(l.from).padStart(5)} → ${l.to}: left in ${f(l.seconds)} s ` +
        `(${f(l.cpuMsPerConnection, 2)} ms server CPU each)`,
    );
  }
  const errs = Object.entries(r.errors).map(([k, v]) => `${k} ${v}`).join(", ");
  lines.push(`errors ${errs === "" ? "0" : errs}`);
  return lines.join("\n");
}

/** `chat bench … --memory …`: runs, prints, and returns the exit code. */
export async function memoryMain(
  args: string[],
  usage: UsageError,
): Promise<number> {
  const c = parseMemoryArgs(args, usage);
  if (c === "help") {
    console.log(MEMORY_USAGE.trimEnd());
    return 0;
  }
  const target = c.host.includes(":") ? `[${c.host}]:${c.port}` : `${c.host}:${c.port}`;
  let report: MemoryReport;
  try {
    report = await runMemory(c);
  } catch (e) {
    if (e instanceof LoadClientError) {
      console.error(`chat bench: ${e.message}`);
      return e.kind === "pin" ? 3 : 5;
    }
    throw e;
  }
  console.log(c.json ? JSON.stringify(report) : formatMemory(report, target));
  const last = report.steps[report.steps.length - 1];
  if (last === undefined || last.connections === 0) return 5;
  return Object.keys(report.errors).length > 0 ? 1 : 0;
}
