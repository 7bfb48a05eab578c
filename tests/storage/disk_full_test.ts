/**
 * A real `chat server` whose data directory and `--log` are on a small filesystem that fills
 * up: messages and new logins get `storage_full` errors and the connections stay, a returning
 * owner still logs in, `/ban` on the operator console reports the error instead of crashing
 * the server, the console shows a warning, and everything works again once space is freed.
 * Needs root on Linux (tmpfs) and tmux (console); skips with a message otherwise.
 */
import assert from "node:assert/strict";
import { EvilClient } from "../support/evil_client.ts";
import { runChat } from "../support/procs.ts";
import { chatLine, hasTmux, Pane } from "../support/tmux.ts";
import { closeAll } from "../limits/helpers.ts";
import { cmd, fillUp, mountSmallFs, request, tryLogin, unmountSmallFs } from "./helpers.ts";

const TMUX = hasTmux();
if (!TMUX) console.warn("disk_full_test: tmux is not installed; test skipped");

Deno.test({
  name: "disk full: storage_full errors to users and console, the server and connections stay",
  ignore: !TMUX,
  async fn() {
    const mnt = await mountSmallFs(8, "disk_full_test");
    if (mnt === undefined) return;
    const pane = new Pane();
    const open: EvilClient[] = [];
    try {
      const args = ["--port", "0", "--data", `${mnt}/data`, "--log", `${mnt}/chat.log`];
      const limits = ["--limit", "rateBurst=100000", "--limit", "ratePerSecond=100000"];
      const cmdline = chatLine("server", "--host", "127.0.0.1", ...args, ...limits) +
        "; echo EXIT=$?; sleep 30";
      await pane.open(cmdline, 200, 50);
      const started = await pane.until((t) => /listening on \S+:\d+/.test(t), "server start");
      const port = Number(/listening on \S+:(\d+)/.exec(started)![1]);

      // The legitimate case first: a name is claimed and a message stored.
      const { c: alice, answer: welcome } = await tryLogin(port, "alice", undefined, open);
      assert.equal(welcome.t, "welcome");
      const ok = EvilClient.say("before");
      assert.equal((await request(alice, ok)).t, "msg");

      await fillUp(`${mnt}/filler`);

      // Messages: an error for the request, never a dropped connection.
      let failed: Record<string, unknown> | undefined;
      for (let i = 0; i < 500 && failed === undefined; i++) {
        const answer = await request(alice, EvilClient.say(`message ${i} `.repeat(50)));
        if (answer.t === "error") failed = answer;
      }
      assert.ok(failed, "a message is refused once the disk is full");
      assert.equal(failed.code, "storage_full", JSON.stringify(failed));
      const who = await request(alice, cmd("who"));
      assert.equal(who.t, "reply", "the connection stays and answers");
      await pane.until((t) => /WARNING: .*storage is FULL/.test(t), "console warning");

      // A new name cannot be saved: the login says why, and is not retried in a loop.
      const { answer: bob } = await tryLogin(port, "bob", undefined, open);
      assert.equal(bob.t, "error", JSON.stringify(bob));
      assert.equal(bob.code, "storage_full");
      assert.equal(bob.retry, false);
      assert.match(String(bob.message), /storage is full/);
      // The real client says why and stops (exit 4) instead of reconnecting in a loop.
      const home = await Deno.makeTempDir({ prefix: "chat-full-home-" });
      try {
        const cli = await runChat(
          ["client", `127.0.0.1:${port}`, "--name", "carol", "--accept-new", "--home", home],
          { ms: 30_000 },
        );
        assert.equal(cli.code, 4, cli.stdout + cli.stderr);
        assert.match(cli.stderr, /storage is full/);
      } finally {
        await Deno.remove(home, { recursive: true });
      }
      // A returning owner needs no write and gets in.
      const { answer: back } = await tryLogin(port, "alice", alice.key, open);
      assert.equal(back.t, "welcome", JSON.stringify(back));

      // The operator console: the ban is refused with the reason; the server lives on.
      await pane.keys("/ban bob", "Enter");
      await pane.until((t) => /error \(storage_full\)/.test(t), "console error for /ban");
      const still = await request(open[open.length - 1], cmd("who"));
      assert.equal(still.t, "reply", "the server still answers after /ban failed");

      // Space freed: everything works again without a restart.
      await Deno.remove(`${mnt}/filler`);
      const after = await request(open[open.length - 1], EvilClient.say("after"));
      assert.equal(after.t, "msg", JSON.stringify(after));
      const { answer: bob2 } = await tryLogin(port, "bob", undefined, open);
      assert.equal(bob2.t, "welcome", JSON.stringify(bob2));
      await pane.keys("/ban bob", "Enter");
      await pane.until((t) => /Banned/.test(t), "ban after space freed");

      await closeAll(...open.splice(0));
      await pane.keys("C-c");
      const end = await pane.until((t) => t.includes("EXIT="), "clean shutdown");
      assert.match(end, /server stopped\s+EXIT=0/);
    } finally {
      await closeAll(...open);
      await pane.tmux("kill-server").catch(() => "");
      await unmountSmallFs(mnt);
    }
  },
});
