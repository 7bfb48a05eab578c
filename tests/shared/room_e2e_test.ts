import assert from "node:assert/strict";
import fc from "fast-check";
import { concat, u32 } from "../../shared/encoding.ts";
import { ProtocolError } from "../../shared/errors.ts";
import { ed25519Sign } from "../../shared/crypto.ts";
import { createIdentity, type Identity } from "../../shared/keys.ts";
import {
  encodeLineHeader,
  LINE_SIG_CONTEXT,
  parseLine,
  ratchetStep,
  type Relayed,
  ROOM_LINE_MAX,
  ROOM_MAX_SKIP,
  RoomKeyring,
  sealKey,
  sealLine,
  SenderChain,
} from "../../shared/room_e2e.ts";

let cached: Promise<Identity[]> | undefined;
/** alice, bob and carol, generated once per test process (RSA-3072 is slow). */
function ids(): Promise<Identity[]> {
  cached ??= Promise.all([createIdentity(), createIdentity(), createIdentity()]);
  return cached;
}

const ID = "AAECAwQFBgcICQoLDA0ODw==";
const ID2 = "DwECAwQFBgcICQoLDA0ODw==";
const ROOM = "#team";

function code(e: unknown): string {
  assert.ok(e instanceof ProtocolError, `not a ProtocolError: ${e}`);
  return e.code;
}

function rejects(f: () => unknown, expected: string): void {
  let thrown: unknown;
  try {
    f();
  } catch (e) {
    thrown = e;
  }
  assert.ok(thrown !== undefined, `expected ${expected}, nothing thrown`);
  assert.equal(code(thrown), expected);
}

/** bob's keyring holding alice's `chain` as it is now. */
async function give(
  a: Identity,
  b: Identity,
  chain: SenderChain,
  ring = new RoomKeyring(),
  id = ID2,
): Promise<RoomKeyring> {
  const st = chain.state();
  const env = await sealKey({
    header: {
      v: 1,
      room: ROOM,
      from: "alice",
      from_fp: a.fingerprint,
      to: "bob",
      to_fp: b.fingerprint,
      kid: st.kid,
      n: st.n,
      id,
    },
    ck: st.ck,
    kemPublic: b.kemPublic,
    sigPrivate: a.sigPrivate,
  });
  await ring.addKey(env, {
    relayed: { room: ROOM, from: "alice", id },
    ownFp: b.fingerprint,
    kemPrivate: b.kemPrivate,
    senderKey: () => Promise.resolve(a.sigPublic),
  });
  return ring;
}

function line(a: Identity, chain: SenderChain, text: string, id = ID, me = false): Uint8Array {
  return sealLine({
    room: ROOM,
    from: "alice",
    fromFp: a.fingerprint,
    id,
    text,
    me,
    chain,
    sigPrivate: a.sigPrivate,
  });
}

const rel = (id = ID): Relayed => ({ room: ROOM, from: "alice", id });

Deno.test("ratchet: steps are deterministic and the next key does not give the previous one", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (ck) => {
      const a = ratchetStep(ck);
      const b = ratchetStep(ck);
      assert.deepEqual(a, b);
      assert.notDeepEqual(a.mk, a.next);
      assert.notDeepEqual(a.next, ck);
      assert.notDeepEqual(ratchetStep(a.next).mk, a.mk);
    }),
    { numRuns: 50 },
  );
  assert.throws(() => ratchetStep(new Uint8Array(31)), RangeError);
});

Deno.test("room line: round trip of any text, in order, with gaps", async () => {
  const [a, b] = await ids();
  const chain = new SenderChain();
  const ring = await give(a, b, chain);
  await fc.assert(
    fc.asyncProperty(
      fc.string({ minLength: 1, maxLength: 300 }).filter((t) => !t.includes("\r")),
      fc.boolean(),
      fc.nat(5),
      (text, me, skip) => {
        for (let i = 0; i < skip; i++) chain.next(); // lines bob never sees
        const env = line(a, chain, text, ID, me);
        const out = ring.openLine(env, rel());
        assert.equal(out.text, text);
        assert.equal(out.me, me);
        assert.equal(out.header.from_fp, a.fingerprint);
        return Promise.resolve();
      },
    ),
    { numRuns: 60 },
  );
});

Deno.test("room line: replayed, reordered and before-join lines are refused with their code", async () => {
  const [a, b] = await ids();
  const chain = new SenderChain();
  const early = line(a, chain, "before bob");
  const ring = await give(a, b, chain);
  rejects(() => ring.openLine(early, rel()), "room_before_join");
  const l1 = line(a, chain, "one");
  const l2 = line(a, chain, "two");
  assert.equal(ring.openLine(l2, rel()).text, "two");
  rejects(() => ring.openLine(l1, rel()), "room_out_of_order");
  rejects(() => ring.openLine(l2, rel()), "room_replayed");
  const l3 = line(a, chain, "three");
  assert.equal(ring.openLine(l3, rel()).text, "three");
  rejects(() => ring.openLine(l3, rel()), "room_replayed");
  for (let i = 0; i <= ROOM_MAX_SKIP; i++) chain.next();
  rejects(() => ring.openLine(line(a, chain, "far"), rel()), "room_too_far");
});

