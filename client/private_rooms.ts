/**
 * The client's side of private rooms (docs/protocol.md §8): which rooms are private, the user's
 * sender key per room (made, given to each member, dropped when a membership ends), the keyring
 * of the keys given to this identity, and opening sealed lines in order. Every request it makes
 * on its own is marked automatic and bounded; a line it cannot open becomes "cannot decrypt
 * message from NAME" (or "sent before you joined"), never nothing.
 * @module
 */

import { fromBase64, toBase64 } from "../shared/encoding.ts";
import { ProtocolError } from "../shared/errors.ts";
import { randomBytes } from "../shared/crypto.ts";
import type { Identity } from "../shared/keys.ts";
import type {
  ErrorMessage,
  EventMessage,
  MsgMessage,
  ReplyMessage,
  RoomInfo,
} from "../shared/messages.ts";
import { newId } from "../shared/messages.ts";
import { NAME_PATTERN, nameKey } from "../shared/names.ts";
import {
  ROOM_KEY_MAX,
  ROOM_LINE_MAX,
  RoomKeyring,
  sealKey,
  sealLine,
  SenderChain,
} from "../shared/room_e2e.ts";
import { checkPeerKeys, type PeerKeys } from "./dm.ts";
import { SenderKeys } from "./sender_keys.ts";

/** What the service needs from the connection. */
export interface PrivateTransport {
  /** The user's current name. */
  readonly name: string;
  /** Runs a server command; `auto` when the user did not ask for it. */
  command(name: string, args: string[], auto?: boolean): Promise<ReplyMessage | ErrorMessage>;
}

/** Settings of {@link PrivateRooms}. */
export interface PrivateRoomsOptions {
  /** The connection. */
  transport: PrivateTransport;
  /** The user's identity. */
  identity: Pick<Identity, "sigPrivate" | "kemPrivate" | "fingerprint">;
  /** Pinned peer keys (`known_users`): a pinned name must keep its key. */
  knownUsers: { lookup(hostPort: string, name: string): string | undefined };
  /** The server, as `host:port`. */
  hostPort: string;
  /** Told of things the user should know (a member whose key changed). */
  notice?: (text: string) => void;
  /** Clock, ms (default `Date.now`). */
  now?: () => number;
  /** Random source (default WebCrypto). */
  random?: (n: number) => Uint8Array;
  /** Waits `ms` (default a timer); tests pass their own. */
  sleep?: (ms: number) => Promise<void>;
}

/** Sealed messages waiting to be opened at most; more fail at once. */
export const RECEIVE_QUEUE_MAX = 512;
/** First wait before asking a sender for its key again, ms; doubles to {@link KEYREQ_MAX_MS}. */
export const KEYREQ_BASE_MS = 30_000;
/** Longest wait between two requests for one sender's key, ms. */
export const KEYREQ_MAX_MS = 15 * 60_000;
/** A member's request for our key is answered at most this often per room and member, ms. */
export const KEY_ANSWER_MS = 60_000;
/** How long giving one member our key may wait for the automatic budget, ms. */
export const GIVE_WAIT_MS = 60_000;
/** How long members' keys looked up for giving them ours are remembered, ms. */
const GIVE_KEYS_KEEP_MS = 60 * 60_000;
/** Key requests in flight at most. */
const KEYREQ_IN_FLIGHT = 4;
/** Opened lines whose text is kept for showing history again (the oldest goes first). */
export const OPENED_KEPT = 2_000;
/** Requests and answers remembered at most (the oldest goes first). */
const REMEMBERED = 1_000;

interface Member {
  name: string;
  fingerprint: string;
}

interface RoomState {
  chain?: SenderChain;
  /** Fingerprints given the current chain. */
  given: Set<string>;
  /** The roster must be read again before the next line. */
  stale: boolean;
  roster?: Member[];
  /** The room's seq when this identity became a member (undefined: not read yet). */
  since?: number;
  /** Seals of this room, one at a time, in order. */
  sealing: Promise<unknown>;
}

