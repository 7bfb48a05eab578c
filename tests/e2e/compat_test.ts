/**
 * Compatibility with the release before the node:crypto move (commit 7e71a31, which offers no
 * record cipher and speaks AES-256-GCM only), with real processes both ways: that client talks to
 * this server, and this client to that server; each sends a room line and gets it back. Key files
 * cross over too: the old server's host key is loaded by this server with the same fingerprint,
 * and an identity the old client created is accepted by this client as the same owner of its
 * name. A message of several lines from this client reaches the old client intact. Skipped, with a message, without git, a git checkout, or the commit.
 */

import assert from "node:assert/strict";
import { createIdentity, saveIdentity } from "../../shared/keys.ts";
import {
  type ClientProcess,
  type ServerProcess,
  startClient,
  startServer,
  until,
} from "../support/procs.ts";
import { extractOld, OLD, oldUnavailable } from "../support/old_release.ts";

const why = oldUnavailable();
if (why !== null) console.warn(`compat: skipping the ${OLD} compatibility tests: ${why}`);

/** A client home (mode 0700), with a fresh identity saved by this version unless `empty`. */
async function home(root: string, name: string, empty = false): Promise<string> {
  const dir = `${root}/${name}`;
  await Deno.mkdir(dir, { mode: 0o700 });
  if (!empty) await saveIdentity(`${dir}/identity`, await createIdentity());
  return dir;
}

/** `--json` room messages with `text` from `from` that `c` printed. */
function got(c: ClientProcess, from: string, text: string): boolean {
  return c.lines.some((l) => {
    try {
      const o = JSON.parse(l);
      return o.t === "msg" && o.from === from && o.text === text;
    } catch {
      return false;
    }
  });
}

/** Starts a `--json` client as `name`, sends `text`, and waits until the room echoes it back. */
async function roundTrip(
  port: number,
  dir: string,
  name: string,
  text: string,
  clients: ClientProcess[],
  main?: string,
): Promise<ClientProcess> {
  const c = startClient(
    port,
    ["--accept-new", "--json", "--no-reconnect", "--name", name],
    dir,
    main,
  );
  clients.push(c);
  await c.send(text);
  await until(() => got(c, name, text), `${name}'s line back`, [c], 60_000);
  return c;
}

Deno.test({
  name: `compat: ${OLD} client ↔ this server, this client ↔ ${OLD} server; key files carry over`,
  ignore: why !== null,
  sanitizeResources: true,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "chat-compat-" });
    const clients: ClientProcess[] = [];
    const servers: ServerProcess[] = [];
    try {
      const oldMain = await extractOld(root);
      const data = `${root}/data`;

      // This client → the old server.
      const oldServer = await startServer({ dataDir: data, main: oldMain });
      servers.push(oldServer);
      const newHome = await home(root, "newclient");
      await roundTrip(oldServer.port, newHome, "nina", "new client, old server", clients);

      // The old client (creating its own identity, with the old code) → the old server.
      const oldHome = await home(root, "oldclient", true);
      await roundTrip(oldServer.port, oldHome, "otto", "old client, old server", clients, oldMain);
      for (const c of clients.splice(0)) await c.kill("SIGTERM");
      await oldServer.stop();
      servers.pop();

      // This server on the old server's data: the same host key, the same name owners.
      const server = await startServer({ dataDir: data });
      servers.push(server);
      assert.equal(server.fingerprint, oldServer.fingerprint);
      // The old client → this server.
      const otto = await roundTrip(
        server.port,
        oldHome,
        "otto",
        "old client, new server",
        clients,
        oldMain,
      );
      // A message of several lines from this client reaches the old one intact (its text view
      // shows the breaks as ␊ on one line), and the old client carries on.
      const nina = startClient(
        server.port,
        ["--accept-new", "--json", "--json-input", "--no-reconnect", "--name", "nina"],
        newHome,
      );
      clients.push(nina);
      const lines = "several\nlines\n  from nina";
      await nina.send(JSON.stringify(lines));
      await until(() => got(otto, "nina", lines), "the old client gets the lines", clients, 60_000);
      await otto.send("old client still here");
      await until(() => got(otto, "otto", "old client still here"), "otto's next line", clients);
      // This client with the identity the old client created: still the owner of "otto".
      await roundTrip(server.port, oldHome, "otto", "old identity, new client", clients);
    } finally {
      for (const c of clients) await c.kill();
      for (const s of servers) await s.stop();
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test({
  name: `compat: a ${OLD} client neither asks for nor loses the offline queue; it can queue`,
  ignore: why !== null,
  sanitizeResources: true,
  fn: async () => {
    const root = await Deno.makeTempDir({ prefix: "chat-compat-q-" });
    const clients: ClientProcess[] = [];
    const server = await startServer({ dataDir: `${root}/data` });
    const json = (c: ClientProcess) =>
      c.lines.flatMap((l) => {
        try {
          return [JSON.parse(l)];
        } catch {
          return [];
        }
      });
    try {
      const oldMain = await extractOld(root);
      const [bobHome, aliceHome] = [await home(root, "bob"), await home(root, "alice")];
      // bob logs in once with the old client (the server keeps his keys), then leaves.
      const bobOld = await roundTrip(server.port, bobHome, "bob", "old bob", clients, oldMain);
      await bobOld.kill("SIGTERM");
      // alice, with this client, writes to him while he is offline: queued.
      const alice = await roundTrip(server.port, aliceHome, "alice", "hello", clients);
      await alice.send("/msg bob while you were away");
      await until(
        () => json(alice).some((e) => e.t === "dm" && e.queued === true),
        "queued for bob",
        [alice],
        30_000,
      );
      // The old client never asks for the queue: it works as before and gets nothing of it.
      const bobOld2 = await roundTrip(
        server.port,
        bobHome,
        "bob",
        "old bob again",
        clients,
        oldMain,
      );
      await new Promise((r) => setTimeout(r, 1000));
      assert.ok(!json(bobOld2).some((e) => e.t === "dm"), bobOld2.lines.join("\n"));
      await bobOld2.kill("SIGTERM");
      // The same identity with this client gets it.
      const bobNew = await roundTrip(server.port, bobHome, "bob", "new bob", clients);
      await until(
        () => json(bobNew).some((e) => e.t === "dm" && e.text === "while you were away"),
        "the queued message",
        [bobNew],
        30_000,
      );
      await bobNew.kill("SIGTERM");
      // The old client writes to someone offline: the server queues it, the old client shows it
      // as sent (it ignores `queued`), and bob reads it with this client.
      await alice.kill("SIGTERM");
      const oldAlice = await roundTrip(
        server.port,
        aliceHome,
        "alice",
        "old alice",
        clients,
        oldMain,
      );
      await oldAlice.send("/msg bob from the old client");
      await until(
        () => json(oldAlice).some((e) => e.t === "dm" && e.to === "bob"),
        "the old client's message acknowledged",
        [oldAlice],
        30_000,
      );
      await oldAlice.kill("SIGTERM");
      const bobLast = await roundTrip(server.port, bobHome, "bob", "bob last", clients);
      await until(
        () => json(bobLast).some((e) => e.t === "dm" && e.text === "from the old client"),
        "the old client's queued message",
        [bobLast],
        30_000,
      );
    } finally {
      for (const c of clients) await c.kill();
      await server.stop();
      await Deno.remove(root, { recursive: true });
    }
  },
});
