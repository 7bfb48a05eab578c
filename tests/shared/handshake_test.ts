import assert from "node:assert/strict";
import {
  ClientHandshake,
  encodeRefusal,
  parseClientHello,
  parseRefusal,
  serverRespond,
  signAuth,
  verifyAuth,
} from "../../shared/handshake.ts";
import { packRecords, RecordOpener, RecordSealer } from "../../shared/record.ts";
import { ed25519Generate, ed25519PublicRaw, fingerprint } from "../../shared/crypto.ts";
import { ProtocolError } from "../../shared/errors.ts";
import { utf8 } from "../../shared/encoding.ts";

async function hostKey() {
  const pair = await ed25519Generate(false);
  return { privateKey: pair.privateKey, publicRaw: await ed25519PublicRaw(pair.publicKey) };
}

async function pairUp() {
  const host = await hostKey();
  const client = await ClientHandshake.start();
  const server = await serverRespond(client.hello, host);
  const parsed = await client.parseServerHello(server.hello);
  const keys = await client.finish(server.hello);
  return { host, client, server, parsed, keys };
}

Deno.test("handshake: both sides derive the same session id and working record keys", async () => {
  const { host, client, server, parsed, keys } = await pairUp();
  assert.equal(client.hello.length, 69);
  assert.equal(server.hello.length, 161);
  assert.equal(parsed.fingerprint, await fingerprint(host.publicRaw));
  assert.deepEqual(keys.th, server.keys.th);
  // c2s and s2c, several records each, in order
  const c2s = new RecordSealer(keys.send), s2cOpen = new RecordOpener(keys.recv);
  const s2c = new RecordSealer(server.keys.send), c2sOpen = new RecordOpener(server.keys.recv);
  for (let i = 0; i < 3; i++) {
    const up = await c2s.seal(utf8.encode(`up ${i}`));
    assert.equal(new TextDecoder().decode(await c2sOpen.open(up)), `up ${i}`);
    const down = await s2c.seal(utf8.encode(`down ${i}`));
    assert.equal(new TextDecoder().decode(await s2cOpen.open(down)), `down ${i}`);
  }
});

Deno.test("records: reordered, replayed and reflected records fail authentication", async () => {
  const { server, keys } = await pairUp();
  const sealer = new RecordSealer(keys.send);
  const a = await sealer.seal(utf8.encode("a"));
  const b = await sealer.seal(utf8.encode("b"));
  const bad = (e: unknown) => e instanceof ProtocolError && e.code === "bad_record";
  await assert.rejects(new RecordOpener(server.keys.recv).open(b), bad); // reordered
  const opener = new RecordOpener(server.keys.recv);
  await opener.open(a);
  await assert.rejects(opener.open(a), bad); // replayed
  // reflected: a client record fed back to the client's own opener
  await assert.rejects(new RecordOpener(keys.recv).open(a), bad);
});

Deno.test("handshake: a ServerHello changed in any byte fails the signature or the version", async () => {
  const host = await hostKey();
  for (const at of [0, 1, 40, 70, 100, 160]) {
    const client = await ClientHandshake.start();
    const { hello } = await serverRespond(client.hello, host);
    const bad = new Uint8Array(hello);
    bad[at] ^= 1;
    await assert.rejects(
      (async () => {
        await client.parseServerHello(bad);
        await client.finish(bad);
      })(),
      (e) => e instanceof ProtocolError && ["version", "bad_signature"].includes(e.code),
      `byte ${at}`,
    );
  }
});

Deno.test("handshake: ClientHello checks: magic, version, length", () => {
  const ok = new Uint8Array(69);
  ok.set(utf8.encode("CHAT"));
  ok[4] = 1;
  assert.equal(parseClientHello(ok).ephemeral.length, 32);
  const code = (b: Uint8Array) => {
    try {
      parseClientHello(b);
      return "ok";
    } catch (e) {
      return e instanceof ProtocolError ? e.code : "other";
    }
  };
  const v2 = new Uint8Array(ok);
  v2[4] = 2;
  assert.equal(code(v2), "version");
  assert.equal(code(ok.subarray(0, 68)), "bad_hello");
  assert.equal(code(utf8.encode("GET / HTTP/1.1\r\n")), "bad_hello");
});

Deno.test("refusal: known codes round-trip, anything else is unknown", () => {
  assert.equal(parseRefusal(encodeRefusal("full")), "full");
  assert.equal(parseRefusal(encodeRefusal("\x1b[2J")), "unknown");
  assert.equal(parseRefusal(Uint8Array.of(0xff, 0xc3)), "unknown");
  assert.equal(parseRefusal(Uint8Array.of(1, 2)), undefined);
});

Deno.test("auth proof: bound to the session id and the name", async () => {
  const { keys } = await pairUp();
  const other = await pairUp();
  const id = await ed25519Generate(false);
  const pub = await ed25519PublicRaw(id.publicKey);
  const proof = await signAuth(id.privateKey, keys.th, "alice");
  assert.equal(await verifyAuth(pub, proof, keys.th, "alice"), true);
  assert.equal(await verifyAuth(pub, proof, other.keys.th, "alice"), false);
  assert.equal(await verifyAuth(pub, proof, keys.th, "alicf"), false);
  assert.equal(await verifyAuth(pub.subarray(1), proof, keys.th, "alice"), false);
  assert.equal(await verifyAuth(new Uint8Array(32), proof, keys.th, "alice"), false);
});

Deno.test("records: packRecords keeps order and never passes the limit", () => {
  assert.deepEqual(packRecords(["aa", "bb", "cc"], 5), ["aa\nbb", "cc"]);
  assert.deepEqual(packRecords(["é", "é"], 4), ["é", "é"], "bytes, not characters");
  assert.deepEqual(packRecords(["toolong", "x"], 3), ["toolong", "x"], "an oversized one alone");
  assert.deepEqual(packRecords([], 10), []);
});
