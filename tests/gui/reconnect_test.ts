/**
 * The server is killed and restarted while a GUI user types: a banner says so, what was typed is
 * marked pending, then sent; nothing is lost.
 */
import assert from "node:assert/strict";
import { events, startClient, startServer, until } from "../support/procs.ts";
import {
  haveChromium,
  launchChromium,
  makeHomes,
  openPage,
  say,
  seeLine,
  startGui,
} from "../support/gui.ts";

Deno.test({
  name: "gui: the server restarts while the user types; pending lines are sent after",
  ignore: !haveChromium(),
  async fn() {
    let server = await startServer();
    const { port, dataDir } = server;
    const homes = await makeHomes(2);
    const gui = await startGui(port, homes[0], ["--accept-new", "--name", "alice"]);
    const bob = startClient(port, ["--name", "bob", "--accept-new", "--json"], homes[1]);
    const browser = await launchChromium();
    try {
      const page = await openPage(browser, gui);
      await page.locator("#me").getByText("alice on").waitFor();
      await until(() => events(bob).some((e) => e.t === "welcome"), "bob welcomed", [bob]);
      await say(page, "before the restart");
      await seeLine(page, "before the restart");
      // Killed only once that line is acknowledged: a line still pending at the kill is rightly
      // sent again after the restart, and would be counted below.
      await page.locator(".line.pending", { hasText: "before the restart" }).waitFor({
        state: "detached",
      });

      await server.stop("SIGKILL");
      const banner = page.getByRole("alert");
      await banner.filter({ hasText: /lost|reconnecting/ }).waitFor({ timeout: 20_000 });
      assert.match((await banner.textContent()) ?? "", /sent when the connection is back/);
      await say(page, "typed while down, one");
      await say(page, "typed while down, two");
      await page.locator(".line.pending", { hasText: "typed while down, two" }).waitFor();
      assert.equal(await page.locator(".line.pending").count(), 2);

      server = await startServer({ port, dataDir });
      // The next attempt may be seconds away (backoff): try now, as the banner suggests.
      await say(page, "/reconnect");
      await bob.send("/reconnect");
      await banner.waitFor({ state: "hidden", timeout: 30_000 });
      await page.locator(".line.pending").first().waitFor({ state: "detached", timeout: 30_000 });
      for (const t of ["typed while down, one", "typed while down, two"]) {
        assert.equal(await page.locator(".line.own", { hasText: t }).count(), 1, t);
        await until(
          () => events(bob).some((e) => e.t === "msg" && e.from === "alice" && e.text === t),
          `bob gets "${t}"`,
          [bob],
          30_000,
        );
      }
      // In order, once each.
      const texts = events(bob).filter((e) => e.t === "msg" && e.from === "alice").map((e) =>
        e.text
      );
      assert.deepEqual(texts.filter((t) => String(t).startsWith("typed while down")), [
        "typed while down, one",
        "typed while down, two",
      ]);
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
