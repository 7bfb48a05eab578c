/**
 * Inner messages of chat/1 (PROTOCOL.md §4–5): types and strict validation.
 *
 * Client messages are validated strictly (unknown fields are errors); server
 * messages are validated for the fields a client uses, unknown fields ignored.
 * Parsed objects never carry a `__proto__` key.
 * @module
 */

import { toBase64 } from "./encoding.ts";
import { ProtocolError } from "./errors.ts";

/** `auth`: the first record from the client. */
export interface AuthMessage {
  t: "auth";
  name: string;
  sig_pub: string;
  kem_pub?: string;
  kem_sig?: string;
  proof: string;
  client: string;
  rooms: string[];
  resume?: Record<string, number>;
}
/** A room message. */
export interface SayMessage {
  t: "say";
  id: string;
  room: string;
  text: string;
  me?: boolean;
  /**
   * A private room's sealed line (base64 `rm1` envelope, docs/protocol.md §8); on the wire it
   * replaces `text` and `me`, and parsing sets `text` to `""`.
   */
  sealed?: string;
}
/** An end-to-end private message (the envelope is opaque to the server). */
export interface DmRequest {
  t: "dm";
  id: string;
  to: string;
  envelope: string;
}
/**
 * Acknowledges private messages delivered from the offline queue (their `q` numbers), so the
 * server deletes them; the first one of a session (even with no numbers) also asks the server
 * for what waits in the queue.
 */
export interface DmAckMessage {
  t: "dm_ack";
  q: number[];
}
/** A server command, e.g. `join ["#dev"]`. */
export interface CmdMessage {
  t: "cmd";
  id: string;
  name: string;
  args: string[];
  /** Sent by the client on its own (key lookup, history fill), not typed by the user. */
  auto?: boolean;
}
/** Keep-alive probe or answer. */
export interface PingMessage {
  t: "ping" | "pong";
  n: number;
  /**
   * Only in a server's `pong`: for every room-record epoch the session holds, `[b64(epoch), next
   * rseq]` (docs/protocol.md §3 "Withheld records").
   */
  rooms?: Record<string, [string, number]>;
}
/** A clean close. */
export interface ByeMessage {
  t: "bye";
  reason: string;
}

/** Everything a client may send after the handshake. */
export type ClientMessage =
  | AuthMessage
  | SayMessage
  | DmRequest
  | DmAckMessage
  | CmdMessage
  | PingMessage
  | ByeMessage;

/** Room summary in `welcome` and `/rooms`. */
export interface RoomInfo {
  name: string;
  topic: string;
  members: number;
  /** An end-to-end encrypted private room (docs/protocol.md §8). */
  private?: boolean;
}
/** Successful authentication. */
export interface WelcomeMessage {
  t: "welcome";
  name: string;
  fingerprint: string;
  server: { name: string; version: string; motd: string };
  limits: Record<string, number>;
  rooms: RoomInfo[];
}
/** A room message as relayed (the sender's own copy is its acknowledgement). */
export interface MsgMessage {
  t: "msg";
  room: string;
  seq: number;
  ts: number;
  from: string;
  text: string;
  me?: boolean;
  id: string;
  replay?: boolean;
  /** A private room's sealed line (base64); `text` is then `""`. */
  sealed?: string;
  /** A sender key addressed to this identity (base64); `text` is then `""`. */
  key?: string;
  /** Set by the client (never read from the wire): a private room's line it opened. */
  e2e?: boolean;
  /** Set by the client (never read from the wire): why a private line shows no text. */
  undecryptable?: string;
  /** Set by the client: the check that refused a private line (e.g. `room_replayed`). */
  refused?: string;
}
/** Kinds of system event. */
export type EventKind =
  | "join"
  | "leave"
  | "nick"
  | "topic"
  | "away"
  | "back"
  | "kick"
  | "ban"
  | "mute"
  | "announce"
  | "motd"
  | "op"
  | "deop"
  | "mode"
  | "keyreq";
