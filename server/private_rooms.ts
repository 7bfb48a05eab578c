/**
 * The hub's side of private rooms (docs/protocol.md §8): making a room private, the member
 * roster with its stored keys, and relaying sender keys and key requests to one member
 * identity. The server handles envelopes only as opaque base64.
 * @module
 */

import { ProtocolError } from "../shared/errors.ts";
import { nameKey } from "../shared/names.ts";
import type { PrivateRoomHost, UserView } from "./command_host.ts";
import type { HubCore } from "./hub_core.ts";
import { sendError } from "./peer.ts";
import type { RoomMember } from "./room_members.ts";

/** The private-room host over `core`. */
export function makePrivateHost(core: HubCore): PrivateRoomHost {
  const o = core.o;
  const pm = o.store.members;
  const session = (u: UserView) => core.sessions.session(u);
  const memberOf = (room: string, name: string): RoomMember | undefined => {
    const key = nameKey(name);
    const fp = core.sessions.byName.get(key)?.fingerprint ?? o.store.ownerOf(key)?.fingerprint;
    return fp === undefined ? undefined : pm.get(room, fp);
  };
  return {
    isPrivate: (room) => pm.isPrivate(room),
    makePrivate: (room) => {
      pm.makePrivate(room);
      for (const s of core.rooms.sessionsIn(room) ?? []) {
        if (s.kemPub === undefined || s.kemSig === undefined) continue;
        pm.add(room, {
          name: s.name,
          fingerprint: s.fingerprint,
          sigPub: s.sigPub,
          kemPub: s.kemPub,
          kemSig: s.kemSig,
          since: o.store.lastSeq(room),
        });
      }
    },
    roster: (room, u) => {
      const self = pm.get(room, u.fingerprint);
      if (self === undefined) throw new ProtocolError("not_in_room", `You are not in ${room}.`);
      return {
        since: self.since,
        members: pm.list(room, 1000).map((m) => ({ name: m.name, fingerprint: m.fingerprint })),
      };
    },
    memberKeys: memberOf,
    sendKey: (u, room, to, id, envelope) => {
      const m = memberOf(room, to);
      if (m === undefined) throw new ProtocolError("not_in_room", `${to} is not in ${room}.`);
      const s = session(u);
      o.store.append({
        room,
        ts: o.now(),
        from: s.name,
        text: envelope,
        me: false,
        id,
        senderFp: s.fingerprint,
        sealed: "key",
        to: m.fingerprint,
      }, (r) => {
        if (!r.ok) {
          const e = r.error;
          const code = e instanceof ProtocolError ? e.code : "internal";
          sendError(s.peer, undefined, code, `The key for ${to} in ${room} was not stored.`);
        } else if (!r.duplicate) core.fanout.relay(r.message);
      });
    },
    expel: (room, name, by, reason) => {
      const m = memberOf(room, name);
      if (m === undefined || !pm.remove(room, m.fingerprint)) return false;
      core.fanout.event(room, "kick", { name: m.name, by, ...(reason === "" ? {} : { reason }) });
      return true;
    },
    keyRequest: (u, room, to) => {
      const m = memberOf(room, to);
      if (m === undefined) throw new ProtocolError("not_in_room", `${to} is not in ${room}.`);
      const line = JSON.stringify({
        t: "event",
        room,
        ts: o.now(),
        kind: "keyreq",
        name: u.name,
      });
      for (const s of core.sessions.byFp.get(m.fingerprint) ?? []) {
        if (!s.rooms.has(room)) continue;
        s.peer.send(line);
        core.fanout.deliveries++;
      }
    },
  };
}
