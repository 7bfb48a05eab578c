/**
 * The database stays bounded, with real `chat server` processes: join/topic/leave cycling hits
 * `room_limit` and `topic_limit` (per identity and day, `--limit roomsPerDay` / `topicsPerDay`)
 * while existing rooms stay free to join and another identity keeps its own quota; the
 * database cap (`--limit dbBytes`) gives `storage_full` with a console warning, the connection
 * stays, and the oldest history is pruned so that messages fit again.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { EvilClient } from "../support/evil_client.ts";
import { runChat, startServer } from "../support/procs.ts";
import { closeAll } from "../limits/helpers.ts";
import { cmd, request } from "./helpers.ts";

const FAST = ["--limit", "rateBurst=100000", "--limit", "ratePerSecond=100000"];

Deno.test("quotas: join/topic/leave cycling stops at room_limit and topic_limit", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-quota-" });
  const srv = await startServer({
    dataDir: `${dir}/data`,
    args: [...FAST, "--limit", "roomsPerDay=5", "--limit", "topicsPerDay=8"],
  });
  const open: EvilClient[] = [];
  try {
    const mallory = await EvilClient.joined(srv.port, "mallory");
    open.push(mallory);
    const answers: string[] = [];
    for (let i = 1; i <= 12; i++) {
      const join = await request(mallory, cmd("join", `#r${i}`));
      if (join.t === "error") {
        answers.push(String(join.code));
        continue;
      }
      const topic = await request(mallory, cmd("topic", `#r${i}`, `cycle ${i}`));
      answers.push(topic.t === "error" ? String(topic.code) : "ok");
      assert.equal((await request(mallory, cmd("leave", `#r${i}`))).t, "reply");
    }
    assert.deepEqual(answers, [...Array(5).fill("ok"), ...Array(7).fill("room_limit")]);
    const refused = await request(mallory, cmd("join", "#r6"));
    assert.match(String(refused.message), /created 5 rooms today/);

    // Existing rooms cost nothing: rejoining one (it has a topic, so it is stored) works.
    assert.equal((await request(mallory, cmd("join", "#r1"))).t, "reply");
    const topics: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await request(mallory, cmd("topic", "#r1", `again ${i}`));
      topics.push(r.t === "error" ? String(r.code) : "ok");
    }
    assert.deepEqual(topics, ["ok", "ok", "ok", "topic_limit"]);

    // Another identity has its own quota.
    const alice = await EvilClient.joined(srv.port, "alice");
    open.push(alice);
    assert.equal((await request(alice, cmd("join", "#fresh"))).t, "reply");
    assert.equal((await request(alice, cmd("topic", "#fresh", "hello"))).t, "reply");

    // A login asking for new rooms beyond the quota gets the rooms it may, and an error.
    const again = await EvilClient.connect(srv.port);
    open.push(again);
    again.key = mallory.key;
    await again.handshake();
    await again.auth({ name: "mallory", rooms: ["#r2", "#new1"] });
    const { match: welcome } = await again.readUntil((m) => m.t === "welcome");
    assert.deepEqual((welcome!.rooms as { name: string }[]).map((r) => r.name), ["#r2"]);
    const { match: note } = await again.readUntil((m) => m.t === "error");
    assert.equal(note!.code, "room_limit");
  } finally {
    await closeAll(...open);
    assert.equal((await srv.stop()).code, 0, srv.stderr());
  }
  const db = new DatabaseSync(`${dir}/data/chat.db`);
  try {
    const rooms = db.prepare("SELECT room FROM rooms ORDER BY room").all().map((r) => r.room);
    assert.deepEqual(rooms, ["#fresh", "#r1", "#r2", "#r3", "#r4", "#r5"]);
  } finally {
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("quotas: the database cap gives storage_full and a warning, then makes room", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-quota-" });
  const srv = await startServer({
    dataDir: `${dir}/data`,
    args: [...FAST, "--limit", "dbBytes=262144"],
  });
  const open: EvilClient[] = [];
  try {
    const alice = await EvilClient.joined(srv.port, "alice");
    open.push(alice);
    let failed: Record<string, unknown> | undefined;
    let stored = 0;
    for (let i = 0; i < 400 && failed === undefined; i++) {
      const r = await request(alice, EvilClient.say(`${i} ${"x".repeat(1500)}`));
      if (r.t === "error") failed = r;
      else stored++;
    }
    assert.ok(failed, "the cap is reached");
    assert.equal(failed.code, "storage_full");
    assert.ok(stored > 20, `${stored} messages fit first`);
    assert.equal((await request(alice, cmd("who"))).t, "reply", "the connection stays");
    assert.match(srv.stderr(), /WARNING: database storage is FULL.*reached its cap/);
    // Within seconds the oldest history is pruned to make room, and messages fit again.
    let after: Record<string, unknown> | undefined;
    for (let i = 0; i < 60 && after?.t !== "msg"; i++) {
      await new Promise((r) => setTimeout(r, 250));
      after = await request(alice, EvilClient.say(`again ${"y".repeat(1500)}`));
    }
    assert.equal(after?.t, "msg", JSON.stringify(after));
    assert.match(srv.stderr(), /at its cap .*pruned the \d+ oldest messages/);
  } finally {
    await closeAll(...open);
    assert.equal((await srv.stop()).code, 0, srv.stderr());
    const size = (await Deno.stat(`${dir}/data/chat.db`)).size;
    await Deno.remove(dir, { recursive: true });
    assert.ok(size <= 262144, `database is ${size} bytes`);
  }
  for (const [bad, why] of [["dbBytes=1.5", "a whole number"], ["dbBytes=100", "at least 65536"]]) {
    const r = await runChat(["server", "--port", "0", "--limit", bad]);
    assert.equal(r.code, 2);
    assert.ok(r.stderr.includes(`bad --limit "${bad}": dbBytes is ${why}`), r.stderr);
  }
});
