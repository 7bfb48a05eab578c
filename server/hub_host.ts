/**
 * The hub's side of the command table: the {@linkcode CommandHost} the commands act through
 * (server/command_host.ts), over the hub's state. Moderation (kick, ban, mute) and the daily
 * topic quota are applied here.
 * @module
 */

import { ProtocolError } from "../shared/errors.ts";
import { nameKey } from "../shared/names.ts";
import type { CommandHost } from "./command_host.ts";
import { recent, recentBefore } from "./history.ts";
import type { HubCore } from "./hub_core.ts";
import { nick, releaseName } from "./name_claims.ts";
import { makePrivateHost } from "./private_rooms.ts";
import { RemoteUser } from "./roster.ts";
import { roomsOf } from "./sessions.ts";

/** The command host over `core`. */
export function makeHost(core: HubCore): CommandHost {
  const o = core.o;
  const { sessions, rooms, fanout } = core;
  const session = (u: Parameters<CommandHost["nick"]>[0]) => sessions.session(u);
  return {
    limits: o.limits,
    now: () => o.now(),
    info: () => core.info(),
    users: () => {
      const byName = sessions.byName; // one session per name in use
      const roster = core.roster; // and the names on other nodes not in use here
      if (roster.size === 0) return { size: byName.size, [Symbol.iterator]: () => byName.values() };
      const elsewhere = [...roster.users()].filter((u) => !byName.has(u.key));
      return {
        size: byName.size + elsewhere.length,
        *[Symbol.iterator]() {
          yield* byName.values();
          yield* elsewhere;
        },
      };
    },
    user: (name) => sessions.byName.get(nameKey(name)) ?? core.roster.user(nameKey(name)),
    storedKeys: (name) => {
      const owner = o.store.ownerOf(nameKey(name));
      if (owner === undefined) return undefined;
      const keys = o.store.dmQueue?.keysOf(owner.fingerprint);
      return keys === undefined ? { name: owner.name } : { name: owner.name, keys };
    },
    ownerFingerprint: (name) =>
      sessions.byName.get(nameKey(name))?.fingerprint ??
        core.roster.user(nameKey(name))?.fingerprint ??
        o.store.ownerOf(nameKey(name))?.fingerprint,
    rooms: () => rooms.list(),
    members: (room) => rooms.members(room),
    isOperator: (fp) => core.isOperator(fp),
    isAdmin: (fp) => o.admins.has(fp),
    nick: (u, name) => nick(core, session(u), name),
    releaseName: (u, name) => releaseName(core, session(u), name, nameKey(name)),
    roomExists: (room) => rooms.has(room) || o.store.upkeep.roomExists(room),
    join: (u, room, makePrivate = false) => {
      const s = session(u);
      rooms.mayCreate(s.fingerprint, room);
      if (makePrivate && !rooms.has(room)) {
        if (s.kemPub === undefined) {
          throw new ProtocolError(
            "dm_key_required",
            "Your client has no private-message key, so it cannot be in a private room.",
          );
        }
        o.store.members.makePrivate(room);
      }
      rooms.mayEnterPrivate(s, room);
      rooms.enter(s, room, recent(o.store, s.peer, room, o.limits.historyOnJoin).replay);
      return rooms.info(room);
    },
    leave: (u, room, reason) => {
      const s = session(u);
      if (!s.rooms.has(room)) return;
      s.peer.send(
        JSON.stringify({ t: "event", room, ts: o.now(), kind: "leave", name: s.name, reason }),
      );
      rooms.exit(s, room, reason);
    },
    topic: (room) => o.store.topic(room),
    setTopic: (room, text, by) => {
      const fp = sessions.byName.get(nameKey(by))?.fingerprint; // undefined: the console
      if (fp !== undefined && !o.store.upkeep.charge(fp, "topic", o.limits.topicsPerDay)) {
        throw new ProtocolError(
          "topic_limit",
          `You have set ${o.limits.topicsPerDay} topics today, the most allowed; try again ` +
            "tomorrow.",
        );
      }
      o.store.setTopic(room, text, by);
      fanout.event(room, "topic", { by, text });
    },
    setAway: (u, text) => {
      const s = session(u);
      const sibs = sessions.siblings(s);
      for (const x of sibs) x.away = text;
      core.touch(s.key);
      const only = (room: string) => rooms.presenceTo(rooms.sessionsIn(room) ?? new Set(), s);
      if (text === undefined) fanout.notice("back", { name: s.name }, roomsOf(sibs), only);
      else fanout.notice("away", { name: s.name, text }, roomsOf(sibs), only);
    },
    history: (room, n, u, below) =>
      below === undefined
        ? recent(o.store, u && session(u).peer, room, n)
        : recentBefore(o.store, u && session(u).peer, room, n, below),
    charge: (u, kind, rows) => u === undefined ? rows : session(u).peer.grant(kind, rows),
    kick: (u, by, reason) => {
      if (u instanceof RemoteUser) {
        for (const room of u.rooms) {
          fanout.event(room, "kick", { name: u.name, by, ...(reason === "" ? {} : { reason }) });
        }
        o.bus?.kick(u.node, u.key, by, reason);
        return;
      }
      const s = session(u);
      const sibs = sessions.siblings(s);
      for (const room of roomsOf(sibs)) {
        fanout.event(room, "kick", { name: s.name, by, ...(reason === "" ? {} : { reason }) });
      }
      for (const x of sibs) {
        core.drop(x, `kicked by ${by}`);
        x.peer.close("kicked");
      }
    },
    ban: (b) => {
      o.store.addBan(b);
      const fp = b.kind === "fingerprint"
        ? b.target
        : b.kind === "name"
        ? o.store.ownerOf(b.target)?.fingerprint
        : undefined;
      if (fp !== undefined && (sessions.byFp.get(fp)?.size ?? 0) === 0) {
        // Away from its private rooms: its memberships end there too (the others rekey).
        for (const m of o.store.members.removeEverywhere(fp)) {
          fanout.event(m.room, "ban", { name: m.name, by: b.by });
        }
      }
      return core.enforceBan(b);
    },
    unban: (target) => o.store.removeBan(target),
    bans: () => o.store.bans(),
    mute: (fp, by) => {
      core.setMuted(fp, by, true);
    },
    unmute: (fp) => core.setMuted(fp, "", false),
    isMuted: (fp) => core.muted.has(fp),
    motd: () => core.currentMotd(),
    setMotd: (text) => {
      if (o.store.setMotd !== undefined) o.store.setMotd(text);
      else core.motd = text;
    },
    addOp: (fp) => o.store.addOp(fp),
    removeOp: (fp) => o.store.removeOp(fp),
    audit: (r) => o.audit?.(r),
    roomModes: rooms.modes,
    privateRooms: makePrivateHost(core),
    kickFromRoom: (u, room, by, reason) => {
      const sibs = sessions.siblings(session(u)).filter((x) => x.rooms.has(room));
      if (sibs.length === 0) return;
      fanout.event(room, "kick", { name: u.name, by, ...(reason === "" ? {} : { reason }) });
      for (const x of sibs) rooms.exit(x, room, `kicked by ${by}`);
    },
    announceMode: (room, by, text) => fanout.event(room, "mode", { by, text }),
    tellOp: (fp, kind, by) => {
      for (const s of sessions.byFp.get(fp) ?? []) {
        s.peer.send(JSON.stringify({ t: "event", ts: o.now(), kind, name: s.name, by }));
      }
    },
  };
}
