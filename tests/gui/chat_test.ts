/**
 * `chat gui` in a real Chromium against a real server, with terminal (pipe mode) users beside it.
 */
import assert from "node:assert/strict";
import { events, startClient, startServer, until } from "../support/procs.ts";
import { haveChromium, launchChromium, makeHomes, openPage, startGui } from "../support/gui.ts";

const ignore = !haveChromium();

Deno.test({
  name: "gui: first run asks in dialogs; a GUI user and a terminal user talk in #lobby",
  ignore,
  async fn() {
    const server = await startServer();
    const homes = await makeHomes(2);
    const gui = await startGui(server.port, homes[0], []);
    const bob = startClient(server.port, ["--name", "bob", "--accept-new", "--json"], homes[1]);
    const browser = await launchChromium();
    try {
      const page = await openPage(browser, gui);
      // The token is gone from the address bar.
      assert.equal(new URL(page.url()).search, "");
      // Trust dialog: the server's fingerprint, as the server printed it.
      await page.getByRole("dialog").getByText(server.fingerprint).waitFor();
      await page.getByRole("button", { name: "Trust and connect" }).click();
      // Name dialog.
      await page.getByRole("textbox", { name: "Name" }).fill("alice");
      await page.getByRole("button", { name: "Connect" }).click();
      await page.locator("#me").getByText("alice on").waitFor();
      await until(() => events(bob).some((e) => e.t === "welcome"), "bob welcomed", [bob]);

      await page.getByRole("textbox", { name: /^Message/ }).fill("hello bob");
      await page.keyboard.press("Enter");
      await until(
        () =>
          events(bob).some((e) => e.t === "msg" && e.from === "alice" && e.text === "hello bob"),
        "bob sees alice",
        [bob],
      );
      await bob.send("hi alice, welcome");
      await page.locator("#messages .line.msg.mention", { hasText: "hi alice, welcome" }).waitFor();
      // The mention is highlighted; the user's own line is not.
      assert.equal(await page.locator("#messages mark").first().textContent(), "alice");
      assert.equal(await page.locator(".line.own", { hasText: "hello bob" }).count(), 1);
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
