/**
 * Room messages (`say`, PROTOCOL.md): checked, stored with the other messages of the same
 * event-loop turn in one transaction (group commit), and relayed once committed. A resent id
 * is answered with the original.
 * @module
 */

import { ProtocolError } from "../shared/errors.ts";
import type { SayMessage } from "../shared/messages.ts";
import { checkChatText } from "./commands/common.ts";
import type { HubCore } from "./hub_core.ts";
import { toMsg } from "./message_line.ts";
import { sendError } from "./peer.ts";
import type { Session } from "./sessions.ts";

/** Handles `say` from `s`; refusals throw `ProtocolError` (or answer a resent id). */
export function say(core: HubCore, s: Session, m: SayMessage): void {
  const o = core.o;
  try {
    if (!s.rooms.has(m.room)) throw new ProtocolError("not_in_room", `You are not in ${m.room}.`);
    if (core.muted.has(s.fingerprint)) {
      throw new ProtocolError("muted", "You are muted; your message was not sent.");
    }
    checkChatText(m.text, o.limits.textBytes);
  } catch (e) {
    // A resent id is answered with the original even when the resend itself is refused.
    const prev = o.store.findById(s.fingerprint, m.id);
    if (prev === undefined) throw e;
    s.peer.send(JSON.stringify(toMsg(prev)));
    return;
  }
  // Stored with the other messages of this turn in one transaction; relayed once committed.
  o.store.append({
    room: m.room,
    ts: o.now(),
    from: s.name,
    text: m.text,
    me: m.me === true,
    id: m.id,
    senderFp: s.fingerprint,
  }, (r) => {
    if (!r.ok) {
      const e = r.error;
      if (e instanceof ProtocolError) sendError(s.peer, m.id, e.code, e.message);
      else sendError(s.peer, m.id, "internal", "The server could not store the message.");
    } else if (r.duplicate) s.peer.send(JSON.stringify(toMsg(r.message)));
    else core.fanout.relay(r.message);
  });
}
