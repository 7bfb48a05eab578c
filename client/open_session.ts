/**
 * Opening a session on a fresh connection: the key exchange, the check of the server's key
 * against the pinned one (asking to trust an unknown server), then authentication until the
 * server welcomes, refuses, or the attempts run out. Everything it needs is passed in.
 * @module
 */

import { HostKeyChangedError, RefusedError } from "./errors.ts";
import type { KnownServers } from "./known_servers.ts";
import { FrameReader, Session } from "./session.ts";
import type { Identity } from "../shared/keys.ts";
import { ClientHandshake, parseRefusal, signAuth } from "../shared/handshake.ts";
import { encodeFrame, MAX_ROOM_FRAME } from "../shared/frame.ts";
import { RoomRecordOpener } from "../shared/room_record.ts";
import { toBase64 } from "../shared/encoding.ts";
import { DEFAULT_LIMITS, MIN_RECORD_FRAME } from "../shared/limits.ts";
import { writeAll } from "../shared/io.ts";
import type { AuthMessage, ServerMessage, WelcomeMessage } from "../shared/messages.ts";
import { VERSION } from "../version.ts";

/** What {@link openSession} needs from its caller. */
export interface OpenSessionDeps {
  /** The server as `host:port` (the key pin's name). */
  hostPort: string;
  /** The user's identity. */
  identity: Identity;
  /** Pinned server keys. */
  knownServers: KnownServers;
  /** Asked when the server is unknown; true pins its key. */
  trustNewServer: (hostPort: string, fingerprint: string) => Promise<boolean>;
  /** Trust exactly this key: another is refused, a different pin replaced (`--fingerprint`). */
  expected?: string;
  /** Arguments the changed-key hint repeats (see {@link HostKeyChangedError}). */
  hintArgs?: readonly string[];
  /** Offer room records (docs/protocol.md §3 "Room records"; default false). */
  roomRecords?: boolean;
  /** What the changed-key hint connects to (the whole address list); default `hostPort`. */
  target?: string;
  /**
   * The pins of the other addresses of the same list (`[hostPort, fingerprint]`, list order):
   * every address of a list must present one key, so a key pinned for any of them is expected
   * from this one too, and suffices to pin it without asking.
   */
  listPins?(): [string, string][];
  /** Told that the user is about to be asked something. */
  asking(): void;
  /** The name to authenticate with without asking ("" when there is none yet). */
  knownName(): string;
  /** Asks the user for a name (after a rejection, with the server's reason). */
  chooseName(reason?: string): Promise<string>;
  /** Rooms to join. */
  rooms(): string[];
  /** Where to resume each room from (the last sequence number seen), if anywhere. */
  resume(): Record<string, number> | undefined;
  /** Hears that the session was lost (see {@link Session}). */
  onLost(s: Session, detail: string): void;
  /** Hears the welcome, with the messages that came before or with it, before returning. */
  onWelcome(s: Session, welcome: WelcomeMessage, early: ServerMessage[]): void;
}

/**
 * Runs the handshake and authentication on `conn` until `deadline` (ms since the epoch) and
 * returns the welcomed session. Rejects with `HostKeyChangedError` when the key differs from the
 * pinned one, `RefusedError` when the server or the user refuses, `ConnectError` or
 * `ProtocolError` when the exchange fails.
 */
