/**
 * The operator's blacklist file is re-read on SIGHUP by a real `chat server` process: a name
 * added to the file is `name_reserved` from then on, even for the identity that owned it, while
 * names not in the file are unaffected.
 */

import assert from "node:assert/strict";
import { EvilClient, newSigningKey, type SigningKey } from "../support/evil_client.ts";
import { startServer, waitFor } from "../support/procs.ts";
import { closeAll, keep } from "./helpers.ts";

/** Handshakes with `key`, sends `auth` for `name`, and returns the client and the answer. */
async function tryName(port: number, name: string, key: SigningKey, open: EvilClient[]) {
  const c = keep(open, await EvilClient.connect(port));
  c.key = key;
  await c.handshake();
  await c.auth({ name });
  const { match } = await c.readUntil((m) => m.t === "welcome" || m.t === "error", 5000);
  assert.ok(match, `an answer for ${name}`);
  return match;
}

Deno.test({
  name: "blacklist: a name added to the file is name_reserved after SIGHUP",
  ignore: Deno.build.os === "windows",
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "chat-limits-bl-" });
    const file = `${dir}/blacklist.txt`;
    await Deno.writeTextFile(file, "evil*   # pattern\n");
    const srv = await startServer({ dataDir: `${dir}/data`, args: ["--blacklist", file] });
    const open: EvilClient[] = [];
    try {
      const key = await newSigningKey();
      const before = await tryName(srv.port, "trudy", key, open);
      assert.deepEqual([before.t, before.name], ["welcome", "trudy"]);
      const pattern = await tryName(srv.port, "evilbob", key, open);
      assert.deepEqual([pattern.t, pattern.code], ["error", "name_reserved"]);
      await closeAll(...open.splice(0));

      await Deno.writeTextFile(file, "Trudy\n", { append: true });
      // Not reloaded yet: still allowed.
      const stale = await tryName(srv.port, "trudy", key, open);
      assert.equal(stale.t, "welcome");
      await closeAll(...open.splice(0));

      srv.child.kill("SIGHUP");
      await waitFor(
        () => srv.stdout.some((l) => l === "blacklist reloaded: 2 entries"),
        5000,
        "reload message",
      );
      for (const k of [key, await newSigningKey()]) {
        const after = await tryName(srv.port, "trudy", k, open);
        assert.deepEqual([after.t, after.code, after.retry], ["error", "name_reserved", true]);
      }
      const other = await tryName(srv.port, "ursula", key, open);
      assert.equal(other.t, "welcome");
      assert.equal((await tryName(srv.port, "evilann", key, open)).code, "name_reserved");
    } finally {
      await closeAll(...open);
      const s = await srv.stop("SIGTERM");
      await Deno.remove(dir, { recursive: true });
      assert.equal(s.code, 0, srv.stderr());
    }
  },
});
