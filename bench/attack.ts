/**
 * `chat bench --attack`: how much one user's expensive requests cost everyone else. A canary
 * user asks `/service` twice a second and times the round trip, first alone, then while a few
 * attacking connections ask for as much history as the server lets them: each attacker sends
 * a record of expensive requests every 500 ms and reconnects now and then asking to resume a
 * long room from its start. The report gives the canary's round trips idle and under attack,
 * what the attackers got, and the server's CPU when its pid is given.
 * @module
 */

import { parseCommonArgs, type UsageError } from "./bench_args.ts";
import { newId, type ServerMessage } from "../shared/messages.ts";
import { benchIdentity, LoadClient, LoadClientError } from "./load_client.ts";
import { sampleProc, sleep, type Spread, spread } from "./measure.ts";

/** Usage text of `chat bench --attack`. */
export const ATTACK_USAGE =
  `Usage: chat bench HOST[:PORT] --attack (--accept-new | --fingerprint SHA256:…) [options]
  --attackers N      attacking connections (default 4)
  --mix M            what each attacker sends every 500 ms (default charged):
                       charged  one /history #big 500 and one marked auto (each bucket
                                refills one token per 500 ms: no request is refused)
                       legacy   one record of 20 × /history #big 500 (the most a server that
                                charged one token per record let through without refusals)
  --reconnect S      each attacker reconnects every S seconds, resuming #big from its start
                     (default 2; 0 never)
  --fill N           messages stored in #big before the run (default 500)
  --size BYTES       text size of those messages, 1…2000 (default 1000)
  --idle SECONDS     canary alone (default 10)
  --seconds SECONDS  canary under attack (default 20)
  --server-pid PID   read the server's CPU time from /proc/PID (Linux)
  --accept-new | --fingerprint FP   as for chat bench
  --json             print one JSON object instead of text
Names: atkcanary, atkfill1…5, atk1…N. With the default limits the run stays within the per-address
limits of one server (60 new connections in 10 minutes): restart the server between runs.
Exit codes: 0 done, 2 usage, 3 server key mismatch, 5 no connection.
`;

/** Parsed attack options. */
export interface AttackConfig {
  /** Server host. */
  host: string;
  /** Server port. */
  port: number;
  /** Expected host-key fingerprint; undefined with --accept-new. */
  fingerprint?: string;
  /** Attacking connections. */
  attackers: number;
  /** The request mix. */
  mix: "charged" | "legacy";
  /** Reconnect period of each attacker (ms); 0 never. */
  reconnectMs: number;
  /** Messages stored in #big first. */
  fill: number;
  /** Their text size. */
  size: number;
  /** Canary-alone phase (ms). */
  idleMs: number;
  /** Attack phase (ms). */
  attackMs: number;
  /** Server process to observe. */
  serverPid?: number;
  /** JSON output. */
  json: boolean;
}

/** Parses `chat bench … --attack …`; throws what `usage` builds for any mistake. */
export function parseAttackArgs(
  args: string[],
  usage: UsageError,
): AttackConfig | "help" {
  const a = parseCommonArgs(
    args,
    {
      attack: { type: "boolean" },
      attackers: { type: "string" },
      mix: { type: "string" },
      reconnect: { type: "string" },
      fill: { type: "string" },
      size: { type: "string" },
      idle: { type: "string" },
      seconds: { type: "string" },
    },
    ATTACK_USAGE,
    usage,
  );
  if (a === "help") return "help";
  const { num, str } = a;
  const mix = str("mix");
  if (mix !== undefined && mix !== "charged" && mix !== "legacy") {
    throw a.fail(`bad --mix "${mix}": expected charged or legacy`);
  }
  return {
    host: a.host,
    port: a.port,
    fingerprint: a.fingerprint,
    attackers: Math.floor(num("attackers", str("attackers"), 4, 1, 16)),
    mix: mix === "legacy" ? "legacy" : "charged",
    reconnectMs: num("reconnect", str("reconnect"), 2, 0, 3600) * 1000,
    fill: Math.floor(num("fill", str("fill"), 500, 0, 100_000)),
    size: Math.floor(num("size", str("size"), 1000, 1, 2000)),
    idleMs: num("idle", str("idle"), 10, 1, 3600) * 1000,
    attackMs: num("seconds", str("seconds"), 20, 1, 3600) * 1000,
    serverPid: a.serverPid,
    json: a.json,
  };
}

