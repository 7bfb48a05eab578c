/**
 * The browser view over the local server, driven by a real Chromium: lines typed in a tab reach
 * the application, questions are dialogs, events reach every tab, and input ends once the last tab
 * has been closed for the grace period (not when a tab comes back within it).
 */
import assert from "node:assert/strict";
import { GuiView } from "../../client/gui/gui_view.ts";
import { startLocalServer } from "../../client/gui/local_server.ts";
import type { GuiState } from "../../client/gui/wire.ts";
import { waitFor } from "../support/procs.ts";
import { haveChromium, launchChromium, say, seeLine } from "../support/gui.ts";

const STATE: GuiState = {
  me: "alice",
  server: "example:5000",
  room: "#lobby",
  rooms: ["#lobby"],
  sealed: [],
  names: { "#lobby": ["alice"] },
  commands: ["help"],
  known: ["#lobby"],
  timestamps: true,
  colors: true,
  bell: "mention",
  ignored: [],
};
const RENDER = { me: "alice", timestamps: true, ignored: new Set<string>(), bell: "off" as const };

Deno.test({
  name: "gui view: lines, dialogs and events over the page; the last tab's close ends input",
  ignore: !haveChromium(),
  async fn() {
    const LINGER = 3_000;
    const view = new GuiView({
      state: () => STATE,
      peer: (name) => Promise.resolve({ name, fingerprint: null, safety: null, verified: false }),
      history: () => {},
      lingerMs: LINGER,
    });
    const local = await startLocalServer({ onSocket: (ws) => view.attach(ws) });
    const browser = await launchChromium();
    const lines: string[] = [];
    let endedAt = 0;
    const reading = (async () => {
      for await (const l of view.lines()) lines.push(l);
      endedAt = Date.now();
    })();
    try {
      const ctx = await browser.newContext();
      const one = await ctx.newPage();
      await one.goto(local.url);
      await waitFor(() => view.tabs === 1, 10_000, "first tab");
      await say(one, "hello from the tab");
      await waitFor(() => lines.includes("hello from the tab"), 10_000, "the line");
      view.show({ t: "local", level: "info", text: "shown in every tab" }, RENDER);
      await seeLine(one, "shown in every tab");

      const asked = view.askName("that name is taken");
      await one.getByRole("dialog").getByText("that name is taken").waitFor();
      await one.getByRole("textbox", { name: "Name" }).fill("  carol ");
      await one.getByRole("button", { name: "Connect" }).click();
      assert.equal(await asked, "carol");
      await one.getByRole("dialog").waitFor({ state: "hidden" });

      // A second tab (same browser, so the cookie) gets the backlog; closing one tab is nothing.
      const two = await ctx.newPage();
      await two.goto(`http://127.0.0.1:${local.port}/`);
      await seeLine(two, "shown in every tab");
      await waitFor(() => view.tabs === 2, 10_000, "second tab");
      await one.close();
      await waitFor(() => view.tabs === 1, 10_000, "one tab left");
      // The last tab closes, and another comes back within the grace period: input goes on.
      await two.close();
      await waitFor(() => view.tabs === 0, 10_000, "no tab");
      const gone = Date.now();
      const three = await ctx.newPage();
      await three.goto(`http://127.0.0.1:${local.port}/`);
      await waitFor(() => view.tabs === 1, 10_000, "tab back");
      assert.ok(Date.now() - gone < LINGER, `the tab took ${Date.now() - gone} ms to come back`);
      await new Promise((r) => setTimeout(r, LINGER + 300));
      assert.equal(endedAt, 0, "input ended while a tab was open");
      // Closed for good: input ends after the grace period, not before.
      const closedAt = Date.now();
      await three.close();
      await waitFor(() => endedAt !== 0, 10_000, "input to end");
      assert.ok(endedAt - closedAt >= LINGER - 50, `ended after ${endedAt - closedAt} ms`);
      await reading;
      await assert.rejects(view.askName(), /closed/);
    } finally {
      await browser.close();
      await view.close();
      await reading;
      await local.close();
    }
  },
});

/** A tab's socket as the view uses it: what it sends is kept, what the page says is handed in. */
class TabSocket {
  readyState: number = WebSocket.OPEN;
  bufferedAmount = 0;
  sent: unknown[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;
  onerror: (() => void) | null = null;
  send(data: string): void {
    this.sent.push(JSON.parse(data));
  }
  close(): void {
    this.readyState = WebSocket.CLOSED;
    this.onclose?.();
  }
  type(conv: string | null, text: string): void {
    this.onmessage!({ data: JSON.stringify({ k: "line", conv, text }) });
  }
}

Deno.test("gui view: an answer goes to the conversation its line was typed in", async () => {
  const view = new GuiView({
    state: () => ({ ...STATE, rooms: ["#lobby", "#dev"] }),
    peer: (name) => Promise.resolve({ name, fingerprint: null, safety: null, verified: false }),
    history: () => {},
  });
  const tab = new TabSocket();
  view.attach(tab as unknown as WebSocket);
  tab.onopen!();
  view.setRoom("#lobby");
  try {
    const it = view.lines()[Symbol.asyncIterator]();
    // Typed in #lobby, then (before the first is answered) in #dev and in a conversation.
    tab.type("#lobby", "/who");
    tab.type("#dev", "/topic");
    tab.type("@bob", "/whois bob");
    const got: [string, string | undefined][] = [];
    for (let i = 0; i < 4; i++) {
      const line = (await it.next()).value as string;
      got.push([line, view.typedIn()]);
    }
    assert.deepEqual(got, [
      ["/who", "#lobby"],
      ["/join #dev", "#dev"], // the view's own switch to the room typed in
      ["/topic", "#dev"],
      ["/whois bob", "@bob"],
    ]);
    // The answer to /who arrives last: it still goes to #lobby; one without a place goes to
    // where the user last typed.
    const at = (ev: Parameters<GuiView["show"]>[0]) => {
      tab.sent.length = 0;
      view.show(ev, RENDER);
      return (tab.sent.find((m) => (m as { k: string }).k === "ev") as { where: string }).where;
    };
    assert.equal(
      at({ t: "server", msg: { t: "reply", id: "1", text: "x" }, where: "#lobby" }),
      "#lobby",
    );
    assert.equal(at({ t: "local", level: "info", text: "y", where: "@bob" }), "@bob");
    assert.equal(at({ t: "local", level: "info", text: "z" }), "@bob");
    assert.equal(at({ t: "local", level: "info", text: "z", where: "" }), "@bob");
  } finally {
    await view.close();
  }
});
