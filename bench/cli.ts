/**
 * `chat bench`: picks the mode (`--soak`, `--attack`, `--memory`, else the load run) and runs it.
 * @module
 */

import type { UsageError } from "./bench_args.ts";

/**
 * Runs `chat bench` with its arguments (after the command); returns the exit code. `usage`
 * builds the error thrown for a usage mistake.
 */
export async function benchMain(args: string[], usage: UsageError): Promise<number> {
  if (args.some((a) => a === "--soak" || a.startsWith("--soak="))) {
    return await (await import("./soak.ts")).soakMain(args, usage);
  }
  if (args.includes("--attack")) {
    return await (await import("./attack.ts")).attackMain(args, usage);
  }
  if (args.some((a) => a === "--memory" || a.startsWith("--memory="))) {
    return await (await import("./memory.ts")).memoryMain(args, usage);
  }
  return await (await import("./bench.ts")).runBench(args, usage);
}
