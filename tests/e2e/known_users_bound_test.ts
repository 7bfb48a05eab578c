/**
 * End to end with real processes: `known_users` can never stop the client from starting. A file
 * far over the bound (16,000 unverified pins, over 1 MiB, as a stream of senders could once
 * produce) is pruned, oldest unverified pins first, with a notice; the verified pin stays. Next to
 * it, a file within the bound is left byte for byte as it was.
 */

import assert from "node:assert/strict";
import { fingerprint } from "../../shared/crypto.ts";
import { utf8 } from "../../shared/encoding.ts";
import { saveIdentity } from "../../shared/keys.ts";
import { identities } from "../adversarial/helpers.ts";
import { exitWithin, startClient, startServer, until } from "../support/procs.ts";

async function homeWith(knownUsers: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "chat-e2e-home-" });
  await Deno.chmod(dir, 0o700);
  await saveIdentity(`${dir}/identity`, (await identities())[0]);
  await Deno.writeTextFile(`${dir}/known_users`, knownUsers, { mode: 0o600 });
  return dir;
}

/** Starts a client in `home`, waits for its welcome, ends it; resolves with what it printed. */
async function startAndQuit(port: number, home: string) {
  const c = startClient(port, ["--json", "--name", "kim", "--accept-new"], home);
  try {
    await until(() => c.lines.some((l) => l.includes('"t":"welcome"')), "welcome", [c], 20_000);
    await c.end();
    assert.equal((await exitWithin(c, 20_000)).code, 0, c.errors.join("\n"));
    return c;
  } finally {
    await c.kill();
  }
}

Deno.test("e2e: a known_users far over its bound is pruned at start, not fatal; a small one is untouched", async () => {
  const server = await startServer();
  const homes: string[] = [];
  try {
    const fp1 = await fingerprint(utf8.encode("verified peer"));
    const fp2 = await fingerprint(utf8.encode("unverified peers"));
    const hp = `127.0.0.1:${server.port}`;

    const small = `# mine\n${hp} vera ${fp1} verified\n${hp} ann ${fp2}\n`;
    homes.push(await homeWith(small));
    const calm = await startAndQuit(server.port, homes[0]);
    assert.ok(!calm.errors.some((l) => l.includes("known_users")), calm.errors.join("\n"));
    assert.equal(await Deno.readTextFile(`${homes[0]}/known_users`), small);

    const lines = [`${hp} vera ${fp1} verified`];
    for (let i = 0; i < 16_000; i++) lines.push(`${hp} sender${i} ${fp2}`);
    homes.push(await homeWith(lines.join("\n") + "\n"));
    assert.ok((await Deno.stat(`${homes[1]}/known_users`)).size > 1024 * 1024);
    const c = await startAndQuit(server.port, homes[1]);
    assert.match(c.errors.join("\n"), /known_users was over its bound: removed 15000 line\(s\)/);
    const kept = (await Deno.readTextFile(`${homes[1]}/known_users`)).trimEnd().split("\n");
    assert.equal(kept.length, 1 + 1000);
    assert.equal(kept[0], `${hp} vera ${fp1} verified`, "the verified pin stays");
    assert.equal(kept[1], `${hp} sender15000 ${fp2}`, "the newest unverified pins stay");
    assert.ok((await Deno.stat(`${homes[1]}/known_users`)).size < 256 * 1024);
  } finally {
    await server.stop();
    for (const h of homes) await Deno.remove(h, { recursive: true });
  }
});
