/**
 * `chat server`: its usage, its arguments (address, data, log rotation, limits, cluster) and
 * the run: start the server, print where it listens, serve the console, stop on a signal.
 * @module
 */

import { configure, getLogger } from "@logtape/logtape";
import { VERSION } from "../version.ts";
import { DEFAULT_LIMITS, type Limits } from "../shared/limits.ts";
import { stateHome } from "../shared/paths.ts";
import { isFingerprint } from "../shared/crypto.ts";
import { parseOptions, printUsage, UsageError } from "../cli_args.ts";

const SERVER_USAGE = `Usage: chat server [options]
  --host H           address to listen on (default 0.0.0.0)
  --port P           port (default 5000; 0 picks a free port)
  --data DIR         data directory: host key and database
                     (default $XDG_STATE_HOME/chat/server)
  --host-key FILE    present the host key in FILE (mode 0600; the same file on every
                     node of a cluster) instead of DIR/host_key
  --name NAME        server name shown to clients (default "chat")
  --node NAME        this node's name in /service and /stats (default HOSTNAME:PORT;
                     1 to 64 of A-Z a-z 0-9 . _ : -)
  --motd TEXT|@FILE  message of the day
  --blacklist FILE   forbidden names and * patterns, one per line (reloaded on SIGHUP)
  --admin SHA256:…   identity fingerprint with operator rights (repeatable)
  --log FILE         append every room event to FILE as JSON Lines (mode 0600)
  --log-max-size N   rotate the log at N bytes (suffix K, M or G; default 100M)
  --log-keep N       rotated logs kept as FILE.1 … FILE.N (default 5; 0 keeps none)
  --limit KEY=N      override a limit, e.g. --limit textBytes=1024 (repeatable)
  --cluster nats://HOST:PORT[,nats://…]
                     be a node of a cluster: rooms, history, names, bans and operators live
                     in NATS JetStream, shared by every node with the same --cluster-name
  --cluster-name NAME  the cluster to join on that NATS (default "chat"; A-Z a-z 0-9 _ -)
  --verbose          log connections and errors to stderr
`;

/** `--cluster` URLs and `--cluster-name`; undefined without `--cluster`. */
function parseCluster(
  urls: string | undefined,
  name: string | undefined,
): { servers: string[]; name: string } | undefined {
  if (urls === undefined) {
    if (name !== undefined) throw new UsageError("--cluster-name needs --cluster", SERVER_USAGE);
    return undefined;
  }
  const servers = urls.split(",");
  for (const u of servers) {
    if (!/^nats:\/\/(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+)(?::\d{1,5})?$/.test(u)) {
      throw new UsageError(
        `bad --cluster "${u}": expected nats://HOST[:PORT], several separated by commas`,
        SERVER_USAGE,
      );
    }
  }
  if (servers.length > 32) throw new UsageError("--cluster takes at most 32 URLs", SERVER_USAGE);
  if (name !== undefined && !/^[A-Za-z0-9_-]{1,32}$/.test(name)) {
    throw new UsageError(
      `bad --cluster-name "${name}": 1 to 32 of A-Z, a-z, 0-9, _ and -`,
      SERVER_USAGE,
    );
  }
  return { servers, name: name ?? "chat" };
}

/** Parses the repeatable `--limit KEY=N`: known keys only, whole numbers where it matters. */
function parseLimits(items: string[] | undefined): Partial<Limits> {
  const out: Partial<Limits> = {};
  for (const item of items ?? []) {
    const m = /^([A-Za-z]+)=(\d{1,12}(?:\.\d{1,6})?)$/.exec(item);
    if (!m || !(m[1] in DEFAULT_LIMITS)) {
      throw new UsageError(
        `bad --limit "${item}"; known: ${Object.keys(DEFAULT_LIMITS).join(", ")}`,
        SERVER_USAGE,
      );
    }
    const key = m[1] as keyof Limits;
    if (WHOLE_LIMITS.has(key) && !Number.isInteger(Number(m[2]))) {
      throw new UsageError(`bad --limit "${item}": ${key} is a whole number`, SERVER_USAGE);
    }
    if (key === "dbBytes" && Number(m[2]) < 65536) {
      throw new UsageError(`bad --limit "${item}": dbBytes is at least 65536`, SERVER_USAGE);
    }
    out[key] = Number(m[2]);
  }
  return out;
}

/** Limits that count whole things (a fraction of them means nothing). */
const WHOLE_LIMITS: ReadonlySet<string> = new Set([
  "roomsPerDay",
  "topicsPerDay",
  "dbBytes",
  "dmQueuePerRecipient",
  "dmQueuePerSender",
  "dmQueueTotal",
  "dmQueueDays",
  "roomRecords",
]);

/** Parses a byte size: digits with an optional K, M or G (powers of 1024); undefined if absent. */
function parseSize(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const m = /^(\d{1,15})([KMG]?)$/i.exec(text);
  const n = m === null ? 0 : Number(m[1]) * 1024 ** " KMG".indexOf(m[2].toUpperCase() || " ");
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new UsageError(
      `bad ${flag} "${text}": expected bytes, e.g. 1048576 or 100M`,
      SERVER_USAGE,
    );
  }
  return n;
}

