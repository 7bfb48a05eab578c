/**
 * Room records end to end with real processes over loopback: a `chat server` and `chat client`
 * processes in one room, all behind a proxy that counts the room records (frames whose length has
 * bit 31 set) each connection receives. Two clients of this tree get the room's lines in room
 * records; a client run with `--no-room-records` and a client of the 7e71a31 tree (which knows
 * no room records; skipped with a message where it cannot be extracted) get none, and every
 * client still gets every line.
 */

import assert from "node:assert/strict";
import {
  type ClientProcess,
  events,
  type ServerProcess,
  startClient,
  startServer,
  until,
} from "../support/procs.ts";
import { extractOld, OLD, oldUnavailable } from "../support/old_release.ts";
import { RoomProxy } from "../support/room_proxy.ts";

const why = oldUnavailable();
if (why !== null) console.warn(`room records: without the ${OLD} client: ${why}`);

/** `c` printed the room message `text` from `from`, this many times. */
function count(c: ClientProcess, from: string, text: string): number {
  return events(c).filter((o) => o.t === "msg" && o.from === from && o.text === text).length;
}

Deno.test({
  name: "room records: real clients in one room; --no-room-records and an old client get all",
  sanitizeResources: true,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "chat-rr-" });
    const clients: ClientProcess[] = [];
    let server: ServerProcess | undefined;
    let proxy: RoomProxy | undefined;
    try {
      const oldMain = why === null ? await extractOld(root) : undefined;
      server = await startServer({ dataDir: `${root}/data` });
      proxy = RoomProxy.start(server.port);
      const people: [string, string[], string | undefined][] = [
        ["ann", [], undefined],
        ["ben", [], undefined],
        ["cat", ["--no-room-records"], undefined],
        ...(oldMain === undefined ? [] : [["dana", [], oldMain] as [string, string[], string]]),
      ];
      // One at a time, so that connection i of the proxy is person i.
      for (const [name, extra, main] of people) {
        const home = `${root}/${name}`;
        await Deno.mkdir(home, { mode: 0o700 });
        const c = startClient(
          proxy.port,
          ["--accept-new", "--json", "--no-reconnect", "--name", name, ...extra],
          home,
          main,
        );
        clients.push(c);
        await c.send(`${name} is here`);
        await until(() => count(c, name, `${name} is here`) === 1, `${name} connects`, [c], 60_000);
      }
      const before = [...proxy.roomFrames];
      for (const [i, [name]] of people.entries()) await clients[i].send(`hello from ${name}`);
      for (const [i, [name]] of people.entries()) {
        for (const [j, [from]] of people.entries()) {
          await until(
            () => count(clients[i], from, `hello from ${from}`) === 1,
            `${name} gets ${from}'s line (client ${j})`,
            clients,
            30_000,
          );
        }
      }
      const rooms = proxy.roomFrames;
      assert.equal(proxy.connections, people.length);
      assert.ok(rooms[0] > before[0], `ann got room records: ${rooms}`);
      assert.ok(rooms[1] > before[1], `ben got room records: ${rooms}`);
      assert.equal(rooms[2], 0, "--no-room-records: none");
      if (oldMain !== undefined) assert.equal(rooms[3], 0, `the ${OLD} client: none`);
      for (const [i, c] of clients.entries()) {
        assert.ok(proxy.ordinaryFrames[i] >= 2, `client ${i}: the hello and the welcome`);
        assert.ok(
          !c.lines.some((l) => /bad_record|bad_message|withheld/.test(l)),
          c.lines.join("\n"),
        );
      }
    } finally {
      for (const c of clients) await c.kill("SIGTERM");
      await proxy?.close();
      await server?.stop();
      await Deno.remove(root, { recursive: true });
    }
  },
});