/** Leave reasons that end a membership (§8): the senders rekey. */
function endsMembership(reason: string | undefined): boolean {
  return reason === "left" || reason === "banned" || (reason?.startsWith("kicked by ") ?? false);
}

function bounded<K, V>(m: Map<K, V>, k: K, v: V, max = REMEMBERED): void {
  m.delete(k);
  m.set(k, v);
  while (m.size > max) m.delete(m.keys().next().value!);
}

/** The private rooms of one client. */
export class PrivateRooms {
  readonly #t: PrivateTransport;
  readonly #id: PrivateRoomsOptions["identity"];
  readonly #pins: PrivateRoomsOptions["knownUsers"];
  readonly #hp: string;
  readonly #notice: (text: string) => void;
  readonly #now: () => number;
  readonly #random: (n: number) => Uint8Array;
  readonly #kinds = new Map<string, boolean>();
  readonly #rooms = new Map<string, RoomState>();
  readonly #ring = new RoomKeyring();
  /** Members' checked keys, by "#room name", looked up within bounds. */
  readonly #keys: SenderKeys<{ name: string; keys: PeerKeys }>;
  #receiving: Promise<unknown> = Promise.resolve();
  #queued = 0;
  readonly #asked = new Map<string, { until: number; wait: number }>();
  #asking = 0;
  readonly #answered = new Map<string, number>();
  readonly #giveKeys = new Map<string, { keys: PeerKeys; at: number }>();
  /** Texts of lines opened, by "#room seq", for history asked for again (bounded). */
  readonly #opened = new Map<string, { text: string; me: boolean }>();
  readonly #sleep: (ms: number) => Promise<void>;
  /** Key requests sent so far (for tests and diagnostics). */
  keyRequests = 0;

