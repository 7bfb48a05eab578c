/**
 * `/ignore` by identity with real processes: alice ignores eve; eve's room lines and private
 * messages are hidden, also after eve's `/nick` and after alice's client restarts (the ignore is
 * kept in alice's config.json with eve's names and fingerprint), and after a third name eve took
 * while alice's client was not running (learnt from eve's first line under it); bob's lines, sent
 * after eve's, show that eve's would have arrived. `/unignore` shows eve again.
 */

import assert from "node:assert/strict";
import { createIdentity, loadIdentity, saveIdentity } from "../../shared/keys.ts";
import { type ClientProcess, events, startClient, startServer, until } from "../support/procs.ts";

async function home(root: string, name: string): Promise<string> {
  const dir = `${root}/${name}`;
  await Deno.mkdir(dir, { mode: 0o700 });
  await saveIdentity(`${dir}/identity`, await createIdentity());
  return dir;
}

const texts = (c: ClientProcess, t: string) =>
  events(c).filter((e) => e.t === t).map((e) => `${e.from}: ${e.text}`);

Deno.test("e2e ignore: by identity, across /nick and a restart, DMs too; /unignore", async () => {
  const root = await Deno.makeTempDir({ prefix: "chat-e2e-ignore-" });
  // eve's identity sends more lines than the default burst of 10 while it is tested; the test is
  // about ignoring, not rate limits, so the burst is raised.
  const srv = await startServer({
    dataDir: `${root}/data`,
    args: ["--limit", "rateBurst=100"],
  });
  const clients: ClientProcess[] = [];
  const hp = `127.0.0.1:${srv.port}`;
  const start = (name: string, dir: string) => {
    const c = startClient(
      srv.port,
      ["--name", name, "--json", "--json-input", "--accept-new", "--no-reconnect"],
      dir,
    );
    clients.push(c);
    return c;
  };
  const say = (c: ClientProcess, line: string) => c.send(JSON.stringify(line));
  const welcomed = (c: ClientProcess, who: string) =>
    until(() => events(c).some((e) => e.t === "welcome"), `${who}'s welcome`, clients, 20_000);
  try {
    const [aHome, bHome, eHome] = await Promise.all(
      ["alice", "bob", "eve"].map((n) => home(root, n)),
    );
    const bob = start("bob", bHome);
    const eve = start("eve", eHome);
    let alice = start("alice", aHome);
    await Promise.all([welcomed(bob, "bob"), welcomed(eve, "eve"), welcomed(alice, "alice")]);

    await say(alice, "/ignore eve");
    await until(
      () =>
        events(alice).some((e) => e.t === "local" && /^ignoring eve SHA256:/.test(String(e.text))),
      "ignoring eve",
      clients,
    );
    await say(eve, "one");
    await say(eve, "/msg alice private one");
    await until(() => texts(eve, "dm").includes("eve: private one"), "eve's DM sent", clients);
    await say(eve, "/nick eve2");
    await until(
      () => events(alice).some((e) => e.t === "event" && e.kind === "nick" && e.name === "eve2"),
      "the nick",
      clients,
    );
    await say(eve, "two");
    await say(bob, "after two");
    await until(() => texts(alice, "msg").includes("bob: after two"), "bob's line", clients);
    assert.deepEqual(texts(alice, "msg").filter((t) => t.startsWith("eve")), []);
    assert.deepEqual(texts(alice, "dm"), []);

    // The ignore is saved with both names and the fingerprint.
    const read = () => JSON.parse(Deno.readTextFileSync(`${aHome}/config.json`));
    // Saved right after the nick event (the file is written in the background).
    await until(() => read().servers[hp]?.ignore?.[0]?.names?.length === 2, "eve2 saved", clients);
    const config = read();
    const eveFp = (await loadIdentity(`${eHome}/identity`)).fingerprint;
    assert.deepEqual(config.servers[hp].ignore, [{ fingerprint: eveFp, names: ["eve2", "eve"] }]);

    // Restart alice: eve2 is still ignored (room and private messages). Meanwhile eve takes a
    // third name, which alice's client learns from eve's first line under it.
    await alice.end();
    assert.equal((await alice.status).code, 0, alice.errors.join("\n"));
    await say(eve, "/nick eve3");
    await until(
      () => events(eve).some((e) => e.t === "event" && e.kind === "nick" && e.name === "eve3"),
      "eve3",
      clients,
    );
    alice = start("alice", aHome);
    await welcomed(alice, "alice");
    await say(alice, "/ignore");
    await until(
      () =>
        events(alice).some((e) =>
          e.t === "local" && /you ignore: eve2 \(also eve\) SHA256:\S{8}…/.test(String(e.text))
        ),
      "the list",
      clients,
    );
    await say(eve, "first as eve3");
    await until(
      () => read().servers[hp]?.ignore?.[0]?.names?.[0] === "eve3",
      "eve3 saved",
      clients,
    );
    await say(eve, "three");
    await say(eve, "/msg alice private three");
    await until(() => texts(eve, "dm").includes("eve3: private three"), "eve's second DM", clients);
    await say(bob, "after three");
    await until(
      () => texts(alice, "msg").includes("bob: after three"),
      "bob's second line",
      clients,
    );
    // Only the line that revealed the new name was shown (replays of eve and eve2 were not).
    assert.deepEqual(texts(alice, "msg").filter((t) => t.startsWith("eve")), [
      "eve3: first as eve3",
    ]);
    assert.deepEqual(texts(alice, "dm"), []);

    await say(alice, "/unignore eve");
    await until(
      () =>
        events(alice).some((e) =>
          e.t === "local" && /^no longer ignoring eve3, eve2, eve SHA256:/.test(String(e.text))
        ),
      "unignored",
      clients,
    );
    await say(eve, "four");
    await until(() => texts(alice, "msg").includes("eve3: four"), "eve visible again", clients);
    assert.deepEqual(read().servers, {}, "nothing left for the server (plain mode saves no name)");
    for (const c of clients) await c.end();
  } finally {
    for (const c of clients) await c.kill();
    await srv.stop();
    await Deno.remove(root, { recursive: true });
  }
});
