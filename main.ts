/**
 * `chat`: the command line. Parses arguments, dispatches to server, client,
 * keys and bench, and is the only place that maps errors to exit codes.
 *
 * Exit codes: 0 ok, 1 error, 2 usage, 3 server key changed, 4 refused or
 * banned, 5 could not connect.
 * @module
 */

import type { WindowList } from "./client/windows.ts";
import { parseArgs } from "node:util";
import { configure, getConsoleSink, getLogger, type LogLevel } from "@logtape/logtape";
import { sanitizeMultiline } from "./shared/sanitize.ts";
import { VERSION } from "./version.ts";
import { DEFAULT_LIMITS, type Limits } from "./shared/limits.ts";
import { configHome, stateHome } from "./shared/paths.ts";
import { createHostKeyFile, KeyFileError } from "./shared/keys.ts";
import { loadOrCreateIdentity } from "./client/identity.ts";
import { KnownServers, normalizeHostPort } from "./client/known_servers.ts";
import { isFingerprint } from "./shared/crypto.ts";
import { checkRoom } from "./shared/names.ts";
import { ConnectError, HostKeyChangedError, RefusedError } from "./client/errors.ts";
import type { ClientEvent, View } from "./client/view.ts";
import { useColor } from "./client/render.ts";

/** A command-line mistake: usage is printed and the exit code is 2. */
export class UsageError extends Error {
  /** Creates the error; `usage` is the text to print after the message. */
  constructor(message: string, readonly usage: string) {
    super(message);
    this.name = "UsageError";
  }
}

const MAIN_USAGE = `chat ${VERSION} — secure self-hosted terminal chat

Usage:
  chat server [--host H] [--port P] [--data DIR] [options]   start a server
  chat client HOST[:PORT] [--name N] [options]                join a server
  chat gui HOST[:PORT] [--name N] [options]                   join a server in your browser
  chat keys                                                   print your identity fingerprint
  chat keys forget HOST:PORT                                  forget a server's pinned key
  chat keys host-key FILE                                     create a server host key file
  chat bench HOST[:PORT] [options]                            load-test a server
  chat bench HOST[:PORT] --soak MINUTES [options]             soak-test a server, print a verdict
  chat bench HOST[:PORT] --attack [options]                   a canary's round trips under expensive requests
  chat --help | chat <command> --help | chat --version
`;

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

const CLIENT_USAGE = `Usage: chat client HOST[:PORT][,HOST[:PORT]…] [options]
  Several addresses (the nodes of one cluster) are tried in order; after a drop the client
  goes on with the next one. All of them must present the same server key.
  --name N              name to use (default: the one saved for the server, else asked for
                        in a terminal; the first name picked in a terminal is saved)
  --home DIR            identity, pinned keys and settings (config.json)
                        (default $XDG_CONFIG_HOME/chat)
  --accept-new          trust an unknown server's key without asking
  --fingerprint SHA256:…  trust exactly this server key (replaces another pinned key)
  --room R              room to talk in first, with or without # (in a terminal the saved
                        rooms are rejoined too; default: the first saved room, else #lobby)
  --json                one JSON object per event (plain mode), failures too
  --json-input          plain mode: each input line is a JSON string, e.g. "line 1\nline 2"
                        (a message of several lines) or "/join #dev"
  --no-color            no colours (also NO_COLOR)
  --bell MODE           mention | all | off (default: the saved bell, else mention)
  --log FILE            keep your transcript as JSON Lines
  --no-reconnect        do not reconnect after a lost connection
Exit codes: 0 ok, 1 error (e.g. a message not delivered in plain mode, or the connection
closed for good), 2 usage, 3 server key changed, 4 refused or banned, 5 could not connect.
`;

const GUI_USAGE = `Usage: chat gui HOST[:PORT][,HOST[:PORT]…] [options]
  --name N              name to use (asked for in the page when missing)
  --home DIR            identity and pinned keys (default $XDG_CONFIG_HOME/chat)
  --no-open             print the page's address instead of opening the browser
  --accept-new          trust an unknown server's key without asking
  --fingerprint SHA256:…  trust exactly this server key (replaces another pinned key)
  --room #R             room to join first (default #lobby)
The page is served on 127.0.0.1 only, to the browser holding its address; this process does
the protocol and the end-to-end encryption. It quits 30 s after the last tab is closed.
Exit codes as for chat client.
`;

