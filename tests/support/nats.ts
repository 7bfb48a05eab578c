/**
 * Test support: a real `nats-server -js` on 127.0.0.1 with a temporary store directory, for
 * cluster tests. It can be stopped, killed with SIGKILL, paused (SIGSTOP) and restarted on the
 * same port and store directory, so fault tests can take NATS away and bring it back. Every wait
 * has a deadline; the server's log is kept in a bounded buffer.
 *
 * ```ts
 * Deno.test({ name: "…", ignore: !natsAvailable("cluster test"), fn: async () => {
 *   await using nats = await startNats();
 *   // connect to nats.url …
 * } });
 * ```
 * @module
 */

import { waitFor } from "./procs.ts";

/** The nats-server binary: `$NATS_SERVER` when set, else `/usr/sbin/nats-server`. */
export const NATS_SERVER: string = Deno.env.get("NATS_SERVER") ?? "/usr/sbin/nats-server";

/** How many of the server's log lines are kept (the newest). */
const LOG_LINES = 200;

/**
 * True when the nats-server binary exists and is executable. With `what`, prints one line saying
 * that `what` is skipped when it is absent (use as `Deno.test({ ignore: !natsAvailable("…") })`).
 */
export function natsAvailable(what?: string, binary: string = NATS_SERVER): boolean {
  let ok = false;
  try {
    const info = Deno.statSync(binary);
    ok = info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0;
  } catch {
    ok = false;
  }
  if (!ok && what !== undefined) {
    console.log(`skipping ${what}: ${binary} not found (apt-get install -y nats-server)`);
  }
  return ok;
}

/** Options of {@link startNats}. */
export interface NatsOptions {
  /** Port to listen on; 0 (default) lets the server pick a free one. */
  port?: number;
  /** JetStream store directory; default a fresh temporary directory, removed by `close()`. */
  storeDir?: string;
  /** More nats-server arguments. */
  args?: string[];
  /** Deadline for the server to accept connections, in ms (default 15 000). */
  readyMs?: number;
  /** The binary (default {@link NATS_SERVER}). */
  binary?: string;
}

