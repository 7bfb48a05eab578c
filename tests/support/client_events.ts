/**
 * Test support: client events and messages as the client core hands them to the application and
 * its views (a room message, a welcome).
 * @module
 */

import type { ClientEvent } from "../../client/view.ts";
import type { MsgMessage } from "../../shared/messages.ts";

/** The timestamp every built message carries. */
export const TS = 1_700_000_000_000;

/** A room message in #lobby from bob, with `over` applied. */
export const msg = (over: Partial<MsgMessage> = {}): MsgMessage => ({
  t: "msg",
  room: "#lobby",
  seq: 1,
  ts: TS,
  from: "bob",
  text: "hi",
  id: "m1",
  ...over,
});

/** The welcome of server "srv" to alice, in `rooms` (one member each). */
export const welcome = (rooms = ["#lobby"]): ClientEvent => ({
  t: "welcome",
  msg: {
    t: "welcome",
    name: "alice",
    fingerprint: "SHA256:x",
    server: { name: "srv", version: "1", motd: "" },
    limits: {},
    rooms: rooms.map((name) => ({ name, topic: "", members: 1 })),
  },
});
