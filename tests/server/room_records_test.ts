/**
 * Room records on the server (server/room_records.ts) with real outboxes, the real record layer
 * and the shared opener, and a fake clock: one seal per batch for every member, rkey before a
 * member's first batch of an epoch, batches closed by a member's own items, joins, leaves, seals
 * and size; new epochs after a leave at most once per second, ordinary messages meanwhile.
 */

import assert from "node:assert/strict";
import { Outbox } from "../../server/outbox.ts";
import { EPOCH_MIN_MS, RoomRecords } from "../../server/room_records.ts";
import type {
  HeldEpoch,
  QueuedBatch,
  RoomMember,
  RoomReceiver,
} from "../../server/room_channel.ts";
import { aeadImport, ed25519Generate } from "../../shared/crypto.ts";
import { decodeUtf8, fromBase64, utf8 } from "../../shared/encoding.ts";
import { FrameDecoder, MAX_ROOM_FRAME } from "../../shared/frame.ts";
import { type DirectionKeys, RecordOpener, RecordSealer } from "../../shared/record.ts";
import { ROOM_PLAINTEXT_MAX, RoomRecordOpener } from "../../shared/room_record.ts";

const host = ed25519Generate();
const LIMITS = { sendQueueEvents: 2000, sendQueueBytes: 256 * 1024, recordPlaintext: 16_384 };

/** What one member received: `room:` + lines of a room record, else the ordinary message. */
type Got = string;

/** A member with a real outbox, drained through the real record layer and the shared opener. */
class Member implements RoomMember {
  readonly out: Outbox;
  readonly #sealer: RecordSealer;
  readonly #opener: RecordOpener;
  readonly #rooms = new RoomRecordOpener(host.publicRaw);
  readonly #decoder = new FrameDecoder({ min: 17, max: 16_400, room: MAX_ROOM_FRAME });
  readonly peer: RoomMember["peer"] & { roomRecords?: RoomReceiver };
  /** Frames of room records received, as sent (to compare bytes between members). */
  readonly frames: Uint8Array[] = [];
  /** Full when it was told so. */
  dropped = false;

  constructor(readonly name: string, negotiated: boolean, limits = LIMITS) {
    const keys: DirectionKeys = {
      cipher: "chacha20-poly1305",
      key: aeadImport(new Uint8Array(32).fill(name.charCodeAt(0))),
      iv: new Uint8Array(12).fill(1),
      dir: 1,
    };
    this.#sealer = new RecordSealer(keys);
    this.#opener = new RecordOpener(keys);
    this.out = new Outbox(limits);
    this.peer = {
      send: (line: Uint8Array) => {
        if (!this.out.push(line)) this.dropped = true;
      },
      roomRecords: negotiated
        ? {
          epochs: undefined,
          sendBatch: (b: QueuedBatch) => {
            if (!this.out.pushBatch(b)) this.dropped = true;
          },
        }
        : undefined,
    };
  }

  /** The epochs this member holds, as the server sees them (the pong's). */
  get held(): Map<string, HeldEpoch> {
    return this.peer.roomRecords!.epochs ?? new Map();
  }

