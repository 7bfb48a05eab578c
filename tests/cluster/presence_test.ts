/**
 * Cluster mode with real processes (one nats-server, `chat server --cluster` nodes): users on
 * other nodes in `/who`, `/whois`, `/keys`, `/rooms` and member counts; join, away and topic
 * events across nodes; private messages to a user on another node (acknowledged once handed on
 * there) and to nobody; a stopped node's users leave (reason `shutdown`) and are gone from
 * `/who`. Moderation: a ban closes the user on another node within a second and refuses it on
 * every node; a mute, an operator and the message of the day hold on every node; a kick reaches
 * a user on another node. Skipped (with a message) when nats-server is missing.
 */

import assert from "node:assert/strict";
import { fingerprint } from "../../shared/crypto.ts";
import { KnownServers } from "../../client/known_servers.ts";
import { honestClient, identities } from "../adversarial/helpers.ts";
import { command, commandUntil, login, newId, TestCluster } from "../support/cluster.ts";
import { EvilClient, newSigningKey } from "../support/evil_client.ts";
import { natsAvailable } from "../support/nats.ts";

type Obj = Record<string, unknown>;

const ignore = !natsAvailable("cluster presence tests");

Deno.test({
  name: "cluster: who, whois, keys, rooms, presence and private messages across nodes",
  ignore,
  fn: async () => {
    await using cluster = await TestCluster.start();
    const { clients: raw } = cluster;
    const dir = await cluster.tempDir();
    const honest: ReturnType<typeof honestClient>[] = [];
    try {
      const servers = await cluster.startNodes(3);
      const [n1, n2, n3] = servers;
      const [ida, idb] = await identities();
      const a = honestClient(n1.port, ida, await KnownServers.load(`${dir}/ka`), "alice");
      const b = honestClient(n2.port, idb, await KnownServers.load(`${dir}/kb`), "bob");
      honest.push(a, b);
      await a.client.start();
      await b.client.start();
      const carol = await login(n3.port, "carol");
      raw.push(carol);
      const seen = (kind: string, name: string, more: (e: Obj) => boolean = () => true) =>
        a.events.some((e) =>
          e.t === "server" && e.msg.t === "event" && e.msg.kind === kind && e.msg.name === name &&
          more(e.msg as unknown as Obj)
        );
      const waitSeen = async (what: string, pred: () => boolean) => {
        const end = Date.now() + 5000;
        while (!pred()) {
          if (Date.now() > end) throw new Error(`alice did not see ${what}`);
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      // Alice (node 1) hears bob (node 2) and carol (node 3) join #lobby.
      await waitSeen("the joins", () => seen("join", "bob") && seen("join", "carol"));

      // Carol (node 3) sees bob (node 2) and alice (node 1) in /who and #lobby's count.
      const who = await commandUntil(
        carol,
        "who",
        [],
        (r) => (r.data as Obj[] | undefined)?.length === 3,
      );
      assert.deepEqual((who.data as Obj[]).map((u) => u.name).toSorted(), [
        "alice",
        "bob",
        "carol",
      ]);
      const whois = await command(carol, "whois", ["bob"]);
      assert.equal((whois.data as Obj).fingerprint, idb.fingerprint);
      const keys = await command(carol, "keys", ["alice"]);
      assert.equal((keys.data as Obj).fingerprint, ida.fingerprint);
      assert.equal(typeof (keys.data as Obj).kem_pub, "string");

      // Bob joins #dev on node 2 and goes away: node 3 lists the room, its member, the away text.
      assert.equal((await b.client.command("join", ["#dev"])).t, "reply");
      await b.client.command("away", ["lunch"]);
      const rooms = await commandUntil(
        carol,
        "rooms",
        [],
        (r) => (r.data as Obj[]).some((x) => x.name === "#dev" && x.members === 1),
      );
      assert.ok((rooms.data as Obj[]).some((x) => x.name === "#lobby" && x.members === 3));
      await commandUntil(
        carol,
        "who",
        ["#dev"],
        (r) => JSON.stringify(r.data) === JSON.stringify([{ name: "bob", away: "lunch" }]),
      );

      // A topic set on node 3 is an event on node 1.
      assert.equal((await command(carol, "topic", ["#lobby", "cluster", "talk"])).t, "reply");
      const until = Date.now() + 5000;
      while (
        !a.events.some((e) =>
          e.t === "server" && e.msg.t === "event" && e.msg.kind === "topic" &&
          e.msg.text === "cluster talk"
        )
      ) {
        if (Date.now() > until) throw new Error("alice did not see the topic");
        await new Promise((r) => setTimeout(r, 20));
      }

      // A private message from node 1 to node 2: acknowledged, delivered once, unread.
      const ack = await a.client.sendDm("bob", "QUJDRA==");
      assert.equal(ack.t, "ack");
      const dms = b.events.filter((e) => e.t === "server" && e.msg.t === "dm");
      assert.equal(dms.length, 1);
      assert.deepEqual(
        dms.map((e) => e.t === "server" && e.msg.t === "dm" && [e.msg.from, e.msg.envelope]),
        [["alice", "QUJDRA=="]],
      );
      const none = await a.client.sendDm("nobody", "QUJDRA==");
      assert.equal(none.t === "error" && none.code, "no_such_user");

      // Node 2 stops: bob leaves (alice hears it) and is gone from /who on node 3.
      await n2.stop();
      await waitSeen("bob leave", () => seen("leave", "bob", (m) => m.reason === "shutdown"));
      await commandUntil(
        carol,
        "who",
        [],
        (r) => (r.data as Obj[]).map((u) => u.name).toSorted().join() === "alice,carol",
      );
    } finally {
      for (const h of honest) await h.client.close();
    }
  },
});

Deno.test({
  name: "cluster: a ban closes the user on another node within a second; mute, op, MOTD hold",
  ignore,
  fn: async () => {
    await using cluster = await TestCluster.start();
    const { clients } = cluster;
    const adminKey = await newSigningKey();
    const servers = await cluster.startNodes(3, {
      args: ["--admin", fingerprint(adminKey.publicRaw)],
    });
    const [n1, n2, n3] = servers;
    const alice = await login(n1.port, "alice", adminKey);
    const bob = await login(n2.port, "bob");
    const carol = await login(n3.port, "carol");
    clients.push(alice, bob, carol);
    await commandUntil(alice, "who", [], (r) => (r.data as Obj[] | undefined)?.length === 3);

    // Ban: bob's connection on node 2 ends within a second; he is refused on node 3.
    const t0 = Date.now();
    const banned = await command(alice, "ban", ["bob", "spam"]);
    assert.equal(banned.t, "reply", JSON.stringify(banned));
    const { match: bye } = await bob.readUntil((m) => m.t === "bye", 3000);
    const took = Date.now() - t0;
    assert.equal(bye?.reason, "banned");
    assert.ok(took < 1000, `the ban took ${took} ms on another node`);
    const again = await EvilClient.connect(n3.port);
    clients.push(again);
    again.key = bob.key;
    await again.handshake();
    await again.auth({ name: "bob" });
    const { match: refused } = await again.readUntil((m) => m.t === "error" || m.t === "welcome");
    assert.equal(refused?.code, "banned");

    // Mute on node 1: carol on node 3 cannot speak; unmute: she can.
    assert.equal((await command(alice, "mute", ["carol"])).t, "reply");
    const id = newId();
    let answer: Obj | undefined;
    const end = Date.now() + 3000;
    do {
      await carol.send({ t: "say", id: newId(), room: "#lobby", text: "hello?" });
      answer = (await carol.readUntil((m) => m.t === "error" || m.t === "msg")).match;
    } while (answer?.t === "msg" && Date.now() < end);
    assert.equal(answer?.code, "muted");
    assert.equal((await command(alice, "unmute", ["carol"])).t, "reply");
    await new Promise((r) => setTimeout(r, 300));
    await carol.send({ t: "say", id, room: "#lobby", text: "free" });
    const { match: said } = await carol.readUntil((m) => m.id === id);
    assert.equal(said?.t, "msg");

    // Operator made on node 1 acts on node 3; the MOTD it sets greets a login on node 2.
    assert.equal((await command(alice, "op", ["carol"])).t, "reply");
    await commandUntil(carol, "motd", ["be", "nice"], (r) => r.t === "reply");
    const dave = await EvilClient.connect(n2.port);
    clients.push(dave);
    await dave.handshake();
    await dave.auth({ name: "dave" });
    const { match: welcome } = await dave.readUntil((m) => m.t === "welcome");
    assert.equal((welcome?.server as Obj).motd, "be nice");

    // Kick from node 1 of dave on node 2: his connection ends.
    await commandUntil(alice, "whois", ["dave"], (r) => r.t === "reply");
    assert.equal((await command(alice, "kick", ["dave", "out"])).t, "reply");
    const { match: kicked } = await dave.readUntil((m) => m.t === "bye", 3000);
    assert.equal(kicked?.reason, "kicked");
  },
});
