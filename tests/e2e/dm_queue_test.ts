/**
 * The offline queue end to end, with a real server and real `--json` clients: a `/msg` to an
 * offline owner is "queued for bob"; it survives a server restart; bob's client gets the queued
 * messages in order with the times they were sent, shows each once, and acknowledges them; an
 * envelope the server delivers again (its acknowledgement lost) is not shown again after the
 * client restarted twice, thanks to the persisted replay protection (`dm_seen`, mode 0600); the
 * per-sender and per-recipient bounds give their exact errors; an expired envelope is dropped
 * with a notice to its connected sender.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { createIdentity, saveIdentity } from "../../shared/keys.ts";
import {
  type ClientProcess,
  events,
  type ServerProcess,
  startClient,
  startServer,
  until,
} from "../support/procs.ts";

const DAY = 86_400_000;

/** Client homes with fresh saved identities (so the processes do not generate RSA keys). */
async function homes(root: string, ...names: string[]): Promise<string[]> {
  return await Promise.all(names.map(async (name) => {
    const dir = `${root}/${name}`;
    await Deno.mkdir(dir, { mode: 0o700 });
    await saveIdentity(`${dir}/identity`, await createIdentity());
    return dir;
  }));
}

function flags(name: string): string[] {
  return ["--name", name, "--json", "--accept-new", "--no-reconnect"];
}

/** Starts a client and waits for its welcome. */
async function login(
  srv: ServerProcess,
  name: string,
  home: string,
  all: ClientProcess[],
): Promise<ClientProcess> {
  const c = startClient(srv.port, flags(name), home);
  all.push(c);
  await until(() => events(c).some((e) => e.t === "welcome"), `${name}'s welcome`, [c], 30_000);
  return c;
}

/** Logs in once (the name is registered and its keys kept), then quits. */
async function register(srv: ServerProcess, name: string, home: string, all: ClientProcess[]) {
  const c = await login(srv, name, home, all);
  await c.end();
  assert.equal((await c.status).code, 0, c.errors.join("\n"));
}

function dms(c: ClientProcess): Record<string, unknown>[] {
  return events(c).filter((e) => e.t === "dm");
}

function query(path: string, sql: string, ...params: (string | number)[]): unknown[] {
  const db = new DatabaseSync(path);
  try {
    return db.prepare(sql).all(...params);
  } finally {
    db.close();
  }
}

