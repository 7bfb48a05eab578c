/**
 * A real `chat server` whose data directory (database, host key and `--log` file) is deleted
 * while it runs: it keeps serving (the open database file lives on), says on stderr that the log
 * cannot be written, and still stops on SIGTERM, exiting 0 within a bounded time.
 */
import assert from "node:assert/strict";
import { EvilClient, within } from "../support/evil_client.ts";
import { startServer } from "../support/procs.ts";
import { closeAll, keep } from "../limits/helpers.ts";

Deno.test("data directory deleted under a running server: it keeps serving, SIGTERM stops it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-gone-" });
  const data = `${dir}/data`;
  const srv = await startServer({
    dataDir: data,
    args: ["--log", `${data}/chat.jsonl`, "--log-max-size", "1K"],
  });
  const open: EvilClient[] = [];
  try {
    const alice = keep(open, await EvilClient.joined(srv.port, "alice"));
    await alice.sync();
    await Deno.remove(data, { recursive: true });
    for (let i = 0; i < 20; i++) {
      await alice.send(EvilClient.say(`after the removal ${i} ${"x".repeat(60)}`));
    }
    const bob = keep(open, await EvilClient.joined(srv.port, "bob"));
    const say = EvilClient.say("still here");
    await bob.send(say);
    await alice.readUntil((m) => m.t === "msg" && m.id === say.id, 5000);
    const status = await within(srv.stop("SIGTERM"), 10_000);
    assert.ok(status !== undefined, "the server did not exit within 10 s of SIGTERM");
    assert.equal(status.code, 0, srv.stderr());
    assert.ok(srv.stdout.includes("server stopped"), srv.stdout.join("\n"));
    assert.match(srv.stderr(), /log .*chat\.jsonl write failed/);
  } finally {
    await closeAll(...open);
    try {
      srv.child.kill("SIGKILL");
    } catch {
      // already exited
    }
    await srv.child.status;
    await Deno.remove(dir, { recursive: true });
  }
});
