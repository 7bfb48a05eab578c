import assert from "node:assert/strict";
import {
  CHOICE_ROOM_RECORDS,
  ClientHandshake,
  encodeRefusal,
  OFFER_ROOM_RECORDS,
  parseClientHello,
  parseRefusal,
  RECORD_CIPHERS,
  serverRespond,
  type SessionKeys,
  signAuth,
  verifyAuth,
} from "../../shared/handshake.ts";
import { packRecords, RecordOpener, RecordSealer } from "../../shared/record.ts";
import {
  ed25519Generate,
  ed25519Sign,
  fingerprint,
  randomBytes,
  sha256,
  x25519Generate,
} from "../../shared/crypto.ts";
import { ProtocolError } from "../../shared/errors.ts";
import { concat, utf8 } from "../../shared/encoding.ts";

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

// ---------------------------------------------------------------------------------------------
// Record cipher offer and choice (PROTOCOL.md §2)

/** Seals one record each way with the two sides' keys and checks both open. */
function assertKeysWork(a: SessionKeys, b: SessionKeys): void {
  const up = new RecordSealer(a.send).seal(utf8.encode("up"));
  assert.equal(new TextDecoder().decode(new RecordOpener(b.recv).open(up)), "up");
  const down = new RecordSealer(b.send).seal(utf8.encode("down"));
  assert.equal(new TextDecoder().decode(new RecordOpener(a.recv).open(down)), "down");
}

const OFFER = utf8.encode("chat/1 offer\0\0\0");
const CHOICE = utf8.encode("chat/1 choice\0\0");

Deno.test("cipher: a client that offers ChaCha20-Poly1305 gets it; both sides agree", () => {
  const { client, server, keys } = pairUp();
  assert.deepEqual(client.hello.subarray(5 + 16, 5 + 31), OFFER);
  assert.equal(client.hello[5 + 31], 0x01);
  assert.deepEqual(parseClientHello(client.hello).ciphers, RECORD_CIPHERS);
  assert.deepEqual(server.hello.subarray(1 + 16, 1 + 31), CHOICE);
  assert.equal(server.hello[1 + 31], 1);
  assert.equal(keys.cipher, "chacha20-poly1305");
  assert.equal(server.keys.cipher, "chacha20-poly1305");
  assert.equal(keys.send.cipher, "chacha20-poly1305");
  assertKeysWork(keys, server.keys);
});

Deno.test("cipher: a hello without an offer (any older client) gets AES-256-GCM and no choice mark", () => {
  const host = ed25519Generate();
  const fixed = (n: number) => new Uint8Array(n).fill(0x5a);
  const client = ClientHandshake.start(fixed, []);
  assert.deepEqual(client.hello.subarray(5, 37), fixed(32), "client_random untouched");
  assert.deepEqual(parseClientHello(client.hello), {
    ephemeral: client.hello.subarray(37, 69),
    offers: false,
    ciphers: ["aes-256-gcm"],
    roomRecords: false,
  });
  const server = serverRespond(client.hello, host, fixed);
  assert.deepEqual(server.hello.subarray(1, 33), fixed(32), "server_random untouched");
  const keys = client.finish(server.hello);
  assert.equal(keys.cipher, "aes-256-gcm");
  assert.equal(server.keys.cipher, "aes-256-gcm");
  assertKeysWork(keys, server.keys);
});

Deno.test("cipher: a server that prefers AES-256-GCM says so with choice 0", () => {
  const host = ed25519Generate();
  const client = ClientHandshake.start();
  const server = serverRespond(client.hello, host, undefined, ["aes-256-gcm"]);
  assert.deepEqual(server.hello.subarray(1 + 16, 1 + 31), CHOICE);
  assert.equal(server.hello[1 + 31], 0);
  const keys = client.finish(server.hello);
  assert.equal(keys.cipher, "aes-256-gcm");
  assertKeysWork(keys, server.keys);
});

