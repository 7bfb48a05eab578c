/**
 * `chat bench --memory` end to end: a real server process and a real bench process connecting
 * clients in two small steps and reading the server's RSS from /proc.
 * @module
 */

import assert from "node:assert/strict";
import { runChat, startServer } from "../support/procs.ts";
import type { MemoryReport } from "../../bench/memory.ts";

const LIMITS = ["--limit", "perIpConcurrent=100", "--limit", "perIpNew=1000"];

Deno.test("chat bench --memory 3,8: two steps, RSS readings, KiB per added connection, leaves", async () => {
  const server = await startServer({ args: LIMITS });
  try {
    const r = await runChat([
      "bench",
      `127.0.0.1:${server.port}`,
      "--fingerprint",
      server.fingerprint,
      "--memory",
      "3,8",
      "--settle",
      "0",
      "--server-pid",
      String(server.child.pid),
      "--json",
    ], { all: true, ms: 60_000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout) as MemoryReport;
    assert.equal(report.mode, "memory");
    assert.deepEqual(report.errors, {});
    assert.ok(report.startMiB > 10, `start ${report.startMiB}`);
    assert.deepEqual(report.steps.map((s) => s.connections), [3, 8]);
    assert.equal(report.steps[0].kibPerAddedConnection, null);
    assert.equal(typeof report.steps[1].kibPerAddedConnection, "number");
    assert.equal(report.steps[0].kibPerAddedConnectionLow, null);
    assert.equal(typeof report.steps[1].kibPerAddedConnectionLow, "number");
    for (const s of report.steps) {
      assert.ok(s.joinedMiB > 10 && s.settledMiB > 10 && s.peakMiB >= s.joinedMiB, r.stdout);
      assert.ok(s.lowMiB > 10 && s.lowMiB <= Math.min(s.joinedMiB, s.settledMiB), r.stdout);
      assert.ok(s.connectSeconds > 0 && s.cpuMsPerConnection >= 0, r.stdout);
      assert.ok(s.benchCpuMsPerConnection > 0, r.stdout);
    }
    // The clients leave in the same steps, the largest room first.
    assert.deepEqual(report.leaves.map((l) => [l.from, l.to]), [[8, 3], [3, 0]]);
    for (const l of report.leaves) {
      assert.ok(l.seconds > 0 && l.cpuMsPerConnection >= 0, r.stdout);
    }
  } finally {
    await server.stop();
  }
});

Deno.test("chat bench --memory: bad arguments are usage errors (exit 2)", async () => {
  for (
    const args of [
      ["--memory", "5,3", "--server-pid", "1"], // not ascending
      ["--memory", "5"], // no --server-pid
      ["--memory", "x", "--server-pid", "1"],
      ["--memory", "5", "--server-pid", "1", "--settle", "-1"],
    ]
  ) {
    const r = await runChat(["bench", "127.0.0.1:1", "--accept-new", ...args]);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
  }
});
