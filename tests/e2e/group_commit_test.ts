/**
 * Group commit with a real server process: every message acknowledged to its sender is in the
 * database, even when the server is killed with SIGKILL right after the acknowledgement.
 */

import assert from "node:assert/strict";
import { EvilClient } from "../support/evil_client.ts";
import { startServer } from "../support/procs.ts";
import { utf8 } from "../../shared/encoding.ts";
import { newId } from "../../shared/messages.ts";

Deno.test("e2e: messages acknowledged in one burst survive kill -9 and come back in order", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "chat-e2e-commit-" });
  let server = await startServer({ dataDir });
  const open: EvilClient[] = [];
  try {
    const a = await EvilClient.joined(server.port, "alice");
    open.push(a);
    // 30 says in one record: one batch on the server; each acknowledged by its own copy.
    const ids = Array.from({ length: 30 }, () => newId());
    const lines = ids.map((id, i) =>
      JSON.stringify({ t: "say", id, room: "#lobby", text: `m${i}` })
    );
    await a.send(utf8.encode(lines.join("\n")));
    const acked = new Map<string, number>();
    while (acked.size < ids.length) {
      const { match } = await a.readUntil((m) => m.t === "msg" || m.t === "error", 10_000);
      assert.equal(match?.t, "msg", JSON.stringify(match));
      acked.set(match!.id as string, match!.seq as number);
    }
    assert.deepEqual(ids.map((id) => acked.get(id)), ids.map((_, i) => i + 1), "seq in order");
    await server.stop("SIGKILL");
    await a.close();
    open.length = 0;

    server = await startServer({ dataDir });
    const b = await EvilClient.joined(server.port, "bob");
    open.push(b);
    const cmd = { t: "cmd", id: newId(), name: "history", args: ["#lobby", "30"] };
    await b.send(cmd);
    const seen = (await b.readUntil((m) => m.t === "reply" && m.id === cmd.id, 10_000)).seen;
    const replayed = seen.filter((m) => m.t === "msg" && m.room === "#lobby");
    const texts = [...new Map(replayed.map((m) => [m.seq, m.text])).entries()]
      .sort((x, y) => (x[0] as number) - (y[0] as number)).map((e) => e[1]);
    assert.deepEqual(texts, ids.map((_, i) => `m${i}`));
    // A resend of an acknowledged id after the restart is answered with the original.
    const a2 = await EvilClient.connect(server.port);
    open.push(a2);
    a2.key = a.key; // the same identity
    await a2.handshake();
    await a2.login("alice");
    await a2.send({ t: "say", id: ids[4], room: "#lobby", text: "m4 again" });
    const { match } = await a2.readUntil((m) => m.t === "msg" && m.id === ids[4], 10_000);
    assert.deepEqual([match?.seq, match?.text], [5, "m4"]);
  } finally {
    await Promise.all(open.map((c) => c.close()));
    await server.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("e2e: a burst read in one turn reaches every member in one record, in order", async () => {
  const server = await startServer();
  const open: EvilClient[] = [];
  try {
    const watcher = await EvilClient.joined(server.port, "watcher");
    open.push(watcher);
    const sender = await EvilClient.joined(server.port, "sender");
    open.push(sender);
    await watcher.readUntil((m) => m.t === "event" && m.kind === "join" && m.name === "sender");
    const texts = Array.from({ length: 40 }, (_, i) => `burst ${i} ` + "x".repeat(100));
    const lines = texts.map((text) =>
      JSON.stringify({ t: "say", id: newId(), room: "#lobby", text })
    );
    await sender.send(utf8.encode(lines.join("\n")));
    const record = await watcher.readMessages(10_000);
    assert.deepEqual(record?.map((m) => m.text), texts, "all 40 in the first record");
    assert.deepEqual(record?.map((m) => m.seq), texts.map((_, i) => i + 1));
  } finally {
    await Promise.all(open.map((c) => c.close()));
    await server.stop();
    await Deno.remove(server.dataDir, { recursive: true });
  }
});
