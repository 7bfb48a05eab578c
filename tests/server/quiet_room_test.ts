/**
 * Big rooms against a real server process started with a small `--limit quietRoomMembers`:
 * up to the threshold joins, leaves, away and back reach every member; above it they reach
 * only the user they are about; member lists in answers are cut to fit one record.
 */

import assert from "node:assert/strict";
import { newId } from "../../shared/messages.ts";
import { EvilClient } from "../support/evil_client.ts";
import { startServer } from "../support/procs.ts";

const QUIET = 3;
const LIMITS = [
  "--limit",
  `quietRoomMembers=${QUIET}`,
  "--limit",
  "rateBurst=1000",
  "--limit",
  "ratePerSecond=1000",
];

type Msg = Record<string, unknown>;

/** Presence events of `seen` as `kind name` strings. */
function presence(seen: Msg[]): string[] {
  return seen.filter((m) =>
    m.t === "event" && ["join", "leave", "away", "back"].includes(m.kind as string)
  )
    .map((m) => `${m.kind} ${m.name}`);
}

/** Sends a command and returns its answer (reply or error) and everything read before it. */
async function command(c: EvilClient, name: string, args: string[]) {
  const id = newId();
  await c.send({ t: "cmd", id, name, args });
  const { match, seen } = await c.readUntil((m) => m.id === id);
  return { answer: match!, seen };
}

Deno.test("quiet rooms: presence reaches everyone up to the threshold, only its user above it", async () => {
  const server = await startServer({ args: LIMITS });
  const open: EvilClient[] = [];
  const join = async (name: string) => {
    const c = await EvilClient.joined(server.port, name);
    open.push(c);
    return c;
  };
  try {
    const a = await join("alice");
    const welcome = await (async () => {
      const c = await EvilClient.connect(server.port);
      open.push(c);
      await c.handshake();
      return await c.login("bob");
    })();
    const b = open[1];
    assert.equal((welcome.limits as Record<string, number>).quietRoomMembers, QUIET);
    assert.deepEqual(welcome.rooms, [{ name: "#lobby", topic: "", members: 2 }]);
    const c = await join("carol");
    // Up to the threshold (3 members): every member hears every join.
    assert.deepEqual(presence(await a.sync()), ["join alice", "join bob", "join carol"]);
    assert.deepEqual(presence(await b.sync()), ["join bob", "join carol"]);
    assert.deepEqual(presence(await c.sync()), ["join carol"]);

    // Above it: dave's join reaches dave only; away and back too.
    const d = await join("dave");
    assert.deepEqual(presence(await d.sync()), ["join dave"]);
    const away = await command(d, "away", ["lunch"]);
    const back = await command(d, "back", []);
    assert.deepEqual([away.answer.t, back.answer.t], ["reply", "reply"]);
    assert.deepEqual(presence([...away.seen, ...back.seen]), ["away dave", "back dave"]);
    for (const x of [a, b, c]) assert.deepEqual(presence(await x.sync()), []);

    // The member count and the member list still tell the truth.
    const who = await command(a, "who", ["#lobby"]);
    assert.equal(who.answer.t, "reply");
    assert.match(who.answer.text as string, /^4 users in #lobby: /);
    assert.equal((who.answer.data as unknown[]).length, 4);

    // Leaving a quiet room: /leave answers the leaver, nobody else hears it.
    const left = await command(d, "leave", ["#lobby"]);
    assert.equal(left.answer.t, "reply");
    assert.deepEqual(presence(left.seen), ["leave dave"]);
    for (const x of [a, b, c]) assert.deepEqual(presence(await x.sync()), []);

    // Four members again (erin) and a quit: counted with erin the room is quiet, so silent.
    const e = await join("erin");
    await e.send({ t: "bye", reason: "quit" });
    assert.equal(await e.waitClosed(5000), true);
    for (const x of [a, b, c]) assert.deepEqual(presence(await x.sync()), []);

    // Back at the threshold: carol's quit is announced again.
    await c.send({ t: "bye", reason: "quit" });
    assert.equal(await c.waitClosed(5000), true);
    const { match } = await a.readUntil((m) => m.t === "event" && m.kind === "leave");
    assert.deepEqual([match?.name, match?.reason], ["carol", "quit"]);
    assert.deepEqual(presence(await b.sync()), ["leave carol"]);
  } finally {
    await Promise.all(open.map((c) => c.close()));
    await server.stop();
  }
});

Deno.test("quiet rooms: member lists in answers are cut to fit one record", async () => {
  const server = await startServer({ args: LIMITS });
  const open: EvilClient[] = [];
  try {
    for (let i = 0; i < 8; i++) {
      const c = await EvilClient.joined(server.port, `member${i}`);
      open.push(c);
      // ~1 KB of away text per member: about five fit in one answer's list budget.
      assert.equal((await command(c, "away", ["x".repeat(1000)])).answer.t, "reply");
    }
    const who = await command(open[0], "who", ["#lobby"]);
    assert.equal(who.answer.t, "reply");
    const shown = (who.answer.data as unknown[]).length;
    assert.ok(shown >= 1 && shown < 8, `shown ${shown}`);
    assert.match(
      who.answer.text as string,
      new RegExp(`^8 users in #lobby: .* and ${8 - shown} more$`),
    );
  } finally {
    await Promise.all(open.map((c) => c.close()));
    await server.stop();
  }
});
