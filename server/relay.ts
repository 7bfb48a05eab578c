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
import { ROOM_LINE_MAX } from "../shared/room_e2e.ts";
import type { Session } from "./sessions.ts";

/** Handles `say` from `s`; refusals throw `ProtocolError` (or answer a resent id). */
export function say(core: HubCore, s: Session, m: SayMessage): void {
  const o = core.o;
  try {
    if (!s.rooms.has(m.room)) throw new ProtocolError("not_in_room", `You are not in ${m.room}.`);
    if (core.muted.has(s.fingerprint)) {
      throw new ProtocolError("muted", "You are muted; your message was not sent.");
    }
    const isPrivate = o.store.members.isPrivate(m.room);
    if (m.sealed !== undefined) {
      if (!isPrivate) {
        throw new ProtocolError("not_private", `${m.room} is not a private room; say it in clear.`);
      }
      checkEnvelope(m.sealed, ROOM_LINE_MAX, "sealed line");
    } else if (isPrivate) {
      throw new ProtocolError(
        "private_room",
        `${m.room} is a private room: lines must be sealed by the client.`,
      );
    } else checkChatText(m.text, o.limits.textBytes);
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
    text: m.sealed ?? m.text,
    me: m.sealed === undefined && m.me === true,
    id: m.id,
    senderFp: s.fingerprint,
    ...(m.sealed === undefined ? {} : { sealed: "line" as const }),
  }, (r) => {
    if (!r.ok) {
      const e = r.error;
      if (e instanceof ProtocolError) sendError(s.peer, m.id, e.code, e.message);
      else sendError(s.peer, m.id, "internal", "The server could not store the message.");
    } else if (r.duplicate) s.peer.send(JSON.stringify(toMsg(r.message)));
    else core.fanout.relay(r.message);
  });
}

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Checks a base64 envelope of at most `max` bytes: `too_long` beyond (checked on the length of
 * the text first), `bad_envelope` when it is empty or not base64.
 */
export function checkEnvelope(b64: string, max: number, what: string): void {
  if (b64.length > Math.ceil(max / 3) * 4) {
    throw new ProtocolError("too_long", `The ${what} is larger than ${max} bytes.`);
  }
  if (b64.length === 0 || b64.length % 4 !== 0 || !B64.test(b64)) {
    throw new ProtocolError("bad_envelope", `The ${what} is not base64.`);
  }
  const pad = b64.endsWith("==") ? 2 : b64.endsWith("=") ? 1 : 0;
  if ((b64.length / 4) * 3 - pad > max) {
    throw new ProtocolError("too_long", `The ${what} is larger than ${max} bytes.`);
  }
}
