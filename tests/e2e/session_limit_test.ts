/**
 * End to end, a real server: the ninth session of an identity is refused with
 * `too_many_sessions` before its name is looked at, and leaves no trace: the name it asked for
 * stays free for another identity, and it used none of the identity's name quota.
 */

import assert from "node:assert/strict";
import { EvilClient, newSigningKey } from "../support/evil_client.ts";
import { startServer } from "../support/procs.ts";
import { closeAll } from "../limits/helpers.ts";

async function attempt(port: number, name: string, key = newSigningKey()) {
  const c = await EvilClient.connect(port);
  await c.handshake();
  await c.auth({ name, key });
  const { match } = await c.readUntil((m) => m.t === "welcome" || m.t === "error", 5000);
  return { c, answer: match };
}

Deno.test("sessions: a refused ninth session claims no name and uses no quota", async () => {
  const srv = await startServer({ args: ["--limit", "namesPerIdentity=2"] });
  const open: EvilClient[] = [];
  try {
    const key = newSigningKey();
    for (let i = 0; i < 8; i++) {
      const { c, answer } = await attempt(srv.port, "alice", key);
      open.push(c);
      assert.equal(answer?.t, "welcome", JSON.stringify(answer));
    }
    const ninth = await attempt(srv.port, "ninth", key);
    open.push(ninth.c);
    assert.deepEqual(
      [ninth.answer?.t, ninth.answer?.code, ninth.answer?.retry],
      ["error", "too_many_sessions", false],
    );
    // Another identity may take the name the refused session asked for.
    const other = await attempt(srv.port, "ninth");
    open.push(other.c);
    assert.equal(other.answer?.t, "welcome", JSON.stringify(other.answer));
    // The refused login used none of alice's two names: with a session free, a second one works.
    await open[0].close();
    const end = Date.now() + 10_000;
    for (;;) {
      const second = await attempt(srv.port, "second", key);
      open.push(second.c);
      if (second.answer?.code === "too_many_sessions" && Date.now() < end) continue; // not gone yet
      assert.equal(second.answer?.t, "welcome", JSON.stringify(second.answer));
      break;
    }
  } finally {
    await closeAll(...open);
    await srv.stop();
  }
});
