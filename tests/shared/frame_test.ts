import assert from "node:assert/strict";
import fc from "fast-check";
import {
  encodeFrame,
  encodeRoomFrame,
  FrameDecoder,
  MAX_ROOM_FRAME,
  ROOM_FRAME_FLAG,
} from "../../shared/frame.ts";
import { ProtocolError } from "../../shared/errors.ts";
import { concat } from "../../shared/encoding.ts";

function decodeAll(chunks: Uint8Array[], max = 4096): Uint8Array[] {
  const d = new FrameDecoder({ min: 1, max });
  const out: Uint8Array[] = [];
  for (const c of chunks) {
    d.push(c);
    for (let f = d.next(); f !== null; f = d.next()) out.push(f);
  }
  d.finish();
  return out;
}

function splitAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let last = 0;
  for (const p of [...points, bytes.length]) {
    out.push(bytes.slice(last, p));
    last = p;
  }
  return out;
}

Deno.test("frame: any split of a valid stream yields the same frames", () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 8 }),
      fc.array(fc.nat(), { maxLength: 40 }),
      (bodies, cuts) => {
        const stream = concat(...bodies.map(encodeFrame));
        const got = decodeAll(splitAt(stream, cuts));
        assert.deepEqual(got, bodies);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("frame: 1-byte pieces and one big read decode the same", () => {
  const bodies = [Uint8Array.of(1), new Uint8Array(4096).fill(7), Uint8Array.of(9, 9)];
  const stream = concat(...bodies.map(encodeFrame));
  const ones = Array.from(stream, (b) => Uint8Array.of(b));
  assert.deepEqual(decodeAll(ones), bodies);
  assert.deepEqual(decodeAll([stream]), bodies);
});

for (
  const [name, header] of [
    ["length 0", [0, 0, 0, 0]],
    ["length over the limit", [0, 0, 0x10, 0x01]],
    ["length 0xFFFFFFFF", [0xff, 0xff, 0xff, 0xff]],
  ] as const
) {
  Deno.test(`frame: ${name} is rejected before any body is read`, () => {
    const d = new FrameDecoder({ min: 1, max: 4096 });
    d.push(Uint8Array.from(header));
    assert.throws(() => d.next(), (e) => e instanceof ProtocolError && e.code === "bad_frame");
  });
}

Deno.test("frame: a 0xFFFFFFFF length allocates nothing", () => {
  // The decoder must throw on the header alone; if it allocated 4 GiB this would fail or hang.
  const d = new FrameDecoder({ min: 1, max: 16_400 });
  d.push(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 1, 2, 3));
  assert.throws(() => d.next(), ProtocolError);
});

Deno.test("frame: limits can change between frames", () => {
  const d = new FrameDecoder({ min: 1, max: 10 });
  d.push(concat(encodeFrame(new Uint8Array(5)), encodeFrame(new Uint8Array(20))));
  assert.equal(d.next()?.length, 5);
  d.limits = { min: 17, max: 100 };
  assert.equal(d.next()?.length, 20);
});

Deno.test("frame: below the minimum is rejected", () => {
  const d = new FrameDecoder({ min: 17, max: 100 });
  d.push(encodeFrame(new Uint8Array(16)));
  assert.throws(() => d.next(), ProtocolError);
});

Deno.test("frame: EOF inside a frame is an error, between frames a clean end", () => {
  const full = encodeFrame(Uint8Array.of(1, 2, 3));
  assert.deepEqual(decodeAll([full]), [Uint8Array.of(1, 2, 3)]);
  for (let cut = 1; cut < full.length; cut++) {
    const d = new FrameDecoder({ min: 1, max: 100 });
    d.push(full.slice(0, cut));
    assert.equal(d.next(), null);
    assert.throws(() => d.finish(), (e) => e instanceof ProtocolError && e.code === "truncated");
  }
  new FrameDecoder({ min: 1, max: 100 }).finish();
});