/** Parses a count from 0 to `max`; undefined if absent. */
function parseCount(text: string | undefined, flag: string, max: number): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d{1,7}$/.test(text) || Number(text) > max) {
    throw new UsageError(`bad ${flag} "${text}": expected 0 to ${max}`, SERVER_USAGE);
  }
  return Number(text);
}

/** Runs `chat server` with its arguments (after the command); returns the exit code. */
export async function serverMain(args: string[]): Promise<number> {
  const { values, positionals } = parseOptions(args, {
    host: { type: "string" },
    port: { type: "string" },
    data: { type: "string" },
    "host-key": { type: "string" },
    name: { type: "string" },
    node: { type: "string" },
    motd: { type: "string" },
    blacklist: { type: "string" },
    admin: { type: "string", multiple: true },
    log: { type: "string" },
    "log-max-size": { type: "string" },
    "log-keep": { type: "string" },
    limit: { type: "string", multiple: true },
    cluster: { type: "string" },
    "cluster-name": { type: "string" },
    verbose: { type: "boolean" },
  }, SERVER_USAGE);
  if (values.help) return printUsage(SERVER_USAGE);
  if (positionals.length > 0) throw new UsageError(`unexpected "${positionals[0]}"`, SERVER_USAGE);
  const port = values.port === undefined ? 5000 : Number(values.port);
  if (!/^\d{1,5}$/.test(values.port ?? "5000") || port > 65535) {
    throw new UsageError(`bad port "${values.port}"`, SERVER_USAGE);
  }
  for (const a of values.admin ?? []) {
    if (!isFingerprint(a)) throw new UsageError(`bad --admin "${a}"`, SERVER_USAGE);
  }
  const cluster = parseCluster(values.cluster, values["cluster-name"]);
  // Loaded on demand: the server never loads the client's terminal code, nor the client the server's.
  const { ChatServer } = await import("./server.ts");
  const { NODE_NAME } = await import("./nodes.ts");
  if (values.node !== undefined && !NODE_NAME.test(values.node)) {
    throw new UsageError(
      `bad --node "${values.node}": 1 to 64 of A-Z a-z 0-9 . _ : -`,
      SERVER_USAGE,
    );
  }
  const { runConsole } = await import("./console.ts");
  const { ConsoleScreen, syncWriter } = await import("./console_screen.ts");
  const { lineSink } = await import("./log_sink.ts");
  const interactive = Deno.stdin.isTerminal();
  const screen = new ConsoleScreen({
    out: syncWriter(Deno.stdout),
    err: syncWriter(Deno.stderr),
    interactive,
  });
  await configure({
    reset: true,
    sinks: { screen: lineSink((l) => screen.notice(l)) },
    loggers: [
      { category: ["chat"], lowestLevel: values.verbose ? "debug" : "info", sinks: ["screen"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["screen"] },
    ],
  });
  let motd = values.motd ?? "";
  if (motd.startsWith("@")) motd = (await Deno.readTextFile(motd.slice(1))).trimEnd();
  const dataDir = values.data ?? stateHome((k) => Deno.env.get(k));
  const { keepServerAlive } = await import("./guard.ts");
  const unguard = keepServerAlive((reason) =>
    getLogger(["chat", "server"]).error("unhandled error (server kept running): {reason}", {
      reason: reason instanceof Error ? reason.stack ?? reason.message : String(reason),
    })
  );
  const server = await ChatServer.start({
    host: values.host,
    port,
    dataDir,
    hostKeyPath: values["host-key"],
    name: values.name,
    nodeName: values.node,
    motd,
    blacklistPath: values.blacklist,
    admins: values.admin,
    logPath: values.log,
    logMaxBytes: parseSize(values["log-max-size"], "--log-max-size"),
    logKeep: parseCount(values["log-keep"], "--log-keep", 1000),
    limits: parseLimits(values.limit),
    cluster,
  });
  // Signals are handled before the address is printed: whoever sees it may stop the server.
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const onHup = () => {
    server.reloadBlacklist().then(
      (n) => screen.notice(`blacklist reloaded: ${n} entries`, "out"),
      (e) => screen.notice(`blacklist not reloaded: ${e instanceof Error ? e.message : e}`),
    );
  };
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGHUP", onHup);
  const a = server.addr;
  const shown = a.hostname.includes(":") ? `[${a.hostname}]:${a.port}` : `${a.hostname}:${a.port}`;
  console.log(`chat server ${VERSION} listening on ${shown}`);
  const keyFrom = values["host-key"] === undefined ? "" : ` (from ${values["host-key"]})`;
  console.log(`host key ${server.fingerprint}${server.createdKey ? " (new)" : keyFrom}`);
  console.log(`data in ${dataDir}`);

  screen.start();
  const consoleDone = interactive
    ? runConsole(server.hub, Deno.stdin.readable, (t) => screen.answer(t), stop.signal).catch((e) =>
      screen.notice(`console stopped: ${e instanceof Error ? e.message : e}`)
    )
    : Promise.resolve();
  await new Promise<void>((resolve) => stop.signal.addEventListener("abort", () => resolve()));
  screen.stop();
  console.log("shutting down…");
  await server.shutdown();
  await consoleDone.catch(() => {});
  Deno.removeSignalListener("SIGINT", onSignal);
  Deno.removeSignalListener("SIGTERM", onSignal);
  if (Deno.build.os !== "windows") Deno.removeSignalListener("SIGHUP", onHup);
  unguard();
  console.log("server stopped");
  return 0;
}
