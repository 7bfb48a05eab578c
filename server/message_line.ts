/**
 * A stored room message as it goes on the wire (PROTOCOL.md `msg`). Pure.
 * @module
 */

import type { MsgMessage } from "../shared/messages.ts";
import type { StoredMessage } from "./store.ts";

/**
 * A stored message as sent on the wire; `replay` marks history. A private room's sealed line has
 * `sealed` and a sender key `key` (the base64 envelope) instead of `text`.
 */
export function toMsg(m: StoredMessage, replay = false): MsgMessage {
  const out = { t: "msg", room: m.room, seq: m.seq, ts: m.ts, from: m.from } as MsgMessage;
  // A private room's line or sender key carries its envelope instead of a text (§8).
  if (m.sealed === "line") out.sealed = m.text;
  else if (m.sealed === "key") out.key = m.text;
  else out.text = m.text;
  out.id = m.id;
  if (m.me) out.me = true;
  if (replay) out.replay = true;
  return out;
}
