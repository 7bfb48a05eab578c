import assert from "node:assert/strict";
import fc from "fast-check";
import {
  aeadImport,
  aeadSeal,
  ed25519Generate,
  ed25519Sign,
  ed25519Verify,
  randomBytes,
  sha256,
} from "../../shared/crypto.ts";
import { concat, u32, utf8 } from "../../shared/encoding.ts";
import { ProtocolError } from "../../shared/errors.ts";
import {
  newRoomEpoch,
  ROOM_BODY_MAX,
  ROOM_EPOCHS_HELD,
  ROOM_FRAME_FLAG,
  ROOM_PLAINTEXT_MAX,
  ROOM_RECORD_OVERHEAD,
  RoomRecordOpener,
  RSEQ_MAX,
  sealRoomRecord,
} from "../../shared/room_record.ts";

const host = ed25519Generate();

/** The body of a whole room frame, after checking the flagged length. */
function body(frame: Uint8Array): Uint8Array {
  const len = new DataView(frame.buffer, frame.byteOffset).getUint32(0);
  assert.equal((len & ROOM_FRAME_FLAG) >>> 0, ROOM_FRAME_FLAG);
  assert.equal((len & 0x7fffffff) >>> 0, frame.length - 4);
  return frame.slice(4);
}

function setup(rseq = 0) {
  const e = newRoomEpoch();
  const opener = new RoomRecordOpener(host.publicRaw);
  opener.install("#dev", e.epoch, e.raw, rseq);
  const seal = (n: number, text: string) =>
    sealRoomRecord(e.key, e.epoch, n, utf8.encode(text), host.privateKey);
  return { e, opener, seal };
}

function rejects(f: () => unknown, code: string, message: RegExp): void {
  assert.throws(f, (err: unknown) => {
    assert.ok(err instanceof ProtocolError, String(err));
    assert.equal(err.code, code);
    assert.match(err.message, message);
    return true;
  });
}

Deno.test("room record: the frame is §3's layout, written out by hand", () => {
  const { e, seal } = setup();
  const plain = utf8.encode('{"t":"msg"}');
  const frame = seal(5, '{"t":"msg"}');
  assert.equal(frame.length, 4 + plain.length + ROOM_RECORD_OVERHEAD);
  const b = body(frame);
  const nonce = concat(u32(5), e.epoch);
  const aad = concat(utf8.encode("chat/1 room\0"), e.epoch, u32(5));
  const ct = aeadSeal("chacha20-poly1305", aeadImport(e.raw), nonce, aad, plain);
  assert.deepEqual(b.subarray(0, 12), concat(e.epoch, u32(5)));
  assert.deepEqual(b.subarray(12, b.length - 64), ct);
  const signed = concat(utf8.encode("chat/1 room record\0"), sha256(concat(e.epoch, u32(5), ct)));
  assert.ok(ed25519Verify(host.publicRaw, b.subarray(b.length - 64), signed));
  // Ed25519 is deterministic: the same signature, made by hand.
  assert.deepEqual(b.subarray(b.length - 64), ed25519Sign(host.privateKey, signed));
});

Deno.test("room record: round trip, rseq from the rkey's, then +1", () => {
  const { opener, seal } = setup(17);
  for (let n = 17; n < 20; n++) {
    const got = opener.open(body(seal(n, `line ${n}`)));
    assert.equal(got.room, "#dev");
    assert.equal(new TextDecoder().decode(got.plaintext), `line ${n}`);
  }
  assert.equal(opener.size, 1);
});

Deno.test("room record: every tampered byte region is refused with its check's error", () => {
  const cases: [string, (b: Uint8Array) => void, RegExp][] = [
    ["epoch", (b) => b[3] ^= 1, /epoch not held/],
    ["rseq", (b) => b[11] ^= 1, /expected/],
    ["ciphertext", (b) => b[12] ^= 1, /signature/],
    ["tag", (b) => b[b.length - 70] ^= 1, /signature/],
    ["signature", (b) => b[b.length - 1] ^= 1, /signature/],
  ];
  for (const [what, flip, message] of cases) {
    const { opener, seal } = setup();
    const b = body(seal(0, "hello"));
    flip(b);
    rejects(() => opener.open(b), "bad_record", message);
    // Nothing advanced: the untouched record still opens.
    assert.equal(opener.open(body(seal(0, "hello"))).room, "#dev", what);
  }
});

