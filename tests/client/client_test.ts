/**
 * The client connection against a scripted server on loopback: records that arrive together
 * with the end of the handshake are handled at once; a line too long for the server is reported
 * failed, never sent; a live copy of a message already seen is not shown twice.
 */

import assert from "node:assert/strict";
import { ChatClient } from "../../client/client.ts";
import { KnownServers } from "../../client/known_servers.ts";
import type { ClientEvent } from "../../client/view.ts";
import { concat, decodeUtf8, utf8 } from "../../shared/encoding.ts";
import { encodeFrame, FrameDecoder } from "../../shared/frame.ts";
import { serverRespond } from "../../shared/handshake.ts";
import { ed25519Generate } from "../../shared/crypto.ts";
import { RecordOpener, RecordSealer } from "../../shared/record.ts";
import { identities } from "../adversarial/helpers.ts";

const WELCOME = {
  t: "welcome",
  name: "alice",
  fingerprint: "SHA256:x",
  server: { name: "s", version: "1", motd: "" },
  limits: { textBytes: 10 },
  rooms: [{ name: "#lobby", topic: "", members: 1 }],
};
const msg = (seq: number, text: string, extra: Record<string, unknown> = {}) => ({
  t: "msg",
  room: "#lobby",
  seq,
  ts: 1,
  from: "bob",
  text,
  id: "AAAAAAAAAAAAAAAAAAAAAA==",
  ...extra,
});

/**
 * Accepts one client, completes the handshake, reads `auth`, and answers with `records` (each a
 * list of messages) in ONE write; then records what the client sends until it closes.
 */
function scriptedServer(records: unknown[][]) {
  const host = ed25519Generate();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const received: Record<string, unknown>[] = [];
  const done = (async () => {
    const conn = await listener.accept();
    const dec = new FrameDecoder({ min: 1, max: 1 << 20 });
    const buf = new Uint8Array(65536);
    const next = async () => {
      for (;;) {
        const f = dec.next();
        if (f) return f;
        const n = await conn.read(buf);
        if (n === null) return null;
        dec.push(buf.slice(0, n));
      }
    };
    try {
      const { hello, keys } = serverRespond((await next())!, host);
      await conn.write(encodeFrame(hello));
      const opener = new RecordOpener(keys.recv);
      const sealer = new RecordSealer(keys.send);
      opener.open((await next())!); // auth
      const frames = [];
      for (const r of records) {
        frames.push(
          encodeFrame(sealer.seal(utf8.encode(r.map((m) => JSON.stringify(m)).join("\n")))),
        );
      }
      await conn.write(concat(...frames));
      for (let f = await next(); f !== null; f = await next()) {
        for (const line of decodeUtf8(await opener.open(f)).split("\n")) {
          received.push(JSON.parse(line));
        }
      }
    } catch {
      // the client went away
    } finally {
      conn.close();
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    received,
    async close() {
      await done;
      listener.close();
    },
  };
}

async function client(port: number, events: ClientEvent[]) {
  const [id] = await identities();
  const dir = await Deno.makeTempDir();
  const c = new ChatClient({
    host: "127.0.0.1",
    port,
    identity: id,
    knownServers: await KnownServers.load(`${dir}/known_servers`),
    trustNewServer: () => Promise.resolve(true),
    chooseName: () => Promise.resolve("alice"),
    onEvent: (ev) => events.push(ev),
    reconnect: false,
  });
  return { c, dir };
}

async function until(pred: () => boolean, ms: number, what: string) {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

Deno.test("client: records that arrive with the welcome are handled without waiting", async () => {
  const srv = await scriptedServer([[WELCOME], [msg(1, "right away")]]);
  const events: ClientEvent[] = [];
  const { c, dir } = await client(srv.port, events);
  try {
    await c.start();
    // the scripted server stays silent: the message is already in the client's buffer
    await until(
      () => events.some((e) => e.t === "server" && e.msg.t === "msg"),
      1000,
      "the buffered message",
    );
  } finally {
    await c.close();
    await srv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("client: a line over the server's text limit fails and is never sent", async () => {
  const srv = await scriptedServer([[WELCOME]]);
  const events: ClientEvent[] = [];
  const { c, dir } = await client(srv.port, events);
  try {
    await c.start();
    const id = c.say("#lobby", "x".repeat(11)); // welcome said textBytes 10
    const failed = events.find((e) => e.t === "failed" && e.id === id);
    assert.ok(failed && failed.t === "failed" && /too long/.test(failed.reason));
    assert.equal(c.pendingCount(), 0);
    const ok = c.say("#lobby", "é".repeat(5)); // 10 bytes exactly
    await until(() => srv.received.some((m) => m.t === "say"), 2000, "the say");
    assert.deepEqual(srv.received.filter((m) => m.t === "say").map((m) => m.id), [ok]);
  } finally {
    await c.close();
    await srv.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("client: a live copy of a message already seen is not shown again", async () => {
  const srv = await scriptedServer([
    [WELCOME],
    [msg(5, "once", { replay: true })],
    [msg(5, "once")],
    [
      msg(6, "new"),
    ],
  ]);
  const events: ClientEvent[] = [];
  const { c, dir } = await client(srv.port, events);
  try {
    await c.start();
    await until(
      () => events.some((e) => e.t === "server" && e.msg.t === "msg" && e.msg.text === "new"),
      2000,
      "message 6",
    );
    const shown = events.flatMap((e) => e.t === "server" && e.msg.t === "msg" ? [e.msg.text] : []);
    assert.deepEqual(shown, ["once", "new"]);
  } finally {
    await c.close();
    await srv.close();
    await Deno.remove(dir, { recursive: true });
  }
});