/** A running (or stopped, restartable) nats-server. */
export interface NatsServer {
  /** The port it listens on (kept across restarts). */
  readonly port: number;
  /** `nats://127.0.0.1:PORT`. */
  readonly url: string;
  /** The JetStream store directory (kept across restarts). */
  readonly storeDir: string;
  /** Process id of the current process. */
  readonly pid: number;
  /** True while the current process has not exited. */
  readonly running: boolean;
  /** The newest log lines (stdout and stderr). */
  log(): string;
  /** Sends a signal (e.g. SIGSTOP / SIGCONT to make it unreachable without closing sockets). */
  signal(signal: Deno.Signal): void;
  /**
   * Stops the process (SIGTERM, then SIGKILL after `graceMs`, default 5000) and waits for it.
   * No-op when already stopped.
   */
  stop(graceMs?: number): Promise<void>;
  /** Kills the process with SIGKILL (like a crash) and waits for it. */
  kill(): Promise<void>;
  /** Starts a new process on the same port and store directory (stopping the old one first). */
  restart(): Promise<void>;
  /** Stops the process and removes the store directory if this helper created it. */
  close(): Promise<void>;
  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Reads a stream line by line, calling `onLine` for each, until it ends. */
async function eachLine(stream: ReadableStream<Uint8Array>, onLine: (l: string) => void) {
  const dec = new TextDecoder();
  let buf = "";
  for await (const chunk of stream) {
    buf += dec.decode(chunk, { stream: true });
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      onLine(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
    // A line longer than this is not a log line we look at; keep the buffer bounded.
    if (buf.length > 64 * 1024) buf = "";
  }
  if (buf) onLine(buf);
}

/** One nats-server process: its child and exit promise. */
interface Running {
  child: Deno.ChildProcess;
  exited: Promise<void>;
  isExited: () => boolean;
}

/** Resolves true when a TCP connection to 127.0.0.1:port succeeds. */
async function accepts(port: number): Promise<boolean> {
  try {
    const c = await Deno.connect({ hostname: "127.0.0.1", port });
    c.close();
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts `nats-server -js -a 127.0.0.1 -p PORT -sd DIR` and waits (bounded by `readyMs`) until it
 * prints its client port and accepts a TCP connection. Rejects with the server's log when it
 * exits early or the deadline passes (the process is killed then).
 */
export async function startNats(opts: NatsOptions = {}): Promise<NatsServer> {
  const binary = opts.binary ?? NATS_SERVER;
  const readyMs = opts.readyMs ?? 15_000;
  const ownDir = opts.storeDir === undefined;
  const storeDir = opts.storeDir ?? await Deno.makeTempDir({ prefix: "chat-nats-" });
  const lines: string[] = [];
  const keep = (l: string) => {
    lines.push(l);
    if (lines.length > LOG_LINES) lines.splice(0, lines.length - LOG_LINES);
  };
  let port = opts.port ?? 0;
  let current: Running | null = null;

  const spawn = async (): Promise<void> => {
    const child = new Deno.Command(binary, {
      args: [
        "-js",
        "-a",
        "127.0.0.1",
        "-p",
        String(port === 0 ? -1 : port),
        "-sd",
        storeDir,
        ...(opts.args ?? []),
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let listening = 0;
    const onLine = (l: string) => {
      keep(l);
      const m = /Listening for client connections on \S*:(\d+)/.exec(l);
      if (m) listening = Number(m[1]);
    };
    const drained = Promise.all([eachLine(child.stdout, onLine), eachLine(child.stderr, onLine)]);
    let exited = false;
    const exitedP = child.status.then(async () => {
      exited = true;
      await drained;
    });
    current = { child, exited: exitedP, isExited: () => exited };
    try {
      await waitFor(() => exited || listening !== 0, readyMs, "nats-server to listen");
      if (exited) throw new Error("nats-server exited early");
      port = listening;
      const end = Date.now() + readyMs;
      while (!(await accepts(port))) {
        if (exited) throw new Error("nats-server exited early");
        if (Date.now() > end) throw new Error("nats-server did not accept connections");
        await new Promise((r) => setTimeout(r, 20));
      }
    } catch (e) {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
      await exitedP;
      current = null;
      throw new Error(`${(e as Error).message}:\n${lines.join("\n")}`);
    }
  };

  const stopWith = async (first: Deno.Signal, graceMs: number): Promise<void> => {
    const r = current;
    if (r === null) return;
    if (!r.isExited()) {
      try {
        r.child.kill(first);
      } catch {
        // already gone
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), graceMs);
      });
      const tooLate = await Promise.race([r.exited.then(() => false), late]);
      clearTimeout(timer);
      if (tooLate) {
        try {
          r.child.kill("SIGKILL");
        } catch {
          // already gone
        }
      }
    }
    await r.exited;
    current = null;
  };

  try {
    await spawn();
  } catch (e) {
    if (ownDir) await Deno.remove(storeDir, { recursive: true }).catch(() => {});
    throw e;
  }

  const server: NatsServer = {
    get port() {
      return port;
    },
    get url() {
      return `nats://127.0.0.1:${port}`;
    },
    storeDir,
    get pid() {
      return current?.child.pid ?? 0;
    },
    get running() {
      return current !== null && !current.isExited();
    },
    log: () => lines.join("\n"),
    signal(signal: Deno.Signal) {
      current?.child.kill(signal);
    },
    stop: (graceMs = 5000) => stopWith("SIGTERM", graceMs),
    kill: () => stopWith("SIGKILL", 5000),
    async restart() {
      if (current !== null) {
        // A paused process would ignore SIGTERM; wake it first.
        if (!current.isExited()) {
          try {
            current.child.kill("SIGCONT");
          } catch {
            // gone
          }
        }
        await stopWith("SIGTERM", 5000);
      }
      await spawn();
    },
    async close() {
      if (current !== null && !current.isExited()) {
        try {
          current.child.kill("SIGCONT");
        } catch {
          // gone
        }
      }
      await stopWith("SIGTERM", 5000);
      if (ownDir) await Deno.remove(storeDir, { recursive: true }).catch(() => {});
    },
    [Symbol.asyncDispose]() {
      return server.close();
    },
  };
  return server;
}