  /** Drains the outbox as a write would, opening everything like a client. */
  drain(): Got[] {
    const got: Got[] = [];
    if (this.out.empty) return got;
    const { bytes } = this.out.drain(this.#sealer);
    this.#decoder.push(bytes);
    for (let f = this.#decoder.next(); f !== null; f = this.#decoder.next()) {
      if (this.#decoder.room) {
        const { room, plaintext } = this.#rooms.open(f);
        got.push(`${room}: ${decodeUtf8(plaintext).split("\n").join(" | ")}`);
        continue;
      }
      for (const line of decodeUtf8(this.#opener.open(f)).split("\n")) {
        const m = line.startsWith('{"t":"rkey"') ? JSON.parse(line) : {};
        if (m.t === "rkey") {
          this.#rooms.install(m.room, fromBase64(m.epoch), fromBase64(m.key), m.rseq);
          got.push(`rkey ${m.room} ${m.rseq}`);
        } else got.push(line);
      }
    }
    return got;
  }
}

function world(names: [string, boolean][]) {
  let t = 1_000_000;
  const rr = new RoomRecords(host.privateKey, () => t);
  const members = new Set(names.map(([n, neg]) => new Member(n, neg)));
  const by = (n: string) => [...members].find((m) => m.name === n)!;
  const say = (text: string) => rr.send("#dev", utf8.encode(text), members);
  return { rr, members, by, say, tick: (ms: number) => t += ms };
}

Deno.test("room records: one batch for every member, sealed once; others get ordinary lines", () => {
  const { rr, by, say } = world([["a", true], ["b", true], ["c", false]]);
  say("l1");
  say("l2");
  say("l3");
  assert.deepEqual(by("a").drain(), ["rkey #dev 0", "#dev: l1 | l2 | l3"]);
  assert.deepEqual(by("b").drain(), ["rkey #dev 0", "#dev: l1 | l2 | l3"]);
  assert.deepEqual(by("c").drain(), ["l1", "l2", "l3"]);
  assert.deepEqual(rr.stats, { epochs: 1, batches: 1, ordinary: 0 });
  // The second member got the very bytes the first member's drain sealed.
  say("l4");
  assert.deepEqual(by("a").drain(), ["#dev: l4"]);
  assert.deepEqual(by("b").drain(), ["#dev: l4"]);
  assert.equal(by("a").held.get("#dev")!.next, 2);
});

Deno.test("room records: a member's own item after the batch closes it; order is kept for everyone", () => {
  const { by, say } = world([["a", true], ["b", true]]);
  say("l1");
  by("a").peer.send(utf8.encode('{"t":"reply","id":"x"}'));
  say("l2");
  assert.deepEqual(by("a").drain(), [
    "rkey #dev 0",
    "#dev: l1",
    '{"t":"reply","id":"x"}',
    "#dev: l2",
  ]);
  assert.deepEqual(by("b").drain(), ["rkey #dev 0", "#dev: l1", "#dev: l2"]);
});

Deno.test("room records: the first drain seals the batch; later lines go in the next one", () => {
  const { by, say } = world([["a", true], ["b", true]]);
  say("l1");
  assert.deepEqual(by("a").drain(), ["rkey #dev 0", "#dev: l1"]);
  say("l2");
  assert.deepEqual(by("b").drain(), ["rkey #dev 0", "#dev: l1", "#dev: l2"]);
  assert.deepEqual(by("a").drain(), ["#dev: l2"]);
});

Deno.test("room records: a join closes the batch; the joiner's rkey names its first rseq", () => {
  const { rr, members, by, say } = world([["a", true]]);
  say("l1");
  const b = new Member("b", true);
  members.add(b);
  rr.joined("#dev", b);
  say("l2");
  assert.deepEqual(by("a").drain(), ["rkey #dev 0", "#dev: l1", "#dev: l2"]);
  assert.deepEqual(b.drain(), ["rkey #dev 1", "#dev: l2"]);
  assert.equal(rr.stats.epochs, 1, "a join keeps the epoch");
  assert.equal(a_epoch(by("a")), a_epoch(b));
});

function a_epoch(m: Member): string {
  return m.held.get("#dev")!.id;
}

Deno.test("room records: a leave starts a new epoch, at most once a second, ordinary meanwhile", () => {
  const { rr, members, by, say, tick } = world([["a", true], ["b", true], ["c", true]]);
  say("l1");
  const first = a_epoch(by("a"));
  const c = by("c");
  members.delete(c);
  rr.left("#dev", c, false);
  assert.equal(c.held.has("#dev"), false, "the leaver holds nothing for the pong");
  // Within a second of the epoch's start: the room's lines are ordinary messages.
  say("l2");
  assert.deepEqual(by("a").drain(), ["rkey #dev 0", "#dev: l1", "l2"]);
  assert.equal(rr.stats.ordinary, 1);
  tick(EPOCH_MIN_MS);
  say("l3");
  assert.deepEqual(by("a").drain(), ["rkey #dev 0", "#dev: l3"]);
  assert.deepEqual(by("b").drain(), ["rkey #dev 0", "#dev: l1", "l2", "rkey #dev 0", "#dev: l3"]);
  assert.notEqual(a_epoch(by("a")), first);
  assert.deepEqual(c.drain(), ["rkey #dev 0", "#dev: l1"], "nothing after the leave");
  assert.equal(rr.stats.epochs, 2);
  // A second leave long after: the next batch starts a third epoch at once.
  tick(5 * EPOCH_MIN_MS);
  const b = by("b");
  members.delete(b);
  rr.left("#dev", b, false);
  say("l4");
  assert.deepEqual(by("a").drain(), ["rkey #dev 0", "#dev: l4"]);
  assert.equal(rr.stats.epochs, 3);
  // The last member leaves: the room's state goes.
  const a = by("a");
  members.delete(a);
  rr.left("#dev", a, true);
  assert.equal(rr.rooms, 0);
});

Deno.test("room records: a member holds no epoch map before its first rkey nor after its last room", () => {
  const { rr, members, by, say } = world([["a", true], ["b", true]]);
  const a = by("a");
  assert.equal(a.peer.roomRecords!.epochs, undefined, "negotiated, nothing said yet");
  say("l1");
  rr.send("#ops", utf8.encode("o1"), new Set([a]));
  assert.deepEqual([...a.peer.roomRecords!.epochs!.keys()], ["#dev", "#ops"]);
  rr.left("#ops", a, true);
  assert.deepEqual([...a.peer.roomRecords!.epochs!.keys()], ["#dev"], "one room left");
  members.delete(a);
  rr.left("#dev", a, false);
  assert.equal(a.peer.roomRecords!.epochs, undefined, "the last room left: the map goes");
  assert.deepEqual(a.drain(), ["rkey #dev 0", "#dev: l1", "rkey #ops 0", "#ops: o1"]);
});

Deno.test("room records: a batch never passes one record's plaintext", () => {
  const { rr, by, say } = world([["a", true], ["b", false]]);
  const big = "x".repeat(6000);
  for (let i = 0; i < 5; i++) say(`${i}${big}`);
  const got = by("a").drain();
  assert.equal(got.length, 1 + 3); // rkey, then 2 + 2 + 1 lines
  assert.equal(rr.stats.batches, 3);
  for (const g of got.slice(1)) assert.ok(g.length <= ROOM_PLAINTEXT_MAX + 10);
  assert.equal(by("b").drain().length, 5);
  // A line over a record on its own goes ordinary (and the outbox turns it into too_long).
  say("y".repeat(ROOM_PLAINTEXT_MAX + 1));
  const over = by("a").drain();
  assert.equal(over.length, 1);
  assert.match(over[0], /too_long/);
});

Deno.test("room records: the send queue counts a batch's lines and bytes", () => {
  let t = 0;
  const rr = new RoomRecords(host.privateKey, () => t++);
  const small = new Member("s", true, { ...LIMITS, sendQueueEvents: 5 });
  const members = new Set([small]);
  for (let i = 0; i < 5; i++) rr.send("#dev", utf8.encode(`l${i}`), members);
  // rkey + a batch of 5 lines: the bound counts the rkey (1) and the batch (5) once it settles.
  assert.equal(small.dropped, false);
  small.peer.send(utf8.encode("personal"));
  assert.equal(small.dropped, true, "6 queued events + 1 pass sendQueueEvents=5");
  // rkey, batch, personal, batch (4 events), then one more: a closed batch is counted when the
  // next item is queued.
  const tiny = new Member("t", true, { ...LIMITS, sendQueueEvents: 4 });
  const m2 = new Set([tiny]);
  rr.send("#x", utf8.encode("1"), m2);
  tiny.peer.send(utf8.encode("p"));
  rr.send("#x", utf8.encode("2"), m2);
  assert.equal(tiny.dropped, false);
  tiny.peer.send(utf8.encode("q"));
  assert.equal(tiny.dropped, true);
});

Deno.test("room records: no member takes them: no batch, no rseq given out", () => {
  const { rr, by, say, members } = world([["a", false]]);
  say("l1");
  say("l2");
  assert.deepEqual(by("a").drain(), ["l1", "l2"]);
  assert.equal(rr.stats.batches, 0);
  const b = new Member("b", true);
  members.add(b);
  rr.joined("#dev", b);
  say("l3");
  assert.deepEqual(b.drain(), ["rkey #dev 0", "#dev: l3"]);
});
