import assert from "node:assert/strict";
import { checkPeerKeys, DmService, safetyNumber } from "../../client/dm.ts";
import { KnownUsers } from "../../client/known_users.ts";
import { parseInput } from "../../client/input.ts";
import { formatClock, formatEvent, isHidden, shouldBell } from "../../client/render.ts";
import { jsonEvent } from "../../client/plain.ts";
import type { RenderState } from "../../client/view.ts";
import { concat, fromBase64, toBase64, toHex, utf8 } from "../../shared/encoding.ts";
import { sha256 } from "../../shared/crypto.ts";
import { createIdentity, type Identity } from "../../shared/keys.ts";
import type { AckMessage, DmDelivery, ErrorMessage, ReplyMessage } from "../../shared/messages.ts";
import { nameKey } from "../../shared/names.ts";
import { DM_MAX_SKEW_MS, DM_REPLAY_KEEP_MS } from "../../shared/e2e.ts";

let cached: Promise<Identity[]> | undefined;
/** alice, bob and mallory, generated once per test process (RSA-3072 is slow). */
function ids(): Promise<Identity[]> {
  cached ??= Promise.all([createIdentity(), createIdentity(), createIdentity()]);
  return cached;
}

const HP = "127.0.0.1:5000";
const NOW = 1_700_000_000_000;

function keysData(name: string, id: Identity): Record<string, string> {
  return {
    name,
    fingerprint: id.fingerprint,
    sig_pub: toBase64(id.sigPublic),
    kem_pub: toBase64(id.kemPublic),
    kem_sig: toBase64(id.kemSig),
  };
}

/** A fake server: serves `keys` from `users`, relays envelopes to the online services. */
class FakeServer {
  users = new Map<string, Record<string, string>>();
  online = new Map<string, DmService>();
  relayed: DmDelivery[] = [];
  commands: string[][] = [];
  deliver = true;

  transport(name: string) {
    return {
      name,
      command: (cmd: string, args: string[]): Promise<ReplyMessage | ErrorMessage> => {
        this.commands.push([name, cmd, ...args]);
        const data = this.users.get(nameKey(args[0]));
        if (cmd !== "keys" || data === undefined) {
          return Promise.resolve({ t: "error", code: "no_such_user", message: "nobody" });
        }
        return Promise.resolve({ t: "reply", id: "r", data });
      },
      sendDm: (to: string, envelope: string, id: string): Promise<AckMessage | ErrorMessage> => {
        if (!this.online.has(nameKey(to))) {
          return Promise.resolve({ t: "error", id, code: "offline", message: `${to} is offline` });
        }
        this.relayed.push({ t: "dm", id, from: name, ts: NOW, envelope });
        return Promise.resolve({ t: "ack", id });
      },
    };
  }
}

interface World {
  server: FakeServer;
  alice: DmService;
  bob: DmService;
  aliceUsers: KnownUsers;
  bobUsers: KnownUsers;
  dir: string;
  now: { t: number };
}

async function world(): Promise<World> {
  const [a, b] = await ids();
  const dir = await Deno.makeTempDir({ prefix: "chat-dm-" });
  const server = new FakeServer();
  server.users.set("alice", keysData("alice", a));
  server.users.set("bob", keysData("bob", b));
  const aliceUsers = await KnownUsers.load(`${dir}/alice_known_users`);
  const bobUsers = await KnownUsers.load(`${dir}/bob_known_users`);
  const now = { t: NOW };
  const alice = new DmService({
    transport: server.transport("alice"),
    identity: a,
    knownUsers: aliceUsers,
    hostPort: HP,
    now: () => now.t,
  });
  const bob = new DmService({
    transport: server.transport("bob"),
    identity: b,
    knownUsers: bobUsers,
    hostPort: HP,
    now: () => now.t,
  });
  server.online.set("alice", alice);
  server.online.set("bob", bob);
  return { server, alice, bob, aliceUsers, bobUsers, dir, now };
}

async function withWorld(f: (w: World) => Promise<void>): Promise<void> {
  const w = await world();
  try {
    await f(w);
  } finally {
    await Deno.remove(w.dir, { recursive: true });
  }
}