  /** A service over `opts.transport`. */
  constructor(opts: PrivateRoomsOptions) {
    this.#t = opts.transport;
    this.#id = opts.identity;
    this.#pins = opts.knownUsers;
    this.#hp = opts.hostPort;
    this.#notice = opts.notice ?? (() => {});
    this.#now = opts.now ?? Date.now;
    this.#random = opts.random ?? randomBytes;
    this.#sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    // Keyed by "#room name": a member's keys as served for that room.
    this.#keys = new SenderKeys(async (key) => {
      const [room, name] = key.split(" ");
      const r = await this.#t.command("keys", [name, room], true);
      if (r.t === "error") throw new ProtocolError(r.code, r.message);
      return { name: key, keys: await checkPeerKeys(name, r.data) };
    }, {
      now: this.#now,
      transient: (e) =>
        e instanceof ProtocolError && (e.code === "rate_limited" || e.code === "timeout" ||
          e.code === "offline" || e.code === "lost"),
    });
  }

  /** True when `room` is known to be private. */
  isPrivate(room: string): boolean {
    return this.#kinds.get(room) === true;
  }

  /** The rooms known to be private (for the window list and the prompt). */
  get privateRooms(): string[] {
    return [...this.#kinds].filter(([, p]) => p).map(([r]) => r);
  }

  /**
   * Notes the kinds of `rooms` as the server describes them (welcome, join, `/rooms`); returns a
   * warning for each room whose kind differs from what this client knew, so no change is silent.
   */
  noteRooms(rooms: readonly RoomInfo[]): string[] {
    const out: string[] = [];
    for (const r of rooms) {
      const now = r.private === true;
      const was = this.#kinds.get(r.name);
      if (was !== undefined && was !== now) {
        out.push(
          now
            ? `${r.name} is now a private room: its lines are end-to-end encrypted`
            : `warning: ${r.name} is no longer private (it was recreated as a plain room): ` +
              "the server can read what you say there",
        );
      }
      this.#kinds.set(r.name, now);
      if (now) this.#state(r.name).stale = true; // after a (re)connection: read the roster again
    }
    return out;
  }

  #state(room: string): RoomState {
    let s = this.#rooms.get(room);
    if (s === undefined) {
      s = { given: new Set(), stale: true, sealing: Promise.resolve() };
      this.#rooms.set(room, s);
    }
    return s;
  }

  /** Takes note of a room event: joins, ended memberships (rekey), `+private`, key requests. */
  onEvent(m: EventMessage): void {
    const room = m.room;
    if (room === undefined) return;
    if (m.kind === "mode" && m.text === "+private") this.#kinds.set(room, true);
    if (!this.isPrivate(room)) return;
    const st = this.#state(room);
    if (m.kind === "join") st.stale = true;
    if ((m.kind === "leave" && endsMembership(m.reason)) || m.kind === "kick" || m.kind === "ban") {
      // Someone's membership ended: our next line uses a key they never get.
      st.chain = undefined;
      st.stale = true;
    }
    if (m.kind === "leave" && m.name !== undefined && nameKey(m.name) === nameKey(this.#t.name)) {
      if (endsMembership(m.reason)) this.#rooms.delete(room);
    }
    if (m.kind === "keyreq" && m.name !== undefined) {
      this.#answer(room, m.name).catch(() => {});
    }
  }

  /**
   * Seals `text` for `room` (base64 line), first giving the current sender key to every member
   * that does not have it yet (a fresh key when there is none). Seals of one room run in order.
   * Rejects with a reason to show when a member's key cannot be given.
   */
  seal(room: string, id: string, text: string, me: boolean): Promise<string> {
    const st = this.#state(room);
    const run = st.sealing.then(() => this.#seal(room, st, id, text, me));
    st.sealing = run.catch(() => {});
    return run;
  }

  async #seal(room: string, st: RoomState, id: string, text: string, me: boolean) {
    if (st.chain === undefined || st.chain.exhausted) {
      st.chain = new SenderChain(this.#random);
      st.given = new Set();
    }
    if (st.stale) await this.#readRoster(room, st);
    const chain = st.chain!;
    for (const m of st.roster ?? []) {
      if (st.given.has(m.fingerprint)) continue;
      try {
        await this.#give(room, chain, m);
        st.given.add(m.fingerprint);
      } catch (e) {
        st.chain = undefined; // the next line starts over with a fresh key
        throw e;
      }
    }
    const env = sealLine({
      room,
      from: this.#t.name,
      fromFp: this.#id.fingerprint,
      id,
      text,
      me,
      chain,
      sigPrivate: this.#id.sigPrivate,
      random: this.#random,
    });
    return toBase64(env);
  }

  async #readRoster(room: string, st: RoomState): Promise<void> {
    const r = await this.#t.command("members", [room], true);
    if (r.t === "error") throw new ProtocolError(r.code, `cannot list ${room}: ${r.message}`);
    const d = r.data as { since?: unknown; members?: unknown } | undefined;
    if (typeof d?.since !== "number" || !Array.isArray(d.members)) {
      throw new ProtocolError("bad_reply", `the member list of ${room} is malformed`);
    }
    const members: Member[] = [];
    for (const x of d.members.slice(0, 1000)) {
      if (
        typeof x?.name === "string" && NAME_PATTERN.test(x.name) &&
        typeof x.fingerprint === "string"
      ) {
        members.push({ name: x.name, fingerprint: x.fingerprint });
      }
    }
    const now = new Set(members.map((m) => m.fingerprint));
    if (st.roster?.some((m) => !now.has(m.fingerprint))) {
      st.chain = new SenderChain(this.#random); // someone left while we were away: rekey
      st.given = new Set();
    }
    st.roster = members;
    st.since = d.since;
    st.stale = false;
  }

  /** The checked keys of member `name` of `room`: served for the room, and equal to its pin. */
  async #memberKeys(room: string, name: string): Promise<PeerKeys | null> {
    const keys = (await this.#keys.get(`${room} ${name}`))?.keys ?? null;
    if (keys === null) return null;
    const pinned = this.#pins.lookup(this.#hp, keys.name);
    if (pinned !== undefined && pinned !== keys.fingerprint) return null;
    return keys;
  }

  /**
   * The checked keys of member `m` for giving it our key: looked up directly (a refusal as
   * `rate_limited` is reported as such, so the caller can wait), remembered for an hour.
   */
  async #keysToGive(room: string, m: Member): Promise<PeerKeys | null> {
    const k = `${room} ${nameKey(m.name)}`;
    const known = this.#giveKeys.get(k);
    let keys: PeerKeys;
    if (known !== undefined && this.#now() - known.at < GIVE_KEYS_KEEP_MS) keys = known.keys;
    else {
      const r = await this.#t.command("keys", [m.name, room], true);
      if (r.t === "error") {
        if (r.code === "rate_limited") throw new ProtocolError(r.code, r.message);
        return null;
      }
      try {
        keys = await checkPeerKeys(m.name, r.data);
      } catch {
        return null;
      }
      bounded(this.#giveKeys, k, { keys, at: this.#now() });
    }
    const pinned = this.#pins.lookup(this.#hp, keys.name);
    return pinned !== undefined && pinned !== keys.fingerprint ? null : keys;
  }

  /**
   * Gives member `m` the chain's key. The requests are automatic: when the automatic budget is
   * spent (`rate_limited`) it waits for it, 1 s doubling to 8 s, for at most
   * {@link GIVE_WAIT_MS} in all (a first line in a big room costs two requests per member).
   */
  async #give(room: string, chain: SenderChain, m: Member): Promise<void> {
    const deadline = this.#now() + GIVE_WAIT_MS;
    for (let wait = 1_000;; wait = Math.min(wait * 2, 8_000)) {
      try {
        return await this.#giveOnce(room, chain, m);
      } catch (e) {
        const limited = e instanceof ProtocolError && e.code === "rate_limited";
        if (!limited || this.#now() + wait > deadline) throw e;
        await this.#sleep(wait);
      }
    }
  }

  async #giveOnce(room: string, chain: SenderChain, m: Member): Promise<void> {
    const keys = await this.#keysToGive(room, m);
    if (keys === null || keys.fingerprint !== m.fingerprint) {
      const pinned = this.#pins.lookup(this.#hp, m.name);
      const why = pinned !== undefined && pinned !== m.fingerprint
        ? `${m.name}'s key has changed (pinned ${pinned}); check it, then /trust ${m.name}`
        : `cannot get ${m.name}'s key`;
      throw new ProtocolError("member_key", `not sent: ${why}`);
    }
    const st = chain.state();
    const id = newId(this.#random);
    const env = await sealKey({
      header: {
        v: 1,
        room,
        from: this.#t.name,
        from_fp: this.#id.fingerprint,
        to: keys.name,
        to_fp: keys.fingerprint,
        kid: st.kid,
        n: st.n,
        id,
      },
      ck: st.ck,
      kemPublic: keys.kemPub,
      sigPrivate: this.#id.sigPrivate,
    });
    st.ck.fill(0);
    const r = await this.#t.command("skey", [room, keys.name, id, toBase64(env)], true);
    if (r.t === "error") {
      if (r.code === "rate_limited") throw new ProtocolError(r.code, r.message);
      throw new ProtocolError(r.code, `not sent: the key for ${m.name} failed: ${r.message}`);
    }
  }

  /** Answers a member's request for our sender key of `room`, at most once a minute each. */
  async #answer(room: string, name: string): Promise<void> {
    const st = this.#rooms.get(room);
    if (st?.chain === undefined || !NAME_PATTERN.test(name)) return;
    const k = `${room} ${nameKey(name)}`;
    const last = this.#answered.get(k);
    if (last !== undefined && this.#now() - last < KEY_ANSWER_MS) return;
    bounded(this.#answered, k, this.#now());
    const keys = await this.#keysToGive(room, { name, fingerprint: "" });
    if (keys === null) return;
    const chain = st.chain;
    await this.#give(room, chain, { name: keys.name, fingerprint: keys.fingerprint });
    if (st.chain === chain) st.given.add(keys.fingerprint);
  }

  /** Asks `from` for its sender key of `room` again, within the bounds (automatic, no strike). */
  #request(room: string, from: string): void {
    const k = `${room} ${nameKey(from)}`;
    const now = this.#now();
    const a = this.#asked.get(k);
    if ((a !== undefined && now < a.until) || this.#asking >= KEYREQ_IN_FLIGHT) return;
    const wait = a === undefined ? KEYREQ_BASE_MS : Math.min(a.wait * 2, KEYREQ_MAX_MS);
    bounded(this.#asked, k, { until: now + wait, wait });
    this.#asking++;
    this.keyRequests++;
    this.#t.command("keyreq", [room, from], true).finally(() => this.#asking--);
  }

  /**
   * Opens a sealed line or takes a sender key, in arrival order. Resolves with the message to
   * show (`text` filled, `e2e` set; or `undecryptable` set and no text), or `null` for a key.
   */
  receive(m: MsgMessage): Promise<MsgMessage | null> {
    if (this.#queued >= RECEIVE_QUEUE_MAX) {
      return Promise.resolve(m.key !== undefined ? null : this.#failed(m, false, "queue_full"));
    }
    this.#queued++;
    const run = this.#receiving.then(() => this.#receive(m)).finally(() => this.#queued--);
    this.#receiving = run.catch(() => {});
    return run;
  }

  async #receive(m: MsgMessage): Promise<MsgMessage | null> {
    const relayed = { room: m.room, from: m.from, id: m.id };
    if (m.key !== undefined) {
      try {
        if (m.key.length > Math.ceil(ROOM_KEY_MAX / 3) * 4) throw new RangeError("too large");
        await this.#ring.addKey(fromBase64(m.key), {
          relayed,
          ownFp: this.#id.fingerprint,
          kemPrivate: this.#id.kemPrivate,
          senderKey: async (h) => {
            const keys = await this.#memberKeys(m.room, m.from);
            return keys !== null && keys.fingerprint === h.from_fp ? keys.sigPub : null;
          },
        });
      } catch {
        // A key that fails its checks is not stored; the lines under it will say so.
      }
      return null;
    }
    const sealed = m.sealed ?? "";
    const at = `${m.room} ${m.seq}`;
    const seen = m.replay === true ? this.#opened.get(at) : undefined;
    if (seen !== undefined) {
      // History of a line opened before: its key is gone (by design), its text is remembered.
      const shown: MsgMessage = { ...m, text: seen.text, e2e: true };
      delete shown.sealed;
      if (seen.me) shown.me = true;
      return shown;
    }
    try {
      if (sealed.length > Math.ceil(ROOM_LINE_MAX / 3) * 4) throw new RangeError("too large");
      const out = this.#ring.openLine(fromBase64(sealed), relayed);
      const shown: MsgMessage = { ...m, text: out.text, e2e: true };
      delete shown.sealed;
      bounded(this.#opened, at, { text: out.text, me: out.me }, OPENED_KEPT);
      if (out.me) shown.me = true;
      else delete shown.me;
      return shown;
    } catch (e) {
      const code = e instanceof ProtocolError ? e.code : "room_malformed";
      if (code === "room_before_join") return this.#failed(m, true, code);
      if (code === "room_unknown_key") {
        const st = this.#state(m.room);
        if (st.since === undefined) await this.#readRoster(m.room, st).catch(() => {});
        if (st.since !== undefined && m.seq <= st.since) return this.#failed(m, true, code);
        this.#request(m.room, m.from);
      }
      return this.#failed(m, false, code);
    }
  }

  #failed(m: MsgMessage, beforeJoin: boolean, refused: string): MsgMessage {
    const shown: MsgMessage = {
      ...m,
      text: "",
      refused,
      undecryptable: beforeJoin
        ? "sent before you joined"
        : `cannot decrypt message from ${m.from}`,
    };
    delete shown.sealed;
    delete shown.me;
    return shown;
  }
}
