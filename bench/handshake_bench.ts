/**
 * `deno bench`: the server's cryptographic work for one connection, in two parts — answering a
 * ClientHello (`serverRespond`), then opening the `auth` record, verifying its proof and sealing
 * the welcome — with and without the client's ChaCha20-Poly1305 offer. The client's own work
 * is done outside the measured part.
 * @module
 */

import { ed25519Generate } from "../shared/crypto.ts";
import { ClientHandshake, serverRespond, signAuth, verifyAuth } from "../shared/handshake.ts";
import { RecordOpener, RecordSealer } from "../shared/record.ts";
import { utf8 } from "../shared/encoding.ts";

const host = ed25519Generate();
const id = ed25519Generate();
const authBytes = utf8.encode(JSON.stringify({ t: "auth", name: "alice", pad: "x".repeat(600) }));
const welcome = utf8.encode(JSON.stringify({ t: "welcome", pad: "w".repeat(600) }));

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
  }, (b) => {
    const client = start();
    const s = serverRespond(client.hello, host);
    const keys = client.finish(s.hello);
    const proof = signAuth(id.privateKey, keys.th, "alice");
    const auth = new RecordSealer(keys.send).seal(authBytes);
    b.start();
    new RecordOpener(s.keys.recv).open(auth);
    if (!verifyAuth(id.publicRaw, proof, s.keys.th, "alice")) throw new Error("proof");
    new RecordSealer(s.keys.send).seal(welcome);
    b.end();
  });
}
