/**
 * The settings file from the command line, with real processes: a bad config.json stops the
 * client before it connects, with the file and the key named (exit 1); `--room dev` and
 * `--room '#dev'` both join #dev; a name saved for the server stands in for `--name` in plain mode;
 * `--room 'bad room'` is a usage error.
 */

import assert from "node:assert/strict";
import { createIdentity, saveIdentity } from "../../shared/keys.ts";
import { events, runChat, startClient, startServer, until } from "../support/procs.ts";

Deno.test("e2e settings: a bad file names the key; --room with or without #; the saved name", async () => {
  const root = await Deno.makeTempDir({ prefix: "chat-e2e-settings-" });
  const srv = await startServer({ dataDir: `${root}/data` });
  try {
    const home = `${root}/home`;
    await Deno.mkdir(home, { mode: 0o700 });
    await saveIdentity(`${home}/identity`, await createIdentity());
    const hp = `127.0.0.1:${srv.port}`;

    await Deno.writeTextFile(`${home}/config.json`, JSON.stringify({ bell: "loud" }));
    const bad = await runChat(["client", hp, "--home", home, "--name", "ann", "--accept-new"]);
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr, /config\.json: settings: "bell" must be mention, all or off/);
    assert.equal(bad.stdout, "");

    const usage = await runChat(["client", hp, "--home", home, "--room", "bad room"]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /bad --room "bad room"/);

    // A saved name replaces --name; the unknown key survives the client.
    await Deno.writeTextFile(
      `${home}/config.json`,
      JSON.stringify({ servers: { [hp]: { name: "ann", later: 1 } }, future: "kept" }),
    );
    for (const room of ["dev", "#dev"]) {
      const c = startClient(srv.port, ["--accept-new", "--json", "--room", room], home);
      try {
        await until(() => events(c).some((e) => e.t === "welcome"), "welcome", [c], 20_000);
        const w = events(c).find((e) => e.t === "welcome")!;
        assert.equal(w.name, "ann");
        assert.deepEqual((w.rooms as { name: string }[]).map((r) => r.name), ["#dev"]);
        await c.end();
        assert.equal((await c.status).code, 0, c.errors.join("\n"));
      } finally {
        await c.kill();
      }
    }
    const after = JSON.parse(await Deno.readTextFile(`${home}/config.json`));
    assert.deepEqual(after, { servers: { [hp]: { name: "ann", later: 1 } }, future: "kept" });
  } finally {
    await srv.stop();
    await Deno.remove(root, { recursive: true });
  }
});
