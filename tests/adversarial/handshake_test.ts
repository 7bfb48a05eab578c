/**
 * Attacks on the server before and during authentication: bad ClientHellos, low-order key
 * shares, garbage on the port, oversized handshake frames, and replayed or misbound auth proofs.
 */

import assert from "node:assert/strict";
import { fromHex, toBase64 } from "../../shared/encoding.ts";
import { EvilClient, LOW_ORDER_POINTS, newSigningKey } from "../support/evil_client.ts";
import { assertStillServing, identities, startTestServer, type TestServer } from "./helpers.ts";

async function withServer(body: (t: TestServer) => Promise<void>): Promise<void> {
  const t = await startTestServer();
  try {
    await body(t);
  } finally {
    await t.close();
  }
}

/** Connects a raw client, runs `attack`, and returns it (the caller closes it). */
async function attacker(t: TestServer, attack: (c: EvilClient) => Promise<void>) {
  const c = await EvilClient.connect(t.port);
  try {
    await attack(c);
  } catch (e) {
    await c.close();
    throw e;
  }
  return c;
}

/** The connection was closed within 5 s and the server sent it no byte at all. */
async function assertClosedSilently(c: EvilClient): Promise<void> {
  try {
    assert.equal(await c.waitClosed(5000), true, "server closed the connection");
    assert.equal(c.bytesReceived, 0, "server sent nothing (no ServerHello, no Refusal)");
  } finally {
    await c.close();
  }
}

/** An honest observer joins #lobby and a normal client still chats with it. */
async function assertServing(t: TestServer): Promise<void> {
  const observer = await EvilClient.joined(t.port, "olivia");
  try {
    await assertStillServing(t, observer);
  } finally {
    await observer.close();
  }
}

Deno.test("version 2 ClientHello gets a Refusal frame 'version', then a close", async () => {
  await withServer(async (t) => {
    const c = await attacker(t, (c) => c.sendHello({ version: 2 }).then(() => {}));
    try {
      const f = await c.readFrame(5000);
      assert.deepEqual(f, Uint8Array.of(0xff, ...new TextEncoder().encode("version")));
      assert.equal(await c.waitClosed(5000), true);
    } finally {
      await c.close();
    }
    await assertServing(t);
  });
});

Deno.test("all-zero and low-order X25519 shares: closed without ServerHello", async () => {
  await withServer(async (t) => {
    for (const hex of LOW_ORDER_POINTS) {
      const c = await attacker(t, (c) => c.sendHello({ ephemeral: fromHex(hex) }).then(() => {}));
      await assertClosedSilently(c);
    }
    await assertServing(t);
  });
});

Deno.test("a valid ClientHello does get a 161-byte ServerHello (control case)", async () => {
  await withServer(async (t) => {
    const c = await attacker(t, async (c) => {
      const s = await c.handshake();
      assert.equal(s.serverHello.length, 161);
      assert.equal(s.fingerprint, t.server.fingerprint);
    });
    await c.close();
  });
});

