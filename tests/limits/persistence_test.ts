/**
 * What survives a restart of a real `chat server` process on the same `--data`: name ownership
 * (another identity gets `name_owned`, the owner still gets the name) and `/ban` by name and by
 * address, enforced at connect (an IP ban is a Refusal "banned" before any handshake).
 */

import assert from "node:assert/strict";
import { EvilClient, newSigningKey, type SigningKey } from "../support/evil_client.ts";
import { BoundSocket, loopbackAliasWorks } from "../support/net_bind.ts";
import { type ServerProcess, startServer } from "../support/procs.ts";
import { fingerprint } from "../../shared/crypto.ts";
import { newId } from "../../shared/messages.ts";
import { closeAll, keep, refusalCode } from "./helpers.ts";

const BANNED_IP = "127.0.0.2";
const OTHER_IP = "127.0.0.3";
const aliases = await loopbackAliasWorks(BANNED_IP) && await loopbackAliasWorks(OTHER_IP);
if (!aliases) console.warn(`IP-ban test skipped: cannot bind to ${BANNED_IP} / ${OTHER_IP}`);

/** Connects with signing key `key`, handshakes and sends `auth` for `name`; returns the client. */
async function authAs(port: number, name: string, key: SigningKey): Promise<EvilClient> {
  const c = await EvilClient.connect(port);
  try {
    c.key = key;
    await c.handshake();
    await c.auth({ name });
    return c;
  } catch (e) {
    await c.close();
    throw e;
  }
}

/** The answer to the last `auth`: welcome or error. */
async function authAnswer(c: EvilClient): Promise<Record<string, unknown>> {
  const { match } = await c.readUntil((m) => m.t === "welcome" || m.t === "error", 5000);
  assert.ok(match, "an answer to auth");
  return match;
}

/** Runs `/name args` as `c` and returns the reply or error. */
async function command(c: EvilClient, name: string, args: string[]) {
  const id = newId();
  await c.send({ t: "cmd", id, name, args });
  const { match } = await c.readUntil((m) => m.id === id, 5000);
  assert.ok(match, `an answer to /${name}`);
  return match;
}

