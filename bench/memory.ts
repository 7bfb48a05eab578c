/**
 * `chat bench --memory N1,N2,…`: the server's memory per idle authenticated connection. Clients
 * (named mem0001…) connect and join one room in steps up to each N; after each step the bench
 * reads the server's RSS at once ("joined") and again after the connections have been idle for
 * the settle time ("settled"), then reports the KiB each added connection costs between steps.
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
  /** Server RSS right after the step's clients joined (MiB). */
  joinedMiB: number;
  /** Highest RSS seen during the step and its settle time (MiB). */
  peakMiB: number;
  /** Server RSS after the settle time (MiB). */
  settledMiB: number;
  /** Settled RSS per connection added since the previous step (KiB); null for the first. */
  kibPerAddedConnection: number | null;
}

/** The memory bench's result. */
export interface MemoryReport {
  mode: "memory";
  /** Server RSS before the first client (MiB). */
  startMiB: number;
  steps: MemoryStep[];
  /** Connects that failed, by kind. */
  errors: Record<string, number>;
}

const MiB = 1024 * 1024;

/** Runs the memory bench. */
export async function runMemory(c: MemoryConfig): Promise<MemoryReport> {
  const rss = async () => (await sampleProc(c.serverPid))!.rssBytes;
  const cpu = async () => (await sampleProc(c.serverPid))!.cpuMs;
  const errors: Record<string, number> = {};
  const clients: LoadClient[] = [];
  const report: MemoryReport = { mode: "memory", startMiB: await rss() / MiB, steps: [], errors };
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
    for (const target of c.steps) {
      peak = 0;
      const cpu0 = await cpu();
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
      const joined = await rss();
      await sleep(c.settleMs);
      const settled = await rss();
      const open = clients.filter((x) => x.open).length;
      report.steps.push({
        connections: open,
        connectSeconds,
        cpuMsPerConnection: cpuMs / Math.max(1, target - first),
        joinedMiB: joined / MiB,
        peakMiB: Math.max(peak, joined, settled) / MiB,
        settledMiB: settled / MiB,
        kibPerAddedConnection: Number.isNaN(prevSettled)
          ? null
          : (settled - prevSettled) / 1024 / (target - first),
      });
      prevSettled = settled;
    }
  } finally {
    watching = false;
    await watcher;
    await pool(clients.length, 500, async (i) => await clients[i].bye());
  }
  return report;
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
        `(${f(s.cpuMsPerConnection, 2)} ms server CPU each); RSS ${f(s.joinedMiB)} MiB right ` +
        `after, peak ${f(s.peakMiB)}, settled ${f(s.settledMiB)} MiB` +
        (s.kibPerAddedConnection === null
          ? ""
          : `; ${f(s.kibPerAddedConnection)} KiB per added connection`),
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