/** A system event. */
export interface EventMessage {
  t: "event";
  room?: string;
  ts: number;
  kind: EventKind;
  name?: string;
  by?: string;
  reason?: string;
  old?: string;
  text?: string;
}
/** A relayed private message; `q` when it comes from the offline queue (acknowledge it). */
export interface DmDelivery {
  t: "dm";
  id: string;
  from: string;
  ts: number;
  envelope: string;
  q?: number;
}
/** Acknowledgement of a DM: relayed, or `queued` for a recipient who is not connected. */
export interface AckMessage {
  t: "ack";
  id: string;
  queued?: boolean;
}
/** Answer to a `cmd`. */
export interface ReplyMessage {
  t: "reply";
  id: string;
  text?: string;
  data?: unknown;
}
/** An error, tied to a request `id` when there is one. */
export interface ErrorMessage {
  t: "error";
  id?: string;
  code: string;
  message: string;
  retry?: boolean;
}

/** A room's epoch key for room records (docs/protocol.md §3 "Room records"). */
export interface RoomKeyMessage {
  t: "rkey";
  /** The room. */
  room: string;
  /** The epoch: 8 bytes in padded base64. */
  epoch: string;
  /** The room key: 32 bytes in padded base64. */
  key: string;
  /** The `rseq` of the first room record of this epoch the session will receive (u32). */
  rseq: number;
}

/** Everything a server may send after the handshake. */
export type ServerMessage =
  | RoomKeyMessage
  | WelcomeMessage
  | MsgMessage
  | EventMessage
  | DmDelivery
  | AckMessage
  | ReplyMessage
  | ErrorMessage
  | PingMessage
  | ByeMessage;

/** Every `kind` an `event` message may have. */
export const EVENT_KINDS: ReadonlySet<string> = new Set([
  "join",
  "leave",
  "nick",
  "topic",
  "away",
  "back",
  "kick",
  "ban",
  "mute",
  "announce",
  "motd",
  "op",
  "deop",
  "mode",
  "keyreq",
]);

/** Largest string field accepted anywhere (bytes are bounded by the record anyway). */
const MAX_FIELD = 16_384;
/** Request ids: 16 bytes in padded base64. */
const ID_RE = /^[A-Za-z0-9+/]{22}==$/;

function bad(message: string): never {
  throw new ProtocolError("bad_message", message);
}

function noProto(key: string, value: unknown): unknown {
  if (key === "__proto__") bad("forbidden key __proto__");
  return value;
}

/** Parses one JSON object; rejects non-objects and `__proto__` keys. */
export function parseJsonObject(text: string): Record<string, unknown> {
  if (text.length === 0) bad("empty message");
  let v: unknown;
  try {
    // A key can only read `__proto__` if the text spells it or uses a `\u` escape: other text
    // skips the reviver, which costs about three times the parse itself.
    v = text.includes("__proto__") || text.includes("\\u")
      ? JSON.parse(text, noProto)
      : JSON.parse(text);
  } catch (e) {
    if (e instanceof ProtocolError) throw e;
    bad("message is not valid JSON");
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) bad("message is not an object");
  return v as Record<string, unknown>;
}

