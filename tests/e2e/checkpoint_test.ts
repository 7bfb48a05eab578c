/**
 * WAL checkpoints off the event loop with a real server process: under a stream of messages the
 * WAL is copied into the database file while the server runs and the WAL file stays bounded;
 * the server stops cleanly (its worker closed, no WAL left) and everything acknowledged is in the
 * database after a restart. A server whose worker cannot start warns and checkpoints by itself.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { EvilClient } from "../support/evil_client.ts";
import { MAIN, startServer } from "../support/procs.ts";
import { utf8 } from "../../shared/encoding.ts";
import { newId } from "../../shared/messages.ts";

const size = (path: string) => {
  try {
    return Deno.statSync(path).size;
  } catch {
    return -1;
  }
};

/** The WAL may hold the bound's 4,096 pages plus what one spacing adds; 16 MiB is cut back. */
const WAL_MAX = 24 * 1024 * 1024;

Deno.test("e2e: under load the WAL is checkpointed while the server runs; stop and restart keep every message", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "chat-e2e-ckpt-" });
  const db = `${dataDir}/chat.db`;
  const args = ["--limit", "ratePerSecond=100000", "--limit", "rateBurst=100000"];
  let server = await startServer({ dataDir, args });
  const open: EvilClient[] = [];
  let walMax = 0;
  const sampler = setInterval(() => walMax = Math.max(walMax, size(`${db}-wal`)), 20);
  try {
    const a = await EvilClient.joined(server.port, "alice");
    open.push(a);
    const startSize = size(db);
    const ids: string[] = [];
    // 10 records of 50 says: one batch each, fewer WAL pages than SQLite checkpoints at.
    for (let r = 0; r < 10; r++) {
      const batch = Array.from({ length: 50 }, (_, i) => {
        const id = newId();
        ids.push(id);
        return JSON.stringify({
          t: "say",
          id,
          room: "#lobby",
          text: `r${r} m${i} ` + "x".repeat(150),
        });
      });
      await a.send(utf8.encode(batch.join("\n")));
      const acked = new Set<string>();
      while (acked.size < batch.length) {
        const { match } = await a.readUntil((m) => m.t === "msg" || m.t === "error", 10_000);
        assert.equal(match?.t, "msg", JSON.stringify(match));
        acked.add(match!.id as string);
      }
    }
    // The database file grows while the server runs: the WAL reached it without a close.
    const end = Date.now() + 10_000;
    while (size(db) <= startSize && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(size(db) > startSize, `database file grew: ${startSize} → ${size(db)}`);
    assert.ok(walMax > 0 && walMax <= WAL_MAX, `WAL at most ${walMax} bytes`);

    await a.close();
    open.length = 0;
    const status = await server.stop("SIGTERM");
    assert.equal(status.code, 0, server.stderr());
    assert.ok(server.stdout.includes("server stopped"), server.stdout.join("\n"));
    assert.doesNotMatch(server.stderr(), /WARNING|checkpoint/i);
    assert.equal(size(`${db}-wal`), -1, "no WAL left after a clean stop");
    const file = new DatabaseSync(db, { readOnly: true });
    try {
      const rows = file.prepare("SELECT id FROM messages WHERE room = '#lobby'").all();
      assert.deepEqual(new Set(rows.map((r) => r.id)), new Set(ids), "every message stored");
    } finally {
      file.close();
    }

    server = await startServer({ dataDir, args });
    const b = await EvilClient.joined(server.port, "bob");
    open.push(b);
    await b.send(EvilClient.say("after the restart"));
    const { match } = await b.readUntil((m) => m.t === "msg" && m.text === "after the restart");
    assert.equal(match?.seq, ids.length + 1, "every acknowledged message kept its seq");
    const cmd = { t: "cmd", id: newId(), name: "history", args: ["#lobby", "50"] };
    await b.send(cmd);
    const seen = (await b.readUntil((m) => m.t === "reply" && m.id === cmd.id, 10_000)).seen;
    const replayed = new Set(seen.filter((m) => m.t === "msg").map((m) => m.id));
    for (const id of ids.slice(-49)) assert.ok(replayed.has(id), `history has ${id}`);
  } finally {
    clearInterval(sampler);
    await Promise.all(open.map((c) => c.close()));
    await server.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("e2e: a checkpoint worker that cannot start is a storage warning; the server keeps serving", async () => {
  // A copy of the program without the worker's module, as a binary built without it would be.
  const root = new URL(".", `file://${MAIN}`).pathname;
  const copy = await Deno.makeTempDir({ prefix: "chat-e2e-noworker-" });
  const dataDir = await Deno.makeTempDir({ prefix: "chat-e2e-ckpt-" });
  let server;
  const open: EvilClient[] = [];
  try {
    for (const dir of ["bench", "client", "server", "shared"]) {
      await new Deno.Command("cp", { args: ["-r", `${root}${dir}`, copy] }).output();
    }
    for (const f of ["main.ts", "cli_args.ts", "version.ts", "deno.json", "deno.lock"]) {
      await Deno.copyFile(`${root}${f}`, `${copy}/${f}`);
    }
    await Deno.remove(`${copy}/server/checkpoint_worker.ts`);
    server = await startServer({ dataDir, main: `${copy}/main.ts` });
    const a = await EvilClient.joined(server.port, "alice");
    open.push(a);
    await a.send(EvilClient.say("still stored"));
    const { match } = await a.readUntil((m) => m.t === "msg" && m.text === "still stored");
    assert.equal(match?.seq, 1);
    const end = Date.now() + 10_000;
    while (
      !/WARNING: database checkpoint write failed: WAL checkpoint worker: .*The server keeps running/
        .test(server.stderr())
    ) {
      if (Date.now() > end) assert.fail(`no warning: ${server.stderr()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    await a.close();
    open.length = 0;
    const status = await server.stop("SIGTERM");
    assert.equal(status.code, 0, server.stderr());
    assert.equal(size(`${dataDir}/chat.db-wal`), -1, "no WAL left after a clean stop");
  } finally {
    await Promise.all(open.map((c) => c.close()));
    await server?.stop();
    await Deno.remove(copy, { recursive: true });
    await Deno.remove(dataDir, { recursive: true });
  }
});
