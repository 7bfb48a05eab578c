/**
 * Test support: start real `chat server` / `chat client` processes over loopback.
 * @module
 */

import assert from "node:assert/strict";

/** The permissions the tasks use, so tests run exactly what users run. */
export const RUN_FLAGS = [
  "run",
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-sys",
];

/** Absolute path of main.ts. */
export const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** A running `chat server` process. */
export interface ServerProcess {
  /** The port it listens on. */
  port: number;
  /** Its host-key fingerprint. */
  fingerprint: string;
  /** Its data directory. */
  dataDir: string;
  /** The child process. */
  child: Deno.ChildProcess;
  /** Lines printed on stdout after startup (collected in the background). */
  stdout: string[];
  /** Everything printed on stderr so far. */
  stderr: () => string;
  /** Sends a signal and waits for the exit status. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
}

/** Reads lines from a stream into `sink`, returning a promise that ends with the stream. */
export function collectLines(stream: ReadableStream<Uint8Array>, sink: string[]): Promise<void> {
  return (async () => {
    const dec = new TextDecoder();
    let buf = "";
    for await (const chunk of stream) {
      buf += dec.decode(chunk, { stream: true });
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        sink.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    }
    if (buf) sink.push(buf);
  })();
}

/** Waits until `pred()` holds, polling every 20 ms, failing after `ms`. */
export async function waitFor(pred: () => boolean, ms = 10_000, what = "condition"): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Starts `chat server --host 127.0.0.1 --port P --data DIR ...extra` and waits until it
 * prints its address and fingerprint. With `wrap`, the command runs as `wrap… deno …`; with
 * `main`, another checkout's main.ts runs (from that checkout's directory).
 */
export async function startServer(
  opts: { dataDir?: string; port?: number; args?: string[]; wrap?: string[]; main?: string } = {},
): Promise<ServerProcess> {
  const dataDir = opts.dataDir ?? await Deno.makeTempDir({ prefix: "chat-srv-" });
  const [program, ...before] = [...(opts.wrap ?? []), Deno.execPath()];
  const child = new Deno.Command(program, {
    args: [
      ...before,
      ...RUN_FLAGS,
      opts.main ?? MAIN,
      "server",
      "--host",
      "127.0.0.1",
      "--port",
      String(opts.port ?? 0),
      "--data",
      dataDir,
      ...(opts.args ?? []),
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
    ...(opts.main ? { cwd: new URL(".", `file://${opts.main}`).pathname } : {}),
  }).spawn();
  const stdout: string[] = [];
  const errLines: string[] = [];
  const outDone = collectLines(child.stdout, stdout);
  const errDone = collectLines(child.stderr, errLines);
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  try {
    await waitFor(
      () => exited || stdout.some((l) => l.startsWith("host key ")),
      20_000,
      "server start",
    );
  } catch (e) {
    child.kill("SIGKILL");
    await status;
    await Promise.all([outDone, errDone]);
    throw e;
  }
  if (exited) {
    await Promise.all([outDone, errDone]);
    throw new Error(`server exited early: ${errLines.join("\n")}`);
  }
  const port = Number(/:(\d+)$/.exec(stdout.find((l) => l.includes("listening on"))!)![1]);
  const fingerprint = /(SHA256:\S+)/.exec(stdout.find((l) => l.startsWith("host key "))!)![1];
  return {
    port,
    fingerprint,
    dataDir,
    child,
    stdout,
    stderr: () => errLines.join("\n"),
    async stop(signal: Deno.Signal = "SIGTERM") {
      if (!exited) {
        try {
          child.kill(signal);
        } catch {
          // already gone
        }
      }
      const s = await status;
      await Promise.all([outDone, errDone]);
      return s;
    },
  };
}

/** A `chat client` process in plain mode with piped stdin. */
export interface ClientProcess {
  /** Lines printed on stdout so far. */
  lines: string[];
  /** Lines printed on stderr so far. */
  errors: string[];
  /** Writes one line to the client's stdin. */
  send(line: string): Promise<void>;
  /** Closes stdin (end of input). */
  end(): Promise<void>;
  /** Waits for the exit status. */
  status: Promise<Deno.CommandStatus>;
  /** Kills the process and waits for it. */
  kill(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
}

/**
 * Starts `chat client 127.0.0.1:PORT ...args` with piped stdio (plain mode); a string `port`
 * is the whole address argument (e.g. a list `127.0.0.1:1,127.0.0.1:2`). With `main`, another
 * checkout's main.ts runs (from that checkout's directory).
 */
export function startClient(
  port: number | string,
  args: string[],
  home: string,
  main?: string,
): ClientProcess {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      ...RUN_FLAGS,
      main ?? MAIN,
      "client",
      typeof port === "string" ? port : `127.0.0.1:${port}`,
      "--home",
      home,
      ...args,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
    ...(main ? { cwd: new URL(".", `file://${main}`).pathname } : {}),
  }).spawn();
  const lines: string[] = [];
  const errors: string[] = [];
  const done = Promise.all([
    collectLines(child.stdout, lines),
    collectLines(child.stderr, errors),
  ]);
  const writer = child.stdin.getWriter();
  let ended = false;
  const status = child.status.then(async (s) => {
    await done;
    return s;
  });
  return {
    lines,
    errors,
    async send(line: string) {
      await writer.write(new TextEncoder().encode(line + "\n"));
    },
    async end() {
      if (ended) return;
      ended = true;
      await writer.close().catch(() => {});
    },
    status,
    async kill(signal: Deno.Signal = "SIGKILL") {
      try {
        child.kill(signal);
      } catch {
        // gone
      }
      if (!ended) {
        ended = true;
        await writer.close().catch(() => {});
      }
      return await status;
    },
  };
}