export async function openSession(
  conn: Deno.TcpConn,
  deadline: number,
  deps: OpenSessionDeps,
): Promise<Session> {
  const hostPort = deps.hostPort;
  const reader = new FrameReader(conn, deadline);
  const decoder = reader.decoder;
  const hs = ClientHandshake.start(undefined, undefined, deps.roomRecords === true);
  await writeAll(conn, encodeFrame(hs.hello));
  const sh = await reader.next();
  const refusal = parseRefusal(sh);
  if (refusal !== undefined) {
    throw new RefusedError(refusal, `the server refused the connection: ${refusal}`);
  }
  const { fingerprint, hostKey } = hs.parseServerHello(sh);
  if (deps.expected !== undefined && deps.expected !== fingerprint) {
    throw new RefusedError(
      "untrusted",
      `the server's key ${fingerprint} is not the expected ${deps.expected}`,
    );
  }
  const own = deps.knownServers.lookup(hostPort);
  const others = deps.listPins?.() ?? [];
  const conflict: [string, string] | undefined = own !== undefined && own !== fingerprint
    ? [hostPort, own]
    : others.find(([, fp]) => fp !== fingerprint);
  if (conflict !== undefined && deps.expected !== fingerprint) {
    throw new HostKeyChangedError(hostPort, conflict[1], fingerprint, deps.hintArgs, {
      target: deps.target,
      pinnedFor: conflict[0] === hostPort ? undefined : conflict[0],
    });
  }
  const keys = hs.finish(sh);
  // The user named this key (`--fingerprint`): it replaces the old pin once its hello verifies.
  if (own !== undefined && own !== fingerprint) {
    await deps.knownServers.replace(hostPort, fingerprint);
  }
  if (own === undefined) {
    // A key already pinned for another address of the list is trusted without asking.
    if (others.length === 0) {
      deps.asking();
      if (!await deps.trustNewServer(hostPort, fingerprint)) {
        throw new RefusedError("untrusted", `not connecting to an unknown server (${fingerprint})`);
      }
    }
    try {
      await deps.knownServers.pin(hostPort, fingerprint);
    } catch (e) {
      // another process pinned a different key meanwhile
      const now = deps.knownServers.lookup(hostPort);
      if (now !== undefined && now !== fingerprint) {
        throw new HostKeyChangedError(hostPort, now, fingerprint, deps.hintArgs, {
          target: deps.target,
        });
      }
      throw e;
    }
  }
  decoder.limits = {
    min: MIN_RECORD_FRAME,
    max: DEFAULT_LIMITS.recordFrame,
    room: keys.roomRecords ? MAX_ROOM_FRAME : 0,
  };
  // Room records are checked against the host key just verified (and pinned).
  const rooms = keys.roomRecords ? new RoomRecordOpener(hostKey) : null;
  const s = new Session(conn, keys, decoder, (s, detail) => deps.onLost(s, detail), rooms);
  let name = deps.knownName() || await deps.chooseName();
  const id = deps.identity;
  const early: ServerMessage[] = [];
  for (let attempt = 1;; attempt++) {
    const proof = signAuth(id.sigPrivate, keys.th, name);
    const auth: AuthMessage = {
      t: "auth",
      name,
      sig_pub: toBase64(id.sigPublic),
      kem_pub: toBase64(id.kemPublic),
      kem_sig: toBase64(id.kemSig),
      proof: toBase64(proof),
      client: `chat/${VERSION}`,
      rooms: deps.rooms(),
    };
    const resume = deps.resume();
    if (resume !== undefined) auth.resume = resume;
    s.send(auth);
    s.flush();
    await s.writes;
    for (;;) {
      const frame = await reader.next();
      const msgs = s.read(frame, decoder.room);
      const answer = msgs.findIndex((m) => m.t === "welcome" || m.t === "error" || m.t === "bye");
      if (answer < 0) {
        early.push(...msgs);
        continue;
      }
      const m = msgs[answer];
      if (m.t === "welcome") {
        deps.onWelcome(s, m, [...early, ...msgs.slice(answer + 1)]);
        return s;
      }
      if (m.t === "bye") throw new RefusedError(m.reason, `the server closed: ${m.reason}`);
      if (m.t === "error" && m.retry && attempt < DEFAULT_LIMITS.authAttempts) {
        name = await deps.chooseName(m.message);
        break;
      }
      throw new RefusedError(
        m.t === "error" ? m.code : "refused",
        m.t === "error" ? m.message : "",
      );
    }
  }
}
