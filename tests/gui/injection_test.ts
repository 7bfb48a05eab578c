/**
 * Hostile text from the network is shown as text: script and markup in messages, topics, refusal
 * reasons and names never become elements, and bidi overrides and zero-width characters are shown
 * visibly, as the terminal shows them.
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

const SCRIPT = "<script>window.pwned = 1</script>";
const IMG = '<img src=x onerror="window.pwned = 2">';
const BIDI = "invoice\u202Egnp.exe";
const ZW = "pay\u200Bpal";

Deno.test({
  name: "gui: injection attempts, bidi overrides and zero-width characters render as text",
  ignore: !haveChromium(),
  async fn() {
    const server = await startServer();
    const homes = await makeHomes(2);
    const gui = await startGui(server.port, homes[0], ["--accept-new"]);
    const bob = startClient(server.port, ["--name", "bob", "--accept-new", "--json"], homes[1]);
    const browser = await launchChromium();
    try {
      const page = await openPage(browser, gui);
      // A name that is markup is refused by the server; its reason is shown as text.
      const name = page.getByRole("textbox", { name: "Name" });
      await name.fill("<img/src=x/onerror=window.pwned=3>");
      await name.press("Enter");
      await page.locator("#dialog-body .error").waitFor();
      assert.equal(await page.locator("#dialog img").count(), 0);
      await name.fill("alice");
      await name.press("Enter");
      await page.locator("#me").getByText("alice on").waitFor();
      await until(() => events(bob).some((e) => e.t === "welcome"), "bob welcomed", [bob]);

      for (const t of [SCRIPT, IMG, BIDI, ZW]) await bob.send(t);
      await bob.send(`/topic #lobby <b>bold</b> ${BIDI}`);
      await seeLine(page, "pay<U+200B>pal");
      await page.locator("#topic", { hasText: "<b>bold</b>" }).waitFor();

      const lines = (await page.locator("#messages").textContent()) ?? "";
      assert.ok(lines.includes(SCRIPT), "script shown as text");
      assert.ok(lines.includes(IMG), "markup shown as text");
      assert.ok(lines.includes("invoice<U+202E>gnp.exe"), "bidi override shown visibly");
      assert.ok(!lines.includes("\u202E") && !lines.includes("\u200B"), "no raw bidi or ZWSP");
      assert.equal(
        await page.locator("#topic").textContent(),
        "<b>bold</b> invoice<U+202E>gnp.exe",
      );
      // Markup typed by the user is text too, in a conversation named with markup.
      await say(page, "<i>mine</i>");
      await seeLine(page, "<i>mine</i>");
      await page.getByRole("textbox", { name: "Private conversation with" }).fill(
        "<svg/onload=window.pwned=4>",
      );
      await page.getByRole("button", { name: "Open", exact: true }).click();
      await convButton(page, "@<svg/onload=window.pwned=4>").waitFor();

      assert.equal(await page.locator("main script, main img, main b, main i, nav svg").count(), 0);
      assert.equal(await page.evaluate(() => (globalThis as { pwned?: number }).pwned), undefined);
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
