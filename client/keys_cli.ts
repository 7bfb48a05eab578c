/**
 * `chat keys`: print the identity fingerprint, forget a server's pinned key, or create a
 * server host key file.
 * @module
 */

import { configHome } from "../shared/paths.ts";
import { createHostKeyFile, KeyFileError } from "../shared/keys.ts";
import { loadOrCreateIdentity } from "./identity.ts";
import { KnownServers, normalizeHostPort } from "./known_servers.ts";
import { parseOptions, parseTarget, printUsage, UsageError } from "../cli_args.ts";

const KEYS_USAGE = `Usage:
  chat keys [--home DIR]                     print your identity fingerprint (created if missing)
  chat keys forget HOST:PORT [--home DIR]    forget the pinned key of a server
  chat keys host-key FILE                    create a new server host key file (mode 0600),
                                             for chat server --host-key FILE
`;

/** Runs `chat keys` with its arguments (after the command); returns the exit code. */
export async function keysMain(args: string[]): Promise<number> {
  const { values, positionals } = parseOptions(args, { home: { type: "string" } }, KEYS_USAGE);
  if (values.help) return printUsage(KEYS_USAGE);
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
