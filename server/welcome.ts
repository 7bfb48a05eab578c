/**
 * The `welcome` line a login is answered with (PROTOCOL.md): who the user is, the server, the
 * limits in force and the rooms joined. Pure.
 * @module
 */

import { utf8Length } from "../shared/encoding.ts";
import type { Limits } from "../shared/limits.ts";
import type { RoomInfo, WelcomeMessage } from "../shared/messages.ts";
import { MAX_ROOMS_PER_USER } from "./commands/rooms.ts";

/** What a welcome says besides the limits. */
export interface WelcomeFields {
  /** The name logged in with. */
  name: string;
  /** The identity's fingerprint. */
  fingerprint: string;
  /** Server name. */
  serverName: string;
  /** Software version. */
  version: string;
  /** Message of the day in force. */
  motd: string;
  /** The rooms joined, with their topics and member counts (the new user counted). */
  rooms: RoomInfo[];
  /** The server keeps private messages for offline users (announced as `dmQueueDays`). */
  dmQueue?: boolean;
}

/**
 * The serialised `welcome`; when it would not fit in one record, topics and the MOTD are left
 * out (long ones must not keep anyone out: they are also available by command).
 */
export function welcomeLine(f: WelcomeFields, limits: Limits): string {
  const welcome: WelcomeMessage = {
    t: "welcome",
    name: f.name,
    fingerprint: f.fingerprint,
    server: { name: f.serverName, version: f.version, motd: f.motd },
    limits: {
      textBytes: limits.textBytes,
      envelopeBytes: limits.envelopeBytes,
      recordPlaintext: limits.recordPlaintext,
      historyOnJoin: limits.historyOnJoin,
      historyMax: limits.historyMax,
      historyKept: limits.historyKept,
      resumeMax: limits.resumeMax,
      rateBurst: limits.rateBurst,
      ratePerSecond: limits.ratePerSecond,
      idlePingMs: limits.idlePingMs,
      idleCloseMs: limits.idleCloseMs,
      maxRooms: MAX_ROOMS_PER_USER,
      quietRoomMembers: limits.quietRoomMembers,
      ...(f.dmQueue ? { dmQueueDays: limits.dmQueueDays } : {}),
    },
    rooms: f.rooms,
  };
  let line = JSON.stringify(welcome);
  if (utf8Length(line) > limits.recordPlaintext) {
    welcome.rooms = welcome.rooms.map((r) => ({ ...r, topic: "" }));
    welcome.server = { ...welcome.server, motd: "" };
    line = JSON.stringify(welcome);
  }
  return line;
}