Deno.test("frame: encodeFrame refuses an empty body", () => {
  assert.throws(() => encodeFrame(new Uint8Array(0)), RangeError);
});

const RECORDS = { min: 17, max: 16_400 };
const WITH_ROOMS = { ...RECORDS, room: MAX_ROOM_FRAME };

function flagged(len: number): Uint8Array {
  const h = new Uint8Array(4);
  new DataView(h.buffer).setUint32(0, (ROOM_FRAME_FLAG | len) >>> 0);
  return h;
}

Deno.test("frame: room frames and records interleaved decode in order, each reported", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(fc.boolean(), fc.uint8Array({ minLength: 17, maxLength: 300 })),
        { minLength: 1, maxLength: 8 },
      ),
      fc.array(fc.nat(), { maxLength: 40 }),
      (frames, cuts) => {
        const stream = concat(
          ...frames.map(([room, body]) => (room ? encodeRoomFrame : encodeFrame)(body)),
        );
        const d = new FrameDecoder(WITH_ROOMS);
        const got: [boolean, Uint8Array][] = [];
        for (const c of splitAt(stream, cuts)) {
          d.push(c);
          for (let f = d.next(); f !== null; f = d.next()) got.push([d.room, f]);
        }
        d.finish();
        assert.deepEqual(got, frames);
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("frame: a room frame split into 1-byte pieces, largest allowed size", () => {
  const body = new Uint8Array(MAX_ROOM_FRAME).fill(3);
  const stream = concat(encodeRoomFrame(body), encodeFrame(new Uint8Array(17)));
  const d = new FrameDecoder(WITH_ROOMS);
  const got: [boolean, number][] = [];
  for (const b of stream) {
    d.push(Uint8Array.of(b));
    for (let f = d.next(); f !== null; f = d.next()) got.push([d.room, f.length]);
  }
  assert.deepEqual(got, [[true, 16_476], [false, 17]]);
  assert.equal(MAX_ROOM_FRAME, 16_384 + 92);
});

Deno.test("frame: a room length one over 16,384 + 92 is rejected on the header alone", () => {
  const d = new FrameDecoder(WITH_ROOMS);
  d.push(flagged(MAX_ROOM_FRAME + 1));
  assert.throws(
    () => d.next(),
    (e) =>
      e instanceof ProtocolError && e.code === "bad_frame" &&
      /room frame length 16477/.test(e.message),
  );
  assert.equal(d.buffered, 0); // nothing allocated for a body
});

Deno.test("frame: a flagged 0x7FFFFFFF or 0 length is rejected before allocation", () => {
  for (const len of [0x7fffffff, 0, 16]) {
    const d = new FrameDecoder(WITH_ROOMS);
    d.push(concat(flagged(len), Uint8Array.of(1, 2, 3)));
    assert.throws(() => d.next(), (e) => e instanceof ProtocolError && e.code === "bad_frame");
  }
});

Deno.test("frame: without room records negotiated a flagged length is over the limit", () => {
  for (const limits of [RECORDS, { ...RECORDS, room: 0 }]) {
    const d = new FrameDecoder(limits);
    d.push(encodeRoomFrame(new Uint8Array(100)));
    assert.throws(
      () => d.next(),
      (e) => e instanceof ProtocolError && e.code === "bad_frame" && /2147483748/.test(e.message),
    );
  }
});

Deno.test("frame: an ordinary record may not use the room limit", () => {
  const d = new FrameDecoder(WITH_ROOMS);
  d.push(encodeFrame(new Uint8Array(16_401)));
  assert.throws(() => d.next(), (e) => e instanceof ProtocolError && e.code === "bad_frame");
});

Deno.test("frame: encodeRoomFrame sets bit 31 for a room frame and refuses 2^31 bytes", () => {
  const f = encodeRoomFrame(Uint8Array.of(7, 8));
  assert.deepEqual([...f], [0x80, 0, 0, 2, 7, 8]);
  assert.throws(() => encodeRoomFrame({ length: 2 ** 31 } as Uint8Array), RangeError);
});
