/**
 * The client's private-room service over a scripted connection: a line under an unknown key is
 * shown as "cannot decrypt message from NAME" and asks the sender again, marked automatic and
 * bounded; a line from before the member joined says so and asks nothing; a membership that
 * ends makes the next line use a fresh key given only to those who remain.
 */

import assert from "node:assert/strict";
import { createIdentity, type Identity } from "../../shared/keys.ts";
import { fromBase64, toBase64 } from "../../shared/encoding.ts";
import type { ErrorMessage, MsgMessage, ReplyMessage } from "../../shared/messages.ts";
import { sealLine, SenderChain } from "../../shared/room_e2e.ts";
import { PrivateRooms } from "../../client/private_rooms.ts";

let cached: Promise<Identity[]> | undefined;
function ids(): Promise<Identity[]> {
  cached ??= Promise.all([createIdentity(), createIdentity(), createIdentity()]);
  return cached;
}

const ID = (n: number) => toBase64(new Uint8Array(16).fill(n));

interface Sent {
  name: string;
  args: string[];
  auto?: boolean;
}

/** bob's service; `members` lists the roster the server serves. */
function service(
  me: Identity,
  keysOf: Record<string, Identity>,
  members: () => string[],
  since = 0,
  refuse: (name: string) => boolean = () => false,
) {
  const sent: Sent[] = [];
  const slept: number[] = [];
  let now = 1_000_000;
  const svc = new PrivateRooms({
    transport: {
      name: "bob",
      command: (name, args, auto): Promise<ReplyMessage | ErrorMessage> => {
        sent.push({ name, args, auto });
        if (refuse(name)) {
          return Promise.resolve({ t: "error", code: "rate_limited", message: "slow down" });
        }
        if (name === "members") {
          return Promise.resolve({
            t: "reply",
            id: "x",
            data: {
              room: args[0],
              since,
              members: members().map((n) => ({ name: n, fingerprint: keysOf[n].fingerprint })),
            },
          });
        }
        if (name === "keys") {
          const k = keysOf[args[0]];
          return Promise.resolve({
            t: "reply",
            id: "x",
            data: {
              name: args[0],
              fingerprint: k.fingerprint,
              sig_pub: toBase64(k.sigPublic),
              kem_pub: toBase64(k.kemPublic),
              kem_sig: toBase64(k.kemSig),
            },
          });
        }
        return Promise.resolve({ t: "reply", id: "x" });
      },
    },
    identity: me,
    knownUsers: { lookup: () => undefined },
    hostPort: "h:1",
    now: () => now,
    sleep: (ms) => {
      slept.push(ms);
      now += ms;
      return Promise.resolve();
    },
  });
  svc.noteRooms([{ name: "#team", topic: "", members: 2, private: true }]);
  return { svc, sent, slept, tick: (ms: number) => now += ms };
}

function line(a: Identity, chain: SenderChain, id: number, seq: number): MsgMessage {
  const env = sealLine({
    room: "#team",
    from: "alice",
    fromFp: a.fingerprint,
    id: ID(id),
    text: "hi",
    chain,
    sigPrivate: a.sigPrivate,
  });
  return {
    t: "msg",
    room: "#team",
    seq,
    ts: 1,
    from: "alice",
    text: "",
    id: ID(id),
    sealed: toBase64(env),
  };
}

Deno.test("private rooms client: an unknown key asks the sender again, automatic and bounded", async () => {
  const [alice, bob] = await ids();
  const { svc, sent, tick } = service(bob, { alice, bob }, () => ["alice", "bob"]);
  const chain = new SenderChain();
  const out = (await svc.receive(line(alice, chain, 1, 5)))!;
  assert.equal(out.text, "");
  assert.equal(out.undecryptable, "cannot decrypt message from alice");
  assert.equal(out.refused, "room_unknown_key");
  const asks = () => sent.filter((s) => s.name === "keyreq");
  assert.deepEqual(asks(), [{ name: "keyreq", args: ["#team", "alice"], auto: true }]);
  assert.ok(sent.every((s) => s.auto === true), "every request is automatic");
  for (let i = 0; i < 20; i++) await svc.receive(line(alice, chain, 10 + i, 6 + i));
  assert.equal(asks().length, 1, "not again within 30 s");
  tick(30_001);
  await svc.receive(line(alice, chain, 40, 40));
  assert.equal(asks().length, 2);
  tick(30_001);
  await svc.receive(line(alice, chain, 41, 41));
  assert.equal(asks().length, 2, "the wait doubles");
  tick(30_000);
  await svc.receive(line(alice, chain, 42, 42));
  assert.equal(asks().length, 3);
});

