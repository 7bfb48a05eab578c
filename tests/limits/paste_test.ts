/**
 * "A multi-line paste is one message" (DESIGN.md §4): the requests of one record share one token
 * up to `pasteLines`; beyond that each further group takes another. The real client sends lines
 * typed in one go (a paste, a pipe) in one record.
 */

import assert from "node:assert/strict";
import { EvilClient } from "../support/evil_client.ts";
import { saveIdentity } from "../../shared/keys.ts";
import { identities } from "../adversarial/helpers.ts";
import { exitWithin, startClient, startServer, until } from "../support/procs.ts";
import { closeAll, joined, keep, withServer } from "./helpers.ts";

Deno.test("paste: pasteLines requests in one record cost one token; one more costs another", async () => {
  await withServer({ rateBurst: 1, ratePerSecond: 0.001, pasteLines: 5 }, async (t) => {
    const open: EvilClient[] = [];
    try {
      const c = keep(open, await joined(t, "paster"));
      const block = (n: number, tag: string) =>
        Array.from({ length: n }, (_, i) => JSON.stringify(EvilClient.say(`${tag}${i}`)))
          .join("\n");
      await c.send(new TextEncoder().encode(block(6, "p")));
      const seen: Record<string, unknown>[] = [];
      await c.readUntil((m) => {
        seen.push(m);
        return m.t === "error";
      });
      const relayed = seen.filter((m) => m.t === "msg").map((m) => m.text);
      assert.deepEqual(relayed, ["p0", "p1", "p2", "p3", "p4"], "five share the one token");
      assert.equal(seen.at(-1)?.code, "rate_limited", "the sixth needs a second token");
    } finally {
      await closeAll(...open);
    }
  });
});

Deno.test("paste: a 15-line paste through a pipe arrives whole with the default limits", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-paste-" });
  const [a, b] = await identities();
  for (const [who, id] of [["w", a], ["p", b]] as const) {
    await Deno.mkdir(`${dir}/${who}`, { mode: 0o700 });
    await saveIdentity(`${dir}/${who}/identity`, id);
  }
  const server = await startServer({ dataDir: `${dir}/srv` });
  const watcher = startClient(
    server.port,
    ["--json", "--name", "watcher", "--accept-new"],
    `${dir}/w`,
  );
  const paster = startClient(server.port, ["--name", "paster", "--accept-new"], `${dir}/p`);
  try {
    await until(
      () => watcher.lines.some((l) => l.includes('"t":"welcome"')),
      "watcher",
      [watcher],
      20_000,
    );
    const lines = Array.from({ length: 15 }, (_, i) => `line ${i + 1}`);
    await paster.send(lines.join("\n"));
    await paster.end();
    assert.equal((await exitWithin(paster, 20_000)).code, 0, paster.errors.join("\n"));
    const got = () =>
      watcher.lines.map((l) => JSON.parse(l)).filter((m) => m.t === "msg" && m.from === "paster")
        .map((m) => m.text);
    await until(() => got().length === 15, "all 15 lines", [watcher], 10_000);
    assert.deepEqual(got(), lines);
  } finally {
    await watcher.kill();
    await paster.kill();
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
