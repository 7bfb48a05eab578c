/**
 * The hub: authenticated users, rooms, members, fan-out and presence (DESIGN.md §2). Pure
 * state: it never sees a socket or a key. Connections call {@linkcode Hub.authenticate},
 * {@linkcode Hub.handle} and {@linkcode Hub.disconnect}; the hub answers through
 * {@linkcode Peer.send} with lines serialised once per event and shared by every recipient.
 *
 * This file is the facade; the parts live by concept: server/login.ts, server/sessions.ts,
 * server/rooms.ts, server/fanout.ts, server/relay.ts, server/dm.ts, server/hub_host.ts (the
 * commands' host), server/hub_console.ts, over the shared state of server/hub_core.ts.
 * @module
 */

import { ProtocolError } from "../shared/errors.ts";
import type {
  AuthMessage,
  ClientMessage,
  CmdMessage,
  DmAckMessage,
  DmRequest,
  SayMessage,
} from "../shared/messages.ts";
import { checkName } from "../shared/names.ts";
import { banFor, ipBanned } from "./ban_match.ts";
import type { CommandContext, CommandHost } from "./command_host.ts";
import { runCommand } from "./commands.ts";
import { dm, dmAck, expireQueued } from "./dm.ts";
import { consoleLine } from "./hub_console.ts";
import { attachBus } from "./hub_cluster.ts";
import { HubCore } from "./hub_core.ts";
import { makeHost } from "./hub_host.ts";
import type { HubOptions } from "./hub_options.ts";
import type { NodeStatus } from "./nodes.ts";
import { authenticate, type AuthResult } from "./login.ts";
import { type Peer, sendError } from "./peer.ts";
import { say } from "./relay.ts";
import type { Session } from "./sessions.ts";

export type { LineSource } from "./command_host.ts";
export type { HubOptions } from "./hub_options.ts";
export type { AuthResult } from "./login.ts";
export { toMsg } from "./message_line.ts";
export type { Peer } from "./peer.ts";
export { MAX_SESSIONS_PER_IDENTITY } from "./sessions.ts";

/** Rooms, members, fan-out and presence. See the module doc. */
export class Hub {
  readonly #core: HubCore;
  readonly #host: CommandHost;

  /** A hub with no users; `#lobby` exists. */
  constructor(opts: HubOptions) {
    this.#core = new HubCore(opts);
    this.#host = makeHost(this.#core);
    if (opts.bus !== undefined) attachBus(this.#core, opts.bus);
  }

  /**
   * Handles `auth`: sends `welcome` and the joins, or an error, to `peer`. A login the server
   * cannot complete (e.g. its storage is full, so a new name cannot be saved) gets an error
   * saying so, with `retry: false`.
   */
  authenticate(peer: Peer, auth: AuthMessage): AuthResult {
    return authenticate(this.#core, peer, auth);
  }

  /**
   * What must be settled with the rest of a cluster before `msg` from `peer` can be handled
   * (who owns the name an `auth` or `/nick` asks for); undefined when nothing. The connection
   * waits for it before handing `msg` to {@linkcode authenticate} or {@linkcode handle}.
   */
  prepare(peer: Peer, msg: ClientMessage): Promise<void> | undefined {
    const o = this.#core.o;
    if (o.store.reserveName === undefined) return undefined;
    let name: string | undefined;
    if (msg.t === "auth") name = msg.name;
    else if (msg.t === "cmd" && msg.name === "nick" && msg.args.length === 1) name = msg.args[0];
    if (name === undefined || peer.fingerprint === "") return undefined;
    const check = checkName(name, o.blacklist());
    if (!check.ok) return undefined;
    if (banFor(o.store.bans(), check.key, peer.fingerprint, peer.ip) !== undefined) {
      return undefined;
    }
    return o.store.reserveName(check.key, name, peer.fingerprint);
  }

  /** A request from an authenticated peer; unknown peers are ignored. */
  handle(peerId: number, msg: SayMessage | DmRequest | DmAckMessage | CmdMessage): void {
    const core = this.#core;
    const s = core.sessions.byId.get(peerId);
    if (s === undefined) return;
    if (msg.t !== "dm_ack") s.lastActive = core.o.now(); // the client's own, not the user's
    try {
      if (msg.t === "say") say(core, s, msg);
      else {
        core.settle();
        if (msg.t === "dm") dm(core, s, msg);
        else if (msg.t === "dm_ack") dmAck(core, s, msg);
        else this.#cmd(s, msg);
      }
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      sendError(s.peer, "id" in msg ? msg.id : undefined, e.code, e.message);
    }
  }

  /**
   * The peer is gone; `reason` goes into the leave events ("replaced": none), `detail` (default
   * `reason`) into the operator's log. Idempotent.
   */
  disconnect(peerId: number, reason: string, detail = reason): void {
    const s = this.#core.sessions.byId.get(peerId);
    if (s === undefined) return;
    this.settle();
    this.#core.drop(s, reason === "replaced" ? undefined : reason, detail);
  }

  /**
   * Commits the messages said so far and relays them, so that whatever is sent or changed next
   * comes after them (messages are otherwise stored and relayed once per event-loop turn).
   */
  settle(): void {
    this.#core.settle();
  }

  /** True while someone is connected under the name with case-folded `key`. */
  nameInUse(key: string): boolean {
    return this.#core.sessions.byName.has(key);
  }

  /** True while `room` has members (and always for the default room). */
  roomIsLive(room: string): boolean {
    return this.#core.rooms.has(room);
  }

  /** This node's name and figures (what it announces to the other nodes of a cluster). */
  nodeStatus(): NodeStatus {
    return this.#core.nodeStatus();
  }

  /**
   * Drops private messages queued longer than `dmQueueDays`, telling their senders who are
   * connected (`error dm_expired`); returns how many were dropped. Throws `StorageError`.
   */
  expireQueuedDms(): number {
    return expireQueued(this.#core);
  }

  /** True if a ban in force covers the address `ip`. */
  isIpBanned(ip: string): boolean {
    return ipBanned(this.#core.o.store.bans(), ip);
  }

  /**
   * Operator console: plain text is an announcement to everyone; `/command args` runs a command
   * of the table as an operator (by "console"), plus `/say #room text` and `/stats`. Returns
   * the text to print.
   */
  consoleLine(line: string): string {
    return consoleLine(this.#core, this.#host, line);
  }

  /**
   * Server shutdown: `close("shutdown")` for every authenticated peer. In a cluster the members
   * on the other nodes see each user leave with the reason `shutdown`.
   */
  shutdown(): void {
    this.settle();
    const reason = this.#core.o.bus === undefined ? undefined : "shutdown";
    for (const s of [...this.#core.sessions.byId.values()]) {
      this.#core.drop(s, reason, "shutdown");
      s.peer.close("shutdown");
    }
  }

  #cmd(s: Session, m: CmdMessage): void {
    const core = this.#core;
    const ctx: CommandContext = {
      host: this.#host,
      user: s,
      by: s.name,
      byFingerprint: s.fingerprint,
      operator: core.isOperator(s.fingerprint),
      admin: core.o.admins.has(s.fingerprint),
    };
    const r = runCommand(ctx, m.name, m.args);
    if (r.replay !== undefined) s.peer.replay(r.replay);
    const reply: Record<string, unknown> = { t: "reply", id: m.id, text: r.text };
    if (r.data !== undefined) reply.data = r.data;
    s.peer.send(JSON.stringify(reply));
  }
}
