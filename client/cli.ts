/**
 * `chat client`: its usage, its arguments and the run: load the identity, pins and settings,
 * connect, then hand the connection to the app in a terminal or in plain (`--json`) mode.
 * @module
 */

import type { WindowList } from "./windows.ts";
import { sanitizeMultiline } from "../shared/sanitize.ts";
import { configHome } from "../shared/paths.ts";
import { loadOrCreateIdentity } from "./identity.ts";
import { KnownServers, normalizeHostPort } from "./known_servers.ts";
import { isFingerprint } from "../shared/crypto.ts";
import { ConnectError, HostKeyChangedError, RefusedError } from "./errors.ts";
import type { ClientEvent, View } from "./view.ts";
import { useColor } from "./render.ts";
import { parseOptions, parseTargets, printUsage, setupLogging, UsageError } from "../cli_args.ts";

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
  --no-room-records     do not offer room records (each room line then comes sealed for
                        this connection alone, as with an older client)
Exit codes: 0 ok, 1 error (e.g. a message not delivered in plain mode, or the connection
closed for good), 2 usage, 3 server key changed, 4 refused or banned, 5 could not connect.
`;

/**
 * Runs `chat client` with its arguments (after the command); returns the exit code. With
 * `--json`, a failure is also printed as a `{"t":"fatal",…}` object whose `exit` is what
 * `exitCode` (the command line's own mapping) gives for it, then thrown on.
 */
export async function clientMain(
  args: string[],
  exitCode: (e: unknown) => number,
): Promise<number> {
  const { values, positionals } = parseClient(args);
  if (values.help) return printUsage(CLIENT_USAGE);
  if (values.json !== true) return await clientRun(values, positionals);
  try {
    return await clientRun(values, positionals);
  } catch (e) {
    // In JSON mode every failure is an object on stdout too (the text still goes to stderr).
    const { jsonLine } = await import("./plain.ts");
    console.log(jsonLine(failureObject(e, exitCode)));
    throw e;
  }
}

/** The `{"t":"fatal",…}` object `--json` prints for an error that ends the client. */
function failureObject(e: unknown, exitCode: (e: unknown) => number): Record<string, unknown> {
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
  return parseOptions(args, {
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
    "no-room-records": { type: "boolean" },
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
  const { roomName, startSettings } = await import("./settings.ts");
  const flagRoom = values.room === undefined ? undefined : roomName(values.room);
  if (values.room !== undefined && flagRoom === undefined) {
    throw new UsageError(`bad --room "${values.room}"`, CLIENT_USAGE);
  }
  await setupLogging("error");
  const interactive = Deno.stdin.isTerminal() && Deno.stdout.isTerminal();
  const home = values.home ?? configHome((k) => Deno.env.get(k));
  const { SettingsFile, SETTINGS_FILE } = await import("./settings_file.ts");
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
  const { ChatClient } = await import("./client.ts");
  const { KnownUsers, KNOWN_USERS_MAX } = await import("./known_users.ts");
  const knownUsers = await KnownUsers.load(`${home}/known_users`);
  if (knownUsers.pruned > 0) {
    console.error(
      `known_users was over its bound: removed ${knownUsers.pruned} line(s), the oldest ` +
        `unverified pins first (at most ${KNOWN_USERS_MAX} unverified pins are kept)`,
    );
  }
  const { SeenFile } = await import("./dm_seen.ts");
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
    roomRecords: values["no-room-records"] !== true,
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
    const { openPrivateAppend } = await import("../shared/safe_file.ts");
    const opened = await openPrivateAppend(values.log);
    if (opened.warning !== undefined) console.error(`warning: ${opened.warning}`);
    log = opened.file;
  }
  try {
    await client.start();
    const { runApp } = await import("./app.ts");
    view = interactive
      ? new (await import("./terminal.ts")).TerminalView({ color, hostPort })
      : new (await import("./plain.ts")).PlainView({
        json: values.json === true,
        jsonInput: values["json-input"] === true,
      });
    const code = await runApp(client, view, {
      room,
      json: values.json === true,
      bell: start.bell,
      timestamps: start.timestamps,
      color,
      noColor: values["no-color"] === true
        ? "--no-color"
        : useColor(Deno.env.get("NO_COLOR"), false)
        ? undefined
        : "NO_COLOR",
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
