/**
 * Login (`auth`, PROTOCOL.md): bans, the per-identity session limit, the name and its owner,
 * the rooms asked for, then `welcome`, the joins with their history and the MOTD.
 * @module
 */

import { ProtocolError } from "../shared/errors.ts";
import type { AuthMessage } from "../shared/messages.ts";
import { checkName, checkRoom, DEFAULT_ROOM, nameKey } from "../shared/names.ts";
import { banFor } from "./ban_match.ts";
import { MAX_ROOMS_PER_USER } from "./commands/rooms.ts";
import { history, recent } from "./history.ts";
import type { HubCore } from "./hub_core.ts";
import { claimName } from "./name_claims.ts";
import { type Peer, sendError } from "./peer.ts";
import { MAX_SESSIONS_PER_IDENTITY, Session } from "./sessions.ts";
import { StorageError } from "./storage_error.ts";
import { welcomeLine } from "./welcome.ts";

/** Result of a login: logged in, try another name, or give up. */
export type AuthResult = "ok" | "retry" | "fatal";

/**
 * Handles `auth`: sends `welcome` and the joins, or an error, to `peer`. A login the server
 * cannot complete (e.g. its storage is full, so a new name cannot be saved) gets an error
 * saying so, with `retry: false`.
 */
export function authenticate(core: HubCore, peer: Peer, auth: AuthMessage): AuthResult {
  try {
    return login(core, peer, auth);
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e;
    sendError(peer, undefined, e.code, `Cannot log in: ${e.message}`, false);
    return "fatal";
  }
}

function login(core: HubCore, peer: Peer, auth: AuthMessage): AuthResult {
  const o = core.o;
  const { sessions, rooms: table } = core;
  core.settle();
  if (sessions.byId.has(peer.id)) {
    sendError(peer, undefined, "bad_message", "Already authenticated.", false);
    return "fatal";
  }
  const ban = banFor(o.store.bans(), nameKey(auth.name), peer.fingerprint, peer.ip);
  if (ban !== undefined) {
    const why = ban.reason === "" ? "" : `: ${ban.reason}`;
    sendError(peer, undefined, "banned", `You are banned from this server${why}.`, false);
    return "fatal";
  }
  // The same identity may be connected more than once (another device, a script): each
  // session stays and receives; presence shows the name once. Checked before the name, so a
  // refused session claims nothing, and no other name would have helped.
  if (sessions.countOf(peer.fingerprint) >= MAX_SESSIONS_PER_IDENTITY) {
    sendError(
      peer,
      undefined,
      "too_many_sessions",
      `Your identity is already connected ${MAX_SESSIONS_PER_IDENTITY} times, the most a ` +
        "server allows.",
      false,
    );
    return "fatal";
  }
  const check = checkName(auth.name, o.blacklist());
  if (!check.ok) {
    sendError(peer, undefined, check.code, check.reason, true);
    return "retry";
  }
  const key = check.key;
  const live = sessions.byName.get(key);
  if (live !== undefined && live.fingerprint !== peer.fingerprint) {
    sendError(peer, undefined, "name_taken", `${live.name} is in use right now.`, true);
    return "retry";
  }
  const refused = claimName(core, key, auth.name, peer.fingerprint);
  if (refused !== undefined) {
    sendError(peer, undefined, refused.code, refused.message, true);
    return "retry";
  }
  const rooms: string[] = [];
  const refusedRooms: ProtocolError[] = [];
  for (const r of auth.rooms) {
    if (rooms.length >= MAX_ROOMS_PER_USER) break;
    if (!checkRoom(r).ok || rooms.includes(r)) continue;
    if (!table.modes.mayJoin(r, peer.fingerprint) && !core.isOperator(peer.fingerprint)) {
      continue; // invite-only and not invited
    }
    try {
      table.mayCreate(peer.fingerprint, r);
      table.mayEnterPrivate(peer, r);
      rooms.push(r);
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      refusedRooms.push(e); // told after the welcome; the login goes on
    }
  }
  if (rooms.length === 0) rooms.push(DEFAULT_ROOM);

  const now = o.now();
  if (peer.kemPub !== undefined && peer.kemSig !== undefined) {
    // Kept so that others can seal private messages for this identity while it is offline.
    try {
      o.store.dmQueue?.saveKeys({
        fingerprint: peer.fingerprint,
        sigPub: peer.sigPub,
        kemPub: peer.kemPub,
        kemSig: peer.kemSig,
      }, now);
    } catch (e) {
      if (!(e instanceof StorageError)) throw e; // reported; the login goes on
    }
  }
  const s = new Session(peer, auth.name, key, now);
  sessions.add(s, live === undefined);

  const motd = core.currentMotd();
  peer.send(welcomeLine({
    name: auth.name,
    fingerprint: peer.fingerprint,
    serverName: o.serverName,
    version: o.version,
    motd,
    rooms: rooms.map((r) => ({
      ...table.info(r),
      members: table.count(r) + (sessions.sibling(s, r) === undefined ? 1 : 0),
    })),
    dmQueue: o.store.dmQueue !== undefined,
  }, o.limits));
  for (const r of rooms) {
    const from = auth.resume?.[r];
    table.enter(
      s,
      r,
      from !== undefined
        ? history(o.store, peer, r, from, o.limits.resumeMax).replay
        : recent(o.store, peer, r, o.limits.historyOnJoin).replay,
    );
  }
  if (motd !== "") {
    peer.send(JSON.stringify({ t: "event", ts: o.now(), kind: "motd", text: motd }));
  }
  for (const e of refusedRooms) sendError(peer, undefined, e.code, e.message);
  o.log?.("info", "login", { ip: peer.ip, name: auth.name, fingerprint: peer.fingerprint });
  return "ok";
}
