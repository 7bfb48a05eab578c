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
import { ed25519Generate, fingerprint } from "../../shared/crypto.ts";
import { ProtocolError } from "../../shared/errors.ts";
import { utf8 } from "../../shared/encoding.ts";

function pairUp() {
  const host = ed25519Generate();
  const client = ClientHandshake.start();
  const server = serverRespond(client.hello, host);
  const parsed = client.parseServerHello(server.hello);
  const keys = client.finish(server.hello);
  return { host, client, server, parsed, keys };
}

Deno.test("handshake: both sides derive the same session id and working record keys", () => {
  const { host, client, server, parsed, keys } = pairUp();
  assert.equal(client.hello.length, 69);
  assert.equal(server.hello.length, 161);
  assert.equal(parsed.fingerprint, fingerprint(host.publicRaw));
  assert.deepEqual(keys.th, server.keys.th);
  // c2s and s2c, several records each, in order
  const c2s = new RecordSealer(keys.send), s2cOpen = new RecordOpener(keys.recv);
  const s2c = new RecordSealer(server.keys.send), c2sOpen = new RecordOpener(server.keys.recv);
  for (let i = 0; i < 3; i++) {
    const up = c2s.seal(utf8.encode(`up ${i}`));
    assert.equal(new TextDecoder().decode(c2sOpen.open(up)), `up ${i}`);
    const down = s2c.seal(utf8.encode(`down ${i}`));
    assert.equal(new TextDecoder().decode(s2cOpen.open(down)), `down ${i}`);
  }
});

Deno.test("records: reordered, replayed and reflected records fail authentication", () => {
  const { server, keys } = pairUp();
  const sealer = new RecordSealer(keys.send);
  const a = sealer.seal(utf8.encode("a"));
  const b = sealer.seal(utf8.encode("b"));
  const bad = (e: unknown) => e instanceof ProtocolError && e.code === "bad_record";
  assert.throws(() => new RecordOpener(server.keys.recv).open(b), bad); // reordered
  const opener = new RecordOpener(server.keys.recv);
  assert.equal(new TextDecoder().decode(opener.open(a)), "a");
  assert.throws(() => opener.open(a), bad); // replayed
  // reflected: a client record fed back to the client's own opener
  assert.throws(() => new RecordOpener(keys.recv).open(a), bad);
});

Deno.test("handshake: a ServerHello changed in any byte fails the signature or the version", () => {
  const host = ed25519Generate();
  for (const at of [0, 1, 40, 70, 100, 160]) {
    const client = ClientHandshake.start();
    const { hello } = serverRespond(client.hello, host);
    const bad = new Uint8Array(hello);
    bad[at] ^= 1;
    assert.throws(
      () => {
        client.parseServerHello(bad);
        client.finish(bad);
      },
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

Deno.test("auth proof: bound to the session id and the name", () => {
  const { keys } = pairUp();
  const other = pairUp();
  const id = ed25519Generate();
  const pub = id.publicRaw;
  const proof = signAuth(id.privateKey, keys.th, "alice");
  assert.equal(verifyAuth(pub, proof, keys.th, "alice"), true);
  assert.equal(verifyAuth(pub, proof, other.keys.th, "alice"), false);
  assert.equal(verifyAuth(pub, proof, keys.th, "alicf"), false);
  assert.equal(verifyAuth(pub.subarray(1), proof, keys.th, "alice"), false);
  assert.equal(verifyAuth(new Uint8Array(32), proof, keys.th, "alice"), false);
});

Deno.test("records: packRecords keeps order and never passes the limit", () => {
  assert.deepEqual(packRecords(["aa", "bb", "cc"], 5), ["aa\nbb", "cc"]);
  assert.deepEqual(packRecords(["é", "é"], 4), ["é", "é"], "bytes, not characters");
  assert.deepEqual(packRecords(["toolong", "x"], 3), ["toolong", "x"], "an oversized one alone");
  assert.deepEqual(packRecords([], 10), []);
});
