/**
 * `chat gui`: its usage, its arguments and the run: the browser front end served on
 * 127.0.0.1 by this process.
 * @module
 */

import { configHome } from "../../shared/paths.ts";
import { isFingerprint } from "../../shared/crypto.ts";
import { roomName } from "../settings.ts";
import {
  parseOptions,
  parseTargets,
  printUsage,
  setupLogging,
  UsageError,
} from "../../cli_args.ts";

const GUI_USAGE = `Usage: chat gui HOST[:PORT][,HOST[:PORT]…] [options]
  --name N              name to use (default: the one saved for the server, else asked for
                        in the page; the first name picked is saved)
  --home DIR            identity, pinned keys and settings (config.json), shared with
                        chat client (default $XDG_CONFIG_HOME/chat)
  --no-open             print the page's address instead of opening the browser
  --accept-new          trust an unknown server's key without asking
  --fingerprint SHA256:…  trust exactly this server key (replaces another pinned key)
  --room R              room to talk in first, with or without # (the saved rooms are
                        rejoined too; default: the first saved room, else #lobby)
  --no-room-records     do not offer room records (each room line then comes sealed for
                        this connection alone, as with an older client)
The page is served on 127.0.0.1 only, to the browser holding its address; this process does
the protocol and the end-to-end encryption. It quits 30 s after the last tab is closed.
Exit codes as for chat client.
`;

/** Runs `chat gui` with its arguments (after the command); returns the exit code. */
export async function guiMain(args: string[]): Promise<number> {
  const { values, positionals } = parseOptions(args, {
    name: { type: "string" },
    home: { type: "string" },
    "no-open": { type: "boolean" },
    "accept-new": { type: "boolean" },
    fingerprint: { type: "string" },
    room: { type: "string" },
    "no-room-records": { type: "boolean" },
  }, GUI_USAGE);
  if (values.help) return printUsage(GUI_USAGE);
  if (positionals.length !== 1) throw new UsageError("expected one HOST[:PORT]", GUI_USAGE);
  const [{ host, port }, ...fallbacks] = parseTargets(positionals[0], GUI_USAGE);
  if (values.fingerprint !== undefined && !isFingerprint(values.fingerprint)) {
    throw new UsageError(`bad --fingerprint "${values.fingerprint}"`, GUI_USAGE);
  }
  const room = values.room === undefined ? undefined : roomName(values.room);
  if (values.room !== undefined && room === undefined) {
    throw new UsageError(`bad --room "${values.room}"`, GUI_USAGE);
  }
  await setupLogging("error");
  const { runGui } = await import("./run_gui.ts");
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
    roomRecords: values["no-room-records"] !== true,
    hintArgs: values.home === undefined ? [] : ["--home", values.home],
  });
}
