/**
 * `chat bench` end to end: a real server process and a real bench process.
 * @module
 */

import assert from "node:assert/strict";
import { runChat, startServer } from "../support/procs.ts";
import { parseProc, percentile } from "../../bench/measure.ts";
import { benchName } from "../../bench/load_client.ts";

const LIMITS = [
  "--limit",
  "ratePerSecond=100000",
  "--limit",
  "rateBurst=100000",
  "--limit",
  "perIpConcurrent=5000",
  "--limit",
  "perIpNew=100000",
  "--limit",
  "maxUnauthenticated=5000",
  "--limit",
  "maxConnections=5000",
];

async function bench(
  args: string[],
  all = false,
): Promise<{ code: number; out: string[]; err: string[] }> {
  const r = await runChat(["bench", ...args], { ms: 30_000, all });
  const lines = (t: string) => t.split("\n").filter((l) => l !== "");
  return { code: r.code, out: lines(r.stdout), err: lines(r.stderr) };
}

Deno.test("chat bench: 5 clients, 2 senders, 20 messages: 100 deliveries, 0 losses", async () => {
  const server = await startServer({ args: LIMITS });
  try {
    const r = await bench([
      `127.0.0.1:${server.port}`,
      "--fingerprint",
      server.fingerprint,
      "--clients",
      "5",
      "--senders",
      "2",
      "--messages",
      "20",
    ]);
    const text = r.out.join("\n");
    assert.equal(r.code, 0, text + r.err.join("\n"));
    assert.match(text, /^connect\s+5 of 5 /m);
    assert.match(text, /^messages\s+20 sent, 20 acknowledged/m);
    assert.match(text, /^deliveries\s+100 of 100 expected/m);
    assert.match(text, /^losses\s+0$/m);
    assert.match(text, /^errors\s+0$/m);
    assert.match(text, /^first copy\s+p50 [\d.]+ ms {2}p99 [\d.]+ ms; {2}last − first p50 /m);
    assert.match(text, /^bench lag\s+/m);

    const j = await bench([
      `127.0.0.1:${server.port}`,
      "--accept-new",
      "--clients",
      "3",
      "--senders",
      "1",
      "--messages",
      "4",
      "--rooms",
      "3",
      "--json",
    ]);
    assert.equal(j.code, 0, j.err.join("\n"));
    const report = JSON.parse(j.out.join("\n"));
    assert.equal(report.deliveries, 4); // the sender's room has one member
    assert.equal(report.expectedDeliveries, 4);
    assert.equal(report.losses, 0);

    // Room records by default, each distinct one's signature verified once for all clients;
    // none with --no-room-records, and nothing lost either way.
    const rr = (more: string[]) =>
      bench([
        `127.0.0.1:${server.port}`,
        "--accept-new",
        "--clients",
        "6",
        "--senders",
        "1",
        "--messages",
        "10",
        "--window",
        "1",
        "--json",
        ...more,
      ]);
    const on = await rr([]);
    assert.equal(on.code, 0, on.err.join("\n"));
    const onReport = JSON.parse(on.out.join("\n"));
    assert.equal(onReport.deliveries, 60);
    assert.ok(onReport.roomRecords >= 60, `room records: ${onReport.roomRecords}`);
    // Where the latency is: each message's first delivery, and how much later its last came
    // (one sample per message); the bench's own event-loop lag during the run.
    assert.equal(onReport.firstLatencyMs.n, 10);
    assert.equal(onReport.fanoutSpreadMs.n, 10);
    assert.ok(onReport.firstLatencyMs.p50 <= onReport.latencyMs.p50, JSON.stringify(onReport));
    assert.ok(onReport.fanoutSpreadMs.max <= onReport.latencyMs.max, JSON.stringify(onReport));
    assert.ok(onReport.benchLagMs.n >= 0 && onReport.benchLagMs.n <= 100_000);
    assert.ok(
      onReport.roomSignaturesVerified * 3 <= onReport.roomRecords, // without the memo: equal
      `${onReport.roomSignaturesVerified} verified for ${onReport.roomRecords} opened`,
    );
    const off = await rr(["--no-room-records"]);
    assert.equal(off.code, 0, off.err.join("\n"));
    const offReport = JSON.parse(off.out.join("\n"));
    assert.equal(offReport.deliveries, 60);
    assert.equal(offReport.roomRecords, 0);
    assert.equal(offReport.roomSignaturesVerified, undefined);

    const h = await bench([
      `127.0.0.1:${server.port}`,
      "--accept-new",
      "--handshakes",
      "5",
      "--json",
    ]);
    assert.equal(h.code, 0, h.err.join("\n"));
    const hs = JSON.parse(h.out.join("\n"));
    assert.equal(hs.ok, 5);
    assert.deepEqual(hs.errors, {});
  } finally {
    await server.stop();
  }
});

