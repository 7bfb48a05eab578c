/**
 * How a connection reads around the login (server/connection.ts): an `auth` record arrives in
 * one read or in pieces, short or longer than the read buffer of the login; after the client's
 * `bye` nothing more is read, and the connection still answers `bye` and closes.
 * @module
 */

import assert from "node:assert/strict";
import { EvilClient } from "../support/evil_client.ts";
import { startTestServer, until } from "../adversarial/helpers.ts";
import { encodeFrame } from "../../shared/frame.ts";
import { utf8 } from "../../shared/encoding.ts";

Deno.test("an auth record sent in pieces, or longer than the login's read buffer, logs in", async () => {
  const t = await startTestServer();
  const open: EvilClient[] = [];
  try {
    // In three pieces with pauses between them: the frame is assembled across reads.
    const a = await EvilClient.connect(t.port);
    open.push(a);
    await a.handshake();
    const frame = encodeFrame(a.seal(utf8.encode(JSON.stringify(a.authMessage({ name: "ann" })))));
    const cuts = [0, 3, 100, frame.length];
    for (let i = 0; i + 1 < cuts.length; i++) {
      assert.ok(await a.sendRaw(frame.subarray(cuts[i], cuts[i + 1])));
      await new Promise((r) => setTimeout(r, 30));
    }
    const { match: welcomeA } = await a.readUntil((m) => m.t === "welcome" || m.t === "error");
    assert.equal(welcomeA?.t, "welcome");
    assert.equal(welcomeA?.name, "ann");

    // 60 rooms of 32 characters: an auth of about 2.3 KB, more than one read of 2 KiB.
    const b = await EvilClient.connect(t.port);
    open.push(b);
    await b.handshake();
    const rooms = [
      "#lobby",
      ...Array.from({ length: 59 }, (_, i) => `#room${String(i).padStart(27, "0")}`),
    ];
    const plain = utf8.encode(JSON.stringify(b.authMessage({ name: "bob", rooms })));
    assert.ok(plain.length > 2048, `auth is ${plain.length} bytes`);
    await b.send(plain);
    const { match: welcomeB } = await b.readUntil((m) => m.t === "welcome" || m.t === "error");
    assert.equal(welcomeB?.t, "welcome");
    assert.equal(welcomeB?.name, "bob");
    assert.ok((welcomeB?.rooms as unknown[]).length > 0);

    // Both sessions work after the login: a line from each reaches the other.
    await b.send(EvilClient.say("from bob"));
    const { match: fromBob } = await a.readUntil((m) => m.t === "msg" && m.from === "bob");
    assert.equal(fromBob?.text, "from bob");
    await a.send(EvilClient.say("from ann"));
    const { match: fromAnn } = await b.readUntil((m) => m.t === "msg" && m.from === "ann");
    assert.equal(fromAnn?.text, "from ann");
  } finally {
    for (const c of open) await c.close();
    await t.close();
  }
});

Deno.test("after its bye a client gets bye and the close; what it sends after the bye is not read", async () => {
  const t = await startTestServer();
  const open: EvilClient[] = [];
  try {
    const observer = await EvilClient.joined(t.port, "olga");
    open.push(observer);
    // bye, then a line in the same record, then another record: neither line is delivered.
    const c = await EvilClient.joined(t.port, "quinn");
    open.push(c);
    await observer.readUntil((m) => m.t === "event" && m.kind === "join" && m.name === "quinn");
    const bye = JSON.stringify({ t: "bye", reason: "quit" });
    await c.send(`${bye}\n${JSON.stringify(EvilClient.say("after bye, same record"))}`);
    await c.send(EvilClient.say("after bye, next record"));
    const { match } = await c.readUntil((m) => m.t === "bye");
    assert.equal(match?.reason, "quit");
    assert.ok(await c.waitClosed(5000), "the server closes after its bye");
    await until(() => t.server.connections === 1, 5000, "the connection released");
    // The observer hears the leave and, before its own pong, no line from quinn.
    const seen = await observer.sync();
    const leave = seen.find((m) => m.t === "event" && m.kind === "leave" && m.name === "quinn");
    assert.ok(leave, JSON.stringify(seen));
    assert.deepEqual(seen.filter((m) => m.t === "msg"), []);
  } finally {
    for (const c of open) await c.close();
    await t.close();
  }
});
