/**
 * What every `chat` subcommand's argument parsing shares: the usage error, `HOST[:PORT]`
 * addresses, option parsing with `--help`, usage printing and stderr logging.
 * @module
 */

import { parseArgs } from "node:util";
import { configure, getConsoleSink, type LogLevel } from "@logtape/logtape";
import { normalizeHostPort } from "./client/known_servers.ts";

/** A command-line mistake: usage is printed and the exit code is 2. */
export class UsageError extends Error {
  /** Creates the error; `usage` is the text to print after the message. */
  constructor(message: string, readonly usage: string) {
    super(message);
    this.name = "UsageError";
  }
}

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

/**
 * Parses `args` with `options` plus `-h`/`--help`, strictly, positionals allowed; any mistake
 * is a {@linkcode UsageError} carrying `usage`.
 */
export function parseOptions<
  T extends Record<string, { type: "string" | "boolean"; multiple?: boolean }>,
>(
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

/** Sends the `chat` loggers at `level` and above to stderr. */
export async function setupLogging(level: LogLevel): Promise<void> {
  await configure({
    reset: true,
    sinks: { stderr: getConsoleSink() },
    loggers: [
      { category: ["chat"], lowestLevel: level, sinks: ["stderr"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["stderr"] },
    ],
  });
}

/** Prints a usage or version text (trailing whitespace trimmed); returns exit code 0. */
export function printUsage(text: string): number {
  console.log(text.trimEnd());
  return 0;
}
