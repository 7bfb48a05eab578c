/**
 * End to end with real processes, in plain and `--json` mode: a changed server key gives a hint
 * that works when pasted, `--fingerprint` trusts exactly the named key, every failure is a JSON
 * object in `--json` mode, and an error is said once.
 */

import assert from "node:assert/strict";
import { runChat, startClient, startServer, until } from "../support/procs.ts";

const welcomed = (out: string) => out.includes('"t":"welcome"');

Deno.test("e2e: changed server key → JSON failure, a pasteable --fingerprint hint that works", async () => {
  const home = await Deno.makeTempDir({ prefix: "chat-e2e-fp-" });
  let server = await startServer();
  const port = server.port;
  const hp = `127.0.0.1:${port}`;
  const client = (...more: string[]) =>
    runChat(["client", hp, "--name", "alice", "--json", "--home", home, ...more]);
  try {
    const first = await client("--accept-new");
    assert.equal(first.code, 0, first.stderr);
    assert.ok(welcomed(first.stdout));
    await server.stop();
    server = await startServer({ port }); // another data dir: another host key
    const changed = await client();
    assert.equal(changed.code, 3, changed.stderr);
    const fatal = JSON.parse(changed.stdout.trim().split("\n").at(-1)!);
    assert.equal(fatal.t, "fatal");
    assert.equal(fatal.code, "host_key_changed");
    assert.equal(fatal.exit, 3);
    assert.equal(fatal.offered, server.fingerprint);
    const hint = `  chat client ${hp} --fingerprint ${server.fingerprint} --home ${home}`;
    assert.ok(changed.stderr.split("\n").includes(hint), changed.stderr);

    // Another key than the one named: refused, and the pin is kept.
    const wrong = await client("--fingerprint", fatal.pinned);
    assert.equal(wrong.code, 4, wrong.stderr);
    assert.equal(JSON.parse(wrong.stdout.trim()).code, "untrusted");

    // The hint as typed (after `chat`), plus the name and the output mode of this test.
    const pasted = hint.trim().split(" ").slice(1);
    const ok = await runChat([...pasted, "--name", "alice", "--json"]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.ok(welcomed(ok.stdout), ok.stdout);
    assert.equal(
      (await Deno.readTextFile(`${home}/known_servers`)).trim().split("\n").at(-1),
      `${hp} ${server.fingerprint}`,
    );
    const again = await client();
    assert.equal(again.code, 0, "the new key is pinned now");
  } finally {
    await server.stop();
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("e2e: a name in use is said once, on stderr, and is a JSON failure with --json", async () => {
  const server = await startServer();
  const [h1, h2] = [
    await Deno.makeTempDir({ prefix: "chat-e2e-n1-" }),
    await Deno.makeTempDir({ prefix: "chat-e2e-n2-" }),
  ];
  const holder = startClient(server.port, ["--name", "alice", "--accept-new", "--json"], h1);
  try {
    await until(() => holder.lines.some(welcomed), "alice in", [holder], 20_000);
    const plain = await runChat([
      "client",
      `127.0.0.1:${server.port}`,
      "--name",
      "alice",
      "--accept-new",
      "--home",
      h2,
    ]);
    assert.equal(plain.code, 4, plain.stderr);
    const said = (plain.stdout + plain.stderr).split("\n").filter((l) => l.includes("in use"));
    assert.deepEqual(said, ["chat: alice is in use right now."]);
    const json = await runChat([
      "client",
      `127.0.0.1:${server.port}`,
      "--name",
      "alice",
      "--json",
      "--home",
      h2,
    ]);
    assert.equal(json.code, 4);
    assert.deepEqual(JSON.parse(json.stdout.trim().split("\n").at(-1)!), {
      t: "fatal",
      code: "name",
      exit: 4,
      message: "alice is in use right now.",
    });
  } finally {
    await holder.kill();
    await server.stop();
    await Deno.remove(h1, { recursive: true });
    await Deno.remove(h2, { recursive: true });
  }
});