const KEYS_USAGE = `Usage:
  chat keys [--home DIR]                     print your identity fingerprint (created if missing)
  chat keys forget HOST:PORT [--home DIR]    forget the pinned key of a server
  chat keys host-key FILE                    create a new server host key file (mode 0600),
                                             for chat server --host-key FILE
`;

/** Splits `HOST[:PORT]` (IPv6 in brackets) into host and port. */
export function parseTarget(text: string, usage: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9._-]+))(?::(\d{1,5}))?$/.exec(text);
  const port = m?.[3] === undefined ? 5000 : Number(m[3]);
  const host = m?.[1] ?? m?.[2] ?? "";
  let valid = m !== null && port >= 1 && port <= 65535;
  try {
    if (valid) normalizeHostPort(host, port); // the same rules the pin files use
  } catch {
    valid = false;
  }
  if (!valid) throw new UsageError(`bad address "${text}": expected HOST[:PORT]`, usage);
  return { host, port };
}

/** Most addresses in one `chat client` list (the client's own bound). */
const MAX_TARGETS = 16;

/**
 * Splits `HOST[:PORT],HOST[:PORT],…` into addresses (at most 16, none twice); the text's
 * length is checked before it is split.
 */
export function parseTargets(text: string, usage: string): { host: string; port: number }[] {
  if (text.length > MAX_TARGETS * 300) {
    throw new UsageError(`address list too long (at most ${MAX_TARGETS} addresses)`, usage);
  }
  const parts = text.split(",");
  if (parts.length > MAX_TARGETS) {
    throw new UsageError(`at most ${MAX_TARGETS} addresses, got ${parts.length}`, usage);
  }
  const out = parts.map((p) => parseTarget(p, usage));
  const seen = new Set<string>();
  for (const [i, t] of out.entries()) {
    const hp = normalizeHostPort(t.host, t.port);
    if (seen.has(hp)) throw new UsageError(`address "${parts[i]}" is given twice`, usage);
    seen.add(hp);
  }
  return out;
}

function parse<T extends Record<string, { type: "string" | "boolean"; multiple?: boolean }>>(
  args: string[],
  options: T,
  usage: string,
) {
  try {
    return parseArgs({
      args,
      options: { ...options, help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals: true,
    });
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e), usage);
  }
}

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