Deno.test("chat bench: clients spread over an address list; CPU per delivery and NATS CPU", async () => {
  // One server reached at two addresses stands in for two nodes (one room, every delivery made).
  const server = await startServer({ args: [...LIMITS, "--host", "0.0.0.0"] });
  try {
    const r = await bench([
      `127.0.0.1:${server.port},127.0.0.2:${server.port}`,
      "--fingerprint",
      server.fingerprint,
      "--clients",
      "4",
      "--senders",
      "2",
      "--messages",
      "10",
      "--server-pid",
      `${server.child.pid},${server.child.pid}`,
      "--nats-pid",
      String(server.child.pid),
    ], true); // /proc needs -A
    const text = r.out.join("\n");
    assert.equal(r.code, 0, text + r.err.join("\n"));
    assert.match(text, /^chat bench 127\.0\.0\.1:\d+,127\.0\.0\.2:\d+: 4 clients/m);
    assert.match(text, /^deliveries\s+40 of 40 expected/m);
    assert.match(text, /^ {12}[\d.]+ µs per delivery, summed over 2 servers$/m);
    assert.match(text, /^nats cpu\s+[\d,]+ ms during the run, [\d.]+ µs per delivery$/m);
  } finally {
    await server.stop();
  }
});

Deno.test("chat bench --workers: clients spread over threads, each receiver still counted", async () => {
  const server = await startServer({ args: LIMITS });
  try {
    const run = async (more: string[]) => {
      const r = await bench([
        `127.0.0.1:${server.port}`,
        "--fingerprint",
        server.fingerprint,
        "--clients",
        "7",
        "--senders",
        "3",
        "--messages",
        "30",
        "--json",
        ...more,
      ]);
      assert.equal(r.code, 0, r.out.join("\n") + r.err.join("\n"));
      return JSON.parse(r.out.join("\n"));
    };
    // Three threads, senders 1…3 one in each; paced, so every thread sends on one schedule.
    const three = await run(["--workers", "3", "--rate", "200"]);
    assert.equal(three.workers, 3);
    assert.equal(three.connected, 7);
    assert.equal(three.sent, 30);
    assert.equal(three.acknowledged, 30);
    assert.equal(three.expectedDeliveries, 210);
    assert.equal(three.deliveries, 210);
    assert.equal(three.losses, 0);
    assert.deepEqual(three.errors, {});
    assert.equal(three.latencyMs.n, 210);
    assert.equal(three.firstLatencyMs.n, 30);
    assert.ok(three.latencyMs.p50 >= 0 && three.latencyMs.max < 10_000, JSON.stringify(three));
    // Each thread checks the room records it gets, with a memo of its own.
    assert.ok(three.roomRecords >= 7, JSON.stringify(three));
    // Two rooms over two threads: each sender's line goes to its room's members only.
    const rooms = await run(["--workers", "2", "--rooms", "2"]);
    assert.equal(rooms.workers, 2);
    assert.equal(rooms.expectedDeliveries, 4 * 20 + 3 * 10); // #bench-1: 4 members, 2 senders
    assert.equal(rooms.deliveries, rooms.expectedDeliveries);
    assert.equal(rooms.losses, 0);
    // More threads than clients: one per client.
    const many = await run(["--workers", "16", "--clients", "2", "--senders", "1"]);
    assert.equal(many.workers, 2);
    assert.equal(many.deliveries, 60);
  } finally {
    await server.stop();
  }
});

Deno.test("chat bench: a wrong --fingerprint exits 3", async () => {
  const server = await startServer({ args: LIMITS });
  try {
    const r = await bench([
      `127.0.0.1:${server.port}`,
      "--fingerprint",
      "SHA256:" + "A".repeat(43),
      "--clients",
      "2",
    ]);
    assert.equal(r.code, 3);
    assert.match(r.err.join("\n"), /is not the expected SHA256:A{43}/);
  } finally {
    await server.stop();
  }
});

