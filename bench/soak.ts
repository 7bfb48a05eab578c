/**
 * `chat bench --soak MINUTES`: a long run at human rates with the usual misbehaviour mixed in.
 * Talking clients spread over rooms each send a message at random intervals; one flooder sends
 * far more than the rate limit allows and reconnects whenever it is thrown out; one reader never
 * reads (a slow consumer that stays alive by writing pings); one peer goes silent without closing
 * (a vanished laptop). The verdict: the server's RSS does not grow after warm-up, no acknowledged
 * message is lost, and the slow reader and the vanished peer are dropped within their deadlines.
 * @module
 */

import { parseCommonArgs, type UsageError } from "./bench_args.ts";
import type { ServerMessage } from "../shared/messages.ts";
import { benchIdentity, LoadClient, LoadClientError } from "./load_client.ts";
import { pool, sampleProc, sleep } from "./measure.ts";

/** Usage text of `chat bench --soak`. */
export const SOAK_USAGE =
  `Usage: chat bench HOST[:PORT] --soak MINUTES (--accept-new | --fingerprint SHA256:…) [options]
  --soak MINUTES       how long to talk (fractions allowed: 0.1 is six seconds)
  --clients N          talking clients, named soak0001… (default 500)
  --rooms N            rooms they are spread over, #soak-1… (default 20)
  --interval SECONDS   mean time between two messages of one client (default 30)
  --warmup SECONDS     start of the run not judged for memory (default: a fifth of the run)
  --slow-bytes N       bytes addressed to the slow reader after which the server must give up
                       on it (default 5242880: send queue plus socket buffers)
  --slow-seconds N     ... within this many seconds (default 35: the stalled-write deadline)
  --concurrency N      connections being set up at once (default 50)
  --server-pid PID     sample the server's memory from /proc/PID (Linux; needed for the RSS verdict)
  --accept-new | --fingerprint FP   as for chat bench
  --json               print one JSON object instead of text
Roles: soak0001… talk; soakflood floods #soak-1 and reconnects; soakslow in #soak-1 never reads;
soakgone in #soak-2 stops reading and writing without closing; their drops are seen as leave
events, so rooms must stay below the server's quietRoomMembers. The server must accept this many
connections from one address (e.g. --limit perIpConcurrent=1000 --limit perIpNew=100000
--limit maxConnections=2000 --limit maxUnauthenticated=1000).
Exit codes: 0 verdict passed, 1 failed, 2 usage, 3 server key mismatch, 5 no connection.
`;

/** Parsed soak options. */
export interface SoakConfig {
  /** Server host. */
  host: string;
  /** Server port. */
  port: number;
  /** Expected host-key fingerprint; undefined with --accept-new. */
  fingerprint?: string;
  /** Run length (ms). */
  durationMs: number;
  /** Talking clients. */
  clients: number;
  /** Rooms. */
  rooms: number;
  /** Mean time between messages of one client (ms). */
  intervalMs: number;
  /** Warm-up not judged for memory (ms). */
  warmupMs: number;
  /** Bytes addressed to the slow reader before its deadline starts. */
  slowBytes: number;
  /** The slow reader's deadline after `slowBytes` (ms). */
  slowMs: number;
  /** Parallel connection setups. */
  concurrency: number;
  /** Server process to observe. */
  serverPid?: number;
  /** JSON output. */
  json: boolean;
}