Deno.test("cipher: unknown offer bits are ignored; the server still picks a cipher it knows", () => {
  const host = ed25519Generate();
  const hello = ClientHandshake.start().hello;
  hello[5 + 31] = 0xff;
  assert.deepEqual(parseClientHello(hello).ciphers, RECORD_CIPHERS);
  assert.equal(serverRespond(hello, host).keys.cipher, "chacha20-poly1305");
  hello[5 + 31] = 0xfe; // bit 0 clear: ChaCha20-Poly1305 not offered
  assert.deepEqual(parseClientHello(hello).ciphers, ["aes-256-gcm"]);
  assert.equal(serverRespond(hello, host).keys.cipher, "aes-256-gcm");
});

Deno.test("cipher downgrade: an offer stripped or altered on the way fails the signature check", () => {
  const host = ed25519Generate();
  const bad = (e: unknown) => e instanceof ProtocolError && e.code === "bad_signature";
  // 1. The offer removed from client_random: the server answers with AES-256-GCM.
  const c1 = ClientHandshake.start();
  const stripped = new Uint8Array(c1.hello);
  stripped.set(randomBytes(16), 5 + 16);
  const s1 = serverRespond(stripped, host);
  assert.equal(s1.keys.cipher, "aes-256-gcm");
  assert.throws(() => c1.finish(s1.hello), bad);
  // 2. Only the mask bit cleared.
  const c2 = ClientHandshake.start();
  const cleared = new Uint8Array(c2.hello);
  cleared[5 + 31] = 0;
  const s2 = serverRespond(cleared, host);
  assert.equal(s2.keys.cipher, "aes-256-gcm");
  assert.throws(() => c2.finish(s2.hello), bad);
  // 3. The server's choice changed from ChaCha20-Poly1305 to AES-256-GCM, or the mark removed.
  for (const change of [(h: Uint8Array) => h[1 + 31] = 0, (h: Uint8Array) => h[1 + 20] ^= 1]) {
    const c3 = ClientHandshake.start();
    const s3 = serverRespond(c3.hello, host);
    const altered = new Uint8Array(s3.hello);
    change(altered);
    assert.throws(() => c3.finish(altered), bad);
  }
});

Deno.test("cipher: a validly signed choice of a cipher not offered is refused (bad_hello)", () => {
  const host = ed25519Generate();
  const bad = (e: unknown) => e instanceof ProtocolError && e.code === "bad_hello";
  for (const [offer, id] of [[["chacha20-poly1305"], 2], [["chacha20-poly1305"], 255]] as const) {
    const client = ClientHandshake.start(undefined, offer);
    const eph = x25519Generate();
    const head = concat(
      Uint8Array.of(1),
      randomBytes(16),
      CHOICE,
      Uint8Array.of(id),
      eph.publicKey,
      host.publicRaw,
    );
    const digest = sha256(concat(client.hello, head));
    const sig = ed25519Sign(host.privateKey, concat(utf8.encode("chat/1 server hello\0"), digest));
    assert.throws(() => client.finish(concat(head, sig)), bad, `choice ${id}`);
  }
});

// ---------------------------------------------------------------------------------------------
// Room records: offer bit 1, choice bit 7 (docs/protocol.md §3 "Room records")

/** A ServerHello signed by `host` for `client` whose choice byte is `choice`. */
function signedChoice(
  client: ClientHandshake,
  host: ReturnType<typeof ed25519Generate>,
  choice: number,
): Uint8Array {
  const eph = x25519Generate();
  const head = concat(
    Uint8Array.of(1),
    randomBytes(16),
    CHOICE,
    Uint8Array.of(choice),
    eph.publicKey,
    host.publicRaw,
  );
  const digest = sha256(concat(client.hello, head));
  const sig = ed25519Sign(host.privateKey, concat(utf8.encode("chat/1 server hello\0"), digest));
  return concat(head, sig);
}

