/**
 * `chat gui` reads and writes the terminal client's settings file: the name and rooms saved for
 * the server (no name dialog, the saved rooms rejoined), timestamps, colours and the bell (as
 * desktop notifications); `/set` (timestamps, bell, colours: at once) and `/join` in the page
 * are saved there.
 */
import assert from "node:assert/strict";
import { events, startClient, startServer, until } from "../support/procs.ts";
import {
  convButton,
  haveChromium,
  launchChromium,
  makeHomes,
  openPage,
  say,
  seeLine,
  startGui,
} from "../support/gui.ts";

interface Rec {
  notes: [string, string][];
}

/** Records desktop notifications instead of showing them; they are allowed already. */
const RECORD_NOTIFICATIONS = () => {
  const rec = globalThis as unknown as Rec & { Notification: unknown };
  rec.notes = [];
  rec.Notification = class {
    static get permission() {
      return "granted";
    }
    static requestPermission() {
      return Promise.resolve("granted");
    }
    onclick: (() => void) | null = null;
    constructor(title: string, o: { body: string }) {
      rec.notes.push([title, o.body]);
    }
  };
};

/** Polls `pred` every 100 ms until it holds, failing after `ms`. */
async function eventually(pred: () => Promise<boolean>, what: string, ms = 15_000) {
  const end = Date.now() + ms;
  while (!await pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

Deno.test({
  name: "gui: the settings file gives the name, rooms, timestamps, colours and bell; changes saved",
  ignore: !haveChromium(),
  async fn() {
    const server = await startServer();
    const [carolHome, bobHome] = await makeHomes(2);
    const hp = `127.0.0.1:${server.port}`;
    const config = `${carolHome}/config.json`;
    await Deno.writeTextFile(
      config,
      JSON.stringify({
        bell: "off",
        timestamps: false,
        colors: false,
        servers: { [hp]: { name: "carol", rooms: ["#dev", "#ops"] } },
      }),
      { mode: 0o600 },
    );
    const saved = async () => JSON.parse(await Deno.readTextFile(config));
    const bob = startClient(server.port, ["--name", "bob", "--accept-new", "--json"], bobHome);
    const browser = await launchChromium();
    let gui;
    try {
      await until(() => events(bob).some((e) => e.t === "welcome"), "bob welcomed", [bob], 60_000);
      await bob.send("/join #ops");
      await bob.send("/join #dev");
      // No --name: the saved one, without a dialog; the saved rooms, the first one shown.
      gui = await startGui(server.port, carolHome, ["--accept-new"]);
      const page = await openPage(browser, gui, "light", RECORD_NOTIFICATIONS);
      await page.locator("#me").getByText("carol on").waitFor({ timeout: 30_000 });
      await until(
        () =>
          ["#dev", "#ops"].every((r) =>
            events(bob).some((e) =>
              e.t === "event" && e.kind === "join" && e.name === "carol" && e.room === r
            )
          ),
        "carol rejoins #dev and #ops",
        [bob],
        30_000,
      );
      await convButton(page, "#ops").waitFor();
      assert.equal(await convButton(page, "#lobby").count(), 0, "only the saved rooms");
      assert.equal(await page.locator("#dialog[open]").count(), 0, "no name was asked for");
      assert.equal(await convButton(page, "#dev").getAttribute("aria-current"), "page");

      await bob.send("/join #dev");
      await bob.send("plain line in dev");
      await seeLine(page, "plain line in dev");
      const line = page.locator("#messages .line.msg", { hasText: "plain line in dev" });
      assert.equal(await line.locator("time").count(), 0, "timestamps off: no times");
      assert.equal(await line.locator(".nick").getAttribute("class"), "nick", "colours off");

      // bell off: a mention in a room not shown is marked, but no notification.
      await bob.send("/join #ops");
      await bob.send("carol: quiet please");
      await convButton(page, "#ops").locator(".mark").waitFor();
      const notes = () => page.evaluate(() => (globalThis as unknown as Rec).notes);
      assert.deepEqual(await notes(), []);

      // Changed in the page: in effect at once and saved in the file.
      await say(page, "/set timestamps on");
      await say(page, "/set bell all");
      await page.locator("#messages .line", { hasText: "bell set to all" }).waitFor();
      await line.locator("time").waitFor();
      const after = await saved();
      assert.equal(after.timestamps, true);
      assert.equal(after.bell, "all");
      assert.equal(after.colors, false);
      // Colours too, and the answer says so (no "from the next start": the page redraws).
      await say(page, "/set colors on");
      const reply = page.locator("#messages .line", { hasText: "colors set to on" });
      await reply.waitFor();
      assert.doesNotMatch((await reply.textContent()) ?? "", /next start/);
      await eventually(
        async () => (await line.locator(".nick").getAttribute("class")) !== "nick",
        "nick colours at once",
      );
      assert.equal((await saved()).colors, true);
      await bob.send("just talking");
      await eventually(async () => (await notes()).length > 0, "bell all: a notification");
      assert.deepEqual(await notes(), [["bob in #ops", "just talking"]]);

      // Rooms joined in the page are saved for the next start.
      await say(page, "/join #new");
      await convButton(page, "#new").waitFor();
      await eventually(
        async () => (await saved()).servers[hp].rooms.includes("#new"),
        "#new saved",
      );
      assert.equal((await saved()).servers[hp].name, "carol");
    } finally {
      await browser.close();
      await bob.end();
      await bob.kill();
      await gui?.stop();
      await server.stop();
      for (const h of [carolHome, bobHome]) await Deno.remove(h, { recursive: true });
    }
  },
});
