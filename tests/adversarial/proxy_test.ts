/**
 * Real clients and a real server through the fault-injecting proxy: 1-byte writes, a cut
 * mid-frame, a blackhole, a flipped bit, a replayed and a reordered frame.
 */

import assert from "node:assert/strict";
import { ConnectError } from "../../client/errors.ts";
import { KnownServers } from "../../client/known_servers.ts";
import { ProtocolError } from "../../shared/errors.ts";
import { EvilClient } from "../support/evil_client.ts";
import { type FaultMode, FaultProxy } from "../support/fault_proxy.ts";
import {
  assertStillServing,
  honestClient,
  identities,
  msgsFrom,
  startTestServer,
  type TestServer,
  until,
} from "./helpers.ts";

/** Server + proxy + honest observer "olivia" connected directly. */
async function scene(
  mode: FaultMode,
  body: (t: TestServer, proxy: FaultProxy, observer: EvilClient) => Promise<void>,
): Promise<void> {
  const t = await startTestServer();
  const proxy = FaultProxy.start({ target: t.port, mode });
  let observer: EvilClient | undefined;
  try {
    observer = await EvilClient.joined(t.port, "olivia");
    await body(t, proxy, observer);
  } finally {
    await observer?.close();
    await proxy.close();
    await t.close();
  }
}

async function known(t: TestServer): Promise<KnownServers> {
  return await KnownServers.load(`${t.dir}/known_${crypto.randomUUID()}`);
}

Deno.test("happy path through 1-byte writes both ways: handshake, auth, chat", async () => {
  await scene({ kind: "split" }, async (t, proxy, observer) => {
    const [a, b] = await identities();
    const alice = honestClient(proxy.port, a, await known(t), "alice");
    const bob = honestClient(proxy.port, b, await known(t), "bob");
    await alice.client.start();
    try {
      await bob.client.start();
      try {
        alice.client.say("#lobby", "hello, one byte at a time");
        await until(() => bob.texts().includes("alice: hello, one byte at a time"));
        await until(() => alice.events.some((e) => e.t === "acked"), 5000, "alice's ack");
        bob.client.say("#lobby", "héllo back ✓");
        await until(() => alice.texts().includes("bob: héllo back ✓"));
        const { match } = await observer.readUntil((m) => m.t === "msg" && m.from === "bob");
        assert.equal(match?.text, "héllo back ✓");
        assert.ok(proxy.forwarded.c2s > 2 * 73 && proxy.forwarded.s2c > 2 * 165);
      } finally {
        await bob.client.close();
      }
    } finally {
      await alice.client.close();
    }
  });
});

Deno.test("c2s cut inside a say record: nothing delivered, leave seen, server serves", async () => {
  // Bytes before the say: ClientHello frame (73) + auth frame (4 + its body); computed live.
  const t = await startTestServer();
  const observer = await EvilClient.joined(t.port, "olivia");
  const probe = await EvilClient.connect(t.port);
  try {
    await probe.handshake();
    const authBody = await probe.seal(await probe.authMessage({ name: "mallory" }));
    await probe.close();
    const cutAt = 73 + 4 + authBody.length + 4 + 10;
    const proxy = FaultProxy.start({
      target: t.port,
      mode: { kind: "cut", dir: "c2s", after: cutAt },
    });
    const evil = await EvilClient.connect(proxy.port);
    try {
      await evil.handshake();
      await evil.login("mallory");
      const say = EvilClient.say("never arrives");
      await evil.send(say);
      assert.equal(await evil.waitClosed(5000), true);
      const seen = await observer.sync();
      assert.deepEqual(msgsFrom(seen, "mallory"), []);
      const leave = seen.find((m) => m.t === "event" && m.kind === "leave" && m.name === "mallory");
      assert.equal(leave?.reason, "connection lost");
      assert.equal(proxy.forwarded.c2s, cutAt);
      await assertStillServing(t, observer);
    } finally {
      await evil.close();
      await proxy.close();
    }
  } finally {
    await observer.close();
    await t.close();
  }
});

