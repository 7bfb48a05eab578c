/**
 * End to end with real processes: `chat keys host-key FILE` and `chat server --host-key FILE`.
 * Two servers given the same file present the same key: a client that pinned the first is
 * accepted by the second at the same address (no exit 3); neither writes a host key into its
 * data directory. A key file readable by others, a missing file, a directory and an existing
 * file for `keys host-key` are refused with a clear message, and the key never appears in the
 * output.
 */

import assert from "node:assert/strict";
import { saveIdentity } from "../../shared/keys.ts";
import { identities } from "../adversarial/helpers.ts";
import { MAIN, RUN_FLAGS, startClient, startServer, until } from "../support/procs.ts";

/** Runs `chat ...args` to completion; exit code and output. */
async function chat(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: [...RUN_FLAGS, MAIN, ...args],
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

async function tempDir(prefix: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix });
  await Deno.chmod(dir, 0o700);
  return dir;
}

const welcomed = (lines: string[]) => lines.filter((l) => l.includes('"t":"welcome"')).length;

Deno.test("e2e: two servers with one --host-key file: a client pinned to one is accepted by the other", async () => {
  const keys = await tempDir("chat-hostkey-");
  const keyFile = `${keys}/cluster_host_key`;
  const made = await chat("keys", "host-key", keyFile);
  assert.equal(made.code, 0, made.err);
  const fp = /host key (SHA256:\S+) written to/.exec(made.out)?.[1];
  assert.ok(fp, made.out);
  assert.equal((await Deno.stat(keyFile)).mode! & 0o777, 0o600);
  const keyText = await Deno.readTextFile(keyFile);

  const home = await tempDir("chat-e2e-home-");
  await saveIdentity(`${home}/identity`, (await identities())[0]);
  let server = await startServer({ args: ["--host-key", keyFile] });
  const port = server.port;
  const firstData = server.dataDir;
  const client = startClient(port, ["--json", "--name", "alice", "--accept-new"], home);
  try {
    assert.equal(server.fingerprint, fp);
    await until(() => welcomed(client.lines) === 1, "alice in", [client], 20_000);
    const pins = await Deno.readTextFile(`${home}/known_servers`);
    assert.ok(pins.includes(fp), pins);
    await server.stop("SIGKILL");
    // Another node: same address, its own data directory, the same key file.
    server = await startServer({ port, args: ["--host-key", keyFile] });
    assert.equal(server.fingerprint, fp);
    assert.notEqual(server.dataDir, firstData);
    await until(
      () => welcomed(client.lines) === 2,
      "alice back on the other node",
      [client],
      30_000,
    );
    await client.send("hello from the second node");
    await until(
      () => client.lines.some((l) => l.includes('"t":"acked"')),
      "acknowledged",
      [client],
    );
    assert.equal(await Deno.readTextFile(`${home}/known_servers`), pins, "pin file unchanged");
    assert.ok(!client.errors.join("\n").includes("KEY HAS CHANGED"), client.errors.join("\n"));
    for (const dir of [firstData, server.dataDir]) {
      await assert.rejects(Deno.stat(`${dir}/host_key`), Deno.errors.NotFound);
    }
    assert.ok(!server.stdout.join("\n").includes(JSON.parse(keyText).ed25519_pkcs8));
  } finally {
    await client.kill();
    await server.stop();
    for (const d of [keys, home, firstData, server.dataDir]) {
      await Deno.remove(d, { recursive: true }).catch(() => {});
    }
  }
});

Deno.test("e2e: --host-key refuses a file others can read, a missing file and a directory", async () => {
  const keys = await tempDir("chat-hostkey-");
  const data = await tempDir("chat-srv-");
  const keyFile = `${keys}/host_key`;
  try {
    assert.equal((await chat("keys", "host-key", keyFile)).code, 0);
    const secret = JSON.parse(await Deno.readTextFile(keyFile)).ed25519_pkcs8 as string;
    const serve = (file: string) =>
      chat("server", "--host", "127.0.0.1", "--port", "0", "--data", data, "--host-key", file);

    await Deno.chmod(keyFile, 0o644);
    const open = await serve(keyFile);
    assert.equal(open.code, 1, open.out + open.err);
    assert.match(open.err, /permissions 0644 are too open/);
    assert.match(open.err, /chmod 600/);
    assert.ok(!(open.out + open.err).includes(secret));

    const missing = await serve(`${keys}/nope`);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /nope: does not exist \(create one with: chat keys host-key FILE\)/);

    const dir = await serve(keys);
    assert.equal(dir.code, 1);
    assert.match(dir.err, /is not a regular file/);

    // Nothing listened, and no key was made in the data directory.
    for (const r of [open, missing, dir]) assert.ok(!r.out.includes("listening on"), r.out);
    await assert.rejects(Deno.stat(`${data}/host_key`), Deno.errors.NotFound);

    // `keys host-key` never replaces a file.
    await Deno.chmod(keyFile, 0o600);
    const before = await Deno.readTextFile(keyFile);
    const again = await chat("keys", "host-key", keyFile);
    assert.equal(again.code, 1);
    assert.match(again.err, /already exists; it is never replaced/);
    assert.equal(await Deno.readTextFile(keyFile), before);
  } finally {
    await Deno.remove(keys, { recursive: true });
    await Deno.remove(data, { recursive: true });
  }
});