/** Parses `chat bench … --soak MINUTES …`; throws what `usage` builds for any mistake. */
export function parseSoakArgs(
  args: string[],
  usage: UsageError,
): SoakConfig | "help" {
  const a = parseCommonArgs(
    args,
    {
      soak: { type: "string" },
      clients: { type: "string" },
      rooms: { type: "string" },
      interval: { type: "string" },
      warmup: { type: "string" },
      "slow-bytes": { type: "string" },
      "slow-seconds": { type: "string" },
      concurrency: { type: "string" },
    },
    SOAK_USAGE,
    usage,
  );
  if (a === "help") return "help";
  const { num, str } = a;
  const durationMs = num("soak", str("soak"), NaN, 0.01, 24 * 60) * 60_000;
  if (!(durationMs > 0)) throw a.fail("--soak MINUTES is required");
  const clients = Math.floor(num("clients", str("clients"), 500, 2, 9999));
  return {
    host: a.host,
    port: a.port,
    fingerprint: a.fingerprint,
    durationMs,
    clients,
    rooms: Math.floor(num("rooms", str("rooms"), 20, 2, clients)),
    intervalMs: num("interval", str("interval"), 30, 0.01, 3600) * 1000,
    warmupMs: num("warmup", str("warmup"), durationMs / 5000, 0, 24 * 3600) * 1000,
    slowBytes: Math.floor(num("slow-bytes", str("slow-bytes"), 5 * 1024 * 1024, 1, 2 ** 40)),
    slowMs: num("slow-seconds", str("slow-seconds"), 35, 0.1, 3600) * 1000,
    concurrency: Math.floor(num("concurrency", str("concurrency"), 50, 1, 10_000)),
    serverPid: a.serverPid,
    json: a.json,
  };
}

/** How a misbehaving client ended. */
export interface DropReport {
  /** The server closed it (its leave event reached the room). */
  dropped: boolean;
  /** Seconds from when it stopped reading to the drop; null if not dropped. */
  afterSeconds: number | null;
  /** The deadline it had, in seconds from when it stopped reading; null if it never started. */
  deadlineSeconds: number | null;
  /** Dropped, and within the deadline. */
  ok: boolean;
}

/** The soak's result and verdict. */
export interface SoakReport {
  mode: "soak";
  minutes: number;
  clients: number;
  connected: number;
  rooms: number;
  sent: number;
  acknowledged: number;
  expectedDeliveries: number;
  deliveries: number;
  /** Deliveries of acknowledged messages missing at members connected to the end. */
  lost: number;
  /** Talking clients the server disconnected. */
  disconnected: number;
  /**
   * Server RSS (MiB) after warm-up: its range, and every reading (`series`, one per
   * `everySeconds`, from the start of the run); `flat` null without readings (no --server-pid).
   */
  rss: {
    samples: number;
    warmupSeconds: number;
    min: number;
    max: number;
    /** Median of the first and of the last tenth of the readings after warm-up. */
    early: number;
    late: number;
    /** No growth: `late` within 10 % of `early` (garbage-collection swings in between allowed). */
    flat: boolean | null;
    everySeconds: number;
    series: number[];
  };
  slowReader: DropReport & { bytesAddressed: number };
  vanished: DropReport;
  flooder: { connects: number; accepted: number; rejected: number; thrownOut: number };
  errors: Record<string, number>;
  /** Every check passed. */
  pass: boolean;
}

/** Per-message bookkeeping: room index, members that got it, acknowledged or not. */
interface Sent {
  room: number;
  got: number;
  acked: boolean;
}

/** The name of talking client `i` (1-based). */
function soakName(i: number): string {
  return `soak${String(i).padStart(4, "0")}`;
}

/** Exponentially distributed delay with mean `ms`. */
function expDelay(ms: number): number {
  return -Math.log(1 - Math.random()) * ms;
}

