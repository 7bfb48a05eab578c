/**
 * The hub's side of a cluster's bus: what the other nodes say (their room messages, events,
 * users, bans, mutes, kicks and private messages for users here) applied to the hub's state,
 * and this node's users described for them. Pure: the bus is passed in.
 * @module
 */

import type { Bus } from "./hub_options.ts";
import type { HubCore } from "./hub_core.ts";
import type { UserCard } from "./roster.ts";
import { roomsOf, type Session } from "./sessions.ts";

/** The user of name `s` (all its sessions here) as this node describes it to the others. */
export function userCard(core: HubCore, s: Session): UserCard {
  const sibs = core.sessions.siblings(s);
  const card: UserCard = {
    name: s.name,
    key: s.key,
    fingerprint: s.fingerprint,
    sigPub: s.sigPub,
    rooms: [...roomsOf(sibs)],
    since: s.since,
    lastActive: Math.max(...sibs.map((x) => x.lastActive)),
    ip: s.ip,
  };
  if (s.kemPub !== undefined) card.kemPub = s.kemPub;
  if (s.kemSig !== undefined) card.kemSig = s.kemSig;
  if (s.away !== undefined) card.away = s.away;
  return card;
}

/** Starts hearing the other nodes through `bus`. */
export function attachBus(core: HubCore, bus: Bus): void {
  const { sessions, roster, fanout } = core;
  core.publishUsers = (keys) =>
    bus.users(keys.map((key) => {
      const s = sessions.byName.get(key);
      return s === undefined ? { key } : { key, card: userCard(core, s) };
    }));
  bus.attach({
    message: (m) => fanout.relay(m),
    banned: (b) => core.enforceBan(b),
    event: (ev) => fanout.remote(ev),
    users: (node, changes, full) => {
      if (full) roster.replace(node, changes.flatMap((c) => c.card === undefined ? [] : [c.card]));
      else for (const c of changes) roster.set(node, c.key, c.card);
    },
    nodeGone: (node) => {
      // Its users leave the rooms here, unless they are back through another node already.
      const gone = [...roster.users()].filter((u) => u.node === node);
      roster.replace(node, undefined);
      for (const u of gone) {
        if (roster.user(u.key) !== undefined || sessions.byName.has(u.key)) continue;
        for (const room of u.rooms) {
          fanout.remote({
            t: "event",
            ts: core.o.now(),
            kind: "leave",
            room,
            name: u.name,
            reason: "connection lost",
          });
        }
      }
    },
    roster: () => [...sessions.byName.values()].map((s) => userCard(core, s)),
    dm: (key, line) => {
      const to = sessions.byName.get(key);
      if (to === undefined) return false;
      for (const t of sessions.siblings(to)) {
        t.peer.send(line);
        fanout.deliveries++;
      }
      return true;
    },
    kick: (key, by) => {
      // The kick itself was announced by the node that kicked.
      const s = sessions.byName.get(key);
      if (s === undefined) return;
      for (const x of sessions.siblings(s)) {
        core.drop(x, `kicked by ${by}`);
        x.peer.close("kicked");
      }
    },
    muted: (fp, by, on) => {
      core.setMuted(fp, by, on, true);
    },
  });
}
