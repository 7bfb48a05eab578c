import assert from "node:assert/strict";
import fc from "fast-check";
import {
  DM_ENVELOPE_MAX,
  DM_MAX_SKEW_MS,
  DM_REPLAY_KEEP_MS,
  DM_SIG_CONTEXT,
  type DmHeader,
  encodeHeader,
  openDm,
  parseEnvelope,
  ReplayCache,
  sealDm,
} from "../../shared/e2e.ts";
import { concat, u32, utf8 } from "../../shared/encoding.ts";
import { ProtocolError } from "../../shared/errors.ts";
import { ed25519Sign, type KeyObject } from "../../shared/crypto.ts";
import { createIdentity, type Identity } from "../../shared/keys.ts";

let cached: Promise<Identity[]> | undefined;
/** alice and bob, generated once per test process (RSA-3072 is slow). */
function ids(): Promise<Identity[]> {
  cached ??= Promise.all([createIdentity(), createIdentity()]);
  return cached;
}

const NOW = 1_700_000_000_000;
const ID = "AAECAwQFBgcICQoLDA0ODw==";

function header(a: Identity, b: Identity, over: Partial<DmHeader> = {}): DmHeader {
  return {
    v: 1,
    from: "alice",
    from_fp: a.fingerprint,
    to: "bob",
    to_fp: b.fingerprint,
    id: ID,
    ts: NOW,
    ...over,
  };
}

async function seal(text = "hi", over: Partial<DmHeader> = {}): Promise<Uint8Array> {
  const [a, b] = await ids();
  return await sealDm({
    header: header(a, b, over),
    sigPrivate: a.sigPrivate,
    kemPublic: b.kemPublic,
    text,
  });
}

/** Opens as bob (or `as`), with alice's key as the sender's pinned key and a fresh replay cache. */
async function open(
  env: Uint8Array,
  opts: { as?: Identity; now?: number; replay?: ReplayCache; key?: Uint8Array | null } = {},
) {
  const [a, b] = await ids();
  const me = opts.as ?? b;
  return await openDm(env, {
    ownFp: me.fingerprint,
    kemPrivate: me.kemPrivate,
    senderKey: () => Promise.resolve(opts.key === undefined ? a.sigPublic : opts.key),
    replay: opts.replay ?? new ReplayCache(),
    now: opts.now ?? NOW,
  });
}

function isCannotDecrypt(e: unknown): boolean {
  return e instanceof ProtocolError && e.code === "bad_envelope" &&
    e.message === "cannot decrypt message";
}

async function rejects(p: Promise<unknown>, what: string): Promise<void> {
  await assert.rejects(p, isCannotDecrypt, what);
}

function flip(env: Uint8Array, at: number): Uint8Array {
  const out = env.slice();
  out[at] ^= 0x01;
  return out;
}

/** Rebuilds an envelope from parts, signed by `sigPrivate` (an honest signature). */
function rebuild(
  sigPrivate: KeyObject,
  h: Uint8Array,
  wrapped: Uint8Array,
  iv: Uint8Array,
  ct: Uint8Array,
): Uint8Array {
  const signed = concat(u32(h.length), h, wrapped, iv, u32(ct.length), ct);
  return concat(signed, ed25519Sign(sigPrivate, concat(DM_SIG_CONTEXT, signed)));
}

Deno.test("e2e: seal then open returns the text and the header; the plaintext is padded", async () => {
  const [a, b] = await ids();
  const env = await seal("hi ünïcode");
  const p = parseEnvelope(env);
  assert.deepEqual(p.header, header(a, b));
  assert.equal(p.wrapped.length, 384);
  assert.equal(p.iv.length, 12);
  assert.equal(p.ct.length, 256 + 16);
  assert.equal(p.sig.length, 64);
  const r = await open(env);
  assert.equal(r.text, "hi ünïcode");
  assert.deepEqual(r.header, header(a, b));
  const long = await seal("x".repeat(300));
  assert.equal(parseEnvelope(long).ct.length, 512 + 16);
  assert.equal((await open(long)).text, "x".repeat(300));
});

Deno.test("e2e: K and iv come from the random source and are fresh per message", async () => {
  const [a, b] = await ids();
  let n = 0;
  const random = (len: number) => new Uint8Array(len).fill(++n);
  const env = await sealDm({
    header: header(a, b),
    sigPrivate: a.sigPrivate,
    kemPublic: b.kemPublic,
    text: "hi",
    random,
  });
  assert.deepEqual(parseEnvelope(env).iv, new Uint8Array(12).fill(2));
  assert.equal((await open(env)).text, "hi");
  const e1 = parseEnvelope(await seal());
  const e2 = parseEnvelope(await seal());
  assert.notDeepEqual(e1.iv, e2.iv);
  assert.notDeepEqual(e1.wrapped, e2.wrapped);
});

