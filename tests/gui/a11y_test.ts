/// <reference lib="dom" />
/**
 * Keyboard-only use from the first dialog to a message in another room; landmarks and labels; text
 * contrast of at least 4.5:1 (WCAG AA) in the light and the dark theme.
 */
import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import { startServer } from "../support/procs.ts";
import {
  haveChromium,
  launchChromium,
  makeHomes,
  openPage,
  seeLine,
  startGui,
} from "../support/gui.ts";

const focused = (page: Page) => page.evaluate(() => document.activeElement?.id ?? "");

/** Lowest contrast ratio of visible text on the page, with the element it was found on. */
function lowestContrast(page: Page): Promise<{ ratio: number; where: string }> {
  return page.evaluate(() => {
    const rgb = (s: string) => {
      const m = /rgba?\(([\d.]+), ([\d.]+), ([\d.]+)(?:, ([\d.]+))?\)/.exec(s);
      return m === null ? null : { c: [+m[1], +m[2], +m[3]], a: m[4] === undefined ? 1 : +m[4] };
    };
    const lum = (c: number[]) => {
      const [r, g, b] = c.map((v) => {
        const x = v / 255;
        return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
      });
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const background = (e: Element | null): number[] => {
      for (; e !== null; e = e.parentElement) {
        const b = rgb(getComputedStyle(e).backgroundColor);
        if (b !== null && b.a > 0.5) return b.c;
      }
      return [255, 255, 255];
    };
    let worst = { ratio: 99, where: "" };
    for (const e of document.querySelectorAll("body *")) {
      const own = [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent!.trim() !== "");
      if (!own || (e as HTMLElement).offsetParent === null && e.tagName !== "DIALOG") continue;
      const fg = rgb(getComputedStyle(e).color)!.c;
      const [l1, l2] = [lum(fg), lum(background(e))].sort((a, b) => b - a);
      const ratio = (l1 + 0.05) / (l2 + 0.05);
      if (ratio < worst.ratio) worst = { ratio, where: `${e.tagName}.${e.className}` };
    }
    return worst;
  });
}

Deno.test({
  name: "gui: keyboard only, landmarks and labels, AA contrast in light and dark themes",
  ignore: !haveChromium(),
  async fn() {
    const server = await startServer();
    const [home] = await makeHomes(1);
    const gui = await startGui(server.port, home, []);
    const browser = await launchChromium();
    try {
      const page = await openPage(browser, gui);
      // The token was exchanged for the cookie: it is gone from the address bar.
      assert.equal(new URL(page.url()).search, "");
      // Trust dialog: the safe answer has the focus; Tab reaches the other, Enter presses it.
      await page.getByRole("dialog").getByText(server.fingerprint).waitFor();
      assert.equal(await focused(page), "dialog-no");
      await page.keyboard.press("Tab");
      assert.equal(await focused(page), "dialog-yes");
      await page.keyboard.press("Enter");
      // Name dialog: the field has the focus.
      await page.getByRole("textbox", { name: "Name" }).waitFor();
      assert.equal(await focused(page), "dialog-input");
      await page.keyboard.type("alice");
      await page.keyboard.press("Enter");
      await page.locator("#me").getByText("alice on").waitFor();
      assert.equal(await focused(page), "input");

      await page.keyboard.type("/join #dev");
      await page.keyboard.press("Enter");
      await page.locator("#title", { hasText: "#dev" }).waitFor();
      await page.keyboard.type("typed in #dev");
      await page.keyboard.press("Enter");
      await seeLine(page, "typed in #dev");
      // Alt+N switches conversations (rooms listed by name).
      await page.keyboard.press("Alt+2");
      await page.locator("#title", { hasText: "#lobby" }).waitFor();
      assert.equal(await page.locator("#messages .line", { hasText: "typed in #dev" }).count(), 0);
      await page.keyboard.press("Alt+1");
      await page.locator("#title", { hasText: "#dev" }).waitFor();
      // Tab in an empty input moves on (no trap); Escape comes back to the input.
      await page.keyboard.press("Tab");
      assert.equal(await focused(page), "send");
      await page.keyboard.press("Escape");
      assert.equal(await focused(page), "input");
      // From the message list too.
      await page.locator("#messages").focus();
      await page.keyboard.press("Escape");
      assert.equal(await focused(page), "input");

      // Landmarks and labels.
      await page.getByRole("navigation", { name: "Conversations" }).waitFor();
      await page.getByRole("main", { name: "#dev" }).waitFor();
      await page.getByRole("list", { name: "Messages" }).waitFor();
      const unlabeled = await page.evaluate(() =>
        [...document.querySelectorAll("button, input, textarea")].filter((e) => {
          const el = e as HTMLInputElement;
          if (el.closest("[hidden]") !== null || el.hidden) return false;
          const name = el.getAttribute("aria-label") ?? el.labels?.[0]?.textContent ??
            el.textContent;
          return (name ?? "").trim() === "";
        }).map((e) => e.id)
      );
      assert.deepEqual(unlabeled, []);

      // Contrast: every nick colour, marks, badges, times and events, in both themes.
      for (const scheme of ["light", "dark"] as const) {
        const p = scheme === "light" ? page : await openPage(browser, gui, "dark");
        await p.locator("#me").getByText("alice on").waitFor();
        await p.evaluate(() => {
          const list = document.getElementById("messages")!;
          for (let i = 0; i < 12; i++) {
            const li = document.createElement("li");
            li.className = "line msg";
            const s = document.createElement("span");
            s.className = `nick nick-${i}`;
            s.textContent = `nick${i}`;
            const m = document.createElement("mark");
            m.textContent = "mention";
            li.append(s, m);
            list.append(li);
          }
        });
        const worst = await lowestContrast(p);
        assert.ok(worst.ratio >= 4.5, `${scheme}: ${worst.ratio.toFixed(2)} on ${worst.where}`);
      }
      // /quit ends the process (exit code 0) and tells the page.
      await page.getByRole("textbox", { name: /^Message/ }).fill("/quit");
      await page.keyboard.press("Enter");
      assert.equal((await gui.status).code, 0);
      await page.getByRole("alert").filter({ hasText: "chat has quit" }).waitFor();
    } finally {
      await browser.close();
      await gui.stop();
      await server.stop();
      await Deno.remove(home, { recursive: true });
    }
  },
});