Deno.test("dm: /msg round trip pins the recipient at the sender; receiving pins nothing", () =>
  withWorld(async (w) => {
    const [a, b] = await ids();
    const sent = await w.alice.send("Bob", "hi bob");
    assert.deepEqual(sent, {
      ok: true,
      id: sent.ok ? sent.id : "",
      ts: NOW,
      to: "bob",
      text: "hi bob",
    });
    assert.equal(w.aliceUsers.lookup(HP, "bob"), b.fingerprint);
    assert.equal(w.server.relayed.length, 1);
    const d = w.server.relayed[0];
    assert.equal(d.id, sent.ok ? sent.id : "", "the wire id is the header id");
    assert.ok(!new TextDecoder().decode(fromBase64(d.envelope)).includes("hi bob"));
    assert.equal(w.bobUsers.lookup(HP, "alice"), undefined);
    assert.deepEqual(await w.bob.open(d), {
      ok: true,
      id: d.id,
      ts: NOW,
      from: "alice",
      text: "hi bob",
    });
    assert.equal(w.bobUsers.lookup(HP, "alice"), undefined, "receiving pins nothing");
    assert.deepEqual(
      await w.bob.open(d),
      { ok: false, from: "alice", duplicate: true },
      "a replay is told apart, to be dropped quietly",
    );
    // Replying pins: the user acted.
    assert.equal((await w.bob.send("alice", "hi alice")).ok, true);
    assert.equal(w.bobUsers.lookup(HP, "alice"), a.fingerprint);
  }));

