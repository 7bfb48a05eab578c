/**
 * A stored room message as it goes on the wire (PROTOCOL.md `msg`). Pure.
 * @module
 */

import type { MsgMessage } from "../shared/messages.ts";
import type { StoredMessage } from "./store.ts";

/** A stored message as sent on the wire; `replay` marks history. */
export function toMsg(m: StoredMessage, replay = false): MsgMessage {
  const out: MsgMessage = {
    t: "msg",
    room: m.room,
    seq: m.seq,
    ts: m.ts,
    from: m.from,
    text: m.text,
    id: m.id,
  };
  if (m.me) out.me = true;
  if (replay) out.replay = true;
  return out;
}