/** Runs `body` with a data dir and a started server; restart() reuses the dir. */
async function withRestarts(
  args: string[],
  body: (srv: () => ServerProcess, restart: () => Promise<void>) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "chat-limits-persist-" });
  const dataDir = `${dir}/data`;
  let srv = await startServer({ dataDir, args });
  try {
    await body(() => srv, async () => {
      const s = await srv.stop("SIGTERM");
      assert.equal(s.code, 0, srv.stderr());
      srv = await startServer({ dataDir, args });
    });
  } finally {
    await srv.stop("SIGTERM");
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("ownership: another identity gets name_owned, also after a restart; the owner does not", async () => {
  const keyA = await newSigningKey();
  const keyB = await newSigningKey();
  await withRestarts([], async (srv, restart) => {
    const open: EvilClient[] = [];
    try {
      const a = keep(open, await authAs(srv().port, "alice", keyA));
      assert.equal((await authAnswer(a)).t, "welcome");
      await a.close();
      const b = keep(open, await authAs(srv().port, "Alice", keyB));
      const e1 = await authAnswer(b);
      assert.deepEqual([e1.t, e1.code, e1.retry], ["error", "name_owned", true]);
      await b.close();

      await restart();
      const b2 = keep(open, await authAs(srv().port, "alice", keyB));
      const e2 = await authAnswer(b2);
      assert.deepEqual([e2.t, e2.code, e2.retry], ["error", "name_owned", true]);
      // Retry on the same connection with a free name works.
      await b2.auth({ name: "bea" });
      const w = await authAnswer(b2);
      assert.deepEqual([w.t, w.name], ["welcome", "bea"]);
      const a2 = keep(open, await authAs(srv().port, "alice", keyA));
      const w2 = await authAnswer(a2);
      assert.deepEqual([w2.t, w2.name, w2.fingerprint], [
        "welcome",
        "alice",
        await fingerprint(keyA.publicRaw),
      ]);
    } finally {
      await closeAll(...open);
    }
  });
});

Deno.test("/ban NAME by an --admin persists across a restart and is enforced at auth", async () => {
  const oper = await newSigningKey();
  const victim = await newSigningKey();
  const operFp = await fingerprint(oper.publicRaw);
  await withRestarts(["--admin", operFp], async (srv, restart) => {
    const open: EvilClient[] = [];
    try {
      const o = keep(open, await authAs(srv().port, "oper", oper));
      assert.equal((await authAnswer(o)).t, "welcome");
      const v = keep(open, await authAs(srv().port, "victor", victim));
      assert.equal((await authAnswer(v)).t, "welcome");
      // A plain user may not ban.
      const denied = await command(v, "ban", ["oper"]);
      assert.deepEqual([denied.t, denied.code], ["error", "not_permitted"]);
      const r = await command(o, "ban", ["victor", "spam"]);
      assert.equal(r.t, "reply", JSON.stringify(r));
      const { match: bye } = await v.readUntil((m) => m.t === "bye", 5000);
      assert.deepEqual(bye, { t: "bye", reason: "banned" });
      assert.equal(await v.waitClosed(5000), true);

      await restart();
      // The name stood for its owner: that identity is banned under any name.
      for (const name of ["victor", "vic"]) {
        const again = keep(open, await authAs(srv().port, name, victim));
        const e = await authAnswer(again);
        assert.deepEqual([e.t, e.code], ["error", "banned"]);
        assert.equal(await again.waitClosed(5000), true);
      }
      // Its name stays its own: another identity cannot take it.
      const thief = keep(open, await authAs(srv().port, "victor", await newSigningKey()));
      assert.deepEqual((await authAnswer(thief)).code, "name_owned");
      // Good case: other identities still get in.
      const other = keep(open, await authAs(srv().port, "vic", await newSigningKey()));
      assert.equal((await authAnswer(other)).t, "welcome");
      const o2 = keep(open, await authAs(srv().port, "oper", oper));
      assert.equal((await authAnswer(o2)).t, "welcome");
      const bans = await command(o2, "bans", []);
      assert.deepEqual(
        (bans.data as { target: string; kind: string }[]).map((b) => [b.kind, b.target]),
        [["fingerprint", await fingerprint(victim.publicRaw)]],
      );
    } finally {
      await closeAll(...open);
    }
  });
});

Deno.test({
  name: "/ban IP persists across a restart: that address gets Refusal 'banned' at connect",
  ignore: !aliases,
  async fn() {
    const oper = await newSigningKey();
    const operFp = await fingerprint(oper.publicRaw);
    await withRestarts(["--admin", operFp], async (srv, restart) => {
      const open: EvilClient[] = [];
      const sockets: BoundSocket[] = [];
      /** First frame a socket from `from` gets for its ClientHello. */
      const first = async (from: string) => {
        const s = keep(sockets, await BoundSocket.connect(srv().port, from));
        await s.sendHello();
        const f = await s.readFrame(5000);
        return f === null ? "closed" : f.length === 161 ? "server_hello" : refusalCode(f);
      };
      try {
        assert.equal(await first(BANNED_IP), "server_hello");
        const o = keep(open, await authAs(srv().port, "oper", oper));
        assert.equal((await authAnswer(o)).t, "welcome");
        const r = await command(o, "ban", [BANNED_IP]);
        assert.equal(r.t, "reply", JSON.stringify(r));
        assert.equal(await first(BANNED_IP), "banned");

        await restart();
        assert.equal(await first(BANNED_IP), "banned");
        assert.equal(await sockets.at(-1)!.waitClosed(5000), true);
        assert.equal(await first(OTHER_IP), "server_hello");
        const o2 = keep(open, await authAs(srv().port, "oper", oper));
        assert.equal((await authAnswer(o2)).t, "welcome");
      } finally {
        await closeAll(...open, ...sockets);
      }
    });
  },
});