/** One phase of the canary's round trips. */
export interface PhaseReport {
  /** `/service` round trips (ms). */
  rtt: Spread;
  /** Requests that got no answer before the phase ended (or an error). */
  unanswered: number;
  /** Server CPU over the phase (% of one core); null without --server-pid. */
  cpuPercent: number | null;
}

/** The attack's result. */
export interface AttackReport {
  mode: "attack";
  mix: "charged" | "legacy";
  attackers: number;
  reconnectSeconds: number;
  idle: PhaseReport;
  attack: PhaseReport;
  /** Median under attack ÷ median idle. */
  ratio: number;
  /** What the attackers got during the attack phase. */
  attackerRows: number;
  /** Text bytes of those rows (the bytes on the wire are somewhat more). */
  attackerTextBytes: number;
  /** `error rate_limited` answers the attackers got. */
  rateLimited: number;
  /** Connections of attackers the server closed (e.g. `bye flooding`). */
  thrownOut: number;
  /** Attacker connections made (first ones and reconnects). */
  connects: number;
}

/** Runs the attack; returns its report. */
export async function runAttack(c: AttackConfig): Promise<AttackReport> {
  const connect = (
    name: string,
    rooms: string[],
    onMessage: (m: ServerMessage, at: number) => void,
    resume?: Record<string, number>,
  ) =>
    LoadClient.connect({
      host: c.host,
      port: c.port,
      identity: benchIdentity(name),
      rooms,
      resume,
      fingerprint: c.fingerprint,
      timeoutMs: 10_000,
      onMessage,
    });

  // Fill #big: pastes (one token each, at most 20 lines that fit a record) from up to five
  // fillers of 100 messages each.
  const text = "x".repeat(c.size);
  const fillers = Math.min(5, Math.ceil(c.fill / 100));
  await Promise.all(Array.from({ length: fillers }, async (_, f) => {
    const mine = Math.min(100, c.fill - f * 100);
    if (mine <= 0) return;
    let last = "";
    let done: () => void = () => {};
    const acked = new Promise<void>((r) => done = r);
    const lc = await connect(`atkfill${f + 1}`, ["#big"], (m) => {
      if (m.t === "msg" && m.id === last) done();
    });
    const perRecord = Math.max(1, Math.min(20, Math.floor(15_000 / (c.size + 120))));
    for (let sent = 0; sent < mine; sent += perRecord) {
      const batch = Array.from({ length: Math.min(perRecord, mine - sent) }, () => {
        const id = newId();
        return { t: "say", id, room: "#big", text };
      });
      last = batch.at(-1)!.id;
      lc.sendRecord(batch);
    }
    await Promise.race([acked, sleep(30_000)]);
    await lc.bye();
  }));

  // The canary: /service every 500 ms, timed.
  const pending = new Map<string, number>();
  let samples: number[] = [];
  const canary = await connect("atkcanary", ["#lobby"], (m, at) => {
    if ((m.t === "reply" || m.t === "error") && m.id !== undefined && pending.has(m.id)) {
      if (m.t === "reply") samples.push(at - pending.get(m.id)!);
      pending.delete(m.id);
    }
  });
  let canaryRunning = true;
  const canaryLoop = (async () => {
    while (canaryRunning && canary.open) {
      const id = newId();
      pending.set(id, performance.now());
      canary.sendRecord([{ t: "cmd", id, name: "service", args: [] }]);
      await sleep(500);
    }
  })();
  const phase = async (ms: number): Promise<PhaseReport> => {
    samples = [];
    pending.clear();
    const cpu0 = await sampleProc(c.serverPid);
    const t0 = performance.now();
    await sleep(ms);
    const cpu1 = await sampleProc(c.serverPid);
    const wall = performance.now() - t0;
    return {
      rtt: spread(samples),
      unanswered: pending.size,
      cpuPercent: cpu0 && cpu1 ? Math.round((cpu1.cpuMs - cpu0.cpuMs) / wall * 1000) / 10 : null,
    };
  };

  const idle = await phase(c.idleMs);

  // The attackers.
  let rows = 0, textBytes = 0, rateLimited = 0, thrownOut = 0, connects = 0;
  let attacking = true;
  const onAttacker = (m: ServerMessage) => {
    if (m.t === "msg" && m.replay === true) {
      rows++;
      textBytes += m.text.length;
    } else if (m.t === "error" && m.code === "rate_limited") rateLimited++;
  };
  const history = (auto: boolean) => ({
    t: "cmd",
    id: newId(),
    name: "history",
    args: ["#big", "500"],
    ...(auto ? { auto: true } : {}),
  });
  const attacker = async (i: number) => {
    let resume: Record<string, number> | undefined;
    while (attacking) {
      let lc: LoadClient;
      try {
        lc = await connect(`atk${i + 1}`, ["#big"], onAttacker, resume);
      } catch {
        await sleep(500); // refused (e.g. the per-address limits): try again
        continue;
      }
      connects++;
      resume = { "#big": 0 };
      const until = c.reconnectMs > 0 ? performance.now() + c.reconnectMs : Infinity;
      while (attacking && lc.open && performance.now() < until) {
        lc.sendRecord(
          c.mix === "legacy"
            ? Array.from({ length: 20 }, () => history(false))
            : [history(false), history(true)],
        );
        await sleep(500);
      }
      if (!lc.open) thrownOut++;
      lc.close();
      await lc.done;
    }
  };
  const running = Array.from({ length: c.attackers }, (_, i) => attacker(i));
  const attack = await phase(c.attackMs);
  const got = { rows, textBytes, rateLimited, thrownOut, connects };
  attacking = false;
  await Promise.all(running);
  canaryRunning = false;
  await canaryLoop;
  await canary.bye();
  return {
    mode: "attack",
    mix: c.mix,
    attackers: c.attackers,
    reconnectSeconds: c.reconnectMs / 1000,
    idle,
    attack,
    ratio: Math.round(attack.rtt.p50 / idle.rtt.p50 * 100) / 100,
    attackerRows: got.rows,
    attackerTextBytes: got.textBytes,
    rateLimited: got.rateLimited,
    thrownOut: got.thrownOut,
    connects: got.connects,
  };
}