function str(o: Record<string, unknown>, k: string, max = MAX_FIELD): string {
  const v = o[k];
  if (typeof v !== "string") bad(`field ${k} must be a string`);
  if (v.length > max) bad(`field ${k} is too long`);
  return v;
}
function optStr(o: Record<string, unknown>, k: string, max = MAX_FIELD): string | undefined {
  return o[k] === undefined ? undefined : str(o, k, max);
}
function int(o: Record<string, unknown>, k: string): number {
  const v = o[k];
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    bad(`field ${k} must be a non-negative integer`);
  }
  return v;
}
function optBool(o: Record<string, unknown>, k: string): boolean | undefined {
  const v = o[k];
  if (v === undefined) return undefined;
  if (typeof v !== "boolean") bad(`field ${k} must be a boolean`);
  return v;
}
function id(o: Record<string, unknown>): string {
  const v = str(o, "id", 24);
  if (!ID_RE.test(v)) bad("field id must be 16 bytes of base64");
  return v;
}
function only(o: Record<string, unknown>, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) bad(`unknown field ${k}`);
  }
}
function strArray(o: Record<string, unknown>, k: string, maxItems: number, maxLen: number) {
  const v = o[k];
  if (!Array.isArray(v) || v.length > maxItems) bad(`field ${k} must be an array of ≤ ${maxItems}`);
  for (const s of v) {
    if (typeof s !== "string" || s.length > maxLen) bad(`field ${k} must hold short strings`);
  }
  return v as string[];
}

/** A room name, as a key of `resume` or `pong.rooms`. */
const ROOM_KEY = /^#[a-z0-9_-]{1,32}$/;

/** Most rooms one `pong` names (a session is in at most 32). */
export const PONG_ROOMS_MAX = 64;
/** Canonical padded base64 of exactly 8 bytes (a room-record epoch). */
const EPOCH_RE = /^[A-Za-z0-9+/]{10}[AEIMQUYcgkosw048]=$/;
/** Canonical padded base64 of exactly 32 bytes (a room key). */
const ROOM_KEY_B64_RE = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

function u32(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 0xffff_ffff) {
    bad(`${what} must be a u32`);
  }
  return v;
}

function pongRooms(r: unknown): Record<string, [string, number]> {
  if (typeof r !== "object" || r === null || Array.isArray(r)) bad("pong.rooms must be an object");
  const entries = Object.entries(r);
  if (entries.length > PONG_ROOMS_MAX) bad("pong.rooms names too many rooms");
  const out: Record<string, [string, number]> = {};
  for (const [room, v] of entries) {
    if (!ROOM_KEY.test(room)) bad("pong.rooms keys must be room names");
    if (!Array.isArray(v) || v.length !== 2) bad("pong.rooms values must be [epoch, rseq]");
    if (typeof v[0] !== "string" || !EPOCH_RE.test(v[0])) bad("pong.rooms epoch must be 8 bytes");
    out[room] = [v[0], u32(v[1], "pong.rooms rseq")];
  }
  return out;
}

/** Most queue numbers one `dm_ack` carries. */
export const DM_ACK_MAX = 64;

