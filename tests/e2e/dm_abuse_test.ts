/**
 * End to end: private messages one user sends must never cost the recipient their connection. A
 * real server process, a real client (`--json`) as the recipient, and a raw protocol client as
 * the sender, sending 8 private messages per record every 0.5 s. A sender without a DM key is
 * refused by the server (`dm_key_required`) and the recipient stays connected; a sender with a
 * DM key gets every message through, and the recipient stays connected too.
 */

import assert from "node:assert/strict";
import { toBase64 } from "../../shared/encoding.ts";
import { sealDm } from "../../shared/e2e.ts";
import { createIdentity, type Identity, saveIdentity } from "../../shared/keys.ts";
import { newId } from "../../shared/messages.ts";
import { EvilClient } from "../support/evil_client.ts";
import { type ClientProcess, startClient, startServer, until } from "../support/procs.ts";

function events(p: ClientProcess): Record<string, unknown>[] {
  return p.lines.flatMap((l) => {
    try {
      return [JSON.parse(l)];
    } catch {
      return [];
    }
  });
}

function count(p: ClientProcess, pred: (e: Record<string, unknown>) => boolean): number {
  return events(p).filter(pred).length;
}

/** The lines of one record: `n` sealed private messages from `from` to `to`. */
async function dmBatch(
  from: { name: string; id: Identity },
  to: { name: string; id: Identity },
  n: number,
  tag: string,
): Promise<string> {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = newId();
    const env = await sealDm({
      header: {
        v: 1,
        from: from.name,
        from_fp: from.id.fingerprint,
        to: to.name,
        to_fp: to.id.fingerprint,
        id,
        ts: Date.now(),
      },
      sigPrivate: from.id.sigPrivate,
      kemPublic: to.id.kemPublic,
      text: `${tag} ${i}`,
    });
    lines.push(JSON.stringify({ t: "dm", id, to: to.name, envelope: toBase64(env) }));
  }
  return lines.join("\n");
}

/** Runs the scenario: `records` records of 8 DMs, one every 500 ms, from a raw client. */
async function flood(withKey: boolean, records: number) {
  const root = await Deno.makeTempDir({ prefix: "chat-e2e-dmabuse-" });
  const srv = await startServer({ dataDir: `${root}/data` });
  let bob: ClientProcess | undefined;
  let evil: EvilClient | undefined;
  try {
    const bobId = await createIdentity();
    const malloryId = await createIdentity();
    await Deno.mkdir(`${root}/bob`, { mode: 0o700 });
    await saveIdentity(`${root}/bob/identity`, bobId);
    bob = startClient(srv.port, ["--name", "bob", "--json", "--accept-new"], `${root}/bob`);
    await until(() => count(bob!, (e) => e.t === "welcome") === 1, "bob's welcome", [bob], 20_000);

    evil = await EvilClient.connect(srv.port);
    await evil.handshake();
    evil.key = { privateKey: malloryId.sigPrivate, publicRaw: malloryId.sigPublic };
    await evil.auth({
      name: "mallory",
      extra: withKey
        ? { kem_pub: toBase64(malloryId.kemPublic), kem_sig: toBase64(malloryId.kemSig) }
        : {},
    });
    const { match } = await evil.readUntil((m) => m.t === "welcome" || m.t === "error", 10_000);
    assert.equal(match?.t, "welcome");

    const answers: Record<string, unknown>[] = [];
    const reading = (async () => {
      for (;;) {
        const msgs = await evil!.readMessages(60_000).catch(() => null);
        if (msgs === null) return;
        answers.push(...msgs);
      }
    })();
    const mallory = { name: "mallory", id: malloryId };
    const victim = { name: "bob", id: bobId };
    for (let r = 0; r < records; r++) {
      const started = Date.now();
      await evil.send(await dmBatch(mallory, victim, 8, `r${r}`));
      await new Promise((res) => setTimeout(res, Math.max(0, 500 - (Date.now() - started))));
    }
    // The recipient still talks: its own message is acknowledged on the same connection.
    let exited = false;
    bob.status.then(() => exited = true);
    await new Promise((res) => setTimeout(res, 100));
    assert.ok(!exited, `the recipient's client exited:\n${bob.lines.slice(-5).join("\n")}`);
    await bob.send("still here");
    await until(
      () => count(bob!, (e) => e.t === "acked") === 1,
      "bob's message acknowledged",
      [bob],
      20_000,
    );
    const result = { answers, bob: events(bob) };
    await evil.close();
    await reading;
    return result;
  } finally {
    await evil?.close();
    await bob?.kill();
    await srv.stop();
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("dm abuse: 8 DMs per record every 0.5 s from a sender without a DM key are refused; the recipient stays", async () => {
  const records = 24; // 192 messages over 12 s: twice what disconnected the recipient before
  const r = await flood(false, records);
  const lost = r.bob.filter((e) =>
    e.t === "status" && e.state !== "connecting" && e.state !== "connected"
  );
  assert.deepEqual(lost, [], "the recipient was never disconnected");
  assert.equal(r.bob.filter((e) => e.t === "dm").length, 0, "nothing reached the recipient");
  assert.equal(
    r.bob.filter((e) => e.t === "local" && String(e.text).includes("cannot decrypt")).length,
    0,
  );
  const refused = r.answers.filter((m) => m.t === "error" && m.code === "dm_key_required");
  assert.equal(refused.length, records * 8, JSON.stringify(r.answers.slice(0, 3)));
  assert.equal(r.answers.filter((m) => m.t === "ack").length, 0);
});

Deno.test("dm abuse: 8 DMs per record every 0.5 s from a sender with a DM key all arrive; the recipient stays", async () => {
  const records = 10;
  const r = await flood(true, records);
  const lost = r.bob.filter((e) =>
    e.t === "status" && e.state !== "connecting" && e.state !== "connected"
  );
  assert.deepEqual(lost, []);
  const dms = r.bob.filter((e) => e.t === "dm" && e.from === "mallory");
  assert.equal(dms.length, records * 8);
  assert.equal(r.answers.filter((m) => m.t === "ack").length, records * 8);
});
