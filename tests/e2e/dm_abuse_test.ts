/**
 * End to end: private messages one user sends must never cost the recipient their connection or
 * make its client work for them. A real server process, a real client (`--json`, behind a
 * counting proxy) as the recipient, and raw protocol clients as senders, sending 8 private
 * messages per record every 0.5 s.
 * - A sender without a DM key is refused by the server (`dm_key_required`); the recipient stays.
 * - A sender with a DM key gets every message through, at the cost of one key lookup; the
 *   recipient stays.
 * - A sender whose key lookups fail (it renames itself after every record and gives the name
 *   up, so not even the keys kept for offline owners answer) costs the recipient one lookup, not
 *   one per message; the recipient stays.
 * - An ignored sender costs nothing: no lookup, no decrypt, no pin; after /unignore it is read.
 */

import assert from "node:assert/strict";
import { toBase64 } from "../../shared/encoding.ts";
import { sealDm } from "../../shared/e2e.ts";
import { createIdentity, type Identity, saveIdentity } from "../../shared/keys.ts";
import { newId } from "../../shared/messages.ts";
import { EvilClient } from "../support/evil_client.ts";
import { FaultProxy } from "../support/fault_proxy.ts";
import {
  type ClientProcess,
  events,
  type ServerProcess,
  startClient,
  startServer,
  until,
} from "../support/procs.ts";

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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Bytes of the record a client sends for one automatic `keys NAME` lookup. */
function lookupBytes(name: string): number {
  const cmd = { t: "cmd", id: newId(), name: "keys", args: [name], auto: true };
  return 4 + new TextEncoder().encode(JSON.stringify(cmd)).length + 16;
}

let cachedIds: Promise<Identity[]> | undefined;
/** bob, mal and ann, generated once per test process (RSA-3072 is slow). */
function ids(): Promise<Identity[]> {
  cachedIds ??= Promise.all([createIdentity(), createIdentity(), createIdentity()]);
  return cachedIds;
}

/** A sender: a raw client logged in as `name`, with or without a DM key, collecting answers. */
async function sender(port: number, name: string, id: Identity, withKey: boolean) {
  const evil = await EvilClient.connect(port);
  await evil.handshake();
  evil.key = { privateKey: id.sigPrivate, publicRaw: id.sigPublic };
  await evil.auth({
    name,
    extra: withKey ? { kem_pub: toBase64(id.kemPublic), kem_sig: toBase64(id.kemSig) } : {},
  });
  const { match } = await evil.readUntil((m) => m.t === "welcome" || m.t === "error", 10_000);
  assert.equal(match?.t, "welcome");
  const answers: Record<string, unknown>[] = [];
  const reading = (async () => {
    for (;;) {
      const msgs = await evil.readMessages(120_000).catch(() => null);
      if (msgs === null) return;
      answers.push(...msgs);
    }
  })();
  return {
    evil,
    answers,
    me: { name, id },
    async close() {
      await evil.close();
      await reading;
    },
  };
}

/**
 * The senders' own rate limit, raised where it is not what a test is about (how the recipient's
 * client behaves): 8 DMs per record every 0.5 s is 16 requests a second.
 */
const GENEROUS = ["--limit", "rateBurst=400", "--limit", "ratePerSecond=100"];