Deno.test("s2c cut inside the ServerHello: start() rejects with ConnectError", async () => {
  await scene({ kind: "cut", dir: "s2c", after: 4 + 80 }, async (t, proxy, observer) => {
    const [a] = await identities();
    const alice = honestClient(proxy.port, a, await known(t), "alice");
    const err = await alice.client.start().then(() => undefined, (e) => e);
    assert.ok(err instanceof ConnectError, String(err));
    assert.equal(proxy.forwarded.s2c, 84);
    await assertStillServing(t, observer);
  });
});

Deno.test("blackhole: start() gives up at its deadline; server saw no connection", async () => {
  await scene({ kind: "blackhole" }, async (t, proxy, observer) => {
    const [a] = await identities();
    const alice = honestClient(proxy.port, a, await known(t), "alice", { timeoutMs: 300 });
    const started = Date.now();
    const err = await alice.client.start().then(() => undefined, (e) => e);
    assert.ok(err instanceof ConnectError, String(err));
    assert.match(err.message, /did not answer in time/);
    assert.ok(Date.now() - started < 3000);
    assert.equal(proxy.accepted, 1);
    assert.equal(proxy.forwarded.c2s + proxy.forwarded.s2c, 0);
    assert.equal(t.server.connections, 1, "only the observer");
    await assertStillServing(t, observer);
  });
});

Deno.test("bit flipped in the ServerHello's server_random: signature check fails", async () => {
  await scene({ kind: "flip", dir: "s2c", offset: 4 + 1 + 7 }, async (t, proxy, observer) => {
    const [a] = await identities();
    const alice = honestClient(proxy.port, a, await known(t), "alice");
    const err = await alice.client.start().then(() => undefined, (e) => e);
    assert.ok(err instanceof ConnectError, String(err));
    assert.ok(err.cause instanceof ProtocolError);
    assert.equal(err.cause.code, "bad_signature");
    await assertStillServing(t, observer);
  });
});

Deno.test("bit flipped in the auth record: server closes, alice never joins", async () => {
  await scene({ kind: "flip", dir: "c2s", offset: 73 + 4 + 5 }, async (t, proxy, observer) => {
    const [a] = await identities();
    const alice = honestClient(proxy.port, a, await known(t), "alice");
    const err = await alice.client.start().then(() => undefined, (e) => e);
    assert.ok(err instanceof ConnectError, String(err));
    assert.match(err.message, /closed the connection during the handshake/);
    const seen = await observer.sync();
    assert.ok(!seen.some((m) => m.t === "event" && m.name === "alice"), JSON.stringify(seen));
    await assertStillServing(t, observer);
  });
});

Deno.test("replayed say frame: delivered exactly once, then the server drops alice", async () => {
  // c2s frames: 0 ClientHello, 1 auth, 2 the first say.
  await scene({ kind: "replay", dir: "c2s", frame: 2 }, async (t, proxy, observer) => {
    const [a] = await identities();
    const alice = honestClient(proxy.port, a, await known(t), "alice");
    await alice.client.start();
    try {
      alice.client.say("#lobby", "once");
      await alice.client.done; // the server closes after the replay; no reconnection
      const seen = await observer.sync();
      assert.deepEqual(msgsFrom(seen, "alice").map((m) => m.text), ["once"]);
      const leave = seen.find((m) => m.t === "event" && m.kind === "leave" && m.name === "alice");
      assert.equal(leave?.reason, "connection lost");
      await assertStillServing(t, observer);
    } finally {
      await alice.client.close();
    }
  });
});

Deno.test("reordered say frames: neither delivered, the server drops alice", async () => {
  await scene({ kind: "reorder", dir: "c2s", frame: 2 }, async (t, proxy, observer) => {
    const [a] = await identities();
    const alice = honestClient(proxy.port, a, await known(t), "alice");
    await alice.client.start();
    try {
      alice.client.say("#lobby", "first");
      // a later turn of the event loop: its own record (lines of one turn share a record)
      await new Promise((r) => setTimeout(r, 20));
      alice.client.say("#lobby", "second");
      await alice.client.done;
      const failed = alice.events.flatMap((e) => e.t === "failed" ? [e.text] : []);
      assert.deepEqual(failed.sort(), ["first", "second"], "both reported as not delivered");
      const seen = await observer.sync();
      assert.deepEqual(msgsFrom(seen, "alice"), []);
      await assertStillServing(t, observer);
    } finally {
      await alice.client.close();
    }
  });
});