Deno.test("e2e: every single tamper gives the same failure", async () => {
  const env = await seal();
  const p = parseEnvelope(env);
  const hAt = 4;
  const wAt = hAt + p.headerBytes.length;
  const ivAt = wAt + 384;
  const ctAt = ivAt + 12 + 4;
  const sigAt = env.length - 64;
  assert.equal((await open(env)).text, "hi", "untampered opens");
  // "ts":1700000000000 → a digit changes: valid JSON, bad signature.
  const tsDigit = new TextDecoder().decode(p.headerBytes).indexOf("17000");
  await rejects(open(flip(env, hAt + tsDigit + 4)), "header");
  await rejects(open(flip(env, wAt + 10)), "wrapped");
  await rejects(open(flip(env, ivAt)), "iv");
  await rejects(open(flip(env, ctAt + 3)), "ct");
  await rejects(open(flip(env, sigAt + 5)), "sig");
  await rejects(open(flip(env, 3)), "header length");
  await rejects(open(flip(env, ivAt + 12 + 3)), "ct length");
  await rejects(open(env.subarray(0, env.length - 1)), "truncated");
  await rejects(open(concat(env, new Uint8Array(1))), "trailing byte");
  await rejects(open(new Uint8Array(0)), "empty");
});

Deno.test("e2e: any bit flip or truncation anywhere fails the same way", async () => {
  const env = await seal();
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: env.length - 1 }),
      fc.integer({ min: 0, max: 7 }),
      async (at, bit) => {
        const t = env.slice();
        t[at] ^= 1 << bit;
        await rejects(open(t), `flip ${at}.${bit}`);
      },
    ),
    { numRuns: 150 },
  );
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: env.length - 1 }), async (len) => {
      await rejects(open(env.subarray(0, len)), `truncated to ${len}`);
    }),
    { numRuns: 100 },
  );
});

Deno.test("e2e: wrong recipient, unknown or other sender key → the same failure", async () => {
  const [a] = await ids();
  const env = await seal();
  await rejects(open(env, { as: a }), "opened by alice, sealed for bob");
  await rejects(open(env, { key: null }), "no pinned key");
  await rejects(open(env, { key: (await ids())[1].sigPublic }), "another sender's key");
  await assert.rejects(
    openDm(env, {
      ownFp: (await ids())[1].fingerprint,
      kemPrivate: (await ids())[1].kemPrivate,
      senderKey: () => Promise.reject(new Error("keys unavailable")),
      replay: new ReplayCache(),
      now: NOW,
    }),
    isCannotDecrypt,
  );
  assert.equal((await open(env)).text, "hi");
});

Deno.test("e2e: ts at most 10 minutes ahead and at most 32 days old; an id is accepted once", async () => {
  const env = await seal();
  assert.equal((await open(env, { now: NOW + DM_REPLAY_KEEP_MS })).text, "hi", "a queued one");
  await rejects(open(env, { now: NOW + DM_REPLAY_KEEP_MS + 1 }), "older than the ids are kept");
  assert.equal((await open(env, { now: NOW - DM_MAX_SKEW_MS })).text, "hi");
  await rejects(open(env, { now: NOW - DM_MAX_SKEW_MS - 1 }), "from the future");
  const replay = new ReplayCache();
  assert.equal((await open(env, { replay })).text, "hi");
  // A correctly signed envelope already accepted is told apart, to be dropped quietly.
  await assert.rejects(
    open(env, { replay, now: NOW + 20 * 86_400_000 }),
    (e) => e instanceof ProtocolError && e.code === "duplicate",
  );
  // A forged one with a seen id is not: the signature is checked first.
  await rejects(open(flip(env, env.length - 1), { replay }), "forged with a seen id");
  const other = await seal("hi", { id: "AAAAAAAAAAAAAAAAAAAAAA==" });
  assert.equal((await open(other, { replay })).text, "hi", "another id still opens");
});

Deno.test("e2e: a validly signed envelope with a swapped header fails (header is the AAD)", async () => {
  const [a, b] = await ids();
  const p = parseEnvelope(await seal("hi"));
  const same = await rebuild(a.sigPrivate, p.headerBytes, p.wrapped, p.iv, p.ct);
  assert.equal((await open(same)).text, "hi", "rebuilt unchanged opens");
  const h2 = encodeHeader(header(a, b, { ts: NOW + 1 }));
  await rejects(open(await rebuild(a.sigPrivate, h2, p.wrapped, p.iv, p.ct)), "aad");
});