/** A server (with `args`), and bob's real client behind a counting proxy. */
async function scene<T>(
  args: string[],
  f: (w: { srv: ServerProcess; bob: ClientProcess; proxy: FaultProxy; home: string }) => Promise<T>,
): Promise<T> {
  const root = await Deno.makeTempDir({ prefix: "chat-e2e-dmabuse-" });
  const srv = await startServer({ dataDir: `${root}/data`, args });
  const proxy = FaultProxy.start({ target: srv.port, mode: { kind: "pass" } });
  let bob: ClientProcess | undefined;
  try {
    const [bobId] = await ids();
    const home = `${root}/bob`;
    await Deno.mkdir(home, { mode: 0o700 });
    await saveIdentity(`${home}/identity`, bobId);
    bob = startClient(proxy.port, ["--name", "bob", "--json", "--accept-new"], home);
    await until(() => count(bob!, (e) => e.t === "welcome") === 1, "bob's welcome", [bob], 20_000);
    // A line said and echoed: what the client sends on its own after the welcome (the request
    // for the offline queue) has passed the proxy before the tests count bytes.
    await bob.send("ready");
    await until(
      () => count(bob!, (e) => e.t === "msg" && e.text === "ready") === 1,
      "bob's first line",
      [bob],
    );
    return await f({ srv, bob, proxy, home });
  } finally {
    await bob?.kill();
    await proxy.close();
    await srv.stop();
    await Deno.remove(root, { recursive: true });
  }
}

/** Asserts bob never lost the connection and still talks: its message is acknowledged. */
async function stillTalking(bob: ClientProcess): Promise<void> {
  let exited = false;
  bob.status.then(() => exited = true);
  await sleep(100);
  assert.ok(!exited, `the recipient's client exited:\n${bob.lines.slice(-5).join("\n")}`);
  const lost = events(bob).filter((e) =>
    e.t === "status" && e.state !== "connecting" && e.state !== "connected"
  );
  assert.deepEqual(lost, [], "the recipient was never disconnected");
  const acked = count(bob, (e) => e.t === "acked");
  await bob.send("still here");
  await until(
    () => count(bob, (e) => e.t === "acked") === acked + 1,
    "bob's message acknowledged",
    [bob],
    20_000,
  );
}

/** Sends `records` records of 8 DMs to bob, one every 500 ms, each wrapped in `wrap`. */
async function flood(
  s: Awaited<ReturnType<typeof sender>>,
  bobId: Identity,
  records: number,
  wrap: (lines: string) => string = (l) => l,
): Promise<void> {
  for (let r = 0; r < records && !s.evil.peerClosed; r++) {
    const started = Date.now();
    await s.evil.send(wrap(await dmBatch(s.me, { name: "bob", id: bobId }, 8, `r${r}`)));
    await sleep(Math.max(0, 500 - (Date.now() - started)));
  }
}

Deno.test("dm abuse: 8 DMs per record every 0.5 s from a sender without a DM key are refused; the recipient stays", async () => {
  const [bobId, malId] = await ids();
  await scene([], async ({ srv, bob, proxy }) => {
    const mal = await sender(srv.port, "mal", malId, false);
    try {
      const sent = proxy.forwarded.c2s;
      const records = 24; // 192 messages over 12 s: twice what disconnected the recipient before
      await flood(mal, bobId, records);
      // The sender pays for its own flood: refused, then rate-limited, then closed for flooding.
      await until(() => mal.evil.peerClosed, "the sender closed for flooding", [bob], 20_000);
      const codes = new Set(mal.answers.filter((m) => m.t === "error").map((m) => m.code));
      assert.deepEqual([...codes].sort(), ["dm_key_required", "rate_limited"]);
      assert.equal(mal.answers.filter((m) => m.t === "ack").length, 0);
      assert.deepEqual(mal.answers.at(-1), { t: "bye", reason: "flooding" });
      assert.equal(proxy.forwarded.c2s, sent, "bob's client sent nothing for them");
      assert.equal(count(bob, (e) => e.t === "dm" || e.t === "local"), 0, "bob saw nothing");
      await stillTalking(bob);
    } finally {
      await mal.close();
    }
  });
});

