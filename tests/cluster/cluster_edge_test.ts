/**
 * The edges of a cluster with real processes: one `nats-server -js`, `chat server --cluster`
 * nodes sharing one `--host-key` file, and real `chat client` processes.
 *
 * - `/service` lists every node with its users; a node that stops is gone at once (it says
 *   goodbye), one killed with SIGKILL once it is stale;
 * - a client given two nodes' addresses whose node is killed goes on at the other node by
 *   itself and resumes by seq: what was said meanwhile arrives once, seqs stay contiguous, and
 *   every line it typed meanwhile is acknowledged and delivered once.
 *
 * Skipped (with a message) when nats-server is missing.
 */

import assert from "node:assert/strict";
import { createIdentity, type Identity, saveIdentity } from "../../shared/keys.ts";
import { identities } from "../adversarial/helpers.ts";
import { natsAvailable, type NatsServer, startNats } from "../support/nats.ts";
import {
  type ClientProcess,
  events,
  MAIN,
  RUN_FLAGS,
  type ServerProcess,
  startClient,
  startServer,
  until,
} from "../support/procs.ts";

const ignore = !natsAvailable("cluster edge tests");

async function tempDir(prefix: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix });
  await Deno.chmod(dir, 0o700);
  return dir;
}

let third: Promise<Identity> | undefined;

/** A client home with identity `i` (0, 1: shared test identities; 2: made once per file). */
async function home(i: number): Promise<string> {
  const dir = await tempDir("chat-e2e-home-");
  third ??= createIdentity();
  await saveIdentity(`${dir}/identity`, i < 2 ? (await identities())[i] : await third);
  return dir;
}