/** Runs the soak; returns its report. */
export async function runSoak(c: SoakConfig): Promise<SoakReport> {
  const errors: Record<string, number> = {};
  const err = (k: string) => errors[k] = (errors[k] ?? 0) + 1;
  const tag = "s" + crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
  const room = (r: number) => `#soak-${r + 1}`;
  const sent: Sent[] = [];
  const talkers: (LoadClient | undefined)[] = new Array(c.clients);
  const roomOf = (i: number) => i % c.rooms;
  const members = new Array<number>(c.rooms).fill(0);
  let measuring = true;
  let slowDroppedAt: number | undefined;
  let goneDroppedAt: number | undefined;
  let slowStart: number | undefined = undefined;
  let slowBytes = 0;
  let slowCrossedAt: number | undefined;
  let textBytes = 2048;
  let disconnected = 0;

  const onTalk = (i: number) => (m: ServerMessage) => {
    if (m.t === "msg") {
      if (m.replay || !m.text.startsWith(tag + " ")) return;
      const g = Number(m.text.slice(tag.length + 1, m.text.indexOf(" ", tag.length + 1)));
      const s = sent[g];
      if (s === undefined || s.room !== roomOf(i)) return;
      s.got++;
      if (m.from === soakName(i + 1)) s.acked = true;
      if (i === 0) addressed(m.text.length); // talker 0 shares room 0 with the slow reader
    } else if (m.t === "event" && m.kind === "leave" && measuring) {
      if (m.name === "soakslow" && slowDroppedAt === undefined) slowDroppedAt = Date.now();
      if (m.name === "soakgone" && goneDroppedAt === undefined) goneDroppedAt = Date.now();
    } else if (m.t === "error") err(`error ${m.code}`);
  };
  /** Counts what a message delivered to room 0 costs the slow reader. */
  const addressed = (bytes: number) => {
    if (slowStart === undefined || slowDroppedAt !== undefined) return;
    slowBytes += bytes + 160; // the msg line around the text
    if (slowCrossedAt === undefined && slowBytes >= c.slowBytes) slowCrossedAt = Date.now();
  };

  const connect = async (
    name: string,
    r: number,
    onMessage: (m: ServerMessage) => void,
    reading = true,
  ) =>
    await LoadClient.connect({
      host: c.host,
      port: c.port,
      identity: await benchIdentity(name),
      rooms: [room(r)],
      fingerprint: c.fingerprint,
      timeoutMs: 30_000,
      onMessage,
      reading,
    });

  // Connect the talkers, then the misbehaving three.
  await pool(c.clients, c.concurrency, async (i) => {
    try {
      talkers[i] = await connect(soakName(i + 1), roomOf(i), onTalk(i));
      members[roomOf(i)]++;
    } catch (e) {
      if (e instanceof LoadClientError && e.kind === "pin") throw e;
      err(e instanceof LoadClientError ? `connect ${e.kind}` : "connect internal");
    }
  });
  const live = talkers.filter((x): x is LoadClient => x !== undefined);
  if (live.length === 0) throw new LoadClientError("connect", "no client could connect");
  textBytes = live[0].welcome.limits.textBytes ?? textBytes;
  const idlePingMs = live[0].welcome.limits.idlePingMs ?? 60_000;
  const idleCloseMs = live[0].welcome.limits.idleCloseMs ?? 120_000;

  const slow = await connect("soakslow", 0, () => {}, false);
  slowStart = Date.now();
  const gone = await connect("soakgone", 1, () => {}, false);
  const goneStart = Date.now();

  const t0 = Date.now();
  const end = t0 + c.durationMs;
  const rss: { at: number; bytes: number }[] = [];
  const flooder = { connects: 0, accepted: 0, rejected: 0, thrownOut: 0 };
  let nSent = 0;

  const every = Math.min(30_000, Math.max(200, c.durationMs / 200)); // at most ~200 readings
  const sampler = (async () => {
    while (Date.now() < end) {
      const p = await sampleProc(c.serverPid).catch((e) => {
        // Reading another process's /proc entries needs full permissions (-A) under Deno.
        if (errors[`rss ${e?.name}`] === undefined) err(`rss ${e?.name}`);
        return undefined;
      });
      if (p) rss.push({ at: Date.now() - t0, bytes: p.rssBytes });
      await sleep(every);
    }
  })();

  const keepSlowAlive = (async () => {
    for (let n = 1; Date.now() < end && slow.open; n++) {
      slow.ping(n);
      await sleep(Math.min(idlePingMs / 2, 10_000));
    }
  })();

  const say = (client: LoadClient, r: number, size: number) => {
    const g = sent.length;
    const head = `${tag} ${g} `;
    sent.push({ room: r, got: 0, acked: false });
    client.say(room(r), head + "x".repeat(Math.max(1, size - head.length)));
    nSent++;
  };

  const flood = (async () => {
    while (Date.now() < end) {
      let f: LoadClient;
      let closed = false;
      try {
        f = await connect("soakflood", 0, (m) => {
          if (
            m.t === "msg" && !m.replay && m.from === "soakflood" && m.text.startsWith(tag + " ")
          ) {
            flooder.accepted++;
            const g = Number(m.text.slice(tag.length + 1, m.text.indexOf(" ", tag.length + 1)));
            if (sent[g]) sent[g].acked = true;
          } else if (m.t === "error" && m.code === "rate_limited") flooder.rejected++;
          else if (m.t === "bye") closed = true;
        });
      } catch {
        err("flooder connect");
        await sleep(1000);
        continue;
      }
      flooder.connects++;
      const burst = Math.max(1, f.welcome.limits.rateBurst ?? 10);
      for (let k = 0; k < burst * 5 && f.open; k++) say(f, 0, textBytes);
      const until = Math.min(end, Date.now() + 3000);
      while (!closed && f.open && Date.now() < until) await sleep(50);
      if (closed || !f.open) flooder.thrownOut++;
      await f.bye(500); // rejected messages are never acknowledged, so never expected
    }
  })();

  // Human talk: each talker sends at exponential intervals, sizes 20…200 bytes.
  const due = live.map(() => Date.now() + expDelay(c.intervalMs));
  while (Date.now() < end) {
    const now = Date.now();
    for (let i = 0; i < c.clients; i++) {
      const t = talkers[i];
      if (t === undefined || due[i] > now) continue;
      due[i] = now + expDelay(c.intervalMs);
      if (!t.open) continue;
      say(t, roomOf(i), 20 + Math.floor(Math.random() * 180));
    }
    await sleep(Math.min(100, end - Date.now()));
  }
  await Promise.all([flood, keepSlowAlive, sampler]);

  // Drain: every acknowledged message must reach every member connected to the end.
  const expected = () => {
    let e = 0;
    for (const s of sent) if (s.acked) e += members[s.room];
    return e;
  };
  const got = () => {
    let n = 0;
    for (const s of sent) if (s.acked) n += Math.min(s.got, members[s.room]);
    return n;
  };
  const drainEnd = Date.now() + 15_000;
  while (got() < expected() && Date.now() < drainEnd) await sleep(100);
  // The vanished peer's deadline may end after the talk: wait for it too.
  const goneDeadline = goneStart + idleCloseMs + 3000;
  while (goneDroppedAt === undefined && Date.now() < goneDeadline + 1000) await sleep(100);
  measuring = false;
  for (const t of live) if (!t.open) disconnected++;

  const warm = rss.filter((s) => s.at >= c.warmupMs).map((s) => s.bytes / 1048576);
  const min = warm.length ? Math.min(...warm) : NaN;
  const max = warm.length ? Math.max(...warm) : NaN;
  const tenth = Math.max(1, Math.floor(warm.length / 10));
  const median = (xs: number[]) => xs.length ? [...xs].sort((a, b) => a - b)[xs.length >> 1] : NaN;
  const early = median(warm.slice(0, tenth));
  const late = median(warm.slice(-tenth));
  const slowDeadline = slowCrossedAt === undefined
    ? null
    : (slowCrossedAt - slowStart + c.slowMs) / 1000;
  const slowAfter = slowDroppedAt === undefined ? null : (slowDroppedAt - slowStart) / 1000;
  const goneAfter = goneDroppedAt === undefined ? null : (goneDroppedAt - goneStart) / 1000;
  const goneLimit = (idleCloseMs + 3000) / 1000;
  const report: SoakReport = {
    mode: "soak",
    minutes: c.durationMs / 60_000,
    clients: c.clients,
    connected: live.length,
    rooms: c.rooms,
    sent: nSent,
    acknowledged: sent.filter((s) => s.acked).length,
    expectedDeliveries: expected(),
    deliveries: got(),
    lost: expected() - got(),
    disconnected,
    rss: {
      samples: warm.length,
      warmupSeconds: c.warmupMs / 1000,
      min,
      max,
      early,
      late,
      flat: warm.length < 2 ? null : late <= early * 1.1,
      everySeconds: every / 1000,
      series: rss.map((x) => Math.round(x.bytes / 104857.6) / 10),
    },
    slowReader: {
      dropped: slowAfter !== null,
      afterSeconds: slowAfter,
      deadlineSeconds: slowDeadline,
      ok: slowAfter !== null && (slowDeadline === null || slowAfter <= slowDeadline),
      bytesAddressed: slowBytes,
    },
    vanished: {
      dropped: goneAfter !== null,
      afterSeconds: goneAfter,
      deadlineSeconds: goneLimit,
      ok: goneAfter !== null && goneAfter <= goneLimit,
    },
    flooder,
    errors,
    pass: false,
  };
  report.pass = report.connected === c.clients && report.lost === 0 &&
    report.disconnected === 0 && report.rss.flat !== false && report.slowReader.ok &&
    report.vanished.ok;
  slow.close();
  gone.close();
  await pool(live.length, 200, async (i) => await live[i].bye());
  return report;
}

