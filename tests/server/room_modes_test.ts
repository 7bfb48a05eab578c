import assert from "node:assert/strict";
import { MAX_ROOM_INVITES, MAX_ROOM_OPS, RoomModes } from "../../server/room_modes.ts";

const fp = (i: number) => `SHA256:${String(i).padStart(43, "0")}`;

Deno.test("room modes: creator is operator, new rooms topic-locked, #lobby has no modes", () => {
  const m = new RoomModes();
  m.open("#dev", fp(1));
  assert.equal(m.isOp("#dev", fp(1)), true);
  assert.equal(m.isOp("#dev", fp(2)), false);
  assert.deepEqual([m.get("#dev").inviteOnly, m.get("#dev").topicLocked], [false, true]);
  m.open("#dev", fp(2)); // not new: nothing changes
  assert.equal(m.isOp("#dev", fp(2)), false);
  m.open("#lobby", fp(1));
  assert.equal(m.isOp("#lobby", fp(1)), false);
  assert.equal(m.setInviteOnly("#lobby", true, []), false);
  assert.equal(m.setTopicLocked("#lobby", true), false);
  assert.equal(m.get("#lobby").topicLocked, false);
  m.close("#dev");
  assert.equal(m.isOp("#dev", fp(1)), false, "forgotten when the room empties");
});

Deno.test("room modes: invite-only admits present members, invitees and operators only", () => {
  const m = new RoomModes();
  m.open("#dev", fp(1));
  assert.equal(m.invite("#dev", fp(3)), false, "not invite-only: no invitations kept");
  m.setInviteOnly("#dev", true, [fp(1), fp(2)]);
  assert.equal(m.mayJoin("#dev", fp(2)), true, "present when it was set");
  assert.equal(m.mayJoin("#dev", fp(3)), false);
  assert.equal(m.invite("#dev", fp(3)), true);
  assert.equal(m.mayJoin("#dev", fp(3)), true);
  m.uninvite("#dev", fp(3));
  assert.equal(m.mayJoin("#dev", fp(3)), false);
  m.setInviteOnly("#dev", false, []);
  assert.equal(m.mayJoin("#dev", fp(3)), true);
});

Deno.test("room modes: operators and invitations are bounded per room", () => {
  const m = new RoomModes();
  m.open("#dev", fp(0));
  for (let i = 1; i < MAX_ROOM_OPS; i++) assert.equal(m.setOp("#dev", fp(i), true), true);
  assert.equal(m.setOp("#dev", fp(MAX_ROOM_OPS), true), false);
  assert.equal(m.setOp("#dev", fp(1), true), true, "an existing operator is fine");
  m.setInviteOnly("#dev", true, []);
  for (let i = 0; i < MAX_ROOM_INVITES; i++) assert.equal(m.invite("#dev", fp(1000 + i)), true);
  assert.equal(m.invite("#dev", fp(5000)), false);
  assert.equal(m.mayJoin("#dev", fp(5000)), false);
});
