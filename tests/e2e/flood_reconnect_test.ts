/**
 * End to end with real processes: a disconnect for flooding is not final. A client that sends
 * one line per record faster than the rate limit is closed by the server with `bye flooding`; it
 * says what happened, reconnects with backoff and goes on (its next message is acknowledged).
 * Next to it, a client sending at a sane pace is never disconnected.
 */

import assert from "node:assert/strict";
import { saveIdentity } from "../../shared/keys.ts";
import { identities } from "../adversarial/helpers.ts";
import {
  type ClientProcess,
  events,
  exitWithin,
  startClient,
  startServer,
  until,
} from "../support/procs.ts";

async function homeFor(i: number): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "chat-e2e-home-" });
  await Deno.chmod(dir, 0o700);
  await saveIdentity(`${dir}/identity`, (await identities())[i]);
  return dir;
}

const count = (p: ClientProcess, pred: (e: Record<string, unknown>) => boolean) =>
  events(p).filter(pred).length;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("e2e: disconnected for flooding → the client says why, reconnects and goes on", async () => {
  const [floodHome, calmHome] = await Promise.all([homeFor(0), homeFor(1)]);
  const server = await startServer();
  const args = (name: string) => ["--json", "--name", name, "--accept-new"];
  const flood = startClient(server.port, args("flo"), floodHome);
  const calm = startClient(server.port, args("calm"), calmHome);
  try {
    const welcomes = (p: ClientProcess) => count(p, (e) => e.t === "welcome");
    await until(
      () => welcomes(flood) === 1 && welcomes(calm) === 1,
      "both in",
      [flood, calm],
      20_000,
    );
    // One line per record, well past the burst: rate_limited strikes, then bye flooding.
    for (
      let i = 0;
      i < 200 && count(flood, (e) => e.t === "status" && e.state === "lost") === 0;
      i++
    ) {
      await flood.send(`line ${i}`);
      await sleep(15);
    }
    await until(
      () => count(flood, (e) => e.t === "status" && e.state === "lost") === 1,
      "the flooding disconnect",
      [flood],
      20_000,
    );
    const lost = events(flood).find((e) => e.t === "status" && e.state === "lost")!;
    assert.match(String(lost.detail), /flooding/);
    await until(() => welcomes(flood) === 2, "the reconnect", [flood], 30_000);
    // Lines still pending from the flood may be acknowledged after the reconnect too: wait for
    // this line's own acknowledgement, by its id.
    await flood.send("back, and calmer");
    const idOf = () =>
      events(flood).find((e) => e.t === "pending" && e.text === "back, and calmer")?.id;
    await until(() => idOf() !== undefined, "the line pending", [flood], 20_000);
    await until(
      () => count(flood, (e) => e.t === "acked" && e.id === idOf()) === 1,
      "the message after the reconnect acknowledged",
      [flood],
      20_000,
    );
    // The calm client sends at a sane pace and is never disconnected.
    for (let i = 0; i < 5; i++) {
      await calm.send(`calm ${i}`);
      await sleep(600);
    }
    await until(() => count(calm, (e) => e.t === "acked") === 5, "calm acked", [calm], 20_000);
    assert.equal(count(calm, (e) => e.t === "status" && e.state === "lost"), 0);
    await calm.end();
    assert.equal((await exitWithin(calm, 20_000)).code, 0);
    await flood.end();
    // Lines refused while flooding were not delivered: plain mode reports that with exit 1.
    assert.equal((await exitWithin(flood, 20_000)).code, 1);
  } finally {
    await flood.kill();
    await calm.kill();
    await server.stop();
  }
});
