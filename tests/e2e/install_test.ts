/**
 * `deno task install` puts a working `chat` command in `$DENO_INSTALL_ROOT/bin`, with exactly the
 * permissions of the `chat` task, so the commands the program prints work as typed.
 */

import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test("e2e: deno task install gives a chat command with the tasks' permissions", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-install-" });
  try {
    const run = async (cmd: string, args: string[], env: Record<string, string> = {}) => {
      const out = await new Deno.Command(cmd, {
        args,
        cwd: ROOT,
        env: { DENO_INSTALL_ROOT: dir, NO_COLOR: "1", ...env },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const dec = new TextDecoder();
      return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
    };
    const inst = await run(Deno.execPath(), ["task", "install"]);
    assert.equal(inst.code, 0, inst.stderr);
    const bin = `${dir}/bin/chat`;
    // The shim runs `deno`: the one that installed it.
    const path = `${Deno.execPath().replace(/\/[^/]*$/, "")}:${Deno.env.get("PATH") ?? ""}`;
    const version = await run(bin, ["--version"], { PATH: path });
    assert.equal(version.code, 0, version.stderr);
    assert.match(version.stdout, /^chat \d+\.\d+\.\d+/);
    const keys = await run(bin, ["keys", "--home", `${dir}/home`], { PATH: path });
    assert.equal(keys.code, 0, keys.stderr);
    assert.match(keys.stdout, /^SHA256:\S{43}\n$/);

    const flags = (s: string) => [...s.matchAll(/--allow-[a-z]+/g)].map((m) => m[0]).sort();
    const tasks = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)).tasks;
    const shim = await Deno.readTextFile(bin);
    assert.deepEqual(flags(shim), flags(tasks.chat));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
