/**
 * Files named on the command line, with real `chat` processes: `--log` files (server and
 * client) are created mode 0600 and never written through a symbolic link; an existing log,
 * database or data directory readable by others gets a warning; the server log rotates at
 * `--log-max-size` keeping `--log-keep` old files.
 */
import assert from "node:assert/strict";
import { EvilClient } from "../support/evil_client.ts";
import { runChat, startServer } from "../support/procs.ts";
import { closeAll } from "../limits/helpers.ts";
import { request } from "./helpers.ts";

const POSIX = Deno.build.os !== "windows";
const SERVER = ["server", "--host", "127.0.0.1", "--port", "0"];

Deno.test({
  name: "files: a --log that is a symbolic link is refused (server and client), target untouched",
  ignore: !POSIX,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "chat-files-" });
    try {
      await Deno.writeTextFile(`${dir}/target`, "precious\n");
      await Deno.symlink(`${dir}/target`, `${dir}/chat.log`);
      const srv = await runChat([...SERVER, "--data", `${dir}/data`, "--log", `${dir}/chat.log`]);
      assert.equal(srv.code, 1, srv.stdout + srv.stderr);
      assert.match(srv.stderr, /chat\.log is a symbolic link; refusing to write to it/);
      // A dangling link is refused as well (it would otherwise create the target).
      await Deno.symlink(`${dir}/nowhere`, `${dir}/dangling.log`);
      const dangling = await runChat(
        [...SERVER, "--data", `${dir}/data`, "--log", `${dir}/dangling.log`],
      );
      assert.equal(dangling.code, 1, dangling.stderr);
      assert.match(dangling.stderr, /dangling\.log is a symbolic link/);
      const cli = await runChat(
        ["client", "127.0.0.1:1", "--name", "alice", "--home", `${dir}/home`]
          .concat(["--log", `${dir}/chat.log`]),
      );
      assert.equal(cli.code, 1, cli.stderr);
      assert.match(cli.stderr, /chat\.log is a symbolic link; refusing to write to it/);
      assert.equal(await Deno.readTextFile(`${dir}/target`), "precious\n");
      await assert.rejects(Deno.lstat(`${dir}/nowhere`), Deno.errors.NotFound);

      // The legitimate case: a new client log is created with mode 0600 (before connecting).
      const fresh = await runChat(
        ["client", "127.0.0.1:1", "--name", "alice", "--home", `${dir}/home`]
          .concat(["--log", `${dir}/client.log`]),
      );
      assert.equal(fresh.code, 5, fresh.stderr); // could not connect
      assert.equal((await Deno.stat(`${dir}/client.log`)).mode! & 0o777, 0o600);
      assert.equal(fresh.stderr.includes("warning"), false);
      // An existing client log readable by others: used, with a warning.
      await Deno.chmod(`${dir}/client.log`, 0o644);
      const shared = await runChat(
        ["client", "127.0.0.1:1", "--name", "alice", "--home", `${dir}/home`]
          .concat(["--log", `${dir}/client.log`]),
      );
      assert.match(shared.stderr, /warning: .*client\.log is accessible by others \(mode 644\)/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "files: the server warns about a log, database or data directory readable by others",
  ignore: !POSIX,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "chat-files-" });
    try {
      // Legitimate: everything created fresh is private, and nothing is warned about.
      const clean = await startServer({ dataDir: `${dir}/data`, args: ["--log", `${dir}/a.log`] });
      assert.equal((await clean.stop()).code, 0, clean.stderr());
      assert.equal(clean.stderr().includes("WARNING"), false, clean.stderr());
      assert.equal((await Deno.stat(`${dir}/a.log`)).mode! & 0o777, 0o600, "log mode");
      assert.equal((await Deno.stat(`${dir}/data`)).mode! & 0o777, 0o700, "data mode");

      await Deno.chmod(`${dir}/a.log`, 0o644);
      await Deno.chmod(`${dir}/data`, 0o755);
      await Deno.chmod(`${dir}/data/chat.db`, 0o640);
      const loose = await startServer({ dataDir: `${dir}/data`, args: ["--log", `${dir}/a.log`] });
      assert.equal((await loose.stop()).code, 0, loose.stderr());
      const err = loose.stderr();
      assert.match(err, /WARNING: .*data is accessible by others \(mode 755\); chmod 700 it/);
      assert.match(err, /WARNING: .*chat\.db is accessible by others \(mode 640\); chmod 600 it/);
      assert.match(err, /WARNING: log .*a\.log is accessible by others \(mode 644\); chmod 600/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "files: the server log rotates at --log-max-size and keeps --log-keep old files",
  ignore: !POSIX,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "chat-files-" });
    const log = `${dir}/chat.log`;
    const srv = await startServer({
      dataDir: `${dir}/data`,
      args: ["--log", log, "--log-max-size", "2000", "--log-keep", "2"]
        .concat(["--limit", "rateBurst=1000", "--limit", "ratePerSecond=1000"]),
    });
    const open: EvilClient[] = [];
    try {
      const alice = await EvilClient.joined(srv.port, "alice");
      open.push(alice);
      for (let i = 0; i < 60; i++) {
        assert.equal(
          (await request(alice, EvilClient.say(`message ${i} ${"x".repeat(80)}`))).t,
          "msg",
        );
      }
      await closeAll(...open.splice(0));
      assert.equal((await srv.stop()).code, 0, srv.stderr());
      const names = [...Deno.readDirSync(dir)].map((e) => e.name).filter((n) =>
        n.startsWith("chat.log")
      );
      assert.deepEqual(names.sort(), ["chat.log", "chat.log.1", "chat.log.2"]);
      const texts: string[] = [];
      for (const name of ["chat.log.2", "chat.log.1", "chat.log"]) {
        const info = await Deno.stat(`${dir}/${name}`);
        assert.ok(info.size <= 2000, `${name} is ${info.size} bytes`);
        assert.equal(info.mode! & 0o777, 0o600, name);
        for (const line of (await Deno.readTextFile(`${dir}/${name}`)).split("\n")) {
          if (line === "") continue;
          const entry = JSON.parse(line);
          if (entry.kind === "msg") texts.push(entry.text.split(" ")[1]);
        }
      }
      // The newest messages are kept, in order, with no gap.
      assert.equal(texts.at(-1), "59");
      const numbers = texts.map(Number);
      assert.deepEqual(numbers, numbers.map((_, i) => numbers[0] + i));

      // The flags are checked.
      const bad = await runChat([...SERVER, "--data", `${dir}/data`, "--log-max-size", "0"]);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /bad --log-max-size "0"/);
      const keep = await runChat([...SERVER, "--data", `${dir}/data`, "--log-keep", "x"]);
      assert.equal(keep.code, 2);
      assert.match(keep.stderr, /bad --log-keep "x"/);
    } finally {
      await closeAll(...open);
      await srv.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
