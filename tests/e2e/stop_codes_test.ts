/**
 * End to end with real processes: a client that is already chatting still reports a changed
 * server key (exit 3, pin file unchanged) or a ban (exit 4) with their own exit codes.
 */

import assert from "node:assert/strict";
import { fingerprint } from "../../shared/crypto.ts";
import { saveIdentity } from "../../shared/keys.ts";
import { identities } from "../adversarial/helpers.ts";
import { exitWithin, startClient, startServer, until } from "../support/procs.ts";

async function homeFor(i: number): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "chat-e2e-home-" });
  await Deno.chmod(dir, 0o700);
  await saveIdentity(`${dir}/identity`, (await identities())[i]);
  return dir;
}

const welcomed = (lines: string[]) => lines.filter((l) => l.includes('"t":"welcome"')).length;

Deno.test("e2e: the server's key changes while connected → exit 3, pin file unchanged", async () => {
  const home = await homeFor(0);
  let server = await startServer();
  const port = server.port;
  const client = startClient(port, ["--json", "--name", "alice", "--accept-new"], home);
  try {
    await until(() => welcomed(client.lines) === 1, "alice in", [client], 20_000);
    const pins = await Deno.readFile(`${home}/known_servers`);
    await server.stop("SIGKILL");
    server = await startServer({ port }); // same port, a new data dir: another host key
    const status = await exitWithin(client, 30_000);
    assert.equal(status.code, 3, client.errors.join("\n"));
    assert.match(client.errors.join("\n"), /KEY HAS CHANGED/);
    assert.deepEqual(await Deno.readFile(`${home}/known_servers`), pins);
  } finally {
    await client.kill();
    await server.stop();
  }
});

Deno.test("e2e: banned while connected → exit 4", async () => {
  const [opId] = await identities();
  const opHome = await homeFor(0);
  const victimHome = await homeFor(1);
  const server = await startServer({ args: ["--admin", await fingerprint(opId.sigPublic)] });
  const op = startClient(server.port, ["--json", "--name", "boss", "--accept-new"], opHome);
  const victim = startClient(
    server.port,
    ["--json", "--name", "victor", "--accept-new"],
    victimHome,
  );
  try {
    await until(
      () => welcomed(op.lines) === 1 && welcomed(victim.lines) === 1,
      "both in",
      [op, victim],
      20_000,
    );
    await op.send("/ban victor 1h enough");
    const status = await exitWithin(victim, 15_000);
    assert.equal(status.code, 4, victim.errors.join("\n"));
  } finally {
    await op.kill();
    await victim.kill();
    await server.stop();
  }
});
