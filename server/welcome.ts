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

/** The `limits` object a welcome announces (with or without `dmQueueDays`). */
function announced(limits: Limits, dmQueue: boolean): Record<string, number> {
  return {
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
    ...(dmQueue ? { dmQueueDays: limits.dmQueueDays } : {}),
  };
}

/** The serialised `limits` of each `Limits` object, without and with the queue (they never change). */
const LIMITS_JSON = new WeakMap<Limits, [string, string]>();

function limitsJson(limits: Limits, dmQueue: boolean): string {
  let j = LIMITS_JSON.get(limits);
  if (j === undefined) {
    j = [JSON.stringify(announced(limits, false)), JSON.stringify(announced(limits, true))];
    LIMITS_JSON.set(limits, j);
  }
  return j[dmQueue ? 1 : 0];
}

/** `JSON.stringify` of the welcome with these fields, the limits serialised once per `Limits`. */
function serialise(
  f: WelcomeFields,
  server: WelcomeMessage["server"],
  rooms: RoomInfo[],
  limits: Limits,
): string {
  const s = JSON.stringify;
  return `{"t":"welcome","name":${s(f.name)},"fingerprint":${s(f.fingerprint)},"server":${
    s(server)
  },"limits":${limitsJson(limits, f.dmQueue === true)},"rooms":${s(rooms)}}`;
}

/**
 * The serialised `welcome`; when it would not fit in one record, topics and the MOTD are left
 * out (long ones must not keep anyone out: they are also available by command).
 */
export function welcomeLine(f: WelcomeFields, limits: Limits): string {
  const server = { name: f.serverName, version: f.version, motd: f.motd };
  let line = serialise(f, server, f.rooms, limits);
  // A UTF-16 code unit is at most 3 bytes of UTF-8: most welcomes need no count.
  if (line.length * 3 > limits.recordPlaintext && utf8Length(line) > limits.recordPlaintext) {
    const rooms = f.rooms.map((r) => ({ ...r, topic: "" }));
    line = serialise(f, { ...server, motd: "" }, rooms, limits);
  }
  return line;
}