Deno.test("e2e dm queue: queued for bob, survives a restart, in order, shown exactly once", async () => {
  const root = await Deno.makeTempDir({ prefix: "chat-e2e-dmq-" });
  const data = `${root}/data`;
  const db = `${data}/chat.db`;
  const all: ClientProcess[] = [];
  let srv = await startServer({ dataDir: data });
  try {
    const [aliceHome, bobHome] = await homes(root, "alice", "bob");
    await register(srv, "bob", bobHome, all);

    const alice = await login(srv, "alice", aliceHome, all);
    const before = Date.now();
    for (const text of ["one", "two", "three"]) await alice.send(`/msg bob ${text}`);
    await until(
      () => dms(alice).filter((e) => e.queued === true && e.to === "bob").length === 3,
      "three messages queued for bob",
      [alice],
      30_000,
    );
    await alice.end();
    assert.equal((await alice.status).code, 0, alice.errors.join("\n"));
    const sent = Date.now();

    // The queue survives a restart of the server.
    assert.equal((await srv.stop()).code, 0, srv.stderr());
    const queued = query(db, "SELECT * FROM dm_queue ORDER BY n") as Record<string, unknown>[];
    assert.equal(queued.length, 3);
    srv = await startServer({ dataDir: data });

    const bob = await login(srv, "bob", bobHome, all);
    await until(() => dms(bob).length === 3, "bob's three messages", [bob], 30_000);
    const got = dms(bob);
    assert.deepEqual(got.map((e) => e.text), ["one", "two", "three"], "in order");
    for (const e of got) {
      assert.equal(e.from, "alice");
      const ts = e.ts as number;
      assert.ok(ts >= before && ts <= sent, `the time it was sent (${ts})`);
    }
    assert.deepEqual(got.map((e) => e.ts), queued.map((r) => r.ts));
    // Acknowledged: the server deletes them.
    await until(
      () => query(db, "SELECT n FROM dm_queue").length === 0,
      "the queue emptied by bob's acknowledgements",
      [bob],
    );
    await bob.end();
    assert.equal((await bob.status).code, 0, bob.errors.join("\n"));
    if (Deno.build.os !== "windows") {
      assert.equal((await Deno.stat(`${bobHome}/dm_seen`)).mode! & 0o777, 0o600);
    }

    // The acknowledgements are lost (as if the connection had dropped before they arrived): the
    // server delivers the same envelopes again, twice, to two new processes of bob's client.
    for (let restart = 1; restart <= 2; restart++) {
      assert.equal((await srv.stop()).code, 0, srv.stderr());
      const back = new DatabaseSync(db);
      try {
        const ins = back.prepare(
          "INSERT INTO dm_queue (n, recipient, sender, from_name, to_name, id, ts, envelope) " +
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        );
        for (const r of queued) {
          ins.run(
            r.n as number,
            r.recipient as string,
            r.sender as string,
            r.from_name as string,
            r.to_name as string,
            r.id as string,
            r.ts as number,
            r.envelope as string,
          );
        }
      } finally {
        back.close();
      }
      srv = await startServer({ dataDir: data });
      const again = await login(srv, "bob", bobHome, all);
      await until(
        () => query(db, "SELECT n FROM dm_queue").length === 0,
        `the re-delivered envelopes acknowledged (restart ${restart})`,
        [again],
      );
      await again.end();
      assert.equal((await again.status).code, 0, again.errors.join("\n"));
      assert.deepEqual(dms(again), [], "nothing shown twice");
      assert.ok(!again.lines.some((l) => l.includes("cannot decrypt")), again.lines.join("\n"));
    }
  } finally {
    for (const c of all) await c.kill();
    await srv.stop();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("e2e dm queue: per-sender and per-recipient bounds give their exact errors", async () => {
  const root = await Deno.makeTempDir({ prefix: "chat-e2e-dmq-" });
  const all: ClientProcess[] = [];
  const srv = await startServer({
    dataDir: `${root}/data`,
    args: ["--limit", "dmQueuePerSender=2", "--limit", "dmQueuePerRecipient=3"],
  });
  try {
    const [aliceHome, carolHome, bobHome] = await homes(root, "alice", "carol", "bob");
    await register(srv, "bob", bobHome, all);
    const alice = await login(srv, "alice", aliceHome, all);
    for (const text of ["a1", "a2", "a3"]) await alice.send(`/msg bob ${text}`);
    await until(
      () => events(alice).some((e) => e.t === "dm_failed"),
      "alice's third message refused",
      [alice],
      30_000,
    );
    assert.deepEqual(dms(alice).map((e) => [e.text, e.queued]), [["a1", true], ["a2", true]]);
    assert.deepEqual(events(alice).find((e) => e.t === "dm_failed"), {
      t: "dm_failed",
      to: "bob",
      text: "a3",
      reason: "dm_queue_full: You already have 2 private messages waiting for bob, the most " +
        "the server keeps from one sender; your message was not sent.",
    });
    const carol = await login(srv, "carol", carolHome, all);
    for (const text of ["c1", "c2"]) await carol.send(`/msg bob ${text}`);
    await until(
      () => events(carol).some((e) => e.t === "dm_failed"),
      "carol's second message refused",
      [carol],
      30_000,
    );
    assert.deepEqual(dms(carol).map((e) => [e.text, e.queued]), [["c1", true]]);
    assert.deepEqual(events(carol).find((e) => e.t === "dm_failed"), {
      t: "dm_failed",
      to: "bob",
      text: "c2",
      reason: "dm_queue_full: bob already has 3 private messages waiting, the most the server " +
        "keeps; your message was not sent.",
    });
  } finally {
    for (const c of all) await c.kill();
    await srv.stop();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("e2e dm queue: an expired message is dropped, and its connected sender told", async () => {
  const root = await Deno.makeTempDir({ prefix: "chat-e2e-dmq-" });
  const db = `${root}/data/chat.db`;
  const all: ClientProcess[] = [];
  const srv = await startServer({ dataDir: `${root}/data` });
  try {
    const [aliceHome, bobHome] = await homes(root, "alice", "bob");
    await register(srv, "bob", bobHome, all);
    const alice = await login(srv, "alice", aliceHome, all);
    await alice.send("/msg bob too late");
    await until(() => dms(alice).some((e) => e.queued === true), "queued", [alice], 30_000);
    // 31 days pass for the queued message (the running server shares the database).
    const old = Date.now() - 31 * DAY;
    const aged = new DatabaseSync(db);
    try {
      aged.prepare("UPDATE dm_queue SET ts = ?").run(old);
    } finally {
      aged.close();
    }
    await until(
      () => events(alice).some((e) => e.t === "error" && e.code === "dm_expired"),
      "the expiry notice",
      [alice],
      30_000,
    );
    const when = new Date(old).toISOString().slice(0, 16).replace("T", " ");
    const notice = events(alice).find((e) => e.code === "dm_expired")!;
    assert.equal(notice.id, dms(alice)[0].id);
    assert.equal(
      notice.message,
      `Your private message to bob of ${when} UTC was not delivered: bob did not connect ` +
        "within 30 days, and it was deleted.",
    );
    assert.equal(query(db, "SELECT n FROM dm_queue").length, 0);
    const bob = await login(srv, "bob", bobHome, all);
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(dms(bob), [], "nothing left for bob");
  } finally {
    for (const c of all) await c.kill();
    await srv.stop();
    await Deno.remove(root, { recursive: true });
  }
});
