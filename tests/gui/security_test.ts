/**
 * The local page of a real `chat gui` process: who may load it and open its WebSocket.
 */
import assert from "node:assert/strict";
import { startServer } from "../support/procs.ts";
import { makeHomes, rawStatus, startGui } from "../support/gui.ts";

function get(port: number, target: string, headers: Record<string, string>): string {
  const lines = [`GET ${target} HTTP/1.1`, `Host: 127.0.0.1:${port}`];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
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
    assert.equal(r.headers.get("location"), "/");
    const setCookie = r.headers.get("set-cookie") ?? "";
    assert.match(setCookie, /^chat_gui_\d+=[0-9a-f]{32}; Path=\/; HttpOnly; SameSite=Strict$/);
    assert.ok(!setCookie.includes(token), "the cookie is not the token");
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
    assert.equal(await rawStatus(p, upgrade(p, { Cookie: cookie })), 403); // no Origin
    assert.equal(
      await rawStatus(p, upgrade(p, { Cookie: cookie, Origin: `http://127.0.0.1:${p}` })),
      101,
    );
    // Only the loopback address 127.0.0.1 is listened on.
    await assert.rejects(Deno.connect({ hostname: "127.0.0.2", port: p }));
  } finally {
    await gui.stop();
    await server.stop();
    await Deno.remove(home, { recursive: true });
  }
});