Deno.test("room record: a signed record whose AEAD fails is refused by the AEAD check", () => {
  const { e, opener } = setup();
  // The right host signature over a record sealed under another key: only the AEAD can tell.
  const other = aeadImport(randomBytes(32));
  const b = body(sealRoomRecord(other, e.epoch, 0, utf8.encode("x"), host.privateKey));
  rejects(() => opener.open(b), "bad_record", /failed authentication/);
});

Deno.test("room record: wrong epoch, replay, gap, old epoch, dropped room, wrong host key", () => {
  const { e, opener, seal } = setup();
  const stranger = newRoomEpoch();
  rejects(
    () =>
      opener.open(
        body(sealRoomRecord(stranger.key, stranger.epoch, 0, utf8.encode("x"), host.privateKey)),
      ),
    "bad_record",
    /epoch not held/,
  );
  const first = body(seal(0, "a"));
  opener.open(first);
  rejects(() => opener.open(first), "bad_record", /record 0 where 1 was expected/); // replay
  rejects(() => opener.open(body(seal(2, "c"))), "bad_record", /record 2 where 1 was expected/);
  opener.open(body(seal(1, "b")));
  // A new epoch for the room replaces the old one.
  const next = newRoomEpoch();
  opener.install("#dev", next.epoch, next.raw, 0);
  rejects(() => opener.open(body(seal(2, "c"))), "bad_record", /epoch not held/);
  assert.equal(
    opener.open(body(sealRoomRecord(next.key, next.epoch, 0, utf8.encode("d"), host.privateKey)))
      .room,
    "#dev",
  );
  opener.drop("#dev");
  assert.equal(opener.size, 0);
  rejects(
    () =>
      opener.open(body(sealRoomRecord(next.key, next.epoch, 1, utf8.encode("e"), host.privateKey))),
    "bad_record",
    /epoch not held/,
  );
  // Signed by another host key: refused before decrypting.
  const impostor = ed25519Generate();
  const o2 = new RoomRecordOpener(host.publicRaw);
  o2.install("#dev", e.epoch, e.raw, 0);
  rejects(
    () => o2.open(body(sealRoomRecord(e.key, e.epoch, 0, utf8.encode("x"), impostor.privateKey))),
    "bad_record",
    /signature/,
  );
});

Deno.test("room record: sizes at and past the limits", () => {
  const { e, opener } = setup();
  const max = new Uint8Array(ROOM_PLAINTEXT_MAX).fill(0x61);
  const frame = sealRoomRecord(e.key, e.epoch, 0, max, host.privateKey);
  assert.equal(frame.length - 4, ROOM_BODY_MAX);
  assert.equal(opener.open(body(frame)).plaintext.length, ROOM_PLAINTEXT_MAX);
  assert.throws(
    () =>
      sealRoomRecord(e.key, e.epoch, 1, new Uint8Array(ROOM_PLAINTEXT_MAX + 1), host.privateKey),
    RangeError,
  );
  assert.throws(
    () => sealRoomRecord(e.key, e.epoch, 1, new Uint8Array(0), host.privateKey),
    RangeError,
  );
  assert.throws(
    () => sealRoomRecord(e.key, e.epoch, 2 ** 32, utf8.encode("x"), host.privateKey),
    RangeError,
  );
  assert.throws(
    () => sealRoomRecord(e.key, e.epoch.subarray(1), 1, utf8.encode("x"), host.privateKey),
    RangeError,
  );
  rejects(
    () => opener.open(new Uint8Array(ROOM_BODY_MAX + 1)),
    "bad_record",
    /length 16477 out of range/,
  );
  rejects(
    () => opener.open(new Uint8Array(ROOM_RECORD_OVERHEAD)),
    "bad_record",
    /length 92 out of range/,
  );
  rejects(() => opener.open(new Uint8Array(0)), "bad_record", /length 0 out of range/);
});

Deno.test("room record: install checks its input and holds a bounded number of rooms", () => {
  const opener = new RoomRecordOpener(host.publicRaw);
  const e = newRoomEpoch();
  rejects(() => opener.install("#a", e.epoch.subarray(1), e.raw, 0), "bad_message", /epoch/);
  rejects(() => opener.install("#a", e.epoch, e.raw.subarray(1), 0), "bad_message", /key/);
  rejects(() => opener.install("#a", e.epoch, e.raw, -1), "bad_message", /rseq/);
  rejects(() => opener.install("#a", e.epoch, e.raw, 2 ** 32), "bad_message", /rseq/);
  opener.install("#a", e.epoch, e.raw, 0);
  rejects(() => opener.install("#b", e.epoch, e.raw, 0), "bad_message", /another room/);
  for (let i = 1; i < ROOM_EPOCHS_HELD; i++) {
    opener.install(`#r${i}`, randomBytes(8), randomBytes(32), 0);
  }
  assert.equal(opener.size, ROOM_EPOCHS_HELD);
  rejects(
    () => opener.install("#one-more", randomBytes(8), randomBytes(32), 0),
    "bad_message",
    /too many/,
  );
  opener.install("#a", randomBytes(8), randomBytes(32), 0); // replacing a held room is fine
  assert.equal(opener.size, ROOM_EPOCHS_HELD);
});