/** Validates a message from a client strictly; throws `ProtocolError("bad_message")`. */
export function parseClientMessage(text: string): ClientMessage {
  const o = parseJsonObject(text);
  switch (o.t) {
    case "auth": {
      only(o, ["t", "name", "sig_pub", "kem_pub", "kem_sig", "proof", "client", "rooms", "resume"]);
      const m: AuthMessage = {
        t: "auth",
        name: str(o, "name", 64),
        sig_pub: str(o, "sig_pub", 64),
        proof: str(o, "proof", 128),
        client: str(o, "client", 64),
        rooms: strArray(o, "rooms", 64, 33),
      };
      const kemPub = optStr(o, "kem_pub", 1024);
      const kemSig = optStr(o, "kem_sig", 128);
      if ((kemPub === undefined) !== (kemSig === undefined)) bad("kem_pub and kem_sig go together");
      if (kemPub !== undefined) {
        m.kem_pub = kemPub;
        m.kem_sig = kemSig;
      }
      if (o.resume !== undefined) {
        const r = o.resume;
        if (typeof r !== "object" || r === null || Array.isArray(r)) {
          bad("resume must be an object");
        }
        const entries = Object.entries(r);
        if (entries.length > 64) bad("resume names too many rooms");
        const resume: Record<string, number> = {};
        for (const [room, seq] of entries) {
          if (!ROOM_KEY.test(room)) bad("resume keys must be room names");
          if (typeof seq !== "number" || !Number.isSafeInteger(seq) || seq < 0) {
            bad("resume values must be sequence numbers");
          }
          resume[room] = seq;
        }
        m.resume = resume;
      }
      return m;
    }
    case "say": {
      only(o, ["t", "id", "room", "text", "me", "sealed"]);
      if (o.sealed !== undefined) {
        if (o.text !== undefined || o.me !== undefined) bad("a sealed say has no text or me");
        return {
          t: "say",
          id: id(o),
          room: str(o, "room", 33),
          text: "",
          sealed: str(o, "sealed"),
        };
      }
      const m: SayMessage = { t: "say", id: id(o), room: str(o, "room", 33), text: str(o, "text") };
      const me = optBool(o, "me");
      if (me !== undefined) m.me = me;
      return m;
    }
    case "dm":
      only(o, ["t", "id", "to", "envelope"]);
      return { t: "dm", id: id(o), to: str(o, "to", 64), envelope: str(o, "envelope") };
    case "dm_ack": {
      only(o, ["t", "q"]);
      const q = o.q;
      if (!Array.isArray(q) || q.length > DM_ACK_MAX) {
        bad(`field q must be an array of ≤ ${DM_ACK_MAX}`);
      }
      for (const n of q) {
        if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 1) {
          bad("field q must hold queue numbers");
        }
      }
      return { t: "dm_ack", q: q as number[] };
    }
    case "cmd": {
      only(o, ["t", "id", "name", "args", "auto"]);
      const m: CmdMessage = {
        t: "cmd",
        id: id(o),
        name: str(o, "name", 32),
        args: strArray(o, "args", 32, 4096),
      };
      if (optBool(o, "auto") === true) m.auto = true;
      return m;
    }
    case "ping":
    case "pong":
      only(o, ["t", "n"]);
      return { t: o.t, n: int(o, "n") };
    case "bye":
      only(o, ["t", "reason"]);
      return { t: "bye", reason: str(o, "reason", 256) };
    default:
      bad("unknown message type");
  }
}

