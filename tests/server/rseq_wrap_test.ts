/**
 * The server's room records at the end of an epoch's `rseq` range (docs/protocol.md §3 "Keys"),
 * with the epoch's next `rseq` set near the end instead of sending 2^32 batches: the last batch
 * of an epoch has `rseq` 2^32 − 2, the `pong` a member would get then names 2^32 − 1 (a u32 the
 * client accepts), and the next batch starts a new epoch at once (no one-second wait: nobody
 * left), its `rkey` from `rseq` 0; the shared opener follows all of it.
 */

import assert from "node:assert/strict";
import { RoomRecords } from "../../server/room_records.ts";
import type {
  HeldEpoch,
  QueuedBatch,
  RoomMember,
  RoomReceiver,
} from "../../server/room_channel.ts";
import { ed25519Generate } from "../../shared/crypto.ts";
import { decodeUtf8, fromBase64, utf8 } from "../../shared/encoding.ts";
import { parseServerMessage } from "../../shared/messages.ts";
import { RoomRecordOpener, RSEQ_MAX } from "../../shared/room_record.ts";

const host = ed25519Generate();

/** A member that negotiated room records: what it was sent, opened as a client would. */
class Member implements RoomMember {
  readonly opener = new RoomRecordOpener(host.publicRaw);
  readonly epochs = new Map<string, HeldEpoch>();
  readonly peer: { send(line: Uint8Array): void; roomRecords: RoomReceiver };
  readonly got: string[] = [];

  constructor() {
    this.peer = {
      send: (line) => {
        const m = parseServerMessage(decodeUtf8(line));
        if (m.t !== "rkey") throw new Error(`unexpected ${decodeUtf8(line)}`);
        this.opener.install(m.room, fromBase64(m.epoch), fromBase64(m.key), m.rseq);
        this.got.push(`rkey ${m.rseq}`);
      },
      roomRecords: {
        epochs: this.epochs,
        sendBatch: (b: QueuedBatch) => {
          const frame = b.frame(); // sealed now: the next line opens a new batch
          try {
            this.got.push(decodeUtf8(this.opener.open(frame.subarray(4)).plaintext));
          } catch (e) {
            this.got.push(`refused: ${(e as Error).message}`);
          }
        },
      },
    };
  }

  /** The `pong` the server would send this member now, as the client parses it. */
  pong(): [string, number] {
    const rooms = Object.fromEntries([...this.epochs].map(([r, e]) => [r, [e.id, e.next]]));
    const m = parseServerMessage(JSON.stringify({ t: "pong", n: 1, rooms }));
    if (m.t !== "pong") throw new Error("not a pong");
    return m.rooms!["#dev"];
  }
}

Deno.test("rseq wrap: the last batch is 2^32 − 2, the pong names 2^32 − 1, then a new epoch", () => {
  const t = 1_000_000; // the clock stands still: the new epoch does not wait for it
  const rr = new RoomRecords(host.privateKey, () => t);
  const a = new Member();
  const members = new Set([a]);
  const say = (text: string) => rr.send("#dev", utf8.encode(text), members);
  say("l0");
  const first = a.epochs.get("#dev")!;
  (first as { next: number }).next = RSEQ_MAX - 1; // as if 2^32 − 2 batches had gone out
  // A member joining now gets the epoch from its current rseq.
  const b = new Member();
  members.add(b);
  rr.joined("#dev", b);
  say("l1");
  say("l2");
  assert.deepEqual(b.got, [`rkey ${RSEQ_MAX - 1}`, "l1", "l2"]);
  assert.equal(b.epochs.get("#dev"), first);
  assert.equal(first.next, RSEQ_MAX + 1);
  assert.deepEqual(b.pong(), [first.id, 2 ** 32 - 1], "a u32: the client takes it");
  assert.equal(b.opener.behind("#dev", fromBase64(first.id), b.pong()[1]), false);
  // The next batch: a new epoch at once, from rseq 0.
  say("l3");
  const second = b.epochs.get("#dev")!;
  assert.notEqual(second.id, first.id);
  assert.deepEqual(b.got, [`rkey ${RSEQ_MAX - 1}`, "l1", "l2", "rkey 0", "l3"]);
  assert.deepEqual(b.pong(), [second.id, 1]);
  assert.deepEqual(rr.stats, { epochs: 2, batches: 4, ordinary: 0 });
  // The member from before the jump (the test's, not the server's doing) refuses it, and takes
  // the new epoch.
  assert.deepEqual(a.got, [
    "rkey 0",
    "l0",
    `refused: room record ${RSEQ_MAX - 1} where 1 was expected`,
    `refused: room record ${RSEQ_MAX} where 1 was expected`,
    "rkey 0",
    "l3",
  ]);
});
