/**
 * Tables are pruned, with real `chat server` processes and their real database: a room with no
 * members and no history expires after `roomExpiryDays` while a room with history stays; a
 * name unused for `nameExpiryDays` (90 by default, settable) is released on the next start
 * while a recently used one stays owned; `/nick release NAME` gives a name up at once.
 * Time passing is simulated by ageing the timestamps in the stopped server's database.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { EvilClient } from "../support/evil_client.ts";
import { startClient, startServer, until } from "../support/procs.ts";
import { closeAll } from "../limits/helpers.ts";
import { cmd, request, tryLogin } from "./helpers.ts";

const DAY = 86_400_000;

function age(path: string, sql: string, ...params: (string | number)[]): void {
  const db = new DatabaseSync(path);
  try {
    db.prepare(sql).run(...params);
  } finally {
    db.close();
  }
}

function rows(path: string, sql: string): unknown[] {
  const db = new DatabaseSync(path);
  try {
    return db.prepare(sql).all().map((r) => Object.values(r)[0]);
  } finally {
    db.close();
  }
}

Deno.test("expiry: empty rooms and long-unused names are removed, used ones stay", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-expiry-" });
  const dbPath = `${dir}/data/chat.db`;
  const open: EvilClient[] = [];
  let srv = await startServer({ dataDir: `${dir}/data` });
  let aliceKey;
  try {
    const alice = await EvilClient.joined(srv.port, "alice");
    open.push(alice);
    aliceKey = alice.key;
    for (const room of ["#empty", "#talk"]) {
      assert.equal((await request(alice, cmd("join", room))).t, "reply");
      assert.equal((await request(alice, cmd("topic", room, `about ${room}`))).t, "reply");
    }
    assert.equal((await request(alice, EvilClient.say("kept", "#talk"))).t, "msg");
    for (const room of ["#empty", "#talk"]) await request(alice, cmd("leave", room));
    open.push(await EvilClient.joined(srv.port, "bob"));
  } finally {
    await closeAll(...open.splice(0));
    assert.equal((await srv.stop()).code, 0, srv.stderr());
  }
  const now = Date.now();
  age(dbPath, "UPDATE rooms SET updated = ?", now - 8 * DAY);
  age(dbPath, "UPDATE names SET last_used = ? WHERE key = 'bob'", now - 91 * DAY);

  // A longer setting keeps the name; the room expires (7 days by default).
  srv = await startServer({ dataDir: `${dir}/data`, args: ["--limit", "nameExpiryDays=200"] });
  try {
    const { answer } = await tryLogin(srv.port, "bob", undefined, open);
    assert.deepEqual([answer.t, answer.code], ["error", "name_owned"]);
  } finally {
    await closeAll(...open.splice(0));
    assert.equal((await srv.stop()).code, 0, srv.stderr());
  }
  assert.deepEqual(rows(dbPath, "SELECT room FROM rooms ORDER BY room"), ["#talk"]);

  // The default (90 days) releases it; alice, used recently, stays owned.
  srv = await startServer({ dataDir: `${dir}/data` });
  try {
    const { answer: bob } = await tryLogin(srv.port, "bob", undefined, open);
    assert.equal(bob.t, "welcome", JSON.stringify(bob));
    const { answer: alice } = await tryLogin(srv.port, "alice", undefined, open);
    assert.deepEqual([alice.t, alice.code], ["error", "name_owned"]);
    const { c, answer: owner } = await tryLogin(srv.port, "alice", aliceKey, open);
    assert.equal(owner.t, "welcome");
    const topic = await request(c, cmd("topic", "#talk"));
    assert.match(String(topic.text), /about #talk/);
  } finally {
    await closeAll(...open.splice(0));
    assert.equal((await srv.stop()).code, 0, srv.stderr());
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("expiry: /nick release gives up an owned name, not one in use or not owned", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-expiry-" });
  const srv = await startServer({ dataDir: `${dir}/data` });
  const open: EvilClient[] = [];
  try {
    const alice = await EvilClient.joined(srv.port, "alice");
    open.push(alice);
    assert.equal((await request(alice, cmd("nick", "alice2"))).t, "reply");
    assert.equal((await request(alice, cmd("nick", "alice"))).t, "reply");
    const inUse = await request(alice, cmd("nick", "release", "alice"));
    assert.deepEqual([inUse.t, inUse.code], ["error", "name_in_use"]);
    const notMine = await request(alice, cmd("nick", "release", "zed"));
    assert.deepEqual([notMine.t, notMine.code], ["error", "not_owner"]);
    const { answer: before } = await tryLogin(srv.port, "alice2", undefined, open);
    assert.deepEqual([before.t, before.code], ["error", "name_owned"]);

    const released = await request(alice, cmd("nick", "release", "alice2"));
    assert.equal(released.t, "reply", JSON.stringify(released));
    const { answer: after } = await tryLogin(srv.port, "alice2", undefined, open);
    assert.equal(after.t, "welcome", JSON.stringify(after));
    const bad = await request(alice, cmd("nick", "free", "alice2"));
    assert.deepEqual([bad.t, bad.code], ["error", "bad_args"]);
  } finally {
    await closeAll(...open);
    assert.equal((await srv.stop()).code, 0, srv.stderr());
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("expiry: the real client gives up a name with /nick release NAME", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-expiry-" });
  const srv = await startServer({ dataDir: `${dir}/data` });
  const open: EvilClient[] = [];
  const cli = startClient(srv.port, ["--name", "alice", "--accept-new", "--json"], `${dir}/home`);
  try {
    const seen = () => cli.lines.map((l) => JSON.parse(l));
    await until(() => seen().some((e) => e.t === "welcome"), "welcome", [cli], 20_000);
    for (const line of ["/nick alice2", "/nick alice", "/nick release alice2"]) {
      const before = cli.lines.length;
      await cli.send(line);
      await until(
        () => seen().slice(before).some((e) => e.t === "reply" || e.t === "error"),
        `answer to ${line}`,
        [cli],
      );
    }
    assert.ok(
      seen().some((e) => e.t === "reply" && /gave up the name alice2/.test(String(e.text))),
      cli.lines.join("\n"),
    );
    const { answer } = await tryLogin(srv.port, "alice2", undefined, open);
    assert.equal(answer.t, "welcome", JSON.stringify(answer));
  } finally {
    await closeAll(...open);
    await cli.kill();
    assert.equal((await srv.stop()).code, 0, srv.stderr());
    await Deno.remove(dir, { recursive: true });
  }
});