/** Validates a message from the server; unknown fields are ignored. */
export function parseServerMessage(text: string): ServerMessage {
  const o = parseJsonObject(text);
  switch (o.t) {
    case "welcome": {
      const server = o.server as Record<string, unknown>;
      if (typeof server !== "object" || server === null) bad("welcome.server must be an object");
      const rooms = o.rooms;
      if (!Array.isArray(rooms)) bad("welcome.rooms must be an array");
      const limits = o.limits;
      if (typeof limits !== "object" || limits === null) bad("welcome.limits must be an object");
      const lim: Record<string, number> = {};
      for (const [k, v] of Object.entries(limits)) if (typeof v === "number") lim[k] = v;
      return {
        t: "welcome",
        name: str(o, "name", 64),
        fingerprint: str(o, "fingerprint", 64),
        server: {
          name: str(server, "name", 256),
          version: str(server, "version", 64),
          motd: str(server, "motd"),
        },
        limits: lim,
        rooms: rooms.map((r: Record<string, unknown>) => {
          if (typeof r !== "object" || r === null) bad("room must be an object");
          const info: RoomInfo = {
            name: str(r, "name", 33),
            topic: str(r, "topic"),
            members: int(r, "members"),
          };
          if (optBool(r, "private") === true) info.private = true;
          return info;
        }),
      };
    }
    case "msg": {
      const m: MsgMessage = {
        t: "msg",
        room: str(o, "room", 33),
        seq: int(o, "seq"),
        ts: int(o, "ts"),
        from: str(o, "from", 64),
        text: "",
        id: str(o, "id", 64),
      };
      const sealed = optStr(o, "sealed");
      const key = optStr(o, "key");
      if (sealed !== undefined) m.sealed = sealed;
      else if (key !== undefined) m.key = key;
      else m.text = str(o, "text");
      const me = optBool(o, "me");
      if (me) m.me = true;
      const replay = optBool(o, "replay");
      if (replay) m.replay = true;
      return m;
    }
    case "event": {
      const kind = str(o, "kind", 16);
      if (!EVENT_KINDS.has(kind)) bad("unknown event kind");
      const m: EventMessage = { t: "event", ts: int(o, "ts"), kind: kind as EventKind };
      for (const k of ["room", "name", "by", "reason", "old", "text"] as const) {
        const v = optStr(o, k);
        if (v !== undefined) m[k] = v;
      }
      return m;
    }
    case "dm": {
      const m: DmDelivery = {
        t: "dm",
        id: str(o, "id", 64),
        from: str(o, "from", 64),
        ts: int(o, "ts"),
        envelope: str(o, "envelope"),
      };
      if (o.q !== undefined) m.q = int(o, "q");
      return m;
    }
    case "ack": {
      const m: AckMessage = { t: "ack", id: str(o, "id", 64) };
      if (optBool(o, "queued") === true) m.queued = true;
      return m;
    }
    case "reply": {
      const m: ReplyMessage = { t: "reply", id: str(o, "id", 64) };
      const text = optStr(o, "text");
      if (text !== undefined) m.text = text;
      if (o.data !== undefined) m.data = o.data;
      return m;
    }
    case "error": {
      const m: ErrorMessage = { t: "error", code: str(o, "code", 64), message: str(o, "message") };
      const i = optStr(o, "id", 64);
      if (i !== undefined) m.id = i;
      const retry = optBool(o, "retry");
      if (retry !== undefined) m.retry = retry;
      return m;
    }
    case "ping":
      return { t: "ping", n: int(o, "n") };
    case "pong": {
      const m: PingMessage = { t: "pong", n: int(o, "n") };
      if (o.rooms !== undefined) m.rooms = pongRooms(o.rooms);
      return m;
    }
    case "rkey": {
      const room = str(o, "room", 33);
      if (!ROOM_KEY.test(room)) bad("rkey.room must be a room name");
      const epoch = str(o, "epoch", 12);
      if (!EPOCH_RE.test(epoch)) bad("rkey.epoch must be 8 bytes of base64");
      const key = str(o, "key", 44);
      if (!ROOM_KEY_B64_RE.test(key)) bad("rkey.key must be 32 bytes of base64");
      return { t: "rkey", room, epoch, key, rseq: u32(o.rseq, "rkey.rseq") };
    }
    case "bye":
      return { t: "bye", reason: str(o, "reason", 256) };
    default:
      bad("unknown message type");
  }
}

/** Splits a record's plaintext into messages (`msg ("\n" msg)* "\n"?`); empty messages are errors. */
export function splitRecord(text: string): string[] {
  const parts = text.split("\n");
  if (parts.length > 1 && parts[parts.length - 1] === "") parts.pop();
  for (const p of parts) if (p.length === 0) bad("empty message in record");
  return parts;
}

/**
 * Parses a room record's plaintext (docs/protocol.md §3, the last client check): every line a
 * server message that is a `msg` or `event` of `room`; otherwise `ProtocolError("bad_message")`.
 */
export function parseRoomLines(room: string, text: string): ServerMessage[] {
  const msgs = splitRecord(text).map(parseServerMessage);
  for (const m of msgs) {
    if ((m.t !== "msg" && m.t !== "event") || m.room !== room) {
      const of = m.t === "msg" || m.t === "event" ? ` of ${m.room ?? "no room"}` : "";
      bad(`a room record of ${room} carried ${m.t}${of}`);
    }
  }
  return msgs;
}

/** A fresh request id: 16 random bytes in padded base64. */
export function newId(
  random: (n: number) => Uint8Array = (n) => crypto.getRandomValues(new Uint8Array(n)),
): string {
  return toBase64(random(16));
}