Deno.test("room records: offered with ChaCha20-Poly1305, chosen as 0x81; both sides know", () => {
  const host = ed25519Generate();
  const client = ClientHandshake.start(undefined, RECORD_CIPHERS, true);
  assert.equal(client.hello[5 + 31], 0x01 | OFFER_ROOM_RECORDS);
  assert.equal(parseClientHello(client.hello).roomRecords, true);
  const server = serverRespond(client.hello, host);
  assert.equal(server.hello[1 + 31], 0x81);
  assert.equal(server.keys.roomRecords, true);
  const keys = client.finish(server.hello);
  assert.equal(keys.roomRecords, true);
  assert.equal(keys.cipher, "chacha20-poly1305");
  assertKeysWork(keys, server.keys);
});

Deno.test("room records: not chosen when not offered, turned off, or without ChaCha20-Poly1305", () => {
  const host = ed25519Generate();
  const cases: [string, boolean, Parameters<typeof serverRespond>[3], boolean, number][] = [
    ["not offered", false, undefined, true, 0x01],
    ["turned off (roomRecords=0)", true, undefined, false, 0x01],
    ["server prefers AES-256-GCM", true, ["aes-256-gcm"], true, 0x00],
  ];
  for (const [what, offer, prefer, enabled, choice] of cases) {
    const client = ClientHandshake.start(undefined, RECORD_CIPHERS, offer);
    const server = serverRespond(client.hello, host, undefined, prefer, enabled);
    assert.equal(server.hello[1 + 31], choice, what);
    assert.equal(server.keys.roomRecords, false, what);
    const keys = client.finish(server.hello);
    assert.equal(keys.roomRecords, false, what);
    assertKeysWork(keys, server.keys);
  }
  // An offer of room records without ChaCha20-Poly1305 is refused when the hello is made, and a
  // hello that carries the bit alone (no cipher bit) gets AES-256-GCM and no room records.
  assert.throws(() => ClientHandshake.start(undefined, [], true), RangeError);
  const hello = ClientHandshake.start().hello;
  hello[5 + 31] = OFFER_ROOM_RECORDS;
  const s = serverRespond(hello, host);
  assert.equal(s.keys.cipher, "aes-256-gcm");
  assert.equal(s.keys.roomRecords, false);
  assert.equal(s.hello[1 + 31], 0);
  // An older server (no mark at all) never sets bit 7.
  const c = ClientHandshake.start(undefined, RECORD_CIPHERS, true);
  const older = serverRespond(
    concat(c.hello.subarray(0, 21), randomBytes(16), c.hello.subarray(37)),
    host,
  );
  assert.equal(older.keys.roomRecords, false);
});

Deno.test("room records: a signed choice with bit 7 the client did not offer is bad_hello", () => {
  const host = ed25519Generate();
  const bad = (e: unknown) => e instanceof ProtocolError && e.code === "bad_hello";
  // Offered ChaCha20-Poly1305 only: 0x81 is refused; offered room records: 0x80 (room records
  // with AES-256-GCM) is refused too; 0x81 is accepted.
  const plain = ClientHandshake.start(undefined, RECORD_CIPHERS, false);
  assert.throws(() => plain.finish(signedChoice(plain, host, 0x81)), bad);
  const offering = ClientHandshake.start(undefined, RECORD_CIPHERS, true);
  assert.throws(() => offering.finish(signedChoice(offering, host, CHOICE_ROOM_RECORDS)), bad);
  assert.throws(() => offering.finish(signedChoice(offering, host, 0x82)), bad);
  const ok = ClientHandshake.start(undefined, RECORD_CIPHERS, true);
  assert.equal(ok.finish(signedChoice(ok, host, 0x81)).roomRecords, true);
  // A client that offered nothing ignores server_random, bit 7 included.
  const none = ClientHandshake.start(undefined, []);
  assert.equal(none.finish(signedChoice(none, host, 0x81)).roomRecords, false);
});