const f1 = (x: number | null) => x !== null && Number.isFinite(x) ? x.toFixed(1) : "-";
const yes = (ok: boolean) => ok ? "ok" : "FAILED";

/** Renders a soak report as text lines ending with the verdict. */
export function formatSoak(r: SoakReport, target: string): string {
  const drop = (d: DropReport) =>
    d.dropped
      ? `dropped after ${f1(d.afterSeconds)} s (deadline ${
        d.deadlineSeconds === null ? "not reached" : `${f1(d.deadlineSeconds)} s`
      }): ${yes(d.ok)}`
      : "NOT dropped: FAILED";
  const errs = Object.entries(r.errors).map(([k, v]) => `${k} ${v}`).join(", ") || "0";
  return [
    `chat bench ${target}: soak ${r.minutes} min, ${r.connected} of ${r.clients} clients in ` +
    `${r.rooms} rooms, plus a flooder, a slow reader and a vanished peer`,
    `messages    ${r.sent} sent, ${r.acknowledged} acknowledged`,
    `deliveries  ${r.deliveries} of ${r.expectedDeliveries}; lost ${r.lost}: ${yes(r.lost === 0)}`,
    `talkers     ${r.disconnected} disconnected: ${yes(r.disconnected === 0)}`,
    `rss         ${r.rss.samples} samples after ${f1(r.rss.warmupSeconds)} s warm-up, ` +
    `${f1(r.rss.min)}…${f1(r.rss.max)} MiB; ${f1(r.rss.early)} MiB early, ${
      f1(r.rss.late)
    } MiB late (≤ +10 %): ${
      r.rss.flat === null ? "not measured (no --server-pid)" : yes(r.rss.flat)
    }`,
    `rss series  every ${f1(r.rss.everySeconds)} s: ${
      r.rss.series.map((x) => x.toFixed(0)).join(" ")
    }`,
    `slow reader ${drop(r.slowReader)}, ${f1(r.slowReader.bytesAddressed / 1048576)} MiB ` +
    `addressed to it`,
    `vanished    ${drop(r.vanished)}`,
    `flooder     ${r.flooder.connects} connections, ${r.flooder.accepted} accepted, ` +
    `${r.flooder.rejected} rejected, thrown out ${r.flooder.thrownOut} times`,
    `errors      ${errs}`,
    `verdict     ${r.pass ? "PASS" : "FAIL"}`,
  ].join("\n");
}

/** `chat bench … --soak MINUTES`: runs, prints, and returns the exit code. */
export async function soakMain(
  args: string[],
  usage: UsageError,
): Promise<number> {
  const c = parseSoakArgs(args, usage);
  if (c === "help") {
    console.log(SOAK_USAGE.trimEnd());
    return 0;
  }
  const target = c.host.includes(":") ? `[${c.host}]:${c.port}` : `${c.host}:${c.port}`;
  let report: SoakReport;
  try {
    report = await runSoak(c);
  } catch (e) {
    if (e instanceof LoadClientError) {
      console.error(`chat bench: ${e.message}`);
      return e.kind === "pin" ? 3 : 5;
    }
    throw e;
  }
  console.log(c.json ? JSON.stringify(report) : formatSoak(report, target));
  return report.pass ? 0 : 1;
}
