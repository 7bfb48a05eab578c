/**
 * Cluster faults with real processes: a node killed with SIGKILL while three users type — those
 * on it go on at another node, resending what was not acknowledged, and every line is in the
 * room exactly once, seqs contiguous; NATS unreachable for 10 s (SIGSTOP) — connected users stay,
 * sends and shared changes are refused with `unavailable`, and once NATS is back the nodes carry
 * on by themselves with nothing stored twice; NATS restarted under running nodes — lines go through
 * again and a ban still reaches another node at once; a node whose clock is 10 minutes behind does
 * not reorder a room. Skipped (with a message) when nats-server is missing.
 */

import assert from "node:assert/strict";
import { ChatServer } from "../../server/server.ts";
import { fingerprint } from "../../shared/crypto.ts";
import {
  command,
  commandUntil,
  login,
  newId,
  readMsgs,
  startNodes,
  TestCluster,
} from "../support/cluster.ts";
import { EvilClient, newSigningKey } from "../support/evil_client.ts";
import { natsAvailable, startNats } from "../support/nats.ts";
import type { ServerProcess } from "../support/procs.ts";

type Obj = Record<string, unknown>;

const ignore = !natsAvailable("cluster fault tests");

/** Says `text` and returns the answer to it: the message (`msg`) or an `error`. */
async function say(c: EvilClient, text: string, ms = 15_000): Promise<Obj> {
  const id = newId();
  await c.send({ t: "say", id, room: "#lobby", text });
  const { match } = await c.readUntil(
    (m) => (m.t === "msg" || m.t === "error") && m.id === id,
    ms,
  );
  if (match === undefined) throw new Error("connection closed");
  return match;
}

/** Lines each typist types. */
const LINES = 20;

/**
 * A user typing `LINES` lines one after another on `ports[0]`; when its node dies it logs in
 * again on `ports[1]` (same identity, resuming) and resends the line that was not acknowledged
 * with the same id. Returns the client it ended on.
 */
