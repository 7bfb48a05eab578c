import assert from "node:assert/strict";
import { ed25519Generate } from "../../shared/crypto.ts";
import { utf8 } from "../../shared/encoding.ts";
import { ProtocolError } from "../../shared/errors.ts";
import {
  newRoomEpoch,
  RoomRecordOpener,
  roomSignatureCheck,
  sealRoomRecord,
} from "../../shared/room_record.ts";
import { MEMO_RECORDS, RoomSignatureMemo } from "../../bench/room_signatures.ts";

const host = ed25519Generate();
const line = (n: number) => `{"t":"msg","room":"#dev","seq":${n}}`;

function scene() {
  const e = newRoomEpoch();
  const body = (rseq: number, text = line(rseq)) =>
    sealRoomRecord(e.key, e.epoch, rseq, utf8.encode(text), host.privateKey).slice(4);
  const opener = (memo: RoomSignatureMemo) => {
    const o = new RoomRecordOpener(memo.check);
    o.install("#dev", e.epoch, e.raw, 0);
    return o;
  };
  return { e, body, opener };
}

const isBadRecord = (e: unknown) => e instanceof ProtocolError && e.code === "bad_record";

Deno.test("signature memo: 300 connections, one verification per distinct record", () => {
  const { body, opener } = scene();
  const memo = new RoomSignatureMemo(host.publicRaw);
  const conns = Array.from({ length: 300 }, () => opener(memo));
  for (let rseq = 0; rseq < 5; rseq++) {
    const b = body(rseq);
    for (const c of conns) assert.equal(utf8.encode(line(rseq)).length, c.open(b).plaintext.length);
  }
  assert.equal(memo.verified, 5);
  assert.equal(memo.reused, 5 * 299);
});

Deno.test("signature memo: each connection still checks its own order", () => {
  const { body, opener } = scene();
  const memo = new RoomSignatureMemo(host.publicRaw);
  const [a, b] = [opener(memo), opener(memo)];
  const r0 = body(0);
  const r1 = body(1);
  a.open(r0);
  a.open(r1);
  assert.throws(() => b.open(r1), isBadRecord); // b has not had record 0: dropped
  b.open(r0);
  assert.throws(() => b.open(r0), isBadRecord); // replayed, though the memo knows the bytes
  b.open(r1);
  assert.equal(memo.verified, 2);
});

Deno.test("signature memo: a different body under a known epoch and rseq is verified, and refused", () => {
  const { body, opener } = scene();
  const memo = new RoomSignatureMemo(host.publicRaw);
  const good = body(0);
  opener(memo).open(good);
  const flipped = good.slice();
  flipped[20] ^= 1; // inside the ciphertext: the signature no longer matches
  assert.throws(() => opener(memo).open(flipped), isBadRecord);
  const other = body(0, line(99)); // signed by the host: a second distinct record, verified too
  opener(memo).open(other);
  assert.equal(memo.verified, 3);
  opener(memo).open(good); // the memo now holds `other` for (epoch, 0): `good` is verified again
  assert.equal(memo.verified, 4);
});

Deno.test("signature memo: a record the host did not sign is never remembered", () => {
  const { body, opener } = scene();
  const mallory = ed25519Generate();
  const memo = new RoomSignatureMemo(host.publicRaw);
  const forged = body(0);
  forged.set(
    new Uint8Array(64).fill(7), // any other signature
    forged.length - 64,
  );
  for (let i = 0; i < 3; i++) assert.throws(() => opener(memo).open(forged), isBadRecord);
  assert.equal(memo.verified, 3);
  assert.equal(memo.size, 0);
  assert.equal(roomSignatureCheck(mallory.publicRaw)(body(1)), false);
});

Deno.test("signature memo: bounded to MEMO_RECORDS records, the oldest forgotten", () => {
  const { body } = scene();
  let calls = 0;
  const memo = new RoomSignatureMemo(() => (calls++, true));
  const first = body(0);
  memo.check(first);
  for (let r = 1; r <= MEMO_RECORDS; r++) memo.check(body(r, "x"));
  assert.equal(memo.size, MEMO_RECORDS);
  memo.check(first); // forgotten: checked again
  assert.equal(calls, MEMO_RECORDS + 2);
});

Deno.test("open memo: 300 connections, one AEAD open per distinct record, the same plaintext", () => {
  const { body, e } = scene();
  const memo = new RoomSignatureMemo(host.publicRaw);
  const conns = Array.from({ length: 300 }, () => {
    const o = new RoomRecordOpener(memo.check, memo.open);
    o.install("#dev", e.epoch, e.raw, 0);
    return o;
  });
  for (let rseq = 0; rseq < 5; rseq++) {
    const b = body(rseq);
    const got = conns.map((c) => c.open(b.slice()).plaintext);
    assert.equal(new TextDecoder().decode(got[0]), line(rseq));
    assert.ok(got.every((p) => p === got[0])); // one object, opened once
  }
  assert.equal(memo.opened, 5);
  assert.equal(memo.verified, 5);
});

Deno.test("open memo: a body that was not just checked is opened with the connection's key", () => {
  const { body, e } = scene();
  const memo = new RoomSignatureMemo(host.publicRaw);
  let inner = 0;
  const plain = memo.open(body(0), () => (inner++, new Uint8Array([1])));
  assert.deepEqual([...plain], [1]);
  assert.equal(inner, 1);
  assert.equal(memo.opened, 0);
  const o = new RoomRecordOpener(memo.check, memo.open);
  o.install("#dev", e.epoch, e.raw, 0);
  const other = e.raw.slice();
  other[0] ^= 1; // a connection given another key for the same epoch opens nothing
  const p = new RoomRecordOpener(memo.check, memo.open);
  p.install("#dev", e.epoch, other, 0);
  assert.throws(() => p.open(body(0)), isBadRecord);
  assert.equal(new TextDecoder().decode(o.open(body(0)).plaintext), line(0));
});
