/**
 * A private conversation between a GUI user and a terminal user: its own tab, end-to-end
 * encrypted both ways, and the same safety number on both sides; Trust marks the key verified.
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

/** Records desktop notifications instead of showing them; the user grants them when asked. */
const RECORD_NOTIFICATIONS = () => {
  const rec = globalThis as unknown as Rec & { Notification: unknown };
  rec.notes = [];
  let permission = "default";
  rec.Notification = class {
    static get permission() {
      return permission;
    }
    static requestPermission() {
      permission = "granted";
      return Promise.resolve(permission);
    }
    onclick: (() => void) | null = null;
    constructor(title: string, o: { body: string }) {
      rec.notes.push([title, o.body]);
    }
  };
};

Deno.test({
  name: "gui: a private conversation with a terminal user, with matching safety numbers",
  ignore: !haveChromium(),
  async fn() {
    const server = await startServer();
    const homes = await makeHomes(2);
    const gui = await startGui(server.port, homes[0], ["--accept-new", "--name", "alice"]);
    const bob = startClient(server.port, ["--name", "bob", "--accept-new", "--json"], homes[1]);
    const browser = await launchChromium();
    try {
      const page = await openPage(browser, gui, "light", RECORD_NOTIFICATIONS);
      await page.locator("#me").getByText("alice on").waitFor();
      // Notifications are asked for with the button, not assumed.
      const notes = () => page.evaluate(() => (globalThis as unknown as Rec).notes);
      const enable = page.getByRole("button", { name: "Enable desktop notifications" });
      await bob.send("alice, before you allowed notifications");
      await seeLine(page, "before you allowed notifications");
      await enable.click();
      await enable.waitFor({ state: "hidden" });
      await until(() => events(bob).some((e) => e.t === "welcome"), "bob welcomed", [bob]);

      await page.getByRole("textbox", { name: "Private conversation with" }).fill("bob");
      await page.getByRole("button", { name: "Open", exact: true }).click();
      await page.locator("#title", { hasText: "bob" }).waitFor();
      await say(page, "only for you, bob");
      await until(
        () =>
          events(bob).some((e) =>
            e.t === "dm" && e.from === "alice" && e.text === "only for you, bob"
          ),
        "bob gets the private message",
        [bob],
      );
      await seeLine(page, "only for you, bob");
      await bob.send("/msg alice and only for you, alice");
      await seeLine(page, "and only for you, alice");
      // A mention in a room not shown notifies; the private message shown does not.
      await bob.send("alice: are you there?");
      await convButton(page, "#lobby").locator(".mark").waitFor();
      assert.deepEqual(await notes(), [["bob in #lobby", "alice: are you there?"]]);
      // Not in the room.
      await convButton(page, "#lobby").click();
      assert.equal(await page.locator("#messages .line", { hasText: "only for you" }).count(), 0);
      await convButton(page, "@bob").click();

      // Safety numbers: the page's and the terminal's /verify agree.
      await bob.send("/verify alice");
      await until(
        () => events(bob).some((e) => e.t === "local" && String(e.text).includes("safety number")),
        "bob's safety number",
        [bob],
      );
      const bobText = String(
        events(bob).find((e) => e.t === "local" && String(e.text).includes("safety number"))!.text,
      );
      const bobNumber = bobText.split("\n").slice(1, 3).join(" ").replace(/\s+/g, " ").trim();
      assert.match(bobNumber, /^(\d{5} ){11}\d{5}$/);
      const safety = page.locator("#safety");
      await page.locator("#safety", { hasText: /^\d{5}/ }).waitFor();
      assert.equal((await safety.textContent())?.replace(/\s+/g, " ").trim(), bobNumber);
      assert.match((await page.locator("#peer-status").textContent()) ?? "", /not verified/);
      // Trust: the key is pinned as verified.
      await page.getByRole("button", { name: "Trust" }).click();
      await page.locator("#peer-status", { hasText: /^verified$/ }).waitFor();
      const pins = await Deno.readTextFile(`${homes[0]}/known_users`);
      assert.match(pins, /bob .*verified/);

      // A private room: marked in the list and the header; its lines are opened by the client.
      await say(page, "/join #secret --private");
      await convButton(page, "#secret").locator(".sealed").waitFor();
      await bob.send("/join #secret");
      await bob.send("sealed hello");
      await seeLine(page, "sealed hello");
      assert.match((await page.locator("#topic").textContent()) ?? "", /^Private room/);
      assert.match(
        (await convButton(page, "#secret").getAttribute("aria-label")) ?? "",
        /private room, end-to-end encrypted/,
      );
    } finally {
      await browser.close();
      await bob.end();
      await bob.kill();
      await gui.stop();
      await server.stop();
      for (const h of homes) await Deno.remove(h, { recursive: true });
    }
  },
});