Deno.test("room line: tampering anywhere is refused; nothing moves the chain", async () => {
  const [a, b] = await ids();
  const chain = new SenderChain();
  const ring = await give(a, b, chain);
  const env = line(a, chain, "secret");
  await fc.assert(
    fc.asyncProperty(fc.nat(env.length - 1), fc.integer({ min: 1, max: 255 }), (at, x) => {
      const bad = env.slice();
      bad[at] ^= x;
      let c = "";
      try {
        ring.openLine(bad, rel());
      } catch (e) {
        c = code(e);
      }
      assert.ok(
        ["room_malformed", "room_bad_signature", "room_unknown_key", "room_mismatch"].includes(c),
        `byte ${at}: ${c}`,
      );
      return Promise.resolve();
    }),
    { numRuns: 200 },
  );
  assert.equal(ring.openLine(env, rel()).text, "secret");
});

Deno.test("room line: a re-signed header cannot move a line to another room, sender or id", async () => {
  const [a, b, c] = await ids();
  const chain = new SenderChain();
  const ring = await give(a, b, chain);
  rejects(() => ring.openLine(line(a, chain, "x"), { ...rel(), room: "#other" }), "room_mismatch");
  rejects(() => ring.openLine(line(a, chain, "x"), { ...rel(), from: "mallory" }), "room_mismatch");
  rejects(() => ring.openLine(line(a, chain, "x"), rel(ID2)), "room_mismatch");
  // carol signs a line under alice's key id: the signature is checked with alice's key.
  const env = sealLine({
    room: ROOM,
    from: "alice",
    fromFp: a.fingerprint,
    id: ID,
    text: "forged",
    chain: new SenderChain(undefined, chain.state()),
    sigPrivate: c.sigPrivate,
  });
  rejects(() => ring.openLine(env, rel()), "room_bad_signature");
  // A valid signature over a ciphertext made with another key fails the AEAD.
  const p = parseLine(
    line(a, new SenderChain(undefined, { ...chain.state(), ck: new Uint8Array(32) }), "y"),
  );
  const signed = concat(u32(p.headerBytes.length), p.headerBytes, p.nonce, u32(p.ct.length), p.ct);
  const resigned = concat(signed, ed25519Sign(a.sigPrivate, concat(LINE_SIG_CONTEXT, signed)));
  rejects(() => ring.openLine(resigned, rel()), "room_bad_ciphertext");
  assert.equal(ring.openLine(line(a, chain, "still fine"), rel()).text, "still fine");
});

Deno.test("room line: sizes are checked before parsing", async () => {
  const [a, b] = await ids();
  const ring = await give(a, b, new SenderChain());
  rejects(() => ring.openLine(new Uint8Array(ROOM_LINE_MAX + 1), rel()), "room_malformed");
  rejects(() => ring.openLine(new Uint8Array(10), rel()), "room_malformed");
  const huge = concat(u32(0xffffffff), new Uint8Array(200));
  rejects(() => ring.openLine(huge, rel()), "room_malformed");
  assert.throws(() => line(a, new SenderChain(), "x".repeat(2049)), RangeError);
  assert.throws(() => line(a, new SenderChain(), ""), TypeError);
  assert.throws(
    () =>
      encodeLineHeader({
        v: 1,
        room: "lobby",
        from: "alice",
        from_fp: a.fingerprint,
        kid: ID,
        n: 0,
        id: ID,
      }),
    TypeError,
  );
});

Deno.test("room key: only the addressee unwraps it; replays and strangers are refused", async () => {
  const [a, b, c] = await ids();
  const chain = new SenderChain();
  const st = chain.state();
  const header = {
    v: 1 as const,
    room: ROOM,
    from: "alice",
    from_fp: a.fingerprint,
    to: "bob",
    to_fp: b.fingerprint,
    kid: st.kid,
    n: st.n,
    id: ID2,
  };
  const env = await sealKey({
    header,
    ck: st.ck,
    kemPublic: b.kemPublic,
    sigPrivate: a.sigPrivate,
  });
  const input = (own: Identity, key: Uint8Array | null = a.sigPublic) => ({
    relayed: { room: ROOM, from: "alice", id: ID2 },
    ownFp: own.fingerprint,
    kemPrivate: own.kemPrivate,
    senderKey: () => Promise.resolve(key),
  });
  const codeOf = async (p: Promise<unknown>) => {
    try {
      await p;
      return "ok";
    } catch (e) {
      return code(e);
    }
  };
  const ring = new RoomKeyring();
  assert.equal(await codeOf(ring.addKey(env, input(c))), "room_mismatch");
  assert.equal(await codeOf(ring.addKey(env, input(b, null))), "room_untrusted");
  assert.equal(await codeOf(ring.addKey(env, input(b, c.sigPublic))), "room_bad_signature");
  const bad = env.slice();
  bad[bad.length - 100] ^= 1; // inside the wrapped key
  assert.equal(await codeOf(ring.addKey(bad, input(b))), "room_bad_signature");
  assert.equal(await codeOf(ring.addKey(env, input(b))), "ok");
  assert.equal(await codeOf(ring.addKey(env, input(b))), "room_key_known");
  assert.equal(ring.openLine(line(a, chain, "hello bob"), rel()).text, "hello bob");
  // carol's keyring never got the key.
  rejects(() => new RoomKeyring().openLine(line(a, chain, "x"), rel()), "room_unknown_key");
});

Deno.test("room keyring: bounded; a forgotten key id cannot be given again", async () => {
  const [a, b] = await ids();
  const ring = new RoomKeyring(2);
  const chains = [new SenderChain(), new SenderChain(), new SenderChain()];
  for (const ch of chains) await give(a, b, ch, ring);
  assert.equal(ring.size, 2);
  assert.ok(!ring.has(a.fingerprint, chains[0].kid));
  await assert.rejects(give(a, b, chains[0], ring), (e) => code(e) === "room_key_known");
});