Deno.test("e2e: the header schema is strict", async () => {
  const [a, b] = await ids();
  const p = parseEnvelope(await seal("hi"));
  const base = JSON.parse(new TextDecoder().decode(p.headerBytes));
  const bad: Record<string, unknown>[] = [
    { ...base, extra: 1 },
    { ...base, v: 2 },
    { ...base, ts: "1700000000000" },
    { ...base, ts: -1 },
    { ...base, id: "short" },
    { ...base, from: "a" },
    { ...base, to_fp: "SHA256:x" },
    Object.fromEntries(Object.entries(base).filter(([k]) => k !== "to")),
  ];
  for (const h of bad) {
    const env = await rebuild(a.sigPrivate, utf8.encode(JSON.stringify(h)), p.wrapped, p.iv, p.ct);
    assert.throws(() => parseEnvelope(env), isCannotDecrypt, JSON.stringify(h));
  }
  const ok = await rebuild(a.sigPrivate, utf8.encode(JSON.stringify(base)), p.wrapped, p.iv, p.ct);
  assert.deepEqual(parseEnvelope(ok).header, header(a, b));
  assert.throws(() => encodeHeader({ ...header(a, b), from: "a b" }), TypeError);
});

Deno.test("e2e: size limits: chat text ≤ 2048 bytes, LF lines ≤ 50, no CR; envelope ≤ 8 KiB", async () => {
  const env = await seal("é".repeat(1024));
  assert.ok(env.length <= DM_ENVELOPE_MAX);
  assert.equal((await open(env)).text, "é".repeat(1024));
  await assert.rejects(seal("é".repeat(1024) + "x"), RangeError);
  assert.equal((await open(await seal("a\nb"))).text, "a\nb");
  const fifty = Array.from({ length: 50 }, () => "l").join("\n");
  assert.equal((await open(await seal(fifty))).text, fifty);
  await assert.rejects(seal(fifty + "\nl"), TypeError);
  await assert.rejects(seal("a\r\nb"), TypeError);
  await assert.rejects(seal("a\n"), TypeError);
  await assert.rejects(seal(""), TypeError);
  // Worst-case JSON escaping of 2048 bytes of control characters does not fit in 8 KiB.
  await assert.rejects(seal("\u0001".repeat(2048)), RangeError);
  const big = new Uint8Array(DM_ENVELOPE_MAX + 1);
  big.set(env);
  assert.throws(() => parseEnvelope(big), isCannotDecrypt);
});

Deno.test("e2e: the replay cache stays bounded and never re-accepts a dropped id", () => {
  const changes: unknown[] = [];
  const c = new ReplayCache({ max: 3, onChange: (x) => changes.push(x) });
  assert.equal(c.accept("fp", "a", NOW + 1, NOW), true);
  assert.equal(c.accept("fp", "a", NOW + 1, NOW), false);
  assert.equal(c.check("fp", "a", NOW + 1, NOW), "seen");
  assert.equal(c.accept("other", "a", NOW + 1, NOW), true, "keyed by sender too");
  assert.equal(c.accept("fp", "b", NOW + 2, NOW), true);
  assert.equal(c.size, 3);
  assert.equal(c.accept("fp", "c", NOW + 3, NOW), true, "full: the oldest is dropped");
  assert.equal(c.size, 3);
  assert.equal(c.accept("fp", "a", NOW + 1, NOW), false, "the dropped id is still refused");
  assert.equal(c.check("fp", "d", NOW, NOW), "stale", "older than the dropped one: refused");
  assert.equal(c.accept("fp", "e", NOW + 4, NOW), true);
  assert.equal(c.check("fp", "f", NOW - DM_REPLAY_KEEP_MS - 1, NOW), "stale");
  assert.equal(c.check("fp", "f", NOW + DM_MAX_SKEW_MS + 1, NOW), "stale", "from the future");
  assert.equal(new ReplayCache().check("fp", "f", NOW - DM_REPLAY_KEEP_MS + 5, NOW), "fresh");
  assert.deepEqual(changes.slice(0, 4), [
    { t: "seen", fp: "fp", id: "a", ts: NOW + 1 },
    { t: "seen", fp: "other", id: "a", ts: NOW + 1 },
    { t: "seen", fp: "fp", id: "b", ts: NOW + 2 },
    { t: "floor", ts: NOW + 1 },
  ]);
  // Restored state refuses what it remembers; expired entries are purged first when full.
  const d = new ReplayCache({ max: 2 });
  d.load([["fp", "x", NOW], ["fp", "y", NOW]], NOW - 5);
  assert.equal(d.check("fp", "x", NOW, NOW), "seen");
  assert.equal(d.check("fp", "z", NOW - 5, NOW), "stale", "at the restored floor");
  const later = NOW + DM_REPLAY_KEEP_MS + 10;
  assert.equal(d.accept("fp", "z", later, later), true);
  assert.equal(d.size, 1);
  assert.equal(d.keepAtLeast(DM_REPLAY_KEEP_MS), false);
  assert.equal(d.keepAtLeast(DM_REPLAY_KEEP_MS * 2), true);
  assert.equal(d.keepMs, DM_REPLAY_KEEP_MS * 2);
  assert.throws(() => new ReplayCache({ max: 0 }), RangeError);
});