Deno.test("private rooms client: lines from before joining say so and ask nothing", async () => {
  const [alice, bob] = await ids();
  const { svc, sent } = service(bob, { alice, bob }, () => ["alice", "bob"], 10);
  const out = (await svc.receive(line(alice, new SenderChain(), 1, 9)))!;
  assert.equal(out.undecryptable, "sent before you joined");
  assert.equal(sent.filter((s) => s.name === "keyreq").length, 0);
});

Deno.test("private rooms client: a departure makes the next line use a key the departed never get", async () => {
  const [alice, bob, carol] = await ids();
  let roster = ["alice", "bob", "carol"];
  const { svc, sent } = service(bob, { alice, bob, carol }, () => roster);
  const kidsFor = (name: string) =>
    sent.filter((s) => s.name === "skey" && s.args[1] === name).map((s) => {
      const env = fromBase64(s.args[3]);
      const hl = new DataView(env.buffer, env.byteOffset).getUint32(0);
      return JSON.parse(new TextDecoder().decode(env.subarray(4, 4 + hl))).kid as string;
    });
  await svc.seal("#team", ID(1), "one", false);
  await svc.seal("#team", ID(2), "two", false);
  assert.deepEqual(kidsFor("carol").length, 1, "one key per member for many lines");
  assert.deepEqual(kidsFor("alice").length, 1);
  assert.deepEqual(kidsFor("bob").length, 1, "our own other sessions get it too");
  svc.onEvent({ t: "event", ts: 1, kind: "leave", room: "#team", name: "carol", reason: "left" });
  roster = ["alice", "bob"];
  await svc.seal("#team", ID(3), "three", false);
  assert.equal(kidsFor("carol").length, 1, "carol never gets the new key");
  assert.equal(kidsFor("alice").length, 2);
  assert.notEqual(kidsFor("alice")[0], kidsFor("alice")[1]);
  // A lost connection is not a departure: no new key.
  svc.onEvent({
    t: "event",
    ts: 1,
    kind: "leave",
    room: "#team",
    name: "alice",
    reason: "connection lost",
  });
  await svc.seal("#team", ID(4), "four", false);
  assert.equal(kidsFor("alice").length, 2);
});

Deno.test("private rooms client: giving keys waits for the automatic budget, within a bound", async () => {
  const [alice, bob] = await ids();
  let refusals = 3;
  const { svc, sent, slept } = service(
    bob,
    { alice, bob },
    () => ["alice", "bob"],
    0,
    (name) => name === "skey" && refusals-- > 0,
  );
  const sealed = await svc.seal("#team", ID(1), "hello", false);
  assert.ok(sealed.length > 0);
  assert.deepEqual(slept, [1_000, 2_000, 4_000]);
  assert.equal(sent.filter((s) => s.name === "skey").length, 5, "3 refused, then both members");
  // A budget that never comes back: the line fails after the bound, with the reason.
  const { svc: svc2, slept: slept2 } = service(
    bob,
    { alice, bob },
    () => ["alice", "bob"],
    0,
    (name) => name === "skey",
  );
  await assert.rejects(svc2.seal("#team", ID(2), "never", false), /slow down/);
  assert.ok(slept2.reduce((a, b) => a + b, 0) <= 60_000);
  assert.deepEqual(slept2.slice(0, 5), [1_000, 2_000, 4_000, 8_000, 8_000]);
});

Deno.test("private rooms client: a room's kind never changes silently", async () => {
  const [alice, bob] = await ids();
  const { svc } = service(bob, { alice, bob }, () => ["alice", "bob"]);
  assert.deepEqual(svc.noteRooms([{ name: "#dev", topic: "", members: 1 }]), [], "first sight");
  assert.equal(svc.isPrivate("#dev"), false);
  assert.deepEqual(svc.noteRooms([{ name: "#dev", topic: "", members: 1, private: true }]), [
    "#dev is now a private room: its lines are end-to-end encrypted",
  ]);
  assert.equal(svc.isPrivate("#dev"), true);
  const back = svc.noteRooms([{ name: "#dev", topic: "", members: 1 }]);
  assert.equal(back.length, 1);
  assert.match(back[0], /^warning: #dev is no longer private .*the server can read/);
  assert.equal(svc.isPrivate("#dev"), false, "and its lines go in clear only after the warning");
  svc.onEvent({ t: "event", ts: 1, kind: "mode", room: "#x", by: "alice", text: "+private" });
  assert.equal(svc.isPrivate("#x"), true);
  assert.deepEqual(svc.privateRooms.sort(), ["#team", "#x"]);
});
