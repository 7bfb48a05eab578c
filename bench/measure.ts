/**
 * What the bench modes measure with: percentiles and spreads of samples, a server process's CPU
 * time and resident memory read from /proc (Linux), a sleep, and a bounded pool of parallel jobs.
 * @module
 */

/** The `p`-th percentile (0…100, nearest rank) of ascending `sorted`; NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** Summary of a sample: count, p50, p99, max (ms). */
export interface Spread {
  /** Samples. */
  n: number;
  /** Median. */
  p50: number;
  /** 99th percentile. */
  p99: number;
  /** Largest. */
  max: number;
}

/** Summarises samples (copied, then sorted). */
export function spread(samples: ArrayLike<number>): Spread {
  const s = Float64Array.from(samples).sort();
  return {
    n: s.length,
    p50: percentile(s, 50),
    p99: percentile(s, 99),
    max: s[s.length - 1] ?? NaN,
  };
}

/** CPU time (ms, from utime + stime at 100 ticks/s) and VmRSS (bytes) of a Linux process. */
export interface ProcSample {
  /** utime + stime in ms. */
  cpuMs: number;
  /** Resident set size in bytes. */
  rssBytes: number;
}

/** Parses `/proc/PID/stat` and `/proc/PID/status` texts into a {@linkcode ProcSample}. */
export function parseProc(stat: string, status: string): ProcSample {
  const close = stat.lastIndexOf(")");
  if (close < 0) throw new TypeError("not a /proc/PID/stat line");
  const f = stat.slice(close + 2).trim().split(/\s+/); // f[0] is field 3 (state)
  const utime = Number(f[11]);
  const stime = Number(f[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new TypeError("bad stat fields");
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!m) throw new TypeError("no VmRSS in status");
  return { cpuMs: (utime + stime) * 10, rssBytes: Number(m[1]) * 1024 };
}

/** CPU time and memory of process `pid` (or this process) from /proc; undefined without a pid. */
export async function sampleProc(
  pid: number | "self" | undefined,
): Promise<ProcSample | undefined> {
  if (pid === undefined) return undefined;
  const [stat, status] = await Promise.all([
    Deno.readTextFile(`/proc/${pid}/stat`),
    Deno.readTextFile(`/proc/${pid}/status`),
  ]);
  return parseProc(stat, status);
}

/**
 * CPU time and memory of several processes added up (the nodes of a cluster); undefined when
 * `pids` is empty.
 */
export async function sampleProcs(pids: readonly number[]): Promise<ProcSample | undefined> {
  if (pids.length === 0) return undefined;
  const sum: ProcSample = { cpuMs: 0, rssBytes: 0 };
  for (const s of await Promise.all(pids.map((p) => sampleProc(p)))) {
    sum.cpuMs += s!.cpuMs;
    sum.rssBytes += s!.rssBytes;
  }
  return sum;
}

/** Counts errors by kind. */
export class Tally {
  /** Count per kind. */
  readonly counts: Record<string, number> = {};
  /** Adds `n` (default 1) to `kind`. */
  add(kind: string, n = 1): void {
    this.counts[kind] = (this.counts[kind] ?? 0) + n;
  }
  /** All counts together. */
  get total(): number {
    let t = 0;
    for (const n of Object.values(this.counts)) t += n;
    return t;
  }
}

/** A bounded reservoir of latency samples (uniform over all samples seen). */
export class Reservoir {
  #cap: number;
  #seen = 0;
  /** The kept samples, at most the capacity. */
  readonly values: number[] = [];
  /** The largest sample seen. */
  max = 0;
  /** A reservoir keeping at most `cap` samples. */
  constructor(cap: number) {
    this.#cap = cap;
  }
  /** Offers one sample. */
  add(v: number): void {
    this.#seen++;
    if (v > this.max) this.max = v;
    if (this.values.length < this.#cap) this.values.push(v);
    else {
      const j = Math.floor(Math.random() * this.#seen);
      if (j < this.#cap) this.values[j] = v;
    }
  }
}

/**
 * Event-loop lag of this process: a timer due every `everyMs` notes how late it ran. A late timer
 * means late reads too, so a large lag says the bench's own latency is in its figures.
 */
export class LagProbe {
  readonly #every: number;
  #due = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** How late each tick ran (ms). */
  readonly values: number[] = [];

  /** A probe ticking every `everyMs` (not started). */
  constructor(everyMs = 10) {
    this.#every = everyMs;
  }

  /** Starts ticking (at most 100,000 samples are kept). */
  start(): void {
    this.#due = performance.now() + this.#every;
    this.#timer = setTimeout(this.#tick, this.#every);
  }

  /** Stops ticking. */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  readonly #tick = () => {
    const now = performance.now();
    if (this.values.length < 100_000) this.values.push(Math.max(0, now - this.#due));
    this.#due = now + this.#every;
    this.#timer = setTimeout(this.#tick, this.#every);
  };
}

/** Resolves after `ms` (0 when negative). */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)));
}

/** Runs `fn(i)` for i in 0…n-1 with at most `limit` at once. */
export async function pool(
  n: number,
  limit: number,
  fn: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(n, limit) }, worker));
}
