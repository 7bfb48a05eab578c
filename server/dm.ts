/**
 * Private messages (`dm`, PROTOCOL.md): the server checks the envelope's size and encoding and
 * hands it, unread, to every session of the recipient's name, then acknowledges.
 * @module
 */

import { ProtocolError } from "../shared/errors.ts";
import type { DmRequest } from "../shared/messages.ts";
import { nameKey } from "../shared/names.ts";
import type { HubCore } from "./hub_core.ts";
import { sendError } from "./peer.ts";
import type { Session } from "./sessions.ts";

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Handles `dm` from `s`; refusals throw `ProtocolError`. */
export function dm(core: HubCore, s: Session, m: DmRequest): void {
  if (core.muted.has(s.fingerprint)) {
    throw new ProtocolError("muted", "You are muted; your private message was not sent.");
  }
  const max = Math.ceil(core.o.limits.envelopeBytes / 3) * 4;
  if (m.envelope.length > max) {
    throw new ProtocolError("too_long", `The private message is larger than the limit.`);
  }
  if (m.envelope.length === 0 || m.envelope.length % 4 !== 0 || !B64.test(m.envelope)) {
    throw new ProtocolError("bad_envelope", "The private message is not base64.");
  }
  if (s.kemPub === undefined) {
    // Nobody could answer, and the recipient's client could not look the sender's key up.
    throw new ProtocolError(
      "dm_key_required",
      "You have no private-message key, so you cannot send private messages.",
    );
  }
  const key = nameKey(m.to);
  const to = core.sessions.byName.get(key);
  const line = JSON.stringify({
    t: "dm",
    id: m.id,
    from: s.name,
    ts: core.o.now(),
    envelope: m.envelope,
  });
  if (to === undefined) {
    const remote = core.roster.user(key);
    if (remote !== undefined && core.o.bus !== undefined) {
      // On another node of the cluster: acknowledged once that node handed it on.
      core.o.bus.dm(remote.node, key, line).then((ok) => {
        if (!core.sessions.isLive(s)) return;
        if (ok) s.peer.send(JSON.stringify({ t: "ack", id: m.id }));
        else sendError(s.peer, m.id, "offline", `${m.to} is not connected.`);
      });
      return;
    }
    if (core.o.store.ownerOf(key) !== undefined) {
      throw new ProtocolError("offline", `${m.to} is not connected.`);
    }
    throw new ProtocolError("no_such_user", `There is no user called ${m.to}.`);
  }
  for (const t of core.sessions.siblings(to)) {
    t.peer.send(line);
    core.fanout.deliveries++;
  }
  s.peer.send(JSON.stringify({ t: "ack", id: m.id }));
}
