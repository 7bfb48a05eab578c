/**
 * Test support for cluster tests: `chat server --cluster` nodes on one nats-server (and a
 * cluster under test that stops them all), message ids, logging raw clients in, and reading
 * room messages and command answers from them.
 * @module
 */

import { toBase64 } from "../../shared/encoding.ts";
import { EvilClient } from "./evil_client.ts";
import { type NatsServer, startNats } from "./nats.ts";
import { type ServerProcess, startServer } from "./procs.ts";

type Obj = Record<string, unknown>;

/** A message id the protocol accepts (16 random bytes, base64). */
export function newId(): string {
  return toBase64(crypto.getRandomValues(new Uint8Array(16)));
}

/**
 * Starts `n` nodes of cluster `t1` on `nats` (with `dataDirs` when given, and `args` for
 * every node).
 */
export function startNodes(
  nats: NatsServer,
  n: number,
  opts: { dataDirs?: string[]; args?: string[] } = {},
): Promise<ServerProcess[]> {
  return Promise.all(
    Array.from({ length: n }, (_, i) =>
      startServer({
        args: ["--cluster", nats.url, "--cluster-name", "t1", ...opts.args ?? []],
        ...(opts.dataDirs ? { dataDir: opts.dataDirs[i] } : {}),
      })),
  );
}

/** Reads until `count` room messages of `room` arrived, within `ms`. */
export async function readMsgs(
  c: EvilClient,
  room: string,
  count: number,
  ms = 10_000,
): Promise<Obj[]> {
  const out: Obj[] = [];
  const end = Date.now() + ms;
  while (out.length < count) {
    const { match } = await c.readUntil((m) => m.t === "msg" && m.room === room, end - Date.now());
    if (match === undefined) throw new Error("connection closed");
    out.push(match);
  }
  return out;
}

/** Runs `/name args` and returns the `reply` or `error` answering it. */
export async function command(c: EvilClient, name: string, args: string[] = []): Promise<Obj> {
  const id = newId();
  await c.send({ t: "cmd", id, name, args });
  const { match } = await c.readUntil((m) => (m.t === "reply" || m.t === "error") && m.id === id);
  if (match === undefined) throw new Error(`connection closed before /${name} was answered`);
  return match;
}

/** Polls `/name args` every 50 ms until `pred` holds for the answer; fails after `ms`. */
export async function commandUntil(
  c: EvilClient,
  name: string,
  args: string[],
  pred: (answer: Obj) => boolean,
  ms = 5000,
): Promise<Obj> {
  const end = Date.now() + ms;
  for (;;) {
    const r = await command(c, name, args);
    if (pred(r)) return r;
    if (Date.now() > end) throw new Error(`/${name} ${args.join(" ")}: ${JSON.stringify(r)}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

/**
 * One cluster under test: a fresh nats-server, the nodes started on it, the clients a test opened
 * and its temporary directories. Disposing it (`await using`) closes the clients, stops the
 * nodes, closes the nats-server, then removes the directories.
 */
export class TestCluster implements AsyncDisposable {
  /** Clients closed first when the cluster is disposed. */
  readonly clients: EvilClient[] = [];
  /** The nodes, stopped when the cluster is disposed (nodes started again replace them). */
  servers: ServerProcess[] = [];
  readonly #dirs: string[] = [];

  private constructor(readonly nats: NatsServer) {}

  /** Starts the nats-server of a new cluster (no nodes yet). */
  static async start(): Promise<TestCluster> {
    return new TestCluster(await startNats());
  }

  /** Starts `n` nodes as {@linkcode startNodes} does; they become this cluster's nodes. */
  async startNodes(
    n: number,
    opts: { dataDirs?: string[]; args?: string[] } = {},
  ): Promise<ServerProcess[]> {
    this.servers = await startNodes(this.nats, n, opts);
    return this.servers;
  }

  /** A fresh temporary directory, removed when the cluster is disposed (after its nodes stop). */
  async tempDir(): Promise<string> {
    const dir = await Deno.makeTempDir({ prefix: "chat-cluster-" });
    this.#dirs.push(dir);
    return dir;
  }

  /** Closes the clients, stops the nodes, closes the nats-server, removes the directories. */
  async [Symbol.asyncDispose](): Promise<void> {
    for (const c of this.clients) await c.close();
    await Promise.all(this.servers.map((s) => s.stop()));
    await this.nats.close();
    for (const d of this.#dirs) await Deno.remove(d, { recursive: true }).catch(() => {});
  }
}

/** Logs in a raw client as `name` on `port` (with `key` when given). */
export async function login(
  port: number,
  name: string,
  key?: EvilClient["key"],
): Promise<EvilClient> {
  const c = await EvilClient.connect(port);
  if (key !== undefined) c.key = key;
  await c.handshake();
  await c.login(name);
  return c;
}