async function typist(
  name: string,
  ports: number[],
  progress: { acked: number },
): Promise<EvilClient> {
  let c = await EvilClient.joined(ports[0], name);
  let moved = false;
  for (let i = 0; i < LINES; i++) {
    const id = newId();
    for (;;) {
      let answer: Obj | undefined;
      try {
        await c.send({ t: "say", id, room: "#lobby", text: `${name} ${i}` });
        answer = (await c.readUntil((m) => m.id === id, 5000)).match;
      } catch {
        answer = undefined; // the node is gone (reset or silence)
      }
      if (answer?.t === "msg") break;
      if (answer?.code === "rate_limited") {
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      if (answer?.t === "error" && answer.code !== "unavailable") {
        throw new Error(`${name}: ${JSON.stringify(answer)}`);
      }
      if (answer === undefined) {
        if (moved) throw new Error(`${name} lost its second node`);
        moved = true;
        const key = c.key;
        await c.close();
        c = await EvilClient.connect(ports[1]);
        c.key = key;
        await c.handshake();
        await c.login(name);
      }
    }
    progress.acked++;
    await new Promise((r) => setTimeout(r, 50));
  }
  return c;
}

Deno.test({
  name: "cluster faults: a node killed while users type: every line exactly once, in one order",
  ignore,
  fn: async () => {
    await using cluster = await TestCluster.start();
    const { clients } = cluster;
    const servers = await cluster.startNodes(2);
    const [n1, n2] = servers;
    const progress = { acked: 0 };
    const typing = Promise.all([
      typist("ann", [n1.port, n2.port], progress),
      typist("ben", [n1.port, n2.port], progress),
      typist("cyd", [n2.port, n1.port], progress),
    ]);
    const end = Date.now() + 20_000;
    while (progress.acked < 25 && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
    await n1.stop("SIGKILL");
    clients.push(...await typing);
    const reader = await EvilClient.connect(n2.port);
    clients.push(reader);
    await reader.handshake();
    await reader.auth({ name: "reader", extra: { resume: { "#lobby": 0 } } });
    const msgs = (await reader.sync()).filter((m) => m.t === "msg");
    assert.deepEqual(msgs.map((m) => m.seq), msgs.map((_, i) => i + 1), "seqs contiguous");
    const texts = msgs.map((m) => m.text as string);
    for (const name of ["ann", "ben", "cyd"]) {
      const own = texts.filter((t) => t.startsWith(`${name} `));
      assert.deepEqual(own, Array.from({ length: LINES }, (_, i) => `${name} ${i}`), name);
    }
    assert.equal(texts.length, 3 * LINES);
  },
});

Deno.test({
  name: "cluster faults: NATS unreachable for 10 s: users stay, sends get unavailable, recovery",
  ignore,
  fn: async () => {
    await using cluster = await TestCluster.start();
    const { nats, clients } = cluster;
    try {
      const servers = await cluster.startNodes(2);
      const alice = await EvilClient.joined(servers[0].port, "alice");
      const bob = await EvilClient.joined(servers[1].port, "bob");
      clients.push(alice, bob);
      assert.equal((await say(alice, "before")).seq, 1);
      await readMsgs(bob, "#lobby", 1);

      nats.signal("SIGSTOP");
      const stoppedAt = Date.now();
      // Within the outage every send is refused with `unavailable` (none is left hanging).
      const refused = await say(alice, "during", 15_000);
      assert.equal(refused.t, "error", JSON.stringify(refused));
      assert.equal(refused.code, "unavailable");
      // Once the nodes noticed (a round trip unanswered for 1.5 s), changes are refused too.
      await new Promise((r) => setTimeout(r, Math.max(0, 3000 - (Date.now() - stoppedAt))));
      const topic = await command(bob, "topic", ["#lobby", "x"]);
      assert.equal(topic.code, "unavailable", JSON.stringify(topic));
      // Both stay connected: each node still answers.
      await alice.sync();
      await bob.sync();
      await new Promise((r) => setTimeout(r, Math.max(0, 10_000 - (Date.now() - stoppedAt))));
      await alice.sync();
      nats.signal("SIGCONT");

      // NATS is back: a send goes through again without restarting anything.
      let after: Obj;
      const end = Date.now() + 20_000;
      do {
        after = await say(alice, "after");
        if (after.t === "msg") break;
        assert.equal(after.code, "unavailable");
        await new Promise((r) => setTimeout(r, 250));
      } while (Date.now() < end);
      assert.equal(after.t, "msg", JSON.stringify(after));
      // Bob sees exactly what was stored: "before", at most the one send that was in flight
      // when NATS stopped (its sender was told `unavailable`), then "after"; seqs contiguous.
      const { seen } = await bob.readUntil((m) => m.t === "msg" && m.text === "after", 10_000);
      const lines = seen.concat(await bob.sync()).filter((m) => m.t === "msg")
        .map((m) => `${m.seq} ${m.text}`);
      assert.ok(
        ["2 after", "2 during,3 after"].includes(lines.join()),
        `bob saw ${lines.join()}`,
      );
    } finally {
      nats.signal("SIGCONT");
    }
  },
});

Deno.test({
  name: "cluster faults: NATS restarted under running nodes: lines and bans flow again",
  ignore,
  fn: async () => {
    await using cluster = await TestCluster.start();
    const { nats, clients } = cluster;
    const adminKey = await newSigningKey();
    const servers = await cluster.startNodes(2, {
      args: ["--admin", fingerprint(adminKey.publicRaw)],
    });
    const alice = await login(servers[0].port, "alice", adminKey);
    const bob = await EvilClient.joined(servers[1].port, "bob");
    clients.push(alice, bob);
    assert.equal((await say(alice, "before")).seq, 1);
    await nats.restart();
    let after: Obj;
    const end = Date.now() + 20_000;
    do {
      after = await say(alice, "after");
      if (after.t === "msg") break;
      assert.equal(after.code, "unavailable", JSON.stringify(after));
      await new Promise((r) => setTimeout(r, 250));
    } while (Date.now() < end);
    assert.equal(after.seq, 2, JSON.stringify(after));
    const got = await readMsgs(bob, "#lobby", 2);
    assert.deepEqual(got.map((m) => `${m.seq} ${m.text}`), ["1 before", "2 after"]);
    await commandUntil(alice, "whois", ["bob"], (r) => r.t === "reply");
    const t0 = Date.now();
    assert.equal((await command(alice, "ban", ["bob"])).t, "reply");
    const { match: bye } = await bob.readUntil((m) => m.t === "bye", 3000);
    assert.equal(bye?.reason, "banned");
    assert.ok(Date.now() - t0 < 1000, `the ban took ${Date.now() - t0} ms`);
  },
});

Deno.test({
  name: "cluster faults: a node whose clock is 10 minutes behind does not reorder a room",
  ignore,
  fn: async () => {
    const nats = await startNats();
    const clients: EvilClient[] = [];
    let servers: ServerProcess[] = [];
    let late: ChatServer | undefined;
    const dir = await Deno.makeTempDir({ prefix: "chat-cluster-" });
    try {
      servers = await startNodes(nats, 1);
      late = await ChatServer.start({
        host: "127.0.0.1",
        port: 0,
        dataDir: dir,
        now: () => Date.now() - 10 * 60_000,
        cluster: { servers: [nats.url], name: "t1" },
      });
      const alice = await EvilClient.joined(servers[0].port, "alice");
      const bob = await EvilClient.joined(late.addr.port, "bob");
      clients.push(alice, bob);
      // Turns: each line is said after the one before was stored.
      const said: string[] = [];
      for (let i = 0; i < 6; i++) {
        const [who, c] = i % 2 === 0 ? ["alice", alice] : ["bob", bob];
        const m = await say(c as EvilClient, `${who}${i}`);
        assert.equal(m.seq, i + 1);
        said.push(`${i + 1} ${who}${i}`);
      }
      // History on either node: the order of the room, whatever the stamps say.
      for (const port of [servers[0].port, late.addr.port]) {
        const c = await EvilClient.connect(port);
        clients.push(c);
        await c.handshake();
        await c.auth({ name: `reader${port}`, extra: { resume: { "#lobby": 0 } } });
        const msgs = (await c.sync()).filter((m) => m.t === "msg");
        assert.deepEqual(msgs.map((m) => `${m.seq} ${m.text}`), said);
        const ts = msgs.map((m) => m.ts as number);
        assert.ok(ts[1] < ts[0] - 9 * 60_000, "bob's node stamps 10 minutes early");
      }
    } finally {
      for (const c of clients) await c.close();
      await late?.shutdown();
      await Promise.all(servers.map((s) => s.stop()));
      await nats.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
