/**
 * Record cipher offer and choice against the real server (PROTOCOL.md §2): a client deriving its
 * keys independently from the spec talks over ChaCha20-Poly1305 when it offers it and over
 * AES-256-GCM when it does not; an honest client whose offer or whose server's choice is altered
 * on the way (a downgrade) stops at the signature check and sends nothing more.
 */

import assert from "node:assert/strict";
import { ConnectError } from "../../client/errors.ts";
import { KnownServers } from "../../client/known_servers.ts";
import { ProtocolError } from "../../shared/errors.ts";
import { AES_GCM_LATER_MIN } from "../../shared/crypto.ts";
import { EvilClient } from "../support/evil_client.ts";
import { type FaultMode, FaultProxy } from "../support/fault_proxy.ts";
import {
  assertStillServing,
  honestClient,
  identities,
  startTestServer,
  type TestServer,
} from "./helpers.ts";

for (const offerChaCha of [true, false]) {
  const want = offerChaCha ? "chacha20-poly1305" : "aes-256-gcm";
  Deno.test(`cipher: a client ${offerChaCha ? "offering" : "not offering"} ChaCha20-Poly1305 chats over ${want}`, async () => {
    const t = await startTestServer();
    const c = await EvilClient.connect(t.port);
    try {
      const session = await c.handshake({ offerChaCha });
      assert.equal(session.cipher, want);
      await c.login("alice");
      await c.send(EvilClient.say("over " + want));
      const { match } = await c.readUntil((m) => m.t === "msg" && m.from === "alice");
      assert.equal(match?.text, "over " + want);
    } finally {
      await c.close();
      await t.close();
    }
  });
}

Deno.test("cipher: an AES-256-GCM client gets a burst in full records, in order", async () => {
  // Records of AES_GCM_LATER_MIN bytes or more are sealed through WebCrypto (server/outbox.ts).
  const t = await startTestServer({ rateBurst: 10_000, ratePerSecond: 10_000 });
  const [reader, sender] = [await EvilClient.connect(t.port), await EvilClient.connect(t.port)];
  try {
    for (const [c, name] of [[reader, "rita"], [sender, "sid"]] as const) {
      assert.equal((await c.handshake({ offerChaCha: false })).cipher, "aes-256-gcm");
      await c.login(name);
      await c.sync();
    }
    // 60 messages in one record: stored in one commit, relayed as one batch to each member.
    const says = Array.from({ length: 60 }, (_, i) => EvilClient.say(`${i} ${"x".repeat(150)}`));
    const before = reader.received.length;
    await sender.send(says.map((m) => JSON.stringify(m)).join("\n"));
    const got: unknown[] = [];
    await reader.readUntil((m) => {
      if (m.t === "msg") got.push(m.id);
      return m.id === says[59].id;
    });
    assert.deepEqual(got, says.map((m) => m.id));
    const sizes = reader.received.slice(before).map((f) => f.length - 16);
    assert.ok(sizes.some((n) => n >= AES_GCM_LATER_MIN), `records of ${sizes} bytes`);
    assert.ok(sizes.every((n) => n <= 16_384), `records of ${sizes} bytes`);
    assert.deepEqual(await reader.sync(), [], "nothing after the burst but the pong");
  } finally {
    await reader.close();
    await sender.close();
    await t.close();
  }
});

/** An honest client through a proxy that flips one bit; the handshake must fail on the signature. */
async function downgrade(mode: FaultMode): Promise<void> {
  const t: TestServer = await startTestServer();
  const proxy = FaultProxy.start({ target: t.port, mode });
  let observer: EvilClient | undefined;
  try {
    observer = await EvilClient.joined(t.port, "olivia");
    const [a] = await identities();
    const known = await KnownServers.load(`${t.dir}/known_${crypto.randomUUID()}`);
    const alice = honestClient(proxy.port, a, known, "alice");
    const err = await alice.client.start().then(() => undefined, (e) => e);
    assert.ok(err instanceof ConnectError, String(err));
    assert.ok(err.cause instanceof ProtocolError, String(err.cause));
    assert.equal(err.cause.code, "bad_signature");
    const seen = await observer.sync();
    assert.ok(!seen.some((m) => m.t === "event" && m.name === "alice"), JSON.stringify(seen));
    await assertStillServing(t, observer);
  } finally {
    await observer?.close();
    await proxy.close();
    await t.close();
  }
}

// Stream offsets: 4 length bytes, then the hello. The offer's mask is client_random[31]
// (ClientHello byte 5 + 31); the choice is server_random[31] (ServerHello byte 1 + 31).
Deno.test("cipher downgrade: the offer's ChaCha20-Poly1305 bit cleared on the way → bad_signature", async () => {
  await downgrade({ kind: "flip", dir: "c2s", offset: 4 + 5 + 31, bit: 0 });
});

Deno.test("cipher downgrade: the server's choice turned into AES-256-GCM on the way → bad_signature", async () => {
  await downgrade({ kind: "flip", dir: "s2c", offset: 4 + 1 + 31, bit: 0 });
});
