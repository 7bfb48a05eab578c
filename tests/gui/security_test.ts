/**
 * The local page of a real `chat gui` process: who may load it and open its WebSocket. The
 * cookie reaches any server on 127.0.0.1 the user's browser visits: a program holding it, and
 * forging Host and Origin, is still refused the WebSocket; the page in a real browser is not
 * (reload, a second tab, the tab closed and opened again).
 */
import assert from "node:assert/strict";
import { startServer } from "../support/procs.ts";
import {
  haveChromium,
  launchChromium,
  makeHomes,
  rawStatus,
  say,
  seeLine,
  startGui,
} from "../support/gui.ts";

function get(port: number, target: string, headers: Record<string, string>): string {
  const lines = [`GET ${target} HTTP/1.1`, `Host: 127.0.0.1:${port}`];
  for (const [k, v] of Object.entries(headers)) if (v !== "") lines.push(`${k}: ${v}`);
  return lines.join("\r\n") + "\r\nConnection: close\r\n\r\n";
}

function upgrade(port: number, headers: Record<string, string>): string {
  return get(port, "/ws", {
    Upgrade: "websocket",
    Connection: "Upgrade",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    ...headers,
  }).replace("\r\nConnection: close", "");
}

Deno.test("gui: the page needs its token, then its cookie; Host and Origin are checked", async () => {
  const server = await startServer();
  const [home] = await makeHomes(1);
  const gui = await startGui(server.port, home, ["--accept-new", "--name", "alice"]);
  try {
    const p = gui.port;
    const token = new URL(gui.url).searchParams.get("token")!;
    // Without the token nothing is served: the page, its files, the WebSocket.
    for (const path of ["/", "/app.js", "/style.css", "/ws", "/favicon.ico"]) {
      assert.equal(await rawStatus(p, get(p, path, {})), 403, path);
    }
    assert.equal(await rawStatus(p, get(p, `/?token=${"0".repeat(32)}`, {})), 403);
    assert.equal(await rawStatus(p, upgrade(p, { Origin: `http://127.0.0.1:${p}` })), 403);

    // The token gives a cookie (HttpOnly, SameSite=Strict) and a redirect to the bare address.
    const r = await fetch(gui.url, { redirect: "manual" });
    await r.body?.cancel();
    assert.equal(r.status, 303);
    // ... and the WebSocket key, in the fragment (never sent to a server) of the redirect.
    const location = r.headers.get("location") ?? "";
    assert.match(location, /^\/#k=[0-9a-f]{32}$/);
    const key = location.slice(4);
    const setCookie = r.headers.get("set-cookie") ?? "";
    assert.match(setCookie, /^chat_gui_\d+=[0-9a-f]{32}; Path=\/; HttpOnly; SameSite=Strict$/);
    assert.ok(!setCookie.includes(token), "the cookie is not the token");
    assert.ok(!setCookie.includes(key) && key !== token, "the key is neither");
    const cookie = setCookie.split(";")[0];

    // With the cookie: the page, under a strict CSP, with no inline script or style.
    const page = await fetch(`http://127.0.0.1:${p}/`, { headers: { cookie } });
    const html = await page.text();
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-security-policy") ?? "", /^default-src 'self';/);
    assert.equal(page.headers.get("x-content-type-options"), "nosniff");
    assert.doesNotMatch(html, /<style|\sstyle=|<script>|\son[a-z]+=|https?:\/\//i);
    const js = await fetch(`http://127.0.0.1:${p}/app.js`, { headers: { cookie } });
    assert.equal(js.status, 200);
    assert.doesNotMatch(await js.text(), /innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
    assert.equal(await rawStatus(p, get(p, "/", { Cookie: cookie })), 200);

    // DNS rebinding: another name for 127.0.0.1 is refused, cookie or not.
    const rebound = get(p, "/", { Cookie: cookie }).replace(
      `Host: 127.0.0.1:${p}`,
      `Host: evil.example:${p}`,
    );
    assert.equal(await rawStatus(p, rebound), 403);
    // Another site's page may not open the WebSocket, even when the browser sends the cookie.
    assert.equal(
      await rawStatus(p, upgrade(p, { Cookie: cookie, Origin: "http://evil.example" })),
      403,
    );
    const own = { Cookie: cookie, Origin: `http://127.0.0.1:${p}` };
    const withKey = { ...own, "Sec-WebSocket-Protocol": `chat-gui, chat-key.${key}` };
    assert.equal(await rawStatus(p, upgrade(p, { ...withKey, Origin: "" })), 403); // no Origin
    // The cookie alone, with the page's own Host and Origin (a program can forge both): 403.
    assert.equal(await rawStatus(p, upgrade(p, own)), 403);
    assert.equal(
      await rawStatus(p, upgrade(p, { ...own, "Sec-WebSocket-Protocol": "chat-gui" })),
      403,
    );
    const cookieAsKey = `chat-gui, chat-key.${cookie.split("=")[1]}`;
    assert.equal(
      await rawStatus(p, upgrade(p, { ...own, "Sec-WebSocket-Protocol": cookieAsKey })),
      403,
    );
    assert.equal(await rawStatus(p, upgrade(p, withKey)), 101);
    // Only the loopback address 127.0.0.1 is listened on.
    await assert.rejects(Deno.connect({ hostname: "127.0.0.2", port: p }));
  } finally {
    await gui.stop();
    await server.stop();
    await Deno.remove(home, { recursive: true });
  }
});

/** What a program gets when it opens the page's WebSocket as it likes (Deno's own client). */
async function tryWs(
  port: number,
  cookie: string,
  protocols: string[],
): Promise<{ opened: boolean; first: string | null; error: string }> {
  // Deno's client takes headers (a browser's does not); with the DOM types of the browser tests
  // in the same check, the constructor's type is the browser's, hence the cast.
  const options = { protocols, headers: { cookie, origin: `http://127.0.0.1:${port}` } };
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, options as unknown as string[]);
  let opened = false;
  let first: string | null = null;
  ws.onopen = () => opened = true;
  ws.onmessage = (e) => {
    first ??= JSON.parse(e.data).k;
    ws.close(1000);
  };
  let error = "";
  ws.onerror = (e) => error = (e as ErrorEvent).message;
  const { promise, resolve } = Promise.withResolvers<void>();
  ws.onclose = () => resolve();
  const t = setTimeout(() => ws.close(1000), 10_000);
  await promise;
  clearTimeout(t);
  return { opened, first, error };
}

Deno.test({
  name: "gui: the browser's cookie alone does not open the WebSocket; reload and tabs still work",
  ignore: !haveChromium(),
  async fn() {
    const server = await startServer();
    const [home] = await makeHomes(1);
    const gui = await startGui(server.port, home, ["--accept-new", "--name", "alice"]);
    const browser = await launchChromium();
    try {
      const p = gui.port;
      const ctx = await browser.newContext();
      let page = await ctx.newPage();
      await page.goto(gui.url);
      await page.locator("#me").getByText("alice on").waitFor();
      // The token and the key are gone from the address bar.
      assert.equal(page.url(), `http://127.0.0.1:${p}/`);
      await say(page, "first tab here");
      await seeLine(page, "first tab here");

      // The cookie as the browser holds it: what it sends to any server on 127.0.0.1.
      const jar = await ctx.cookies(`http://127.0.0.1:${p}/`);
      assert.equal(jar.length, 1);
      assert.equal(jar[0].httpOnly, true);
      const cookie = `${jar[0].name}=${jar[0].value}`;
      // A program with it (and the page's own Origin) is refused at the upgrade: never open.
      for (const protocols of [[], ["chat-gui"], ["chat-gui", `chat-key.${jar[0].value}`]]) {
        assert.deepEqual(await tryWs(p, cookie, protocols), {
          opened: false,
          first: null,
          error: "NetworkError: failed to connect to WebSocket: Invalid status code: 403",
        }, protocols.join(","));
      }
      // The key is in the page's origin storage only, not in any cookie.
      const key = await page.evaluate(() => localStorage.getItem("chat-gui-key"));
      assert.match(key ?? "", /^[0-9a-f]{32}$/);
      assert.ok(!jar.some((c) => c.value === key));
      // With the key the same program gets in (so the refusals above are the key's doing).
      assert.deepEqual(await tryWs(p, cookie, ["chat-gui", `chat-key.${key}`]), {
        opened: true,
        first: "state",
        error: "",
      });

      // A reload, and a second tab on the bare address, work.
      await page.reload();
      await seeLine(page, "first tab here");
      const second = await ctx.newPage();
      await second.goto(`http://127.0.0.1:${p}/`);
      await seeLine(second, "first tab here");
      await say(second, "second tab here");
      await seeLine(page, "second tab here");
      // Every tab closed, one opened again within the grace period: it works too.
      await second.close();
      await page.close();
      page = await ctx.newPage();
      await page.goto(`http://127.0.0.1:${p}/`);
      await seeLine(page, "second tab here");
      await say(page, "reopened");
      await seeLine(page, "reopened");

      // A browser that has the cookie but not the key (storage cleared) is told what to do.
      await page.evaluate(() => localStorage.clear());
      await page.reload();
      await page.getByRole("alert").filter({ hasText: "no key" }).waitFor();
      await ctx.close();
    } finally {
      await browser.close();
      await gui.stop();
      await server.stop();
      await Deno.remove(home, { recursive: true });
    }
  },
});
