/**
 * A misbehaving server against the real `ChatClient`: tampered ServerHello fields, wrong
 * lengths, signed low-order keys, Refusals, a changed pinned key and an unknown server. In every
 * case the client rejects with the exact error and sends nothing after its ClientHello.
 */

import assert from "node:assert/strict";
import { ConnectError, HostKeyChangedError, RefusedError } from "../../client/errors.ts";
import { KnownServers } from "../../client/known_servers.ts";
import { ProtocolError } from "../../shared/errors.ts";
import { fromHex } from "../../shared/encoding.ts";
import { LOW_ORDER_POINTS } from "../support/evil_client.ts";
import { EvilServer, type EvilServerOptions, type HelloField } from "../support/evil_server.ts";
import { honestClient, identities, startTestServer } from "./helpers.ts";

interface Outcome {
  error: unknown;
  trustAsked: number;
  server: EvilServer;
  knownPath: string;
  dir: string;
}

/** Runs one `ChatClient.start()` against an evil server; `pin` pre-pins a fingerprint. */
async function against(
  opts: EvilServerOptions,
  pin?: (server: EvilServer) => string,
  timeoutMs = 5000,
): Promise<Outcome> {
  const dir = await Deno.makeTempDir({ prefix: "chat-evil-srv-" });
  const server = await EvilServer.start(opts);
  const knownPath = `${dir}/known_servers`;
  if (pin) await Deno.writeTextFile(knownPath, `127.0.0.1:${server.port} ${pin(server)}\n`);
  const [id] = await identities();
  let trustAsked = 0;
  const h = honestClient(server.port, id, await KnownServers.load(knownPath), "alice", {
    trustNewServer: () => {
      trustAsked++;
      return Promise.resolve(true);
    },
    timeoutMs,
  });
  let error: unknown;
  try {
    await h.client.start();
    await h.client.close();
  } catch (e) {
    error = e;
  }
  await server.connections[0]?.done;
  await server.close();
  return { error, trustAsked, server, knownPath, dir };
}

/** The client connected once, sent its ClientHello, then nothing, and closed. */
function assertSentNothingMore(o: Outcome): void {
  assert.equal(o.server.connections.length, 1);
  const c = o.server.connections[0];
  assert.equal(c.clientHello?.length, 69);
  assert.equal(c.afterBytes, 0, "nothing after the ClientHello");
  assert.equal(c.clientClosed, true, "the client closed the connection");
}

async function cleanup(o: Outcome): Promise<void> {
  await Deno.remove(o.dir, { recursive: true });
}

const FIELDS: HelloField[] = ["version", "server_random", "eph", "host_key", "signature"];

for (const field of FIELDS) {
  Deno.test(`ServerHello with a tampered ${field}: start() rejects, nothing sent`, async () => {
    const o = await against({ tamper: field });
    try {
      assert.ok(o.error instanceof ConnectError, String(o.error));
      const cause = (o.error as ConnectError).cause;
      assert.ok(cause instanceof ProtocolError);
      assert.equal(cause.code, field === "version" ? "version" : "bad_signature");
      assert.equal(o.trustAsked, 0, "an unverified key is never offered for trust");
      assertSentNothingMore(o);
      await assert.rejects(Deno.stat(o.knownPath), Deno.errors.NotFound);
    } finally {
      await cleanup(o);
    }
  });
}

Deno.test("control: an untampered evil ServerHello passes the handshake checks", async () => {
  // The evil server never answers auth, so start() fails later, on the deadline, after auth.
  const o = await against({ recordMs: 3000 }, undefined, 1000);
  try {
    assert.ok(o.error instanceof ConnectError);
    assert.match((o.error as Error).message, /did not answer in time/);
    assert.equal(o.trustAsked, 1);
    assert.ok(o.server.connections[0].afterBytes > 0, "the client went on to send auth");
  } finally {
    await cleanup(o);
  }
});

for (const delta of [-1, 1, -161 + 1]) {
  Deno.test(`ServerHello of ${161 + delta} bytes: rejected as bad_hello, nothing sent`, async () => {
    const o = await against({ lengthDelta: delta });
    try {
      assert.ok(o.error instanceof ConnectError);
      const cause = (o.error as ConnectError).cause;
      assert.ok(cause instanceof ProtocolError);
      assert.equal(cause.code, "bad_hello");
      assertSentNothingMore(o);
    } finally {
      await cleanup(o);
    }
  });
}

