/**
 * End to end, with a real server and real clients in plain mode: a script sends messages of
 * several lines with `--json-input` (a room message, a `/me` and a private message); a `--json`
 * client receives each string exactly as sent, a text-mode client prints each on one line (line
 * breaks as `␊`), a client joining later gets it intact from the history replay, and the
 * server's `--log` transcript holds it. A CR is normalised to LF; 51 lines are refused before
 * sending (the server's own refusal is tested in tests/server/hub_test.ts).
 */

import assert from "node:assert/strict";
import { createIdentity, saveIdentity } from "../../shared/keys.ts";
import { type ClientProcess, events, startClient, startServer, until } from "../support/procs.ts";

/** A client home with a fresh saved identity (so the process does not generate RSA keys). */
async function home(root: string, name: string): Promise<string> {
  const dir = `${root}/${name}`;
  await Deno.mkdir(dir, { mode: 0o700 });
  await saveIdentity(`${dir}/identity`, await createIdentity());
  return dir;
}

const TEXT = "first line\n  indented second\n\nfourth after a blank \x1b[2J";
const ACTION = "waves\nand bows";
const PRIVATE = "a private\nmessage";

Deno.test("e2e multiline: --json-input sends lines; --json, text mode, history and log keep them", async () => {
  const root = await Deno.makeTempDir({ prefix: "chat-e2e-ml-" });
  const serverLog = `${root}/server.jsonl`;
  const srv = await startServer({ dataDir: `${root}/data`, args: ["--log", serverLog] });
  const clients: ClientProcess[] = [];
  const flags = (name: string, ...more: string[]) => [
    "--name",
    name,
    "--accept-new",
    "--no-reconnect",
    ...more,
  ];
  try {
    const [aHome, bHome, cHome, dHome] = await Promise.all(
      ["alice", "bob", "carol", "dave"].map((n) => home(root, n)),
    );
    const bob = startClient(srv.port, flags("bob", "--json"), bHome);
    const carol = startClient(srv.port, flags("carol"), cHome);
    clients.push(bob, carol);
    await until(() => events(bob).some((e) => e.t === "welcome"), "bob's welcome", clients, 20_000);
    await until(
      () => carol.lines.some((l) => /^(\d\d:\d\d )?-- connected/.test(l)),
      "carol's welcome",
      clients,
      20_000,
    );
    const alice = startClient(srv.port, flags("alice", "--json", "--json-input"), aHome);
    clients.push(alice);
    await until(
      () => events(alice).some((e) => e.t === "welcome"),
      "alice's welcome",
      clients,
      20_000,
    );

    await alice.send(JSON.stringify(TEXT));
    await alice.send(JSON.stringify(`/me ${ACTION}`));
    await alice.send(JSON.stringify(`/msg bob ${PRIVATE}`));
    await alice.send(JSON.stringify("a carriage\rreturn")); // normalised to LF by the client
    await alice.send("not a JSON string");
    await alice.send(JSON.stringify(Array(51).fill("x").join("\n")));
    const msgs = () => events(bob).filter((e) => e.t === "msg" && e.from === "alice");
    await until(
      () => msgs().length === 3 && events(bob).some((e) => e.t === "dm" && e.text === PRIVATE),
      "bob's three messages and the DM",
      clients,
      30_000,
    );
    assert.deepEqual(msgs().map((e) => [e.text, e.me === true]), [
      [TEXT, false],
      [ACTION, true],
      ["a carriage\nreturn", false],
    ]);
    // The JSON line itself never holds a raw control character.
    assert.ok(bob.lines.every((l) => [...l].every((c) => c.charCodeAt(0) >= 0x20)));
    assert.ok(
      events(alice).some((e) => e.t === "local" && /not a JSON string/.test(String(e.text))),
    );
    await until(
      () => events(alice).some((e) => e.t === "failed"),
      "the 51-line refusal",
      clients,
    );
    const failed = events(alice).filter((e) => e.t === "failed");
    assert.deepEqual(failed.map((e) => e.reason), ["at most 50 lines (this has 51)"]);

    // Text mode: one output line per message, the breaks shown as ␊, escapes neutralised.
    await until(
      () => carol.lines.some((l) => l.includes("alice: first line␊")),
      "carol's line",
      clients,
      10_000,
    );
    await until(
      () => carol.lines.some((l) => l.includes("* alice waves␊and bows")),
      "carol's action",
      clients,
    );
    const line = carol.lines.find((l) => l.includes("alice: first line␊"))!;
    assert.ok(
      line.endsWith("alice: first line␊  indented second␊␊fourth after a blank ␛[2J"),
      line,
    );

    // A later client gets the same strings from the history replay.
    const dave = startClient(srv.port, flags("dave", "--json"), dHome);
    clients.push(dave);
    await until(
      () => events(dave).filter((e) => e.t === "msg" && e.replay === true).length >= 3,
      "dave's replay",
      clients,
      20_000,
    );
    const replayed = events(dave).filter((e) => e.t === "msg" && e.from === "alice");
    assert.deepEqual(replayed.map((e) => e.text), [TEXT, ACTION, "a carriage\nreturn"]);

    for (const c of clients) await c.end();
    // alice exits 1: one of her messages (the 51 lines) was not delivered.
    for (const c of clients) {
      assert.equal((await c.status).code, c === alice ? 1 : 0, c.errors.join("\n"));
    }
    const logged = (await Deno.readTextFile(serverLog)).trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    assert.deepEqual(
      logged.filter((e) => e.kind === "msg" || e.kind === "me").map((e) => e.text),
      [TEXT, ACTION, "a carriage\nreturn"],
    );
  } finally {
    for (const c of clients) await c.kill();
    await srv.stop();
    await Deno.remove(root, { recursive: true });
  }
});