async function setupLogging(level: LogLevel): Promise<void> {
  await configure({
    reset: true,
    sinks: { stderr: getConsoleSink() },
    loggers: [
      { category: ["chat"], lowestLevel: level, sinks: ["stderr"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
    ],
  });
}

async function serverMain(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
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
  if (values.help) return print(SERVER_USAGE);
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
  const { ChatServer } = await import("./server/server.ts");
  const { NODE_NAME } = await import("./server/nodes.ts");
  if (values.node !== undefined && !NODE_NAME.test(values.node)) {
    throw new UsageError(
      `bad --node "${values.node}": 1 to 64 of A-Z a-z 0-9 . _ : -`,
      SERVER_USAGE,
    );
  }
  const { runConsole } = await import("./server/console.ts");
  const { ConsoleScreen, syncWriter } = await import("./server/console_screen.ts");
  const { lineSink } = await import("./server/log_sink.ts");
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
  const { keepServerAlive } = await import("./server/guard.ts");
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

async function clientMain(args: string[]): Promise<number> {
  const { values, positionals } = parseClient(args);
  if (values.help) return print(CLIENT_USAGE);
  if (values.json !== true) return await clientRun(values, positionals);
  try {
    return await clientRun(values, positionals);
  } catch (e) {
    // In JSON mode every failure is an object on stdout too (the text still goes to stderr).
    const { jsonLine } = await import("./client/plain.ts");
    console.log(jsonLine(failureObject(e)));
    throw e;
  }
}

/** The `{"t":"fatal",…}` object `--json` prints for an error that ends the client. */
function failureObject(e: unknown): Record<string, unknown> {
  const code = e instanceof HostKeyChangedError
    ? "host_key_changed"
    : e instanceof RefusedError
    ? e.code
    : e instanceof ConnectError
    ? "connect_failed"
    : e instanceof UsageError
    ? "usage"
    : "error";
  return {
    t: "fatal",
    code,
    exit: exitCode(e),
    message: e instanceof Error ? e.message : String(e),
    ...(e instanceof HostKeyChangedError ? { pinned: e.pinned, offered: e.offered } : {}),
  };
}

function parseClient(args: string[]) {
  return parse(args, {
    name: { type: "string" },
    home: { type: "string" },
    "accept-new": { type: "boolean" },
    fingerprint: { type: "string" },
    room: { type: "string" },
    json: { type: "boolean" },
    "json-input": { type: "boolean" },
    "no-color": { type: "boolean" },
    bell: { type: "string" },
    log: { type: "string" },
    "no-reconnect": { type: "boolean" },
  }, CLIENT_USAGE);
}

async function clientRun(
  values: ReturnType<typeof parseClient>["values"],
  positionals: string[],
): Promise<number> {
  if (positionals.length !== 1) {
    throw new UsageError("expected one HOST[:PORT] (or a comma-separated list)", CLIENT_USAGE);
  }
  const [{ host, port }, ...fallbacks] = parseTargets(positionals[0], CLIENT_USAGE);
  if (values.fingerprint !== undefined && !isFingerprint(values.fingerprint)) {
    throw new UsageError(`bad --fingerprint "${values.fingerprint}"`, CLIENT_USAGE);
  }
  const bell = values.bell;
  if (bell !== undefined && bell !== "mention" && bell !== "all" && bell !== "off") {
    throw new UsageError(`bad --bell "${bell}"`, CLIENT_USAGE);
  }
  const { roomName, startSettings } = await import("./client/settings.ts");
  const flagRoom = values.room === undefined ? undefined : roomName(values.room);
  if (values.room !== undefined && flagRoom === undefined) {
    throw new UsageError(`bad --room "${values.room}"`, CLIENT_USAGE);
  }
  await setupLogging("error");
  const interactive = Deno.stdin.isTerminal() && Deno.stdout.isTerminal();
  const home = values.home ?? configHome((k) => Deno.env.get(k));
  const { SettingsFile, SETTINGS_FILE } = await import("./client/settings_file.ts");
  const settings = await SettingsFile.load(`${home}/${SETTINGS_FILE}`);
  const hostPort = normalizeHostPort(host, port);
  const start = startSettings(settings.settings, hostPort, {
    name: values.name,
    room: flagRoom,
    bell,
    color: useColor(Deno.env.get("NO_COLOR"), values["no-color"] === true),
  }, interactive);
  const { room, color } = { room: start.room, color: start.colors };
  if (!interactive && start.name === undefined) {
    throw new UsageError(
      "--name is required when stdin or stdout is not a terminal (or a name saved for the server)",
      CLIENT_USAGE,
    );
  }
  const { identity } = await loadOrCreateIdentity(home, (l) => console.error(l));
  const knownServers = await KnownServers.load(`${home}/known_servers`);
  const { ChatClient } = await import("./client/client.ts");
  const { KnownUsers, KNOWN_USERS_MAX } = await import("./client/known_users.ts");
  const knownUsers = await KnownUsers.load(`${home}/known_users`);
  if (knownUsers.pruned > 0) {
    console.error(
      `known_users was over its bound: removed ${knownUsers.pruned} line(s), the oldest ` +
        `unverified pins first (at most ${KNOWN_USERS_MAX} unverified pins are kept)`,
    );
  }
  const { SeenFile } = await import("./client/dm_seen.ts");
  const seen = await SeenFile.open(`${home}/dm_seen`);
  if (seen.notice !== undefined) console.error(seen.notice);

  // Until the view exists (after the first welcome), questions use the plain prompt.
  let view: View | null = null;
  const early: ClientEvent[] = [];
  const appEvents: { push(ev: ClientEvent): void } = { push: (ev) => early.push(ev) };
  const client = new ChatClient({
    host,
    port,
    fallbacks,
    identity,
    knownServers,
    knownUsers,
    rooms: start.rooms,
    expectedFingerprint: values.fingerprint,
    hintArgs: values.home === undefined ? [] : ["--home", values.home],
    reconnect: values["no-reconnect"] !== true,
    dmQueue: true,
    onEvent: (ev) => appEvents.push(ev),
    trustNewServer: (hp, fp) => {
      if (values.fingerprint !== undefined) {
        if (values.fingerprint === fp) return Promise.resolve(true);
        console.error(`the server's key ${fp} is not the expected ${values.fingerprint}`);
        return Promise.resolve(false);
      }
      if (values["accept-new"]) return Promise.resolve(true);
      if (!interactive) {
        console.error(
          `unknown server ${hp} with key ${fp}\n` +
            `not connecting: run with --accept-new or --fingerprint ${fp}`,
        );
        return Promise.resolve(false);
      }
      console.log(`The server ${hp} is not known yet. Its key fingerprint is:\n  ${fp}`);
      for (;;) {
        const a = (prompt("Trust it and connect? (yes/no, or paste the fingerprint)") ?? "no")
          .trim();
        if (a === fp || /^y(es)?$/i.test(a)) return Promise.resolve(true);
        if (/^no?$/i.test(a) || a === "") return Promise.resolve(false);
        if (isFingerprint(a)) {
          console.log("that fingerprint does not match the server's key");
          return Promise.resolve(false);
        }
      }
    },
    chooseName: (reason) => {
      if (view) return view.askName(reason);
      if (start.name !== undefined && reason === undefined) return Promise.resolve(start.name);
      // Said once, by the exit report.
      if (!interactive) return Promise.reject(new RefusedError("name", reason ?? "no name"));
      if (reason !== undefined) console.log(sanitizeMultiline(reason));
      return Promise.resolve((prompt("Your name:") ?? "").trim());
    },
  });
  // The transcript is opened first: a bad --log path fails before connecting, and the first
  // welcome and history are in it too.
  let log: Deno.FsFile | undefined;
  if (values.log !== undefined) {
    const { openPrivateAppend } = await import("./shared/safe_file.ts");
    const opened = await openPrivateAppend(values.log);
    if (opened.warning !== undefined) console.error(`warning: ${opened.warning}`);
    log = opened.file;
  }
  try {
    await client.start();
    const { runApp } = await import("./client/app.ts");
    view = interactive
      ? new (await import("./client/terminal.ts")).TerminalView({ color, hostPort })
      : new (await import("./client/plain.ts")).PlainView({
        json: values.json === true,
        jsonInput: values["json-input"] === true,
      });
    const code = await runApp(client, view, {
      room,
      json: values.json === true,
      bell: start.bell,
      timestamps: start.timestamps,
      color,
      settings,
      hostPort,
      log,
      early,
      events: appEvents,
      dm: { identity, knownUsers, hostPort, seen },
      windows: (view as { windows?: WindowList }).windows,
    });
    if (client.fatal) throw client.fatal; // a changed key or a ban after connecting: its own exit code
    return code;
  } finally {
    seen.close();
    try {
      log?.close();
    } catch {
      // already closed after a write error
    }
  }
}

async function guiMain(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    name: { type: "string" },
    home: { type: "string" },
    "no-open": { type: "boolean" },
    "accept-new": { type: "boolean" },
    fingerprint: { type: "string" },
    room: { type: "string" },
  }, GUI_USAGE);
  if (values.help) return print(GUI_USAGE);
  if (positionals.length !== 1) throw new UsageError("expected one HOST[:PORT]", GUI_USAGE);
  const [{ host, port }, ...fallbacks] = parseTargets(positionals[0], GUI_USAGE);
  if (values.fingerprint !== undefined && !isFingerprint(values.fingerprint)) {
    throw new UsageError(`bad --fingerprint "${values.fingerprint}"`, GUI_USAGE);
  }
  const room = values.room ?? "#lobby";
  if (!checkRoom(room).ok) throw new UsageError(`bad --room "${room}"`, GUI_USAGE);
  await setupLogging("error");
  const { runGui } = await import("./client/gui/run_gui.ts");
  return await runGui({
    host,
    port,
    fallbacks,
    home: values.home ?? configHome((k) => Deno.env.get(k)),
    name: values.name,
    room,
    open: values["no-open"] !== true,
    acceptNew: values["accept-new"] === true,
    fingerprint: values.fingerprint,
    hintArgs: values.home === undefined ? [] : ["--home", values.home],
  });
}

async function keysMain(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { home: { type: "string" } }, KEYS_USAGE);
  if (values.help) return print(KEYS_USAGE);
  const home = values.home ?? configHome((k) => Deno.env.get(k));
  if (positionals.length === 0) {
    const { identity } = await loadOrCreateIdentity(home, (l) => console.error(l));
    console.log(identity.fingerprint);
    return 0;
  }
  if (positionals[0] === "host-key" && positionals.length === 2) {
    let key;
    try {
      key = await createHostKeyFile(positionals[1]);
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
      throw new KeyFileError(positionals[1], "already exists; it is never replaced", { cause: e });
    }
    console.log(`host key ${key.fingerprint} written to ${positionals[1]}`);
    return 0;
  }
  if (positionals[0] === "forget" && positionals.length === 2) {
    const { host, port } = parseTarget(positionals[1], KEYS_USAGE);
    const hp = normalizeHostPort(host, port);
    const known = await KnownServers.load(`${home}/known_servers`);
    if (await known.forget(hp)) console.log(`forgot the key of ${hp}`);
    else console.log(`no key pinned for ${hp}`);
    return 0;
  }
  throw new UsageError(`unknown keys command "${positionals.join(" ")}"`, KEYS_USAGE);
}