Deno.test("dm: a changed key blocks sending until /trust; nothing is sent meanwhile", () =>
  withWorld(async (w) => {
    const [, , m] = await ids();
    assert.equal((await w.alice.send("bob", "one")).ok, true);
    w.server.users.set("bob", keysData("bob", m));
    const r = await w.alice.send("bob", "two");
    assert.equal(r.ok, false);
    assert.match(r.ok ? "" : r.reason, /bob's key has changed .*\/trust bob/);
    assert.equal(w.server.relayed.length, 1, "nothing relayed");
    const t = await w.alice.trust("bob");
    assert.deepEqual(t.ok, true);
    const [, b] = await ids();
    assert.equal(t.text, `now trusting bob's key ${m.fingerprint} (was ${b.fingerprint})`);
    assert.equal(w.aliceUsers.lookup(HP, "bob"), m.fingerprint);
    assert.equal((await w.alice.send("bob", "three")).ok, true);
    assert.equal(
      (await w.alice.trust("bob")).text,
      `bob's key ${m.fingerprint} is already trusted`,
    );
  }));

Deno.test("dm: keys that do not check out are refused and not pinned", () =>
  withWorld(async (w) => {
    const [a, b, m] = await ids();
    w.server.users.set("bob", { ...keysData("bob", b), kem_sig: toBase64(m.kemSig) });
    let r = await w.alice.send("bob", "hi");
    assert.match(r.ok ? "" : r.reason, /^bad_keys: the encryption key is not signed/);
    w.server.users.set("bob", { ...keysData("bob", b), fingerprint: a.fingerprint });
    r = await w.alice.send("bob", "hi");
    assert.match(r.ok ? "" : r.reason, /^bad_keys: the served fingerprint does not match/);
    w.server.users.set("bob", { ...keysData("bob", b), name: "carol" });
    r = await w.alice.send("bob", "hi");
    assert.match(r.ok ? "" : r.reason, /^bad_keys: keys reply is for another name/);
    assert.equal(w.aliceUsers.lookup(HP, "bob"), undefined);
    assert.equal(w.server.relayed.length, 0);
    await assert.rejects(checkPeerKeys("bob", null), /no data/);
    await assert.rejects(
      checkPeerKeys("bob", { ...keysData("bob", b), sig_pub: "AAAA" }),
      /sig_pub has the wrong length/,
    );
    assert.equal((await checkPeerKeys("BOB", keysData("bob", b))).fingerprint, b.fingerprint);
  }));

Deno.test("dm: offline and unknown recipients, bad text → not delivered with a reason", () =>
  withWorld(async (w) => {
    w.server.online.delete("bob");
    assert.deepEqual(await w.alice.send("bob", "hi"), {
      ok: false,
      to: "bob",
      text: "hi",
      reason: "offline: bob is offline",
    });
    assert.deepEqual(await w.alice.send("carol", "hi"), {
      ok: false,
      to: "carol",
      text: "hi",
      reason: "no_such_user: nobody",
    });
    const cr = await w.alice.send("bob", "a\rb");
    assert.match(cr.ok ? "" : cr.reason, /carriage return/);
    const long = await w.alice.send("bob", "x".repeat(2049));
    assert.equal(long.ok, false);
    assert.match(long.ok ? "" : long.reason, /longer than 2048 bytes/);
    assert.equal(w.server.relayed.length, 0);
  }));

Deno.test("dm: open fails the same way for a mismatched wire id, sender name, key or old ts", () =>
  withWorld(async (w) => {
    const [, , m] = await ids();
    assert.equal((await w.alice.send("bob", "hi")).ok, true);
    const d = w.server.relayed[0];
    const failed = { ok: false, from: "alice" };
    assert.deepEqual(await w.bob.open({ ...d, id: "AAAAAAAAAAAAAAAAAAAAAA==" }), failed);
    assert.deepEqual(await w.bob.open({ ...d, from: "mallory" }), { ok: false, from: "mallory" });
    assert.deepEqual(await w.bob.open({ ...d, envelope: "!!" }), failed);
    assert.deepEqual(await w.bob.open({ ...d, envelope: "A".repeat(20_000) }), failed);
    w.now.t = NOW + DM_REPLAY_KEEP_MS + 1;
    assert.deepEqual(await w.bob.open(d), failed, "too old");
    w.now.t = NOW - DM_MAX_SKEW_MS - 1;
    assert.deepEqual(await w.bob.open(d), failed, "from the future");
    w.now.t = NOW;
    // alice's key changes at the server after bob pinned it: her old message still opens only
    // with the pinned key, and a message under the new key fails.
    assert.equal((await w.bob.open(d)).ok, true);
    w.server.users.set("alice", keysData("alice", m));
    const mallory = new DmService({
      transport: w.server.transport("alice"),
      identity: m,
      knownUsers: await KnownUsers.load(`${w.dir}/m_known_users`),
      hostPort: HP,
      now: () => NOW,
    });
    assert.equal((await mallory.send("bob", "i am alice")).ok, true);
    assert.deepEqual(await w.bob.open(w.server.relayed[1]), failed);
  }));

Deno.test("dm: safety number: 12 groups of 5 digits, the same on both sides", async () => {
  const [a, b] = await ids();
  const s1 = await safetyNumber(a.fingerprint, b.fingerprint);
  assert.match(s1, /^(\d{5} ){11}\d{5}$/);
  assert.equal(await safetyNumber(b.fingerprint, a.fingerprint), s1);
  assert.notEqual(await safetyNumber(a.fingerprint, a.fingerprint), s1);
  // Independent computation: digest as hex → BigInt → last 60 decimal digits.
  const [lo, hi] = [a.fingerprint, b.fingerprint].sort();
  const d = await sha256(concat(utf8.encode("chat/1 safety\0"), utf8.encode(lo), utf8.encode(hi)));
  const want = (BigInt("0x" + toHex(d)) % 10n ** 60n).toString().padStart(60, "0");
  assert.equal(s1.replaceAll(" ", ""), want);
  await withWorld(async (w) => {
    const va = await w.alice.verify("bob");
    const vb = await w.bob.verify("alice");
    assert.ok(va.ok && vb.ok);
    assert.ok(va.text.includes(s1.slice(0, 35)) && va.text.includes(s1.slice(36)), va.text);
    assert.ok(vb.text.includes(s1.slice(0, 35)), vb.text);
    assert.equal(w.aliceUsers.lookup(HP, "bob"), b.fingerprint, "/verify pins on first use");
    assert.deepEqual(await w.alice.verify("nobody"), {
      ok: false,
      text: "cannot get nobody's key: nobody",
    });
    assert.deepEqual(await w.alice.verify("a b"), { ok: false, text: "usage: /verify NAME" });
  });
});

Deno.test("dm: input lines /msg, /trust, /verify", () => {
  assert.deepEqual(parseInput("/msg bob hi  there ", "#lobby", true), {
    kind: "dm",
    to: "bob",
    text: "hi  there",
  });
  assert.deepEqual(parseInput("/msg bob", "#lobby", true), {
    kind: "error",
    text: "usage: /msg NAME text",
  });
  assert.deepEqual(parseInput("/trust bob", "#lobby", true), { kind: "trust", name: "bob" });
  assert.deepEqual(parseInput("/verify", "#lobby", true), {
    kind: "error",
    text: "usage: /verify NAME",
  });
  assert.deepEqual(parseInput("/verify bob", "#lobby", false), {
    kind: "error",
    text: "private messages are not available yet",
  });
});

Deno.test("dm: rendering is sanitized; ignored senders are hidden; incoming rings", () => {
  const st: RenderState = { me: "bob", timestamps: false, ignored: new Set(), bell: "mention" };
  const inc = {
    t: "dm" as const,
    id: "x",
    ts: NOW,
    from: "alice",
    to: "bob",
    text: "hi\x1b[2J\u202e",
    out: false,
  };
  const opts = { color: false, now: NOW };
  assert.equal(formatEvent(inc, st, opts), "[dm] alice → you: hi␛[2J<U+202E>");
  assert.equal(
    formatEvent(inc, { ...st, timestamps: true }, opts),
    `${formatClock(NOW)} [dm] alice → you: hi␛[2J<U+202E>`,
  );
  assert.equal(
    formatEvent({ ...inc, out: true, from: "bob", to: "alice", text: "yo" }, st, opts),
    "[dm] you → alice: yo",
  );
  assert.equal(
    formatEvent(
      { ...inc, out: true, from: "bob", to: "alice", text: "yo", queued: true },
      st,
      opts,
    ),
    "[dm] you → alice: yo (queued for alice)",
  );
  assert.deepEqual(
    jsonEvent({ ...inc, out: true, from: "bob", to: "alice", text: "yo", queued: true }),
    { t: "dm", id: inc.id, ts: NOW, from: "bob", to: "alice", text: "yo", queued: true },
  );
  assert.equal(
    formatEvent({ t: "dm_failed", to: "carol", text: "hi", reason: "offline" }, st, opts),
    "! not delivered to carol: hi (offline)",
  );
  assert.equal(shouldBell(inc, st), true);
  assert.equal(shouldBell({ ...inc, out: true }, st), false);
  const ign = { ...st, ignored: new Set(["alice"]) };
  assert.equal(isHidden(inc, ign), true);
  assert.equal(formatEvent(inc, ign, opts), null);
  assert.deepEqual(jsonEvent(inc), {
    t: "dm",
    id: "x",
    ts: NOW,
    from: "alice",
    to: "bob",
    text: inc.text,
  });
});

Deno.test("dm: incoming messages cost one lookup per sender; a failed one waits out its backoff", () =>
  withWorld(async (w) => {
    for (let i = 0; i < 5; i++) assert.equal((await w.alice.send("bob", `m${i}`)).ok, true);
    const opened = await Promise.all(w.server.relayed.map((d) => w.bob.open(d)));
    assert.deepEqual(opened.map((r) => r.ok), [true, true, true, true, true]);
    const lookups = () => w.server.commands.filter(([who]) => who === "bob").length;
    assert.equal(lookups(), 1, "one lookup for five messages from one sender");
    assert.equal(w.bob.automaticLookups, 1);
    // alice leaves: bob's lookups of her fail. Ten messages arrive at once: one lookup, and
    // none again until the backoff has passed.
    for (let i = 0; i < 5; i++) assert.equal((await w.alice.send("bob", `n${i}`)).ok, true);
    const fresh = w.server.relayed.slice(5);
    w.server.users.delete("alice");
    w.now.t = NOW + 60 * 60 * 1000 + 1; // what bob remembered has expired
    const again = (ds: DmDelivery[]) =>
      Promise.all(ds.map((d) => w.bob.open({ ...d, ts: w.now.t })));
    const r = await again(fresh);
    assert.ok(r.every((x) => !x.ok));
    assert.equal(lookups(), 2, "one failed lookup for five messages");
    await again(fresh);
    assert.equal(lookups(), 2, "no lookup while the backoff runs");
    w.now.t += 30_001;
    await again(fresh);
    assert.equal(lookups(), 3, "one lookup after it");
    w.now.t += 30_001;
    await again(fresh);
    assert.equal(lookups(), 3, "the second wait is twice as long");
  }));