/** A room record sealed and signed as §3 says, by hand: any u32 `rseq`, even one past the last. */
function sealByHand(e: ReturnType<typeof newRoomEpoch>, rseq: number, text: string): Uint8Array {
  const nonce = concat(u32(rseq), e.epoch);
  const aad = concat(utf8.encode("chat/1 room\0"), e.epoch, u32(rseq));
  const ct = aeadSeal("chacha20-poly1305", e.key, nonce, aad, utf8.encode(text));
  const head = concat(e.epoch, u32(rseq));
  const sig = ed25519Sign(
    host.privateKey,
    concat(utf8.encode("chat/1 room record\0"), sha256(concat(head, ct))),
  );
  return concat(head, ct, sig);
}

Deno.test("room record: the wrap — the last rseq is 2^32 − 2; a pong's next stays a u32", () => {
  assert.equal(RSEQ_MAX, 2 ** 32 - 2);
  const { e, opener, seal } = setup(RSEQ_MAX - 1);
  // The hand-made record is byte for byte the sealer's (so the refusals below are the opener's).
  assert.deepEqual(sealByHand(e, RSEQ_MAX - 1, "a"), body(seal(RSEQ_MAX - 1, "a")));
  opener.open(body(seal(RSEQ_MAX - 1, "a")));
  assert.equal(opener.behind("#dev", e.epoch, RSEQ_MAX + 1), true, "the last one is missing");
  opener.open(body(seal(RSEQ_MAX, "b")));
  assert.equal(opener.behind("#dev", e.epoch, RSEQ_MAX + 1), false, "all came");
  // Nothing of this epoch may follow: neither the wrapped rseq 0 nor 2^32 − 1.
  rejects(
    () => opener.open(body(seal(0, "wrapped"))),
    "bad_record",
    /record 0 where 4294967295 was expected/,
  );
  rejects(
    () => opener.open(sealByHand(e, RSEQ_MAX + 1, "past")),
    "bad_record",
    /past an epoch's last/,
  );
  assert.throws(() => seal(RSEQ_MAX + 1, "past"), RangeError);
  rejects(() => opener.install("#dev", e.epoch, e.raw, RSEQ_MAX + 1), "bad_message", /rseq/);
  // The server's next batch starts a new epoch: its rkey replaces the old one.
  const next = newRoomEpoch();
  opener.install("#dev", next.epoch, next.raw, 0);
  rejects(() => opener.open(body(seal(RSEQ_MAX, "b"))), "bad_record", /epoch not held/);
  assert.equal(opener.open(sealByHand(next, 0, "c")).room, "#dev");
});

Deno.test("room record: behind() compares the pong's next rseq for a held epoch only", () => {
  const { e, opener, seal } = setup(3);
  assert.equal(opener.behind("#dev", e.epoch, 3), false);
  assert.equal(opener.behind("#dev", e.epoch, 4), true);
  opener.open(body(seal(3, "x")));
  assert.equal(opener.behind("#dev", e.epoch, 4), false);
  assert.equal(opener.behind("#dev", randomBytes(8), 100), false); // another epoch: ignored
  assert.equal(opener.behind("#other", e.epoch, 100), false); // a room not held: ignored
  assert.equal(opener.behind("#dev", e.epoch.subarray(1), 100), false);
});

Deno.test("room record: property — any plaintext round-trips; any single flipped bit is refused", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 1, maxLength: 600 }),
      fc.integer({ min: 0, max: 2 ** 32 - 2 }),
      fc.nat(),
      (plain, rseq, at) => {
        const e = newRoomEpoch();
        const opener = new RoomRecordOpener(host.publicRaw);
        opener.install("#p", e.epoch, e.raw, rseq);
        const b = body(sealRoomRecord(e.key, e.epoch, rseq, plain, host.privateKey));
        const bad = b.slice();
        bad[at % bad.length] ^= 1 << (at % 8);
        assert.throws(() => opener.open(bad), ProtocolError);
        assert.deepEqual(opener.open(b).plaintext, plain);
      },
    ),
    { numRuns: 60 },
  );
});
