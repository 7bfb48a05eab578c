/// <reference lib="dom" />
/**
 * Two GUI users and one terminal user in two rooms: messages reach the right conversation, unread
 * counts and mention marks appear on the others, names and commands complete with Tab.
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

Deno.test({
  name: "gui: two GUI users and a terminal user chat in #lobby and #dev",
  ignore: !haveChromium(),
  async fn() {
    const server = await startServer();
    const homes = await makeHomes(3);
    const guis = await Promise.all([
      startGui(server.port, homes[0], ["--accept-new", "--name", "alice"]),
      startGui(server.port, homes[1], ["--accept-new", "--name", "carol"]),
    ]);
    const bob = startClient(server.port, ["--name", "bob", "--accept-new", "--json"], homes[2]);
    const browser = await launchChromium();
    const shots = await Deno.makeTempDir();
    try {
      const [alice, carol] = await Promise.all(guis.map((g) => openPage(browser, g)));
      await alice.locator("#me").getByText("alice on").waitFor();
      await carol.locator("#me").getByText("carol on").waitFor();
      await until(() => events(bob).some((e) => e.t === "welcome"), "bob welcomed", [bob]);

      // Everyone joins #dev; the GUIs show it in the list and switch to it.
      await say(alice, "/join #dev");
      await say(carol, "/join #dev");
      await bob.send("/join #dev");
      await convButton(alice, "#dev").waitFor();
      await alice.locator("#title", { hasText: "#dev" }).waitFor();
      await convButton(carol, "#dev").waitFor();

      await say(alice, "dev talk from alice");
      await seeLine(carol, "dev talk from alice");
      await until(
        () => events(bob).some((e) => e.room === "#dev" && e.text === "dev talk from alice"),
        "bob sees alice in #dev",
        [bob],
      );

      // bob writes in #lobby, mentioning carol: on the GUIs #lobby gets a count, carol's a mark.
      await bob.send("/join #lobby");
      await bob.send("hello carol, lobby here");
      await convButton(alice, "#lobby").locator(".badge", { hasText: "1" }).waitFor();
      await convButton(carol, "#lobby").locator(".mark").waitFor();
      assert.equal(await convButton(alice, "#lobby").locator(".mark").count(), 0);
      assert.match(
        (await convButton(carol, "#lobby").getAttribute("aria-label")) ?? "",
        /mentions you, 1 unread/,
      );
      // It is not in #dev.
      assert.equal(await carol.locator("#messages .line", { hasText: "lobby here" }).count(), 0);
      // The list is redrawn as messages come; the entry with the keyboard focus keeps it.
      await convButton(carol, "#lobby").focus();
      await bob.send("carol, one more");
      await convButton(carol, "#lobby").locator(".badge", { hasText: "2" }).waitFor();
      assert.equal(
        await carol.evaluate(() => (document.activeElement as HTMLElement).dataset.conv),
        "#lobby",
      );
      await carol.keyboard.press("Enter");
      await seeLine(carol, "hello carol, lobby here");
      assert.equal(await convButton(carol, "#lobby").locator(".badge").count(), 0);
      await carol.locator("#messages .line.mention mark", { hasText: "carol" }).first().waitFor();

      // Tab completes a name in the room and a command.
      const input = carol.getByRole("textbox", { name: /^Message/ });
      await input.fill("bo");
      await input.press("Tab");
      assert.equal(await input.inputValue(), "bob: ");
      await input.fill("/whoi");
      await input.press("Tab");
      assert.equal(await input.inputValue(), "/whois ");
      // carol answers in #lobby from its tab: it goes to #lobby, not to #dev.
      await input.fill("hi bob, carol in the lobby");
      await input.press("Enter");
      await until(
        () =>
          events(bob).some((e) =>
            e.t === "msg" && e.room === "#lobby" && e.text === "hi bob, carol in the lobby"
          ),
        "bob sees carol in #lobby",
        [bob],
      );
      // alice's #dev line went to #dev only; alice's #lobby shows carol's answer with a time.
      await convButton(alice, "#lobby").click();
      await seeLine(alice, "hi bob, carol in the lobby");
      assert.match(
        (await alice.locator(".line", { hasText: "carol in the lobby" }).locator("time")
          .textContent()) ?? "",
        /^\d\d:\d\d$/,
      );
      assert.equal(await alice.locator("#messages .line", { hasText: "dev talk" }).count(), 0);

      // /me lines and topics; then the main view in both themes (kept for the README when
      // CHAT_GUI_SHOTS names a directory, e.g. docs).
      await bob.send("/topic #lobby Everything about the release, alice");
      await bob.send("/me waves at alice and carol");
      await alice.locator(".line.action", { hasText: "waves at alice" }).waitFor();
      await alice.locator("#topic", { hasText: "Everything about the release" }).waitFor();
      await say(carol, "/join #dev");
      await say(carol, "one more in #dev, for the unread count");
      await convButton(alice, "#dev").locator(".badge").waitFor();
      const dir = Deno.env.get("CHAT_GUI_SHOTS") ?? shots;
      const dark = await openPage(browser, guis[0], "dark");
      await convButton(dark, "#lobby").click();
      await dark.locator(".line.action", { hasText: "waves at alice" }).waitFor();
      for (const [page, scheme] of [[alice, "light"], [dark, "dark"]] as const) {
        const path = `${dir}/gui-${scheme}.png`;
        await page.getByRole("textbox", { name: /^Message/ }).fill("see you at the release @bo");
        await page.screenshot({ path });
        const png = await Deno.readFile(path);
        assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]); // "PNG"
        const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
        assert.equal(bg, scheme === "light" ? "rgb(255, 255, 255)" : "rgb(21, 23, 26)");
      }
    } finally {
      await browser.close();
      await bob.end();
      await bob.kill();
      await Promise.all(guis.map((g) => g.stop()));
      await server.stop();
      for (const h of [...homes, shots]) await Deno.remove(h, { recursive: true });
    }
  },
});
