/**
 * Cluster mode with real processes: one `nats-server -js` and three `chat server --cluster`
 * nodes. Lines said on two nodes at once reach every node in one order with contiguous seqs;
 * resume by seq on a third node gives exactly the missed lines; a resent message id on another
 * node answers the original and stores nothing; two identities racing for one name on two nodes
 * get exactly one winner; names, bans and history survive a restart of every node and of NATS;
 * bad cluster flags exit 2, an unreachable NATS at start exits 1. Skipped (with a message) when
 * nats-server is missing.
 */

import assert from "node:assert/strict";
import { fingerprint } from "../../shared/crypto.ts";
import { EvilClient, newSigningKey } from "../support/evil_client.ts";
import { natsAvailable } from "../support/nats.ts";
import { runChat } from "../support/procs.ts";
import { command, login, newId, readMsgs, TestCluster } from "../support/cluster.ts";

const ignore = !natsAvailable("cluster tests");

Deno.test({
  name: "cluster: one order across nodes, resume on another node, cluster-wide dedup",
  ignore,
  fn: async () => {
    await using cluster = await TestCluster.start();
    const { clients } = cluster;
    const servers = await cluster.startNodes(3);
    const [n1, n2, n3] = servers;
    const alice = await EvilClient.joined(n1.port, "alice");
    const bob = await EvilClient.joined(n2.port, "bob");
    const carol = await EvilClient.joined(n3.port, "carol");
    clients.push(alice, bob, carol);
    // Both say 10 lines at once, without waiting for one another.
    const ids: string[] = [];
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < 10; i++) {
      for (const [who, c] of [["a", alice], ["b", bob]] as const) {
        const id = newId();
        if (who === "a") ids.push(id);
        sends.push(c.send({ t: "say", id, room: "#lobby", text: `${who}${i}` }));
      }
    }
    await Promise.all(sends);
    const views = await Promise.all([alice, bob, carol].map((c) => readMsgs(c, "#lobby", 20)));
    const lines = views.map((v) => v.map((m) => `${m.seq} ${m.from} ${m.text}`));
    assert.deepEqual(lines[1], lines[0], "bob sees alice's order");
    assert.deepEqual(lines[2], lines[0], "carol sees alice's order");
    assert.deepEqual(views[0].map((m) => m.seq), Array.from({ length: 20 }, (_, i) => i + 1));
    // Each sender's own lines keep the order they were said in.
    for (const who of ["a", "b"]) {
      const own = views[0].map((m) => m.text as string).filter((t) => t.startsWith(who));
      assert.deepEqual(own, Array.from({ length: 10 }, (_, i) => `${who}${i}`));
    }

    // Alice's identity again, on node 3: a resent id gets the original back, nothing new.
    const again = await EvilClient.connect(n3.port);
    clients.push(again);
    again.key = alice.key;
    await again.handshake();
    await again.auth({ name: "alice" });
    await again.readUntil((m) => m.t === "welcome");
    await again.sync();
    await again.send({ t: "say", id: ids[3], room: "#lobby", text: "a3 resent" });
    const { match: orig } = await again.readUntil((m) => m.t === "msg" && m.id === ids[3]);
    assert.equal(orig?.text, "a3");
    assert.equal(orig?.seq, views[0].find((m) => m.id === ids[3])!.seq);
    await again.send({ t: "say", id: newId(), room: "#lobby", text: "after" });
    const [after] = await readMsgs(carol, "#lobby", 1);
    assert.equal(after.text, "after", "the resend stored nothing: the next line is next");
    assert.equal(after.seq, 21);

    // Dave resumes on node 3 from seq 15: exactly 16..21, marked replay.
    const dave = await EvilClient.connect(n3.port);
    clients.push(dave);
    await dave.handshake();
    await dave.auth({ name: "dave", extra: { resume: { "#lobby": 15 } } });
    const seen = await dave.sync();
    const replay = seen.filter((m) => m.t === "msg");
    assert.deepEqual(replay.map((m) => m.seq), [16, 17, 18, 19, 20, 21]);
    assert.ok(replay.every((m) => m.replay === true));
    assert.deepEqual(
      replay.map((m) => m.text),
      views[0].slice(15).map((m) => m.text).concat(["after"]),
    );
  },
});

