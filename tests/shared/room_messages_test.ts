import assert from "node:assert/strict";
import {
  parseClientMessage,
  parseRoomLines,
  parseServerMessage,
  PONG_ROOMS_MAX,
} from "../../shared/messages.ts";
import { ProtocolError } from "../../shared/errors.ts";
import { toBase64 } from "../../shared/encoding.ts";

const EPOCH = toBase64(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8)); // "AQIDBAUGBwg="
const KEY = toBase64(new Uint8Array(32).fill(0xab));

function badMessage(text: string, pattern: RegExp): void {
  assert.throws(
    () => parseServerMessage(text),
    (e) => e instanceof ProtocolError && e.code === "bad_message" && pattern.test(e.message),
  );
}

const rkey = (o: Record<string, unknown>) =>
  JSON.stringify({ t: "rkey", room: "#dev", epoch: EPOCH, key: KEY, rseq: 17, ...o });

Deno.test("messages: rkey parses room, epoch, key and rseq; unknown fields are ignored", () => {
  assert.deepEqual(parseServerMessage(rkey({ extra: 1 })), {
    t: "rkey",
    room: "#dev",
    epoch: EPOCH,
    key: KEY,
    rseq: 17,
  });
  assert.equal(
    (parseServerMessage(rkey({ rseq: 0xffffffff })) as { rseq: number }).rseq,
    2 ** 32 - 1,
  );
});

Deno.test("messages: a malformed rkey is bad_message, naming the field", () => {
  badMessage(rkey({ room: "dev" }), /rkey.room/);
  badMessage(rkey({ room: "#Dev" }), /rkey.room/);
  badMessage(rkey({ room: undefined }), /field room/);
  badMessage(rkey({ epoch: toBase64(new Uint8Array(7)) }), /rkey.epoch/);
  badMessage(rkey({ epoch: toBase64(new Uint8Array(9)) }), /rkey.epoch/); // 12 characters, no padding
  badMessage(rkey({ epoch: toBase64(new Uint8Array(10)) }), /field epoch is too long/);
  badMessage(rkey({ epoch: "AQIDBAUGBwh=" }), /rkey.epoch/); // non-canonical last character
  badMessage(rkey({ epoch: 12 }), /field epoch/);
  badMessage(rkey({ key: toBase64(new Uint8Array(31)) }), /rkey.key/);
  badMessage(rkey({ key: toBase64(new Uint8Array(33)) }), /rkey.key/);
  badMessage(rkey({ key: toBase64(new Uint8Array(34)) }), /field key is too long/);
  badMessage(rkey({ key: KEY.replace("=", "") }), /rkey.key/);
  badMessage(rkey({ rseq: -1 }), /rkey.rseq must be a u32/);
  badMessage(rkey({ rseq: 2 ** 32 }), /rkey.rseq must be a u32/);
  badMessage(rkey({ rseq: 1.5 }), /rkey.rseq must be a u32/);
  badMessage(rkey({ rseq: "1" }), /rkey.rseq must be a u32/);
  badMessage(rkey({ rseq: undefined }), /rkey.rseq must be a u32/);
});

Deno.test("messages: pong with and without rooms", () => {
  assert.deepEqual(parseServerMessage('{"t":"pong","n":4}'), { t: "pong", n: 4 });
  const m = parseServerMessage(
    JSON.stringify({ t: "pong", n: 4, rooms: { "#dev": [EPOCH, 18], "#a": [EPOCH, 0] } }),
  );
  assert.deepEqual(m, { t: "pong", n: 4, rooms: { "#dev": [EPOCH, 18], "#a": [EPOCH, 0] } });
  // a ping never carries rooms, even if a server put them there
  assert.deepEqual(parseServerMessage(JSON.stringify({ t: "ping", n: 1, rooms: 5 })), {
    t: "ping",
    n: 1,
  });
});

Deno.test("messages: a malformed pong.rooms is bad_message", () => {
  const pong = (rooms: unknown) => JSON.stringify({ t: "pong", n: 1, rooms });
  badMessage(pong([]), /pong.rooms must be an object/);
  badMessage(pong(null), /pong.rooms must be an object/);
  badMessage(pong("x"), /pong.rooms must be an object/);
  badMessage(pong({ dev: [EPOCH, 1] }), /keys must be room names/);
  badMessage(pong({ "#dev": [EPOCH] }), /values must be \[epoch, rseq\]/);
  badMessage(pong({ "#dev": [EPOCH, 1, 2] }), /values must be \[epoch, rseq\]/);
  badMessage(pong({ "#dev": { 0: EPOCH, 1: 1 } }), /values must be \[epoch, rseq\]/);
  badMessage(pong({ "#dev": [KEY, 1] }), /epoch must be 8 bytes/);
  badMessage(pong({ "#dev": [EPOCH, 2 ** 32] }), /rseq must be a u32/);
  badMessage(pong({ "#dev": [EPOCH, -1] }), /rseq must be a u32/);
  const many: Record<string, unknown> = {};
  for (let i = 0; i <= PONG_ROOMS_MAX; i++) many[`#r${i}`] = [EPOCH, i];
  badMessage(pong(many), /too many rooms/);
  delete many[`#r${PONG_ROOMS_MAX}`];
  const ok = parseServerMessage(pong(many)) as { rooms?: Record<string, unknown> };
  assert.equal(Object.keys(ok.rooms ?? {}).length, PONG_ROOMS_MAX);
  badMessage('{"t":"pong","n":1,"rooms":{"__proto__":["AQIDBAUGBwg=",1]}}', /__proto__/);
});

Deno.test("messages: a client may not send rooms in a pong, nor an rkey", () => {
  assert.throws(
    () => parseClientMessage(JSON.stringify({ t: "pong", n: 1, rooms: {} })),
    (e) => e instanceof ProtocolError && /unknown field rooms/.test(e.message),
  );
  assert.throws(
    () => parseClientMessage(rkey({})),
    (e) => e instanceof ProtocolError && /unknown message type/.test(e.message),
  );
});

Deno.test("messages: parseRoomLines takes only msg and event lines of the record's room", () => {
  const msg = (room: string) =>
    JSON.stringify({ t: "msg", room, seq: 1, ts: 1, from: "a", text: "hi", id: "x" });
  const ev = (room?: string) =>
    JSON.stringify({ t: "event", ts: 1, kind: "join", name: "a", room });
  assert.equal(parseRoomLines("#dev", `${msg("#dev")}\n${ev("#dev")}\n`).length, 2);
  const refused = (text: string, pattern: RegExp) =>
    assert.throws(
      () => parseRoomLines("#dev", text),
      (e) => e instanceof ProtocolError && e.code === "bad_message" && pattern.test(e.message),
    );
  refused(`${msg("#dev")}\n${msg("#ops")}`, /carried msg of #ops/);
  refused(ev(), /carried event of no room/);
  refused(`${msg("#dev")}\n{"t":"pong","n":1}`, /carried pong$/);
  refused(`${msg("#dev")}\n${rkey({})}`, /carried rkey$/);
  refused(`${msg("#dev")}\n\n${msg("#dev")}`, /empty message/);
  refused('{"t":"welcome"}', /welcome/);
});
