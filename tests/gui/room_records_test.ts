/**
 * `chat gui --no-room-records` offers no room records, as `chat client --no-room-records` does:
 * two GUI processes in one room behind a proxy that counts the room records (frames whose length
 * has bit 31 set) each connection receives. The one started with the flag gets none, the other
 * gets the room's lines in room records, and both pages show every line.
 */
import assert from "node:assert/strict";
import { events, startClient, startServer, until } from "../support/procs.ts";
import { RoomProxy } from "../support/room_proxy.ts";
import {
  type GuiProcess,
  haveChromium,
  launchChromium,
  makeHomes,
  openPage,
  seeLine,
  startGui,
} from "../support/gui.ts";

Deno.test({
  name: "gui: --no-room-records gets every line in ordinary records; without it, room records",
  ignore: !haveChromium(),
  async fn() {
    const server = await startServer();
    const proxy = RoomProxy.start(server.port);
    const homes = await makeHomes(3);
    const bob = startClient(server.port, ["--name", "bob", "--accept-new", "--json"], homes[2]);
    const guis: GuiProcess[] = [];
    const browser = await launchChromium();
    try {
      await until(() => events(bob).some((e) => e.t === "welcome"), "bob welcomed", [bob], 60_000);
      const joined = (name: string) =>
        events(bob).some((e) => e.t === "event" && e.kind === "join" && e.name === name);
      // One at a time, so that connection i of the proxy is GUI i.
      for (const [name, extra] of [["plain", ["--no-room-records"]], ["sealed", []]] as const) {
        guis.push(
          await startGui(proxy.port, homes[guis.length], [
            "--accept-new",
            "--name",
            name,
            ...extra,
          ]),
        );
        await until(() => joined(name), `${name} joins`, [bob], 60_000);
      }
      assert.equal(proxy.connections, 2);
      const pages = [];
      for (const [i, name] of ["plain", "sealed"].entries()) {
        const page = await openPage(browser, guis[i]);
        await page.locator("#me").getByText(`${name} on`).waitFor({ timeout: 30_000 });
        pages.push(page);
      }
      for (const text of ["first line for both", "second line for both"]) {
        await bob.send(text);
        for (const page of pages) await seeLine(page, text);
      }
      assert.equal(proxy.roomFrames[0], 0, `--no-room-records: none (${proxy.roomFrames})`);
      assert.ok(proxy.roomFrames[1] >= 2, `without the flag: room records (${proxy.roomFrames})`);
      assert.ok(proxy.ordinaryFrames[0] > proxy.ordinaryFrames[1], `${proxy.ordinaryFrames}`);
    } finally {
      await browser.close();
      await bob.end();
      await bob.kill();
      await Promise.all(guis.map((g) => g.stop()));
      await proxy.close();
      await server.stop();
      for (const h of homes) await Deno.remove(h, { recursive: true });
    }
  },
});
