/**
 * `deno bench`: what a client pays per room record (signature check, then the AEAD) and what the
 * load generator pays when 100 connections get the same record and its signature is checked once
 * for all of them (bench/room_signatures.ts).
 * @module
 */

import { ed25519Generate } from "../shared/crypto.ts";
import { utf8 } from "../shared/encoding.ts";
import {
  newRoomEpoch,
  RoomRecordOpener,
  roomSignatureCheck,
  sealRoomRecord,
} from "../shared/room_record.ts";
import { RoomSignatureMemo } from "./room_signatures.ts";

const host = ed25519Generate();
const e = newRoomEpoch();
/** About 15 lines of 100 bytes: a room record under load (docs/benchmarks.md). */
const body = sealRoomRecord(
  e.key,
  e.epoch,
  0,
  utf8.encode("x".repeat(1500)),
  host.privateKey,
).slice(4);
const check = roomSignatureCheck(host.publicRaw);
const group = "room record, 100 connections";

/** Opens `body` on 100 fresh connections' openers (each at rseq 0); only the opening is timed. */
function openAll(b: Deno.BenchContext, verify: (b: Uint8Array) => boolean): void {
  const openers = Array.from({ length: 100 }, () => {
    const o = new RoomRecordOpener(verify);
    o.install("#bench", e.epoch, e.raw, 0);
    return o;
  });
  b.start();
  for (const o of openers) o.open(body);
  b.end();
}

Deno.bench("signature check alone (one client)", () => {
  check(body);
});
Deno.bench("100 connections, each checks the signature", { group, baseline: true }, (b) => {
  openAll(b, check);
});
Deno.bench("100 connections, the signature checked once (memo)", { group }, (b) => {
  openAll(b, new RoomSignatureMemo(check).check);
});