Deno.test("chat bench: usage errors exit 2", async () => {
  const missingPin = await bench(["127.0.0.1:1", "--clients", "2"]);
  assert.equal(missingPin.code, 2);
  assert.match(missingPin.err.join("\n"), /give --accept-new or --fingerprint/);
  const unknown = await bench(["127.0.0.1:1", "--accept-new", "--bogus"]);
  assert.equal(unknown.code, 2);
  const tooMany = await bench(["127.0.0.1:1", "--accept-new", "--clients", "2", "--senders", "3"]);
  assert.equal(tooMany.code, 2);
  assert.match(tooMany.err.join("\n"), /--senders cannot exceed --clients/);
  const list = "127.0.0.1:1,127.0.0.1:2";
  const soakList = await bench([list, "--accept-new", "--soak", "1"]);
  assert.equal(soakList.code, 2);
  assert.match(soakList.err.join("\n"), /expected one HOST\[:PORT\]/);
  const pids = await bench(["127.0.0.1:1", "--accept-new", "--server-pid", "1,x"]);
  assert.equal(pids.code, 2);
  assert.match(pids.err.join("\n"), /bad --server-pid "x"/);
  const noWorkers = await bench(["127.0.0.1:1", "--accept-new", "--workers", "0"]);
  assert.equal(noWorkers.code, 2);
  assert.match(noWorkers.err.join("\n"), /bad --workers "0": expected an integer 1…16/);
  const privateWorkers = await bench([
    "127.0.0.1:1",
    "--accept-new",
    "--workers",
    "2",
    "--private",
  ]);
  assert.equal(privateWorkers.code, 2);
  assert.match(privateWorkers.err.join("\n"), /--private runs in one thread/);
  const far = Array.from({ length: 17 }, (_, i) => `127.0.0.1:${i + 1}`).join(",");
  const tooFar = await bench([far, "--accept-new"]);
  assert.equal(tooFar.code, 2);
  assert.match(tooFar.err.join("\n"), /at most 16 addresses/);
});

Deno.test("percentile: nearest rank; NaN when empty", () => {
  const s = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  assert.equal(percentile(s, 50), 5);
  assert.equal(percentile(s, 99), 10);
  assert.equal(percentile(s, 0), 1);
  assert.ok(Number.isNaN(percentile([], 50)));
});

Deno.test("benchName: bench0001…bench9999; RangeError outside", () => {
  assert.equal(benchName(1), "bench0001");
  assert.equal(benchName(9999), "bench9999");
  assert.throws(() => benchName(0), RangeError);
  assert.throws(() => benchName(10_000), RangeError);
});

Deno.test("parseProc: utime+stime ticks to ms and VmRSS to bytes; TypeError on junk", () => {
  const stat = "42 (deno (x)) S 1 2 3 4 5 6 7 8 9 10 150 50 0 0 20 0 7 0 100 200 300";
  const status = "Name:\tdeno\nVmRSS:\t   2048 kB\nThreads:\t7\n";
  assert.deepEqual(parseProc(stat, status), { cpuMs: 2000, rssBytes: 2048 * 1024 });
  assert.throws(() => parseProc("no paren", status), TypeError);
  assert.throws(() => parseProc(stat, "Name:\tdeno\n"), TypeError);
});

Deno.test("chat bench --private: keys given to every member, sealed lines all delivered", async () => {
  const server = await startServer({
    args: [...LIMITS, "--limit", "autoBurst=100000", "--limit", "autoPerSecond=100000"],
  });
  try {
    const args = [
      `127.0.0.1:${server.port}`,
      "--fingerprint",
      server.fingerprint,
      "--clients",
      "5",
      "--senders",
      "2",
      "--messages",
      "20",
      "--private",
      "--json",
    ];
    const r = await bench(args);
    assert.equal(r.code, 0, r.out.join("\n") + r.err.join("\n"));
    const j = JSON.parse(r.out.join("\n"));
    assert.equal(j.deliveries, 100);
    assert.equal(j.losses, 0);
    assert.deepEqual(j.errors, {});
    assert.equal(j.keys.given, 10);
    // The room is private now: clear lines in it are refused one by one, and a client without
    // a DM key cannot be in it at all.
    const noKey = JSON.parse((await bench([...args.slice(0, -2), "--json"])).out.join("\n"));
    assert.equal(noKey.errors.dm_key_required, 5, JSON.stringify(noKey));
    const plain = await bench([...args.slice(0, -2), "--dm-key", "--json"]);
    const p = JSON.parse(plain.out.join("\n"));
    assert.equal(p.deliveries, 0);
    assert.equal(p.errors.private_room, 20, JSON.stringify(p));
  } finally {
    await server.stop();
  }
});
