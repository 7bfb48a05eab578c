/**
 * `chat`: the command line. Parses the command, dispatches to server, client, gui, keys and
 * bench, and is the only place that maps errors to exit codes.
 *
 * Exit codes: 0 ok, 1 error, 2 usage, 3 server key changed, 4 refused or
 * banned, 5 could not connect.
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { sanitizeMultiline } from "./shared/sanitize.ts";
import { VERSION } from "./version.ts";
import { KeyFileError } from "./shared/keys.ts";
import { ConnectError, HostKeyChangedError, RefusedError } from "./client/errors.ts";
import { printUsage, UsageError } from "./cli_args.ts";
import { serverMain } from "./server/cli.ts";
import { clientMain } from "./client/cli.ts";
import { guiMain } from "./client/gui/cli.ts";
import { keysMain } from "./client/keys_cli.ts";
import { benchMain } from "./bench/cli.ts";

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

/** Runs the command line; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [cmd, ...rest] = args;
  try {
    switch (cmd) {
      case "server":
        return await serverMain(rest);
      case "client":
        return await clientMain(rest, exitCode);
      case "gui":
        return await guiMain(rest);
      case "keys":
        return await keysMain(rest);
      case "bench":
        return await benchMain(rest, (m, u) => new UsageError(m, u));
      case "--version":
      case "-V":
        return printUsage(`chat ${VERSION}`);
      case "--help":
      case "-h":
      case "help":
        return printUsage(MAIN_USAGE);
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
