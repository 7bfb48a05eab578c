/**
 * `chat bench --soak` end to end, shortened to a smoke run: a real server process with short
 * deadlines and a real bench process for fifteen seconds with few clients. The 10-minute run
 * is a benchmark (docs/benchmarks.md), not a test.
 * @module
 */

import assert from "node:assert/strict";
import { runChat, startServer } from "../support/procs.ts";
import type { SoakReport } from "../../bench/soak.ts";

const LIMITS = [
  ["perIpConcurrent", 1000],
  ["perIpNew", 100000],
  ["maxUnauthenticated", 1000],
  ["idlePingMs", 1000],
  ["idleCloseMs", 2000],
  ["stalledWriteMs", 1000],
  ["rateBurst", 100],
  ["sendQueueBytes", 1 << 20],
].flatMap(([k, v]) => ["--limit", `${k}=${v}`]);

Deno.test("chat bench --soak: a short run prints the verdict; the slow reader and the vanished peer are dropped", async () => {
  const server = await startServer({ args: LIMITS });
  try {
    // all: reading the server's /proc entries needs every permission under Deno.
    const r = await runChat([
      "bench",
      `127.0.0.1:${server.port}`,
      "--fingerprint",
      server.fingerprint,
      "--soak",
      "0.25",
      "--clients",
      "20",
      "--rooms",
      "4",
      "--interval",
      "1",
      "--slow-bytes",
      "6000000",
      "--slow-seconds",
      "10",
      "--server-pid",
      String(server.child.pid),
      "--json",
    ], { all: true, ms: 90_000 });
    const report = JSON.parse(r.stdout) as SoakReport;
    const why = r.stdout + r.stderr;
    assert.equal(report.mode, "soak");
    assert.equal(r.code, report.pass ? 0 : 1, why);
    assert.deepEqual([report.clients, report.connected, report.rooms], [20, 20, 4]);
    assert.ok(report.acknowledged > 0 && report.acknowledged <= report.sent, why);
    assert.equal(report.lost, 0, why);
    assert.equal(report.deliveries, report.expectedDeliveries, why);
    assert.equal(report.disconnected, 0, why);
    // The slow reader writes pings (never idle) but never reads: only its backlog can drop it.
    assert.equal(report.slowReader.dropped, true, why);
    assert.ok(report.slowReader.bytesAddressed > 0, why);
    assert.equal(report.vanished.dropped, true, why);
    assert.equal(report.vanished.deadlineSeconds, 5);
    assert.equal(report.vanished.ok, true, why);
    // The flooder was refused and thrown out, and came back.
    assert.ok(report.flooder.rejected > 0 && report.flooder.thrownOut > 0, why);
    assert.ok(report.flooder.connects > 1, why);
    assert.ok(
      report.rss.samples > 1 && report.rss.min > 0 && report.rss.max >= report.rss.min,
      JSON.stringify(report.rss),
    );
    assert.equal(typeof report.rss.flat, "boolean");
    assert.ok(report.rss.series.length >= report.rss.samples && report.rss.everySeconds > 0);
  } finally {
    await server.stop();
  }
});

Deno.test("chat bench --soak: bad arguments are usage errors (exit 2)", async () => {
  for (
    const args of [
      ["--soak", "0"],
      ["--soak", "ten"],
      ["--soak", "1", "--rooms", "1"],
      ["--soak", "1", "--frobnicate"],
    ]
  ) {
    const r = await runChat(["bench", "127.0.0.1:1", "--accept-new", ...args]);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
  }
  const none = await runChat(["bench", "127.0.0.1:1", "--soak", "1"]);
  assert.equal(none.code, 2, none.stderr);
});