/** The report as text. */
export function formatAttack(r: AttackReport, target: string): string {
  const ms = (n: number) => Number.isFinite(n) ? n.toFixed(1) : "-";
  const line = (name: string, p: PhaseReport) =>
    `  ${name.padEnd(6)} p50 ${ms(p.rtt.p50)} ms  p99 ${ms(p.rtt.p99)} ms  max ${
      ms(p.rtt.max)
    } ms  (${p.rtt.n} answered, ${p.unanswered} not)` +
    (p.cpuPercent === null ? "" : `  server CPU ${p.cpuPercent}%`);
  return [
    `chat bench --attack ${target}: ${r.attackers} attackers, mix ${r.mix}, reconnect ${
      r.reconnectSeconds === 0 ? "never" : `every ${r.reconnectSeconds} s`
    }`,
    "canary /service round trip:",
    line("idle", r.idle),
    line("attack", r.attack),
    `  under attack / idle (p50): ${r.ratio}×`,
    `attackers got ${r.attackerRows} history rows (${
      (r.attackerTextBytes / 1e6).toFixed(1)
    } MB of text), ${r.rateLimited} rate_limited, ${r.thrownOut} thrown out, ${r.connects} connects`,
  ].join("\n");
}

/** `chat bench … --attack`: runs and prints; returns the exit code. */
export async function attackMain(
  args: string[],
  usage: UsageError,
): Promise<number> {
  const c = parseAttackArgs(args, usage);
  if (c === "help") {
    console.log(ATTACK_USAGE.trimEnd());
    return 0;
  }
  const target = c.host.includes(":") ? `[${c.host}]:${c.port}` : `${c.host}:${c.port}`;
  let report: AttackReport;
  try {
    report = await runAttack(c);
  } catch (e) {
    if (e instanceof LoadClientError) {
      console.error(`chat bench: ${e.message}`);
      return e.kind === "pin" ? 3 : 5;
    }
    throw e;
  }
  console.log(c.json ? JSON.stringify(report) : formatAttack(report, target));
  return 0;
}
