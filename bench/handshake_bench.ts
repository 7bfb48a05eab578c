/**
 * `deno bench`: the server's cryptographic work for one connection, in two parts — answering a
 * ClientHello (`serverRespond`), then opening the `auth` record, verifying its proof as the
 * server does for a returning identity (`verifyIdentity` with the identity already in the
 * verified-identity cache) and sealing the welcome — with and without the client's
 * ChaCha20-Poly1305 offer. The client's own work is done outside the measured part.
 * @module
 */

import { ed25519Generate } from "../shared/crypto.ts";
import { ClientHandshake, serverRespond, signAuth } from "../shared/handshake.ts";
import { RecordOpener, RecordSealer } from "../shared/record.ts";
import { toBase64, utf8 } from "../shared/encoding.ts";
import type { AuthMessage } from "../shared/messages.ts";
import { VerifiedIdentities, verifyIdentity } from "../server/verified_identities.ts";

const host = ed25519Generate();
const id = ed25519Generate();
const authBytes = utf8.encode(JSON.stringify({ t: "auth", name: "alice", pad: "x".repeat(600) }));
const welcome = utf8.encode(JSON.stringify({ t: "welcome", pad: "w".repeat(600) }));
const cache = new VerifiedIdentities(16);

/** The `auth` of the benched identity for session `th`. */
function auth(th: Uint8Array): AuthMessage {
  return {
    t: "auth",
    name: "alice",
    sig_pub: toBase64(id.publicRaw),
    proof: toBase64(signAuth(id.privateKey, th, "alice")),
    client: "bench/0",
    rooms: ["#lobby"],
  };
}

for (const offer of [true, false]) {
  const cipher = offer ? "ChaCha20-Poly1305" : "AES-256-GCM (no offer)";
  const start = () => ClientHandshake.start(undefined, offer ? undefined : []);

  Deno.bench(`serverRespond, ${cipher}`, { group: `handshake ${cipher}` }, (b) => {
    const client = start();
    b.start();
    serverRespond(client.hello, host);
    b.end();
  });

  Deno.bench(`auth: open + verify proof + seal welcome, ${cipher}`, {
    group: `handshake ${cipher}`,
  }, async (b) => {
    const client = start();
    const s = serverRespond(client.hello, host);
    const keys = client.finish(s.hello);
    const a = auth(keys.th);
    await verifyIdentity(a, s.keys.th, cache); // a returning identity: in the cache
    const record = new RecordSealer(keys.send).seal(authBytes);
    b.start();
    new RecordOpener(s.keys.recv).open(record);
    if ((await verifyIdentity(a, s.keys.th, cache)) === null) throw new Error("proof");
    new RecordSealer(s.keys.send).seal(welcome);
    b.end();
  });
}
