/**
 * Scrolling back fetches older history page by page, in order; Shift+Enter writes a message of
 * several lines, Enter sends it.
 */
import assert from "node:assert/strict";
import { events, startClient, startServer, until } from "../support/procs.ts";
import {
  haveChromium,
  launchChromium,
  makeHomes,
  openPage,
  seeLine,
  startGui,
} from "../support/gui.ts";

Deno.test({
  name: "gui: older history on scrolling back; Shift+Enter for a message of several lines",
  ignore: !haveChromium(),
  async fn() {
    const server = await startServer({ args: ["--limit", "historyOnJoin=3"] });
    const homes = await makeHomes(2);
    const bob = startClient(server.port, ["--name", "bob", "--accept-new", "--json"], homes[1]);
    const browser = await launchChromium();
    let gui;
    try {
      await until(() => events(bob).some((e) => e.t === "welcome"), "bob welcomed", [bob]);
      for (let i = 1; i <= 8; i++) await bob.send(`old ${i}`);
      await until(
        () => events(bob).filter((e) => e.t === "msg" && e.from === "bob").length === 8,
        "bob's 8 messages",
        [bob],
      );
      gui = await startGui(server.port, homes[0], ["--accept-new", "--name", "alice"]);
      const page = await openPage(browser, gui);
      await seeLine(page, "old 8");
      const shown = () =>
        page.locator("#messages .line.msg").evaluateAll((ls) =>
          ls.map((l) => l.querySelector(".text")?.textContent)
        );
      assert.deepEqual(await shown(), ["old 6", "old 7", "old 8"]);
      // Scrolling up to the top of the list brings the older ones (a short window: it scrolls).
      await page.setViewportSize({ width: 900, height: 300 });
      const list = page.getByRole("list", { name: "Messages" });
      assert.ok(await list.evaluate((l) => l.scrollHeight > l.clientHeight), "the list scrolls");
      await list.hover();
      await page.mouse.wheel(0, -2000);
      await seeLine(page, "old 1");
      assert.deepEqual(await shown(), [1, 2, 3, 4, 5, 6, 7, 8].map((i) => `old ${i}`));
      // Nothing older than the room's first message: the button goes away.
      await page.mouse.wheel(0, -500);
      await page.getByRole("button", { name: "Older messages" }).waitFor({ state: "hidden" });
      await page.setViewportSize({ width: 1100, height: 640 });

      const input = page.getByRole("textbox", { name: /^Message/ });
      await input.pressSequentially("first line");
      await input.press("Shift+Enter");
      await input.pressSequentially("second line");
      assert.equal(await input.inputValue(), "first line\nsecond line");
      await input.press("Enter");
      await until(
        () =>
          events(bob).some((e) =>
            e.t === "msg" && e.from === "alice" && e.text === "first line\nsecond line"
          ),
        "bob gets both lines in one message",
        [bob],
      );
      await page.locator(".line.own", { hasText: "second line" }).waitFor();
      assert.equal(
        await page.locator(".line.own .text").last().textContent(),
        "first line\nsecond line",
      );
    } finally {
      await browser.close();
      await bob.end();
      await bob.kill();
      await gui?.stop();
      await server.stop();
      for (const h of homes) await Deno.remove(h, { recursive: true });
    }
  },
});
