/**
 * Test support for `chat gui`: starts the real process (`--no-open`, so it prints the page's
 * address) and a real Chromium through playwright-core; tests skip when Chromium is absent.
 * @module
 */

import { type Browser, chromium, type Page } from "playwright-core";
import { collectLines, MAIN, RUN_FLAGS, waitFor } from "./procs.ts";
import { loadOrCreateIdentity } from "../../client/identity.ts";

/** Where Debian installs Chromium. */
export const CHROMIUM = "/usr/bin/chromium";

/** True when Chromium is installed; otherwise says so once on the console. */
export function haveChromium(): boolean {
  try {
    Deno.statSync(CHROMIUM);
    return true;
  } catch {
    console.log(`browser tests skipped: no Chromium at ${CHROMIUM} (apt-get install chromium)`);
    return false;
  }
}

/** A running `chat gui` process. */
export interface GuiProcess {
  /** The address with its token, as printed. */
  url: string;
  /** The local page's port. */
  port: number;
  /** Lines printed on stdout. */
  lines: string[];
  /** Lines printed on stderr. */
  errors: string[];
  /** Exit status. */
  status: Promise<Deno.CommandStatus>;
  /** Sends a signal (default SIGTERM) and waits for the exit. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
}

/** Starts `chat gui 127.0.0.1:PORT --home HOME --no-open ...args` and waits for its address. */
export async function startGui(port: number, home: string, args: string[]): Promise<GuiProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [...RUN_FLAGS, MAIN, "gui", `127.0.0.1:${port}`, "--home", home, "--no-open", ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const lines: string[] = [];
  const errors: string[] = [];
  const done = Promise.all([collectLines(child.stdout, lines), collectLines(child.stderr, errors)]);
  let exited = false;
  const status = child.status.then(async (s) => {
    exited = true;
    await done;
    return s;
  });
  const stop = async (signal: Deno.Signal = "SIGTERM") => {
    if (!exited) {
      try {
        child.kill(signal);
      } catch {
        // gone
      }
    }
    return await status;
  };
  try {
    await waitFor(() => exited || lines.some((l) => l.includes("?token=")), 20_000, "gui address");
  } catch (e) {
    await stop("SIGKILL");
    throw e;
  }
  if (exited) throw new Error(`chat gui exited early: ${errors.join("\n")}`);
  const url = /(http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{32})/.exec(
    lines.find((l) => l.includes("?token="))!,
  )![1];
  return { url, port: Number(new URL(url).port), lines, errors, status, stop };
}

/** Launches Chromium (headless, no sandbox: tests run as root). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
}

/**
 * Opens the page of `gui` in a new context of `browser` (its own cookies), colour scheme set;
 * `init` runs in the page before its own script.
 */
export async function openPage(
  browser: Browser,
  gui: GuiProcess,
  colorScheme: "light" | "dark" = "light",
  init?: () => void,
): Promise<Page> {
  const ctx = await browser.newContext({ colorScheme, viewport: { width: 1100, height: 640 } });
  const page = await ctx.newPage();
  if (init !== undefined) await page.addInitScript(init);
  page.on("pageerror", (e) => console.log(`page error: ${e.message}`));
  await page.goto(gui.url);
  return page;
}

/** Sends a raw HTTP request to 127.0.0.1:`port` and returns the status code of the answer. */
export async function rawStatus(port: number, request: string): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(request));
    const buf = new Uint8Array(4096);
    let text = "";
    const end = Date.now() + 5_000;
    while (!text.includes("\r\n") && Date.now() < end) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
    if (m === null) throw new Error(`no HTTP status in ${JSON.stringify(text.slice(0, 200))}`);
    return Number(m[1]);
  } finally {
    conn.close();
  }
}

/** Types `text` into the page's message input and presses Enter. */
export async function say(page: Page, text: string): Promise<void> {
  const input = page.getByRole("textbox", { name: /^Message/ });
  await input.fill(text);
  await input.press("Enter");
}

/** The button of conversation `id` (`#room` or `@name`) in the list. */
export function convButton(page: Page, id: string) {
  return page.locator(`button.conv[data-conv="${id}"]`);
}

/** Waits until the shown conversation has a line containing `text`. */
export async function seeLine(page: Page, text: string, ms = 15_000): Promise<void> {
  await page.locator("#messages .line", { hasText: text }).first().waitFor({ timeout: ms });
}

/**
 * Makes `n` home directories, each with an identity already created: the slow key generation
 * happens here, before any process starts, not under the deadlines of the waits that follow.
 */
export async function makeHomes(n: number): Promise<string[]> {
  const homes: string[] = [];
  for (let i = 0; i < n; i++) {
    const home = await Deno.makeTempDir({ prefix: "chat-gui-home-" });
    await loadOrCreateIdentity(home, () => {});
    homes.push(home);
  }
  return homes;
}