/** Waits for a process exit, failing after `ms`. */
export async function exitWithin(c: ClientProcess, ms: number): Promise<Deno.CommandStatus> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`client did not exit within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([c.status, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The JSON objects a `--json` client printed so far (other lines skipped). */
export function events(p: ClientProcess): Record<string, unknown>[] {
  return p.lines.flatMap((l) => {
    try {
      return [JSON.parse(l)];
    } catch {
      return [];
    }
  });
}

/** Like `waitFor`, but a timeout also shows what the clients printed. */
export async function until(
  pred: () => boolean,
  what: string,
  shown: ClientProcess[],
  ms = 10_000,
): Promise<void> {
  try {
    await waitFor(pred, ms, what);
  } catch (e) {
    const out = shown.map((c, i) =>
      `--- client ${i} stdout:\n${c.lines.join("\n")}\n--- stderr:\n${c.errors.join("\n")}`
    );
    throw new Error(`${e instanceof Error ? e.message : e}\n${out.join("\n")}`);
  }
}

/** What a finished `chat` process printed. */
export interface ChatRun {
  /** Exit code. */
  code: number;
  /** Everything on stdout. */
  stdout: string;
  /** Everything on stderr. */
  stderr: string;
}

/**
 * Runs `chat ...args` with stdin closed, killing it after `ms`; resolves with its output.
 * `all`: with every permission (`-A`), e.g. to read another process's /proc entries.
 */
export async function runChat(
  args: string[],
  opts: { env?: Record<string, string>; ms?: number; all?: boolean } = {},
): Promise<ChatRun> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [...(opts.all ? ["run", "-A"] : RUN_FLAGS), MAIN, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...opts.env },
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), opts.ms ?? 20_000);
  try {
    const out = await child.output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } finally {
    clearTimeout(timer);
  }
}

/** Creates the identity in `home` with `chat keys --home HOME`; fails the test if that fails. */
export async function makeIdentity(home: string): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [...RUN_FLAGS, MAIN, "keys", "--home", home],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(out.success, `creating an identity failed: ${new TextDecoder().decode(out.stderr)}`);
}