function print(text: string): number {
  console.log(text.trimEnd());
  return 0;
}

/** Runs the command line; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [cmd, ...rest] = args;
  try {
    switch (cmd) {
      case "server":
        return await serverMain(rest);
      case "client":
        return await clientMain(rest);
      case "gui":
        return await guiMain(rest);
      case "keys":
        return await keysMain(rest);
      case "bench":
        if (rest.some((a) => a === "--soak" || a.startsWith("--soak="))) {
          return await (await import("./bench/soak.ts")).soakMain(
            rest,
            (m, u) => new UsageError(m, u),
          );
        }
        if (rest.includes("--attack")) {
          return await (await import("./bench/attack.ts")).attackMain(
            rest,
            (m, u) => new UsageError(m, u),
          );
        }
        if (rest.some((a) => a === "--memory" || a.startsWith("--memory="))) {
          return await (await import("./bench/memory.ts")).memoryMain(
            rest,
            (m, u) => new UsageError(m, u),
          );
        }
        return await (await import("./bench/bench.ts")).runBench(
          rest,
          (m, u) => new UsageError(m, u),
        );
      case "--version":
      case "-V":
        return print(`chat ${VERSION}`);
      case "--help":
      case "-h":
      case "help":
        return print(MAIN_USAGE);
      case undefined:
        throw new UsageError("missing command", MAIN_USAGE);
      default:
        throw new UsageError(`unknown command "${cmd}"`, MAIN_USAGE);
    }
  } catch (e) {
    return report(e);
  }
}

/** The exit code for an error that ends the program (see the README's list). */
function exitCode(e: unknown): number {
  if (e instanceof UsageError) return 2;
  if (e instanceof HostKeyChangedError) return 3;
  return e instanceof RefusedError ? 4 : e instanceof ConnectError ? 5 : 1;
}

function report(e: unknown): number {
  // Messages may quote the server (refusals, reasons): never let them reach the terminal raw.
  const say = (text: string) => console.error(sanitizeMultiline(text));
  if (e instanceof UsageError) {
    say(`chat: ${e.message}\n\n${e.usage.trimEnd()}`);
    return 2;
  }
  if (e instanceof HostKeyChangedError) {
    say(e.message);
    return 3;
  }
  const code = exitCode(e);
  const known = code !== 1 || e instanceof KeyFileError || e instanceof Deno.errors.AddrInUse;
  if (!known) getLogger(["chat"]).debug("unexpected error: {error}", { error: String(e) });
  say(`chat: ${e instanceof Error ? e.message : String(e)}`);
  return code;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