Deno.test("dm abuse: 8 DMs per record every 0.5 s from a sender with a DM key all arrive, for one lookup", async () => {
  const [bobId, malId] = await ids();
  await scene(GENEROUS, async ({ srv, bob, proxy, home }) => {
    const mal = await sender(srv.port, "mal", malId, true);
    try {
      const sent = proxy.forwarded.c2s;
      const records = 10;
      await flood(mal, bobId, records);
      await until(
        () => count(bob, (e) => e.t === "dm" && e.from === "mal") === records * 8,
        "every DM shown",
        [bob],
        20_000,
      );
      assert.equal(mal.answers.filter((m) => m.t === "ack").length, records * 8);
      assert.equal(proxy.forwarded.c2s - sent, lookupBytes("mal"), "exactly one key lookup");
      await stillTalking(bob);
      const pins = await Deno.readTextFile(`${home}/known_users`).catch(() => "");
      assert.ok(!pins.includes(" mal "), "receiving pins nothing");
    } finally {
      await mal.close();
    }
  });
});

Deno.test("dm abuse: a sender whose key lookups fail (it renames itself after each record) costs one lookup", async () => {
  const [bobId, malId] = await ids();
  await scene(GENEROUS, async ({ srv, bob, proxy }) => {
    const mal = await sender(srv.port, "mal", malId, true);
    try {
      const sent = proxy.forwarded.c2s;
      const nick = (name: string) =>
        JSON.stringify({ t: "cmd", id: newId(), name: "nick", args: [name] });
      const records = 24;
      const release = () =>
        JSON.stringify({ t: "cmd", id: newId(), name: "nick", args: ["release", "mal"] });
      // Each record: back to "mal", 8 DMs, then away to "mal2" and "mal" given up before bob
      // can look "mal" up.
      await flood(
        mal,
        bobId,
        records,
        (dms) => [nick("mal"), dms, nick("mal2"), release()].join("\n"),
      );
      await until(
        () =>
          count(bob, (e) => e.t === "local" && /cannot decrypt/.test(String(e.text))) ===
            records * 8,
        "every DM reported as unreadable",
        [bob],
        20_000,
      );
      const lookups = (proxy.forwarded.c2s - sent) / lookupBytes("mal");
      assert.equal(lookups, 1, "one failed lookup, then its backoff");
      await stillTalking(bob);
    } finally {
      await mal.close();
    }
  });
});

Deno.test("dm abuse: an ignored sender costs no lookup and shows nothing; after /unignore it is read", async () => {
  const [bobId, malId, annId] = await ids();
  await scene(GENEROUS, async ({ srv, bob, proxy, home }) => {
    const mal = await sender(srv.port, "mal", malId, true);
    const ann = await sender(srv.port, "ann", annId, true);
    try {
      await bob.send("/ignore mal");
      await until(() => bob.lines.some((l) => l.includes("ignoring mal")), "ignored", [bob]);
      const sent = proxy.forwarded.c2s;
      await flood(mal, bobId, 6);
      // ann's message comes after mal's: once it shows, bob has handled all of mal's.
      await flood(ann, bobId, 1);
      await until(
        () => count(bob, (e) => e.t === "dm" && e.from === "ann") === 8,
        "ann's DMs shown",
        [bob],
        20_000,
      );
      assert.equal(proxy.forwarded.c2s - sent, lookupBytes("ann"), "one lookup: ann's");
      const shown = (e: Record<string, unknown>) =>
        (e.t === "dm" && e.from === "mal") || /cannot decrypt/.test(String(e.text));
      assert.equal(count(bob, shown), 0, "nothing of mal's shown");
      const pins = await Deno.readTextFile(`${home}/known_users`).catch(() => "");
      assert.ok(!pins.includes(" mal "), "nothing pinned");

      await bob.send("/unignore mal");
      await until(() => bob.lines.some((l) => l.includes("no longer ignoring mal")), "", [bob]);
      const before = proxy.forwarded.c2s;
      await flood(mal, bobId, 1);
      await until(
        () => count(bob, (e) => e.t === "dm" && e.from === "mal") === 8,
        "mal's DMs shown after /unignore",
        [bob],
        20_000,
      );
      assert.equal(proxy.forwarded.c2s - before, lookupBytes("mal"), "one lookup: mal's");
      await stillTalking(bob);
    } finally {
      await mal.close();
      await ann.close();
    }
  });
});
