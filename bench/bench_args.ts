/**
 * Argument parsing shared by the `chat bench` modes: the target `HOST[:PORT]`, how the server's
 * key is trusted, `--server-pid`, `--json`, and numbers checked against a range.
 * @module
 */

import { parseArgs } from "node:util";
import { isFingerprint } from "../shared/crypto.ts";

/** Builds the error thrown for a usage mistake, given the message and the mode's usage text. */
export type UsageError = (message: string, usage: string) => Error;

/** Options of one mode, as `node:util` parseArgs takes them. */
export type OptionSpec = Record<string, { type: "string" | "boolean"; short?: string }>;

/** The options every mode takes besides its own. */
const COMMON: OptionSpec = {
  "accept-new": { type: "boolean" },
  fingerprint: { type: "string" },
  "server-pid": { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
};

/** `HOST`, `HOST:PORT` or `[IPv6]:PORT`. */
const TARGET = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9._-]+))(?::(\d{1,5}))?$/;

/** Most addresses and process ids one run takes. */
export const BENCH_TARGETS_MAX = 16;

/** What every mode's arguments hold, with checked readers for the mode's own options. */
export interface BenchArgs {
  /** Server host (the first address). */
  host: string;
  /** Server port (5000 when not given). */
  port: number;
  /** Every address (a list only where the mode takes one: the nodes of a cluster). */
  targets: { host: string; port: number }[];
  /** Pinned host key; undefined with `--accept-new`. */
  fingerprint?: string;
  /** Server process to observe (the first of `serverPids`). */
  serverPid?: number;
  /** Every server process to observe (a list only where the mode takes one). */
  serverPids: number[];
  /** JSON output. */
  json: boolean;
  /** The text of a string option, or undefined. */
  str(name: string): string | undefined;
  /** True when a boolean option was given. */
  flag(name: string): boolean;
  /** `text` as a number in `min…max` (`def` when undefined); a usage error otherwise. */
  num(name: string, text: string | undefined, def: number, min: number, max: number): number;
  /** Like {@linkcode BenchArgs.num}, for whole numbers only. */
  int(name: string, text: string | undefined, def: number, min: number, max: number): number;
  /** A usage error of this mode. */
  fail(message: string): Error;
}

/**
 * Parses one bench mode's arguments: its `own` options plus the common ones, exactly one target
 * (with `lists`: up to {@linkcode BENCH_TARGETS_MAX} comma-separated targets and server pids),
 * and exactly one of `--accept-new` and `--fingerprint`. Returns "help" for `--help`; throws what
 * `usage` builds (with `usageText`) for any mistake.
 */
export function parseCommonArgs(
  args: string[],
  own: OptionSpec,
  usageText: string,
  usage: UsageError,
  lists = false,
): BenchArgs | "help" {
  const fail = (message: string) => usage(message, usageText);
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { ...own, ...COMMON },
      strict: true,
      allowPositionals: true,
    });
  } catch (e) {
    throw fail(e instanceof Error ? e.message : String(e));
  }
  const v = parsed.values as Record<string, string | boolean | undefined>;
  if (v.help === true) return "help";
  if (parsed.positionals.length !== 1) throw fail("expected one HOST[:PORT]");
  const parts = parsed.positionals[0].split(",", BENCH_TARGETS_MAX + 1);
  if (parts.length > (lists ? BENCH_TARGETS_MAX : 1)) {
    throw fail(lists ? `at most ${BENCH_TARGETS_MAX} addresses` : "expected one HOST[:PORT]");
  }
  const targets = parts.map((text) => {
    const t = TARGET.exec(text);
    const port = t?.[3] === undefined ? 5000 : Number(t[3]);
    if (!t || port < 1 || port > 65535) throw fail(`bad address "${text}": expected HOST[:PORT]`);
    return { host: t[1] ?? t[2], port };
  });
  const number =
    (whole: boolean) =>
    (name: string, text: string | undefined, def: number, min: number, max: number) => {
      if (text === undefined) return def;
      const n = Number(text);
      if (!(whole ? /^\d+$/ : /^\d+(\.\d+)?$/).test(text) || n < min || n > max) {
        throw fail(
          `bad --${name} "${text}": expected ${whole ? "an integer" : "a number"} ${min}…${max}`,
        );
      }
      return n;
    };
  const int = number(true);
  const str = (name: string) => typeof v[name] === "string" ? v[name] as string : undefined;
  const fingerprint = str("fingerprint");
  const acceptNew = v["accept-new"] === true;
  if (acceptNew && fingerprint !== undefined) {
    throw fail("give either --accept-new or --fingerprint, not both");
  }
  if (!acceptNew && fingerprint === undefined) {
    throw fail("give --accept-new or --fingerprint SHA256:…");
  }
  if (fingerprint !== undefined && !isFingerprint(fingerprint)) {
    throw fail(`bad --fingerprint "${fingerprint}"`);
  }
  const pidText = str("server-pid");
  const pidParts = pidText === undefined ? [] : pidText.split(",", BENCH_TARGETS_MAX + 1);
  if (pidParts.length > (lists ? BENCH_TARGETS_MAX : 1)) {
    throw fail(
      lists ? `at most ${BENCH_TARGETS_MAX} server pids` : `bad --server-pid "${pidText}"`,
    );
  }
  const serverPids = pidParts.map((p) => int("server-pid", p, 0, 1, 2 ** 31));
  return {
    host: targets[0].host,
    port: targets[0].port,
    targets,
    fingerprint,
    serverPid: serverPids[0],
    serverPids,
    json: v.json === true,
    str,
    flag: (name) => v[name] === true,
    num: number(false),
    int,
    fail,
  };
}
