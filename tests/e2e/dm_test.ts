/**
 * End to end: a real server process and two real clients in --json mode. alice's `/msg bob …`
 * reaches bob decrypted, the server's log never holds the text, both transcripts do, a `/msg` to
 * a name that is no longer connected is queued for it, and one to a name nobody owns is reported
 * as not delivered.
 */

import assert from "node:assert/strict";
import { createIdentity, saveIdentity } from "../../shared/keys.ts";
import { type ClientProcess, events, startClient, startServer, waitFor } from "../support/procs.ts";

/** A client home with a fresh saved identity (so the process does not generate RSA keys). */
async function home(root: string, name: string): Promise<string> {
  const dir = `${root}/${name}`;
  await Deno.mkdir(dir, { mode: 0o700 });
  await saveIdentity(`${dir}/identity`, await createIdentity());
  return dir;
}

function has(p: ClientProcess, pred: (e: Record<string, unknown>) => boolean): boolean {
  return events(p).some(pred);
}

Deno.test("e2e dm: /msg is end-to-end: bob reads it, the server log does not", async () => {
  const root = await Deno.makeTempDir({ prefix: "chat-e2e-dm-" });
  const serverLog = `${root}/server.jsonl`;
  const srv = await startServer({ dataDir: `${root}/data`, args: ["--log", serverLog] });
  const clients: ClientProcess[] = [];
  try {
    const [aliceHome, bobHome] = await Promise.all([home(root, "alice"), home(root, "bob")]);
    const flags = (name: string) => [
      "--name",
      name,
      "--json",
      "--accept-new",
      "--no-reconnect",
      "--log",
      `${root}/${name}.jsonl`,
    ];
    const bob = startClient(srv.port, flags("bob"), bobHome);
    clients.push(bob);
    await waitFor(() => has(bob, (e) => e.t === "welcome"), 20_000, "bob's welcome");
    const alice = startClient(srv.port, flags("alice"), aliceHome);
    clients.push(alice);
    await waitFor(() => has(alice, (e) => e.t === "welcome"), 20_000, "alice's welcome");

    const secret = "hi, the word is swordfish";
    await alice.send("room text is logged");
    await alice.send(`/msg bob ${secret}`);
    await waitFor(
      () => has(bob, (e) => e.t === "dm" && e.text === secret),
      20_000,
      `bob's decrypted dm (bob: ${bob.lines.join("\n")})`,
    );
    const got = events(bob).find((e) => e.t === "dm")!;
    assert.equal(got.from, "alice");
    assert.equal(got.to, "bob");
    await waitFor(
      () => has(alice, (e) => e.t === "dm" && e.text === secret && e.to === "bob"),
      10_000,
      "alice's acknowledged dm",
    );
    assert.ok(!bob.lines.some((l) => l.includes("cannot decrypt")), bob.lines.join("\n"));

    await bob.end();
    assert.equal((await bob.status).code, 0, bob.errors.join("\n"));
    await waitFor(
      () => has(alice, (e) => e.t === "event" && e.kind === "leave" && e.name === "bob"),
      10_000,
      "bob's leave",
    );
    await alice.send("/msg bob are you there?");
    await waitFor(
      () => has(alice, (e) => e.t === "dm" && e.to === "bob" && e.queued === true),
      10_000,
      "queued for bob",
    );
    await alice.send("/msg nobody are you there?");
    await waitFor(
      () => has(alice, (e) => e.t === "dm_failed" && e.to === "nobody"),
      10_000,
      "not delivered",
    );
    const failed = events(alice).find((e) => e.t === "dm_failed")!;
    assert.equal(failed.text, "are you there?");
    assert.match(String(failed.reason), /^no_such_user: /);
    await alice.end();
    assert.equal((await alice.status).code, 1, "a message was not delivered");

    const st = await srv.stop();
    assert.equal(st.code, 0);
    const log = await Deno.readTextFile(serverLog);
    assert.ok(log.includes("room text is logged"), "the server log is written");
    assert.ok(!log.includes("swordfish"), "no DM plaintext in the server log");
    assert.ok(!log.includes("hi"), "not even the greeting");

    const bobLog = await Deno.readTextFile(`${root}/bob.jsonl`);
    const aliceLog = await Deno.readTextFile(`${root}/alice.jsonl`);
    assert.ok(
      bobLog.split("\n").some((l) => l.includes('"t":"dm"') && l.includes(secret)),
      bobLog,
    );
    assert.ok(aliceLog.includes(secret), "the sender's transcript has the sent DM");
    assert.ok(aliceLog.includes('"t":"dm_failed"'), "and the failure");
    const knownUsers = await Deno.readTextFile(`${aliceHome}/known_users`);
    assert.match(knownUsers, new RegExp(`^127\\.0\\.0\\.1:${srv.port} bob SHA256:`, "m"));
  } finally {
    for (const c of clients) await c.kill();
    await srv.stop();
    await Deno.remove(root, { recursive: true });
  }
});
