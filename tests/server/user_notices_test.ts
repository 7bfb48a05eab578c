/**
 * Against a real server process: a user's away, back and nick change reach each reader once,
 * without a room, however many rooms the reader shares with that user; a reader who shares no
 * room hears nothing.
 */

import assert from "node:assert/strict";
import { newId } from "../../shared/messages.ts";
import { EvilClient } from "../support/evil_client.ts";
import { startServer } from "../support/procs.ts";
import { closeAll } from "../limits/helpers.ts";

type Msg = Record<string, unknown>;

async function command(c: EvilClient, name: string, args: string[]) {
  const id = newId();
  await c.send({ t: "cmd", id, name, args });
  const { match, seen } = await c.readUntil((m) => m.id === id);
  assert.equal(match?.t, "reply", JSON.stringify(match));
  return seen;
}

async function login(port: number, name: string, rooms: string[]): Promise<EvilClient> {
  const c = await EvilClient.connect(port);
  await c.handshake();
  await c.auth({ name, rooms });
  const { match } = await c.readUntil((m) => m.t === "welcome" || m.t === "error");
  assert.equal(match?.t, "welcome", JSON.stringify(match));
  return c;
}

const notices = (seen: Msg[]) =>
  seen.filter((m) => m.t === "event" && ["away", "back", "nick"].includes(m.kind as string))
    .map(({ ts: _, ...m }) => m);

Deno.test("user notices: away, back and nick reach a reader once, not once per shared room", async () => {
  const srv = await startServer();
  const open: EvilClient[] = [];
  try {
    const rooms = ["#lobby", "#dev", "#ops"];
    open.push(await login(srv.port, "bob", rooms));
    open.push(await login(srv.port, "carol", ["#elsewhere"]));
    open.push(await login(srv.port, "alice", rooms));
    const [bob, carol, alice] = open;
    await command(alice, "away", ["lunch"]);
    await command(alice, "back", []);
    await command(alice, "nick", ["alicia"]);
    // A marker after the three: everything before it has reached bob.
    const say = EvilClient.say("done");
    await alice.send(say);
    const { seen } = await bob.readUntil((m) => m.t === "msg" && m.id === say.id);
    assert.deepEqual(notices(seen), [
      { t: "event", kind: "away", name: "alice", text: "lunch" },
      { t: "event", kind: "back", name: "alice" },
      { t: "event", kind: "nick", name: "alicia", old: "alice" },
    ]);
    // The server answers in order: anything for carol would come before this reply.
    assert.deepEqual(notices(await command(carol, "rooms", [])), []);
  } finally {
    await closeAll(...open);
    await srv.stop();
  }
});
