/**
 * A real `chat server` started on a database file made read-only (the process runs without
 * the capability to override file permissions, so the file mode binds it even as root): the
 * server runs, a returning owner logs in and reads history, a message gets an `internal`
 * error saying the storage is read-only and the connection stays, a new name's login says why
 * it failed, and SIGTERM still stops the server cleanly. Skips with a message where the
 * capability cannot be dropped (not root, or no `setpriv`).
 */
import assert from "node:assert/strict";
import { EvilClient } from "../support/evil_client.ts";
import { runChat, startServer } from "../support/procs.ts";
import { closeAll } from "../limits/helpers.ts";
import { cmd, request, run, tryLogin } from "./helpers.ts";

const NO_DAC = [
  "setpriv",
  "--inh-caps=-dac_override,-dac_read_search",
  "--bounding-set=-dac_override,-dac_read_search",
];

Deno.test({
  name: "read-only database: errors for writes, reads and the connection stay, clean stop",
  ignore: Deno.build.os !== "linux",
  async fn() {
    if (Deno.uid() !== 0 || !await run(NO_DAC[0], ...NO_DAC.slice(1), "true")) {
      console.warn("read_only_test: needs root and setpriv to bind root by file modes; skipped");
      return;
    }
    const dir = await Deno.makeTempDir({ prefix: "chat-ro-" });
    const open: EvilClient[] = [];
    const first = await startServer({ dataDir: `${dir}/data` });
    let key;
    try {
      const { c: alice, answer } = await tryLogin(first.port, "alice", undefined, open);
      assert.equal(answer.t, "welcome");
      key = alice.key;
      assert.equal((await request(alice, EvilClient.say("kept"))).t, "msg");
    } finally {
      await closeAll(...open.splice(0));
      assert.equal((await first.stop()).code, 0, first.stderr());
    }
    await Deno.chmod(`${dir}/data/chat.db`, 0o444);

    const srv = await startServer({ dataDir: `${dir}/data`, wrap: NO_DAC });
    try {
      // Reads work: the owner logs in and gets the history.
      const { c: alice, answer } = await tryLogin(srv.port, "alice", key, open);
      assert.equal(answer.t, "welcome", JSON.stringify(answer));
      const hist = await request(alice, cmd("history", "#lobby", "5"));
      assert.equal(hist.t, "reply");
      // Writes fail with an error for the request; the connection stays.
      const say = await request(alice, EvilClient.say("lost"));
      assert.deepEqual([say.t, say.code], ["error", "internal"], JSON.stringify(say));
      assert.match(String(say.message), /read-only/);
      assert.equal((await request(alice, cmd("who"))).t, "reply");
      // A login that needs a write says why it failed.
      const { answer: bob } = await tryLogin(srv.port, "bob", undefined, open);
      assert.deepEqual([bob.t, bob.code, bob.retry], ["error", "internal", false]);
      assert.match(String(bob.message), /read-only/);
    } finally {
      await closeAll(...open);
      const s = await srv.stop("SIGTERM");
      await Deno.remove(dir, { recursive: true });
      assert.equal(s.code, 0, srv.stderr());
      assert.match(srv.stderr(), /WARNING: database/);
    }
  },
});

Deno.test("read-only database: a database that cannot be opened stops the start with its path", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-ro-" });
  try {
    await Deno.mkdir(`${dir}/data/chat.db`, { recursive: true }); // a directory where the file goes
    const r = await runChat([
      "server",
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--data",
      `${dir}/data`,
    ]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /chat: cannot open the database .*data\/chat\.db: /);
    assert.equal(r.stdout.includes("listening"), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