Deno.test({
  name: "cluster: two identities racing for one name on two nodes: exactly one wins",
  ignore,
  fn: async () => {
    await using cluster = await TestCluster.start();
    const { clients } = cluster;
    const servers = await cluster.startNodes(2);
    for (let round = 0; round < 3; round++) {
      const name = `race${round}`;
      const [x, y] = await Promise.all(servers.map((s) => EvilClient.connect(s.port)));
      clients.push(x, y);
      await Promise.all([x.handshake(), y.handshake()]);
      await Promise.all([x.auth({ name }), y.auth({ name })]);
      const answers = await Promise.all(
        [x, y].map((c) => c.readUntil((m) => m.t === "welcome" || m.t === "error")),
      );
      const kinds = answers.map((a) => a.match?.t === "welcome" ? "welcome" : a.match?.code);
      assert.deepEqual(kinds.toSorted(), ["name_owned", "welcome"], `round ${round}`);
    }
  },
});

Deno.test({
  name: "cluster: names, bans and history survive a restart of every node and of NATS",
  ignore,
  fn: async () => {
    await using cluster = await TestCluster.start();
    const { nats, clients } = cluster;
    const dirs = await Promise.all([0, 1].map(() => cluster.tempDir()));
    const adminKey = await newSigningKey();
    const admin = ["--admin", fingerprint(adminKey.publicRaw)];
    let servers = await cluster.startNodes(2, { dataDirs: dirs, args: admin });
    const alice = await login(servers[0].port, "alice", adminKey);
    clients.push(alice);
    const key = alice.key;
    const mallory = await EvilClient.joined(servers[1].port, "mallory");
    clients.push(mallory);
    assert.equal((await command(alice, "ban", ["mallory"])).t, "reply");
    assert.equal((await mallory.readUntil((m) => m.t === "bye")).match?.reason, "banned");
    for (let i = 0; i < 3; i++) {
      await alice.send({ t: "say", id: newId(), room: "#lobby", text: `kept${i}` });
    }
    await readMsgs(alice, "#lobby", 3);
    await alice.close();
    await Promise.all(servers.map((s) => s.stop()));
    await nats.restart();
    servers = await cluster.startNodes(2, { dataDirs: dirs, args: admin });
    // Another identity cannot take alice's name on either node.
    for (const s of servers) {
      const thief = await EvilClient.connect(s.port);
      clients.push(thief);
      await thief.handshake();
      await thief.auth({ name: "alice" });
      const { match } = await thief.readUntil((m) => m.t === "welcome" || m.t === "error");
      assert.equal(match?.code, "name_owned");
    }
    // Mallory is still banned, on both nodes.
    for (const s of servers) {
      const m = await EvilClient.connect(s.port);
      clients.push(m);
      m.key = mallory.key;
      await m.handshake();
      await m.auth({ name: "mallory" });
      const { match } = await m.readUntil((x) => x.t === "welcome" || x.t === "error");
      assert.equal(match?.code, "banned");
    }
    // The history is there on the other node.
    const back = await EvilClient.connect(servers[1].port);
    clients.push(back);
    back.key = key;
    await back.handshake();
    await back.auth({ name: "alice", extra: { resume: { "#lobby": 0 } } });
    const msgs = (await back.sync()).filter((m) => m.t === "msg");
    assert.deepEqual(msgs.map((m) => `${m.seq} ${m.text}`), ["1 kept0", "2 kept1", "3 kept2"]);
  },
});

Deno.test("cluster: bad --cluster and --cluster-name are usage errors (exit 2)", async () => {
  for (
    const [args, want] of [
      [["--cluster", "http://127.0.0.1:4222"], /bad --cluster "http/],
      [["--cluster", "nats://a:4222,"], /bad --cluster ""/],
      [["--cluster", "nats://127.0.0.1:4222", "--cluster-name", "a.b"], /bad --cluster-name/],
      [["--cluster-name", "x"], /--cluster-name needs --cluster/],
    ] as const
  ) {
    const r = await runChat(["server", "--port", "0", ...args]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, want);
  }
});

Deno.test("cluster: a node that cannot reach NATS at start says so and exits 1", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close(); // nothing listens there now
  const dir = await Deno.makeTempDir({ prefix: "chat-cluster-" });
  try {
    const r = await runChat([
      "server",
      "--port",
      "0",
      "--data",
      dir,
      "--cluster",
      `nats://127.0.0.1:${port}`,
    ]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /cannot join the cluster at nats:\/\/127\.0\.0\.1:\d+/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
