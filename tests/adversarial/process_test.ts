/**
 * The real `chat client` process against the evil server: a changed pinned key exits 3 with the
 * file unchanged, an unknown server without --accept-new exits 4; neither sends anything after
 * its ClientHello.
 */

import assert from "node:assert/strict";
import { saveIdentity } from "../../shared/keys.ts";
import { startClient } from "../support/procs.ts";
import { EvilServer } from "../support/evil_server.ts";
import { identities } from "./helpers.ts";

/** A client home with a saved identity (so the process does not generate RSA keys). */
async function home(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "chat-adv-home-" });
  await Deno.chmod(dir, 0o700);
  const [, id] = await identities();
  await saveIdentity(`${dir}/identity`, id);
  return dir;
}

Deno.test("process: pinned key changed → exit 3, warning, file unchanged, nothing sent", async () => {
  const dir = await home();
  const server = await EvilServer.start();
  try {
    const pinned = "SHA256:" + "Z".repeat(43);
    const content = `127.0.0.1:${server.port} ${pinned}\n`;
    await Deno.writeTextFile(`${dir}/known_servers`, content);
    const before = await Deno.readFile(`${dir}/known_servers`);
    const p = startClient(server.port, ["--name", "alice", "--no-reconnect"], dir);
    const status = await p.status;
    assert.equal(status.code, 3, p.errors.join("\n"));
    const err = p.errors.join("\n");
    assert.match(err, /HAS CHANGED/);
    assert.ok(err.includes(pinned) && err.includes(server.fingerprint));
    assert.deepEqual(await Deno.readFile(`${dir}/known_servers`), before);
    await server.connections[0].done;
    assert.equal(server.connections.length, 1);
    assert.equal(server.connections[0].clientHello?.length, 69);
    assert.equal(server.connections[0].afterBytes, 0);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("process: unknown server, non-interactive, no --accept-new → exit 4", async () => {
  const dir = await home();
  const server = await EvilServer.start();
  try {
    const p = startClient(server.port, ["--name", "alice", "--no-reconnect"], dir);
    const status = await p.status;
    assert.equal(status.code, 4, p.errors.join("\n"));
    assert.ok(p.errors.join("\n").includes(server.fingerprint));
    await server.connections[0].done;
    assert.equal(server.connections[0].clientHello?.length, 69);
    assert.equal(server.connections[0].afterBytes, 0);
    await assert.rejects(Deno.stat(`${dir}/known_servers`), Deno.errors.NotFound);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});