Deno.test("HTTP request on the port: closed quickly, nothing sent, server keeps serving", async () => {
  await withServer(async (t) => {
    const start = Date.now();
    const c = await attacker(t, async (c) => {
      await c.sendRaw(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    });
    await assertClosedSilently(c);
    assert.ok(Date.now() - start < 2000, "closed well before the handshake deadline");
    await assertServing(t);
  });
});

Deno.test("64 KiB of random bytes: closed quickly, nothing sent, server keeps serving", async () => {
  await withServer(async (t) => {
    const junk = new Uint8Array(64 * 1024);
    for (let i = 0; i < junk.length; i += 65536) {
      crypto.getRandomValues(junk.subarray(i, i + 65536));
    }
    junk[0] = 0x80; // a length far over the 4 KiB handshake limit, whatever the rest is
    const start = Date.now();
    const c = await attacker(t, async (c) => {
      await c.sendRaw(junk); // may fail half-way when the server resets: that is fine
    });
    await assertClosedSilently(c);
    assert.ok(Date.now() - start < 2000, "closed well before the handshake deadline");
    await assertServing(t);
  });
});

Deno.test("random bytes framed as a handshake frame (bad magic): closed silently", async () => {
  await withServer(async (t) => {
    const body = crypto.getRandomValues(new Uint8Array(69));
    body[0] = 0x00; // not "C"
    const c = await attacker(t, (c) => c.sendFrame(body).then(() => {}));
    await assertClosedSilently(c);
    await assertServing(t);
  });
});

Deno.test("ClientHello one byte too long or too short: closed silently", async () => {
  await withServer(async (t) => {
    const long = await attacker(t, (c) => c.sendHello({ extra: Uint8Array.of(0) }).then(() => {}));
    await assertClosedSilently(long);
    const short = await attacker(
      t,
      (c) => c.sendHello({ ephemeral: new Uint8Array(31).fill(9) }).then(() => {}),
    );
    await assertClosedSilently(short);
    await assertServing(t);
  });
});

Deno.test("handshake frame headers 4,097 and 0xFFFFFFFF: closed on the header alone", async () => {
  await withServer(async (t) => {
    for (const len of [4097, 0xffffffff, 0]) {
      const c = await attacker(t, (c) => c.sendHeader(len).then(() => {}));
      await assertClosedSilently(c);
    }
    await assertServing(t);
  });
});

Deno.test("an auth proof captured in one session is rejected in another", async () => {
  await withServer(async (t) => {
    const first = await EvilClient.connect(t.port);
    let captured: Uint8Array;
    try {
      await first.handshake();
      captured = await first.auth({ name: "alice" });
      const { match } = await first.readUntil((m) => m.t === "welcome" || m.t === "error");
      assert.equal(match?.t, "welcome", "the proof is valid in its own session");
      await first.send({ t: "bye", reason: "quit" });
      assert.equal(await first.waitClosed(5000), true);
    } finally {
      await first.close();
    }
    const second = await EvilClient.connect(t.port);
    try {
      await second.handshake();
      await second.send(captured); // same plaintext, sealed for the new session
      const { match, seen } = await second.readUntil((m) => m.t === "error" || m.t === "welcome");
      assert.equal(match?.t, "error", JSON.stringify(seen));
      assert.equal(match?.code, "bad_auth");
      const rest = await second.readUntil((m) => m.t === "bye");
      assert.equal(rest.match?.reason, "bad_auth");
      assert.equal(await second.waitClosed(5000), true);
      assert.ok(!seen.some((m) => m.t === "welcome"));
    } finally {
      await second.close();
    }
    await assertServing(t);
  });
});

Deno.test("an auth proof for one name does not authenticate another name", async () => {
  await withServer(async (t) => {
    const c = await EvilClient.connect(t.port);
    try {
      await c.handshake();
      const msg = await c.authMessage({ name: "alice" });
      await c.send({ ...msg, name: "bob" });
      const { match } = await c.readUntil((m) => m.t === "error" || m.t === "welcome");
      assert.equal(match?.code, "bad_auth");
      assert.equal(await c.waitClosed(5000), true);
    } finally {
      await c.close();
    }
    await assertServing(t);
  });
});

Deno.test("a proof signed by another key than sig_pub is rejected", async () => {
  await withServer(async (t) => {
    const c = await EvilClient.connect(t.port);
    try {
      await c.handshake();
      const otherKey = await newSigningKey();
      const good = await c.authMessage({ name: "alice", key: otherKey });
      const mine = await c.authMessage({ name: "alice" });
      await c.send({ ...good, sig_pub: mine.sig_pub });
      const { match } = await c.readUntil((m) => m.t === "error" || m.t === "welcome");
      assert.equal(match?.code, "bad_auth");
      assert.equal(await c.waitClosed(5000), true);
    } finally {
      await c.close();
    }
    await assertServing(t);
  });
});

Deno.test("a chat message before auth closes the connection; nothing is relayed", async () => {
  await withServer(async (t) => {
    const observer = await EvilClient.joined(t.port, "olivia");
    try {
      const c = await EvilClient.connect(t.port);
      try {
        await c.handshake();
        await c.send(EvilClient.say("before auth"));
        assert.equal(await c.waitClosed(5000), true);
      } finally {
        await c.close();
      }
      const seen = await observer.sync();
      assert.deepEqual(seen.filter((m) => m.t === "msg"), []);
      await assertStillServing(t, observer);
    } finally {
      await observer.close();
    }
  });
});

Deno.test("a DM key from a refused auth attempt never sticks to another identity", async () => {
  await withServer(async (t) => {
    const [a] = await identities();
    const kem = { kem_pub: toBase64(a.kemPublic), kem_sig: toBase64(a.kemSig) };
    const keyA = { privateKey: a.sigPrivate, publicRaw: a.sigPublic };
    const c = await EvilClient.connect(t.port);
    const asker = await EvilClient.joined(t.port, "asker");
    const mixer = await EvilClient.connect(t.port);
    try {
      await c.handshake();
      // Attempt 1: identity A with its (valid) DM key, under a reserved name → retry.
      await c.auth({ name: "admin", key: keyA, extra: kem });
      const first = await c.readUntil((m) => m.t === "error" || m.t === "welcome");
      assert.equal(first.match?.code, "name_reserved");
      // Attempt 2, same connection: another identity, without a DM key.
      await c.auth({ name: "bobby" });
      const second = await c.readUntil((m) => m.t === "error" || m.t === "welcome");
      assert.equal(second.match?.t, "welcome");
      await asker.send({ t: "cmd", id: "AAAAAAAAAAAAAAAAAAAAAA==", name: "keys", args: ["bobby"] });
      const keys = await asker.readUntil((m) => m.id === "AAAAAAAAAAAAAAAAAAAAAA==");
      assert.equal(keys.match?.t, "error");
      assert.equal(keys.match?.code, "no_kem_key");

      // A's DM key presented with another identity's signing key is refused, cache or not.
      await mixer.handshake();
      await mixer.auth({ name: "mixer", extra: kem });
      const mixed = await mixer.readUntil((m) => m.t === "error" || m.t === "welcome");
      assert.equal(mixed.match?.code, "bad_auth");
    } finally {
      await c.close();
      await asker.close();
      await mixer.close();
    }
  });
});

Deno.test("a returning identity's proof is checked every session: malformed or short, refused", async () => {
  await withServer(async (t) => {
    const key = await newSigningKey();
    // Each session: a fresh connection with the same identity key (verified, then cached).
    const session = async (proof?: (good: string) => string) => {
      const c = await EvilClient.connect(t.port);
      try {
        await c.handshake();
        const msg = c.authMessage({ name: "alice", key });
        await c.send(proof === undefined ? msg : { ...msg, proof: proof(msg.proof as string) });
        const { match } = await c.readUntil((m) => m.t === "error" || m.t === "welcome");
        if (match?.t === "welcome") await c.send({ t: "bye", reason: "quit" });
        assert.equal(await c.waitClosed(5000), true);
        return match?.t === "welcome" ? "welcome" : match?.code;
      } finally {
        await c.close();
      }
    };
    assert.equal(await session(), "welcome");
    assert.equal(await session((p) => "!" + p.slice(1)), "bad_auth", "not base64");
    assert.equal(await session((p) => p.slice(0, 64)), "bad_auth", "48 bytes");
    assert.equal(await session(() => toBase64(new Uint8Array(64))), "bad_auth", "zeros");
    assert.equal(await session(), "welcome");
    await assertServing(t);
  });
});
