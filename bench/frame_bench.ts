/**
 * `deno bench`: frame encoding and decoding.
 * @module
 */

import { encodeFrame, FrameDecoder } from "../shared/frame.ts";

const small = encodeFrame(new Uint8Array(100).fill(7));
const large = encodeFrame(new Uint8Array(16_400).fill(7));
const many = new Uint8Array(small.length * 100);
for (let i = 0; i < 100; i++) many.set(small, i * small.length);
const LIMITS = { min: 1, max: 16_400 };

Deno.bench("frame decode: one 100-byte frame", { group: "frame" }, () => {
  const d = new FrameDecoder(LIMITS);
  d.push(small);
  if (d.next()?.length !== 100) throw new Error("decode failed");
});

Deno.bench("frame decode: one 16,400-byte frame", { group: "frame" }, () => {
  const d = new FrameDecoder(LIMITS);
  d.push(large);
  if (d.next()?.length !== 16_400) throw new Error("decode failed");
});

Deno.bench("frame decode: 100 frames of 100 bytes in one chunk", { group: "frame" }, () => {
  const d = new FrameDecoder(LIMITS);
  d.push(many);
  let n = 0;
  while (d.next() !== null) n++;
  if (n !== 100) throw new Error("decode failed");
});

Deno.bench("frame decode: 100-byte frame in 1-byte pieces", { group: "frame" }, () => {
  const d = new FrameDecoder(LIMITS);
  for (let i = 0; i < small.length; i++) d.push(small.subarray(i, i + 1));
  if (d.next()?.length !== 100) throw new Error("decode failed");
});

Deno.bench("frame encode: 100 bytes", { group: "frame" }, () => {
  encodeFrame(small.subarray(4));
});
