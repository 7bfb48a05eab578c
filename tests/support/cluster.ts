/**
 * Test support for cluster tests: `chat server --cluster` nodes on one nats-server, message
 * ids, and reading room messages and command answers from raw clients.
 * @module
 */

import { toBase64 } from "../../shared/encoding.ts";
import type { EvilClient } from "./evil_client.ts";
import type { NatsServer } from "./nats.ts";
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