/** A new host key file (`chat keys host-key`). */
async function keyFile(): Promise<string> {
  const path = `${await tempDir("chat-hostkey-")}/host_key`;
  const r = await new Deno.Command(Deno.execPath(), {
    args: [...RUN_FLAGS, MAIN, "keys", "host-key", path],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
  return path;
}

/** Starts one node named `name` of cluster `e1` on `nats` with the shared key. */
function node(nats: NatsServer, key: string, name: string): Promise<ServerProcess> {
  return startServer({
    args: ["--cluster", nats.url, "--cluster-name", "e1", "--host-key", key, "--node", name],
  });
}

const of = (c: ClientProcess, t: string, text?: string) =>
  events(c).filter((o) => o.t === t && (text === undefined || o.text === text));
const welcomes = (c: ClientProcess) => of(c, "welcome").length;

/**
 * Asks `/service` once a second (within the request rate limit) until its Nodes line is `want`,
 * failing after `ms`.
 */
async function nodesLineBecomes(c: ClientProcess, want: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  let last = "";
  while (Date.now() < end) {
    const before = of(c, "reply").length;
    await c.send("/service");
    await until(() => of(c, "reply").length > before, "a /service reply", [c]);
    const text = of(c, "reply").at(-1)!.text as string;
    last = /^Nodes: .*$/m.exec(text)?.[0] ?? text;
    if (last === want) return;
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`Nodes line is still "${last}", not "${want}"`);
}

Deno.test({
  name: "cluster edge: /service lists the nodes and their users; stopped and killed nodes go",
  ignore,
  fn: async () => {
    const nats = await startNats();
    const key = await keyFile();
    const servers: ServerProcess[] = [];
    const clients: ClientProcess[] = [];
    try {
      servers.push(...await Promise.all(["n-a", "n-b", "n-c"].map((n) => node(nats, key, n))));
      const [a, b] = servers;
      const join = async (port: number, i: number, name: string) => {
        const c = startClient(port, ["--json", "--name", name, "--accept-new"], await home(i));
        clients.push(c);
        await until(() => welcomes(c) === 1, `${name} in`, clients, 20_000);
        return c;
      };
      const alice = await join(a.port, 0, "alice");
      await join(a.port, 1, "bob");
      await join(b.port, 2, "carol");
      await nodesLineBecomes(
        alice,
        "Nodes: 3, 3 users — n-a 2 users (this one), n-b 1 user, n-c 0 users",
        15_000,
      );
      assert.match(of(alice, "reply").at(-1)!.text as string, /^Node: n-a$/m);
      await servers[2].stop(); // says goodbye: gone well before it could go stale
      const stoppedAt = Date.now();
      await nodesLineBecomes(alice, "Nodes: 2, 3 users — n-a 2 users (this one), n-b 1 user", 5000);
      assert.ok(Date.now() - stoppedAt < 5000);
      await b.stop("SIGKILL"); // no goodbye: dropped once stale (7 s)
      await nodesLineBecomes(alice, "Nodes: 1, 2 users — n-a 2 users (this one)", 20_000);
    } finally {
      for (const c of clients) await c.kill();
      await Promise.all(servers.map((s) => s.stop()));
      await nats.close();
    }
  },
});

Deno.test({
  name: "cluster edge: a client's node is killed → it goes on at the other node and resumes by seq",
  ignore,
  fn: async () => {
    const nats = await startNats();
    const key = await keyFile();
    const servers: ServerProcess[] = [];
    const clients: ClientProcess[] = [];
    try {
      servers.push(...await Promise.all(["n-a", "n-b"].map((n) => node(nats, key, n))));
      const [a, b] = servers;
      const [atA, atB] = [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`];
      const alice = startClient(
        `${atA},${atB}`,
        ["--json", "--name", "alice", "--accept-new"],
        await home(0),
      );
      const bob = startClient(b.port, ["--json", "--name", "bob", "--accept-new"], await home(1));
      clients.push(alice, bob);
      await until(() => welcomes(alice) === 1 && welcomes(bob) === 1, "both in", clients, 20_000);
      await alice.send("a0");
      await bob.send("b0");
      await until(
        () => of(alice, "msg", "b0").length === 1 && of(bob, "msg", "a0").length === 1,
        "first lines across nodes",
        clients,
      );

      await a.stop("SIGKILL");
      const missed = ["b1", "b2", "b3"];
      for (const t of missed) await bob.send(t); // said while alice is away
      const typed = ["a1", "a2"];
      for (const t of typed) await alice.send(t); // typed while her node is gone
      const connected = () =>
        events(alice).filter((o) => o.t === "status" && o.state === "connected");
      await until(() => connected().length === 2, "alice at n-b", clients, 30_000);
      await until(() => of(alice, "acked").length === 3, "alice's lines acked", clients, 20_000);
      await until(
        () => missed.every((t) => of(alice, "msg", t).length === 1),
        "alice resumed what bob said",
        clients,
        20_000,
      );
      await until(() => typed.every((t) => of(bob, "msg", t).length === 1), "bob got", clients);
      await bob.send("b4");
      await until(() => of(alice, "msg", "b4").length === 1, "live again", clients);

      // Exactly once and contiguous, in alice's view and in bob's.
      for (const [who, c] of [["alice", alice], ["bob", bob]] as const) {
        const msgs = of(c, "msg").filter((m) => m.room === "#lobby");
        const texts = msgs.map((m) => m.text as string);
        assert.equal(new Set(texts).size, texts.length, `${who} saw a line twice: ${texts}`);
        for (const t of ["a0", "b0", ...missed, ...typed, "b4"]) {
          assert.ok(texts.includes(t), `${who} missed ${t}: ${texts}`);
        }
        const seqs = msgs.map((m) => m.seq as number);
        assert.deepEqual(seqs, seqs.map((_, i) => seqs[0] + i), `${who}: seqs ${seqs}`);
      }
      assert.equal(of(alice, "failed").length, 0);
      assert.deepEqual(connected().map((o) => o.detail), [atA, atB]);
    } finally {
      for (const c of clients) await c.kill();
      await Promise.all(servers.map((s) => s.stop()));
      await nats.close();
    }
  },
});
