/**
 * `--blacklist` must be a regular file of at most 1 MiB, with real `chat server` processes: a
 * FIFO (which would block the start forever), a directory or an oversized file is refused
 * with a clear error on start; on SIGHUP the same is reported and the previous list stays in
 * force, while a fixed file is loaded on the next SIGHUP.
 */
import assert from "node:assert/strict";
import type { EvilClient } from "../support/evil_client.ts";
import { runChat, startServer, waitFor } from "../support/procs.ts";
import { closeAll } from "../limits/helpers.ts";
import { run, tryLogin } from "./helpers.ts";

const SERVER = ["server", "--host", "127.0.0.1", "--port", "0"];

Deno.test({
  name: "blacklist: a FIFO, a directory or a file over 1 MiB is refused on start",
  ignore: Deno.build.os === "windows",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "chat-bl-" });
    try {
      assert.ok(await run("mkfifo", `${dir}/fifo`), "mkfifo");
      await Deno.mkdir(`${dir}/folder`);
      await Deno.writeTextFile(`${dir}/big`, "x\n".repeat(512 * 1024 + 1));
      const cases: [string, RegExp][] = [
        ["fifo", /blacklist .*fifo is not a regular file/],
        ["folder", /blacklist .*folder is not a regular file/],
        ["big", /blacklist .*big is larger than 1048576 bytes/],
      ];
      for (const [name, expected] of cases) {
        const r = await runChat([
          ...SERVER,
          "--data",
          `${dir}/data`,
          "--blacklist",
          `${dir}/${name}`,
        ], {
          ms: 15_000,
        });
        assert.equal(r.code, 1, `${name}: ${r.stdout}${r.stderr}`);
        assert.match(r.stderr, expected);
        assert.equal(r.stdout.includes("listening"), false);
      }
      // The legitimate case: a regular file at the bound is accepted.
      await Deno.writeTextFile(`${dir}/ok`, "x\n".repeat(512 * 1024));
      const srv = await startServer({ dataDir: `${dir}/data`, args: ["--blacklist", `${dir}/ok`] });
      assert.equal((await srv.stop()).code, 0, srv.stderr());
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "blacklist: a bad file on SIGHUP is reported and the previous list stays in force",
  ignore: Deno.build.os === "windows",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "chat-bl-" });
    const file = `${dir}/blacklist`;
    await Deno.writeTextFile(file, "mallory\n");
    const srv = await startServer({ dataDir: `${dir}/data`, args: ["--blacklist", file] });
    const open: EvilClient[] = [];
    try {
      await Deno.remove(file);
      assert.ok(await run("mkfifo", file), "mkfifo");
      srv.child.kill("SIGHUP");
      await waitFor(
        () => /blacklist not reloaded: blacklist .* is not a regular file/.test(srv.stderr()),
        10_000,
        "reload refused",
      );
      const { answer } = await tryLogin(srv.port, "mallory", undefined, open);
      assert.deepEqual([answer.t, answer.code], ["error", "name_reserved"], "old list kept");

      await Deno.remove(file);
      await Deno.writeTextFile(file, "mallory\ntrent\n");
      srv.child.kill("SIGHUP");
      await waitFor(
        () => srv.stdout.includes("blacklist reloaded: 2 entries"),
        10_000,
        "reload",
      );
      const { answer: trent } = await tryLogin(srv.port, "trent", undefined, open);
      assert.deepEqual([trent.t, trent.code], ["error", "name_reserved"]);
    } finally {
      await closeAll(...open);
      const s = await srv.stop();
      await Deno.remove(dir, { recursive: true });
      assert.equal(s.code, 0, srv.stderr());
    }
  },
});
