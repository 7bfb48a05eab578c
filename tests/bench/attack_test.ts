/**
 * `chat bench --attack` end to end, shortened to a smoke run against a real server process: the
 * report is complete, the canary is answered, the charged mix is never refused or thrown out, and
 * the legacy mix (20 expensive requests per record) is refused. The round-trip figures are a
 * benchmark (docs/benchmarks.md), not asserted here.
 * @module
 */

import assert from "node:assert/strict";
import { MAIN, startServer } from "../support/procs.ts";
import type { AttackReport } from "../../bench/attack.ts";

/** Runs `chat ...args` with every permission, killed after 90 s. */
async function runAll(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 90_000);
  try {
    const out = await child.output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } finally {
    clearTimeout(timer);
  }
}

async function attack(mix: string): Promise<AttackReport> {
  const dir = await Deno.makeTempDir({ prefix: "chat-attack-" });
  const server = await startServer({ dataDir: dir });
  try {
    const r = await runAll([
      "bench",
      `127.0.0.1:${server.port}`,
      "--attack",
      "--fingerprint",
      server.fingerprint,
      "--mix",
      mix,
      "--attackers",
      "2",
      "--fill",
      "60",
      "--size",
      "200",
      "--idle",
      "1.5",
      "--seconds",
      "2.5",
      "--reconnect",
      "0",
      "--server-pid",
      String(server.child.pid),
      "--json",
    ]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    return JSON.parse(r.stdout) as AttackReport;
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("chat bench --attack: the charged mix is served within the limits", async () => {
  const r = await attack("charged");
  assert.equal(r.mode, "attack");
  assert.ok(r.idle.rtt.n >= 2 && r.attack.rtt.n >= 3, JSON.stringify(r));
  assert.ok(r.idle.cpuPercent !== null && r.attack.cpuPercent !== null);
  assert.ok(r.attackerRows > 0, JSON.stringify(r));
  assert.equal(r.thrownOut, 0);
  assert.equal(r.connects, 2);
});

Deno.test("chat bench --attack: the legacy mix is refused", async () => {
  const r = await attack("legacy");
  assert.ok(r.rateLimited >= 2 * 19, JSON.stringify(r));
});

Deno.test("chat bench --attack: bad arguments are usage errors (exit 2)", async () => {
  for (
    const args of [
      ["--attack", "--accept-new", "--mix", "worst"],
      ["--attack", "--accept-new", "--attackers", "0"],
      ["--attack"],
    ]
  ) {
    const r = await runAll(["bench", "127.0.0.1:1", ...args]);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
  }
});
