/**
 * Shared fixtures of the adversarial tests: an in-process server in a temporary directory,
 * cached test identities, honest `ChatClient`s, and the "server keeps serving" check.
 * @module
 */

import assert from "node:assert/strict";
import { ChatServer } from "../../server/server.ts";
import { ChatClient, type ClientOptions } from "../../client/client.ts";
import type { ClientEvent } from "../../client/view.ts";
import { KnownServers } from "../../client/known_servers.ts";
import { createIdentity, type Identity } from "../../shared/keys.ts";
import type { Limits } from "../../shared/limits.ts";
import type { EvilClient } from "../support/evil_client.ts";

let cached: Promise<Identity[]> | undefined;

/** Two RSA-capable identities, generated once per test process (RSA-3072 is slow). */
export function identities(): Promise<Identity[]> {
  cached ??= Promise.all([createIdentity(), createIdentity()]);
  return cached;
}

/** An in-process server on 127.0.0.1:0 in a fresh temporary data directory. */
export interface TestServer {
  /** The server. */
  server: ChatServer;
  /** Its port. */
  port: number;
  /** A scratch directory removed on close. */
  dir: string;
  /** Shuts the server down and removes the directory. */
  close(): Promise<void>;
}

/** Starts a server with `limits` (defaults otherwise). */
export async function startTestServer(limits?: Partial<Limits>): Promise<TestServer> {
  const dir = await Deno.makeTempDir({ prefix: "chat-adv-" });
  const server = await ChatServer.start({
    host: "127.0.0.1",
    port: 0,
    dataDir: `${dir}/data`,
    limits,
  });
  return {
    server,
    port: server.addr.port,
    dir,
    async close() {
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** An honest client with its collected events. */
export interface HonestClient {
  /** The client. */
  client: ChatClient;
  /** Every event so far. */
  events: ClientEvent[];
  /** Room messages received so far as `from: text`. */
  texts(): string[];
}

/** Builds (without starting) an honest `ChatClient` with no reconnection and a 5 s deadline. */
export function honestClient(
  port: number,
  identity: Identity,
  knownServers: KnownServers,
  name: string,
  more: Partial<ClientOptions> = {},
): HonestClient {
  const events: ClientEvent[] = [];
  const client = new ChatClient({
    host: "127.0.0.1",
    port,
    identity,
    knownServers,
    trustNewServer: () => Promise.resolve(true),
    chooseName: () => Promise.resolve(name),
    onEvent: (ev) => events.push(ev),
    reconnect: false,
    timeoutMs: 5000,
    ...more,
  });
  return {
    client,
    events,
    texts: () =>
      events.flatMap((e) =>
        e.t === "server" && e.msg.t === "msg" ? [`${e.msg.from}: ${e.msg.text}`] : []
      ),
  };
}

/** Waits until `pred()` holds, polling every 10 ms; throws after `ms`. */
export async function until(pred: () => boolean, ms = 5000, what = "condition"): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * The server still serves: a fresh honest `ChatClient` connects, says a line, and `observer`
 * (an authenticated evil client in #lobby) receives exactly that line from it.
 */
export async function assertStillServing(t: TestServer, observer: EvilClient): Promise<void> {
  const [id] = await identities();
  const known = await KnownServers.load(`${t.dir}/known_servers_${crypto.randomUUID()}`);
  const name = `carol${Math.floor(Math.random() * 1e6)}`;
  const h = honestClient(t.port, id, known, name);
  await h.client.start();
  try {
    const text = "still here";
    h.client.say("#lobby", text);
    const { match } = await observer.readUntil((m) => m.t === "msg" && m.from === name);
    assert.equal(match?.text, text);
    await until(() => h.events.some((e) => e.t === "acked"), 5000, "ack of own message");
  } finally {
    await h.client.close();
  }
}

/** Room messages in `msgs` sent by `name`. */
export function msgsFrom(msgs: Record<string, unknown>[], name: string): Record<string, unknown>[] {
  return msgs.filter((m) => m.t === "msg" && m.from === name);
}
