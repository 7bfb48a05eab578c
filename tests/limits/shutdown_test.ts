/**
 * Graceful shutdown of a real `chat server` process (DESIGN.md §1): on SIGTERM or SIGINT every
 * connected client receives `bye "shutdown"` and a close, the process exits 0, the `--log` file
 * holds every room message as one valid JSON object per line, and the database kept them (a
 * restarted server replays them).
 */

import assert from "node:assert/strict";
import { EvilClient } from "../support/evil_client.ts";
import { startServer } from "../support/procs.ts";
import { closeAll, keep } from "./helpers.ts";

/** Texts chosen to break naive line-oriented logs. */
const TEXTS = [
  "plain hello",
  'quote " backslash \\ braces }{ and a fake {"t":"msg"}',
  "separators \u2028 and \u2029 and \u0085 inside",
  "escaped \\n and \\r\\n literally, a tab\tand 😀",
  "control \u001b[31m red \u0007 bell",
];

async function shutdownCase(signal: Deno.Signal): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "chat-limits-sd-" });
  const logPath = `${dir}/chat.jsonl`;
  const dataDir = `${dir}/data`;
  const open: EvilClient[] = [];
  let srv = await startServer({ dataDir, args: ["--log", logPath] });
  try {
    const alice = keep(open, await EvilClient.joined(srv.port, "alice"));
    const bob = keep(open, await EvilClient.joined(srv.port, "bob"));
    await alice.sync();
    const ids: string[] = [];
    for (const text of TEXTS) {
      const say = EvilClient.say(text);
      ids.push(say.id);
      await alice.send(say);
    }
    const { seen } = await bob.readUntil((m) => m.t === "msg" && m.id === ids.at(-1), 5000);
    assert.deepEqual(seen.filter((m) => m.t === "msg").map((m) => m.text), TEXTS);

    const status = srv.stop(signal);
    for (const c of [alice, bob]) {
      const { match } = await c.readUntil((m) => m.t === "bye", 5000);
      assert.deepEqual(match, { t: "bye", reason: "shutdown" });
      assert.equal(await c.waitClosed(5000), true);
    }
    const s = await status;
    assert.equal(s.code, 0, srv.stderr());
    assert.equal(s.signal, null);
    assert.ok(srv.stdout.includes("server stopped"), srv.stdout.join("\n"));

    const raw = await Deno.readTextFile(logPath);
    assert.ok(raw.endsWith("\n"), "the last line is complete");
    const lines = raw.slice(0, -1).split("\n");
    const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const e of entries) assert.match(String(e.ts), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const msgs = entries.filter((e) => e.kind === "msg");
    assert.deepEqual(
      msgs.map((e) => [e.room, e.from, e.text]),
      TEXTS.map((t) => ["#lobby", "alice", t]),
    );
    assert.deepEqual(
      entries.filter((e) => e.kind === "join").map((e) => e.name),
      ["alice", "bob"],
    );

    // The database was flushed: a restarted server replays the messages on join.
    srv = await startServer({ dataDir, args: ["--log", logPath] });
    const carol = keep(open, await EvilClient.joined(srv.port, "carol"));
    const replay = (await carol.sync()).filter((m) => m.t === "msg");
    assert.deepEqual(
      replay.map((m) => [m.id, m.text, m.replay]),
      ids.map((id, i) => [id, TEXTS[i], true]),
    );
  } finally {
    await closeAll(...open);
    await srv.stop("SIGTERM");
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("process: SIGTERM → bye 'shutdown' to all, exit 0, log and database complete", async () => {
  await shutdownCase("SIGTERM");
});

Deno.test("process: SIGINT → bye 'shutdown' to all, exit 0, log and database complete", async () => {
  await shutdownCase("SIGINT");
});