Deno.test("ServerHello with version 2, correctly signed: rejected, nothing sent", async () => {
  const o = await against({ version: 2 });
  try {
    assert.equal(((o.error as ConnectError).cause as ProtocolError).code, "version");
    assertSentNothingMore(o);
  } finally {
    await cleanup(o);
  }
});

Deno.test("signed all-zero / low-order server key share: rejected, nothing sent", async () => {
  for (const hex of [LOW_ORDER_POINTS[0], LOW_ORDER_POINTS[2]]) {
    const o = await against({ ephemeral: fromHex(hex) });
    try {
      assert.ok(o.error instanceof ConnectError);
      assert.equal(((o.error as ConnectError).cause as ProtocolError).code, "bad_key_share");
      assert.equal(o.trustAsked, 0);
      assertSentNothingMore(o);
    } finally {
      await cleanup(o);
    }
  }
});

for (const [code, expected] of [["full", "full"], ["banned", "banned"], ["\x1b[2Jx", "unknown"]]) {
  Deno.test(`Refusal ${JSON.stringify(code)} → RefusedError(${expected})`, async () => {
    const o = await against({ refusal: code });
    try {
      assert.ok(o.error instanceof RefusedError, String(o.error));
      assert.equal((o.error as RefusedError).code, expected);
      assertSentNothingMore(o);
    } finally {
      await cleanup(o);
    }
  });
}

Deno.test("pinned key differs (evil server): HostKeyChangedError, file unchanged", async () => {
  const other = "SHA256:" + "A".repeat(43);
  const o = await against({}, (s) => {
    assert.notEqual(s.fingerprint, other);
    return other;
  });
  try {
    assert.ok(o.error instanceof HostKeyChangedError, String(o.error));
    const e = o.error as HostKeyChangedError;
    assert.equal(e.pinned, other);
    assert.equal(e.offered, o.server.fingerprint);
    assert.equal(e.hostPort, `127.0.0.1:${o.server.port}`);
    assert.equal(o.trustAsked, 0);
    assertSentNothingMore(o);
    assert.deepEqual(
      await Deno.readFile(o.knownPath),
      new TextEncoder().encode(`127.0.0.1:${o.server.port} ${other}\n`),
    );
  } finally {
    await cleanup(o);
  }
});

Deno.test("pinned key differs (real server): HostKeyChangedError, file bytes unchanged", async () => {
  const t = await startTestServer();
  try {
    const path = `${t.dir}/known_servers`;
    const content = `# pins\n127.0.0.1:${t.port} SHA256:${"B".repeat(43)}\nexample:1 SHA256:${
      "C".repeat(43)
    }\n`;
    await Deno.writeTextFile(path, content);
    const before = await Deno.readFile(path);
    const [id] = await identities();
    const h = honestClient(t.port, id, await KnownServers.load(path), "alice");
    const err = await h.client.start().then(() => undefined, (e) => e);
    assert.ok(err instanceof HostKeyChangedError, String(err));
    assert.equal(err.offered, t.server.fingerprint);
    assert.deepEqual(await Deno.readFile(path), before);
    assert.ok(!h.events.some((e) => e.t === "welcome"));
  } finally {
    await t.close();
  }
});

Deno.test("unknown server, trust declined: RefusedError(untrusted), nothing pinned or sent", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-evil-srv-" });
  const server = await EvilServer.start();
  try {
    const path = `${dir}/known_servers`;
    const [id] = await identities();
    const offered: string[] = [];
    const h = honestClient(server.port, id, await KnownServers.load(path), "alice", {
      trustNewServer: (_hp, fp) => {
        offered.push(fp);
        return Promise.resolve(false);
      },
    });
    const err = await h.client.start().then(() => undefined, (e) => e);
    assert.ok(err instanceof RefusedError, String(err));
    assert.equal(err.code, "untrusted");
    assert.deepEqual(offered, [server.fingerprint]);
    await server.connections[0].done;
    const c = server.connections[0];
    assert.equal(c.afterBytes, 0);
    assert.equal(c.clientClosed, true);
    await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});
