/**
 * Default limits (DESIGN.md §4) and the token bucket used for rate limiting.
 * @module
 */

/** Every configurable limit, in bytes, counts or milliseconds. */
export interface Limits {
  /** Largest handshake frame body. */
  handshakeFrame: number;
  /** Largest record body (plaintext + 16-byte tag). */
  recordFrame: number;
  /** Largest plaintext carried in one record. */
  recordPlaintext: number;
  /** Largest chat text in UTF-8 bytes. */
  textBytes: number;
  /** Largest DM envelope in bytes (decoded). */
  envelopeBytes: number;
  /** Accept → welcome deadline. */
  handshakeMs: number;
  /** Silence before the server pings. */
  idlePingMs: number;
  /** Silence before the server closes. */
  idleCloseMs: number;
  /** A write that does not finish within this closes the connection. */
  stalledWriteMs: number;
  /** Total connections. */
  maxConnections: number;
  /** Connections not yet authenticated. */
  maxUnauthenticated: number;
  /** Concurrent connections per IP. */
  perIpConcurrent: number;
  /** New connections per IP per window. */
  perIpNew: number;
  /** The window for `perIpNew`. */
  perIpWindowMs: number;
  /** Token bucket burst. */
  rateBurst: number;
  /** Token bucket refill per second. */
  ratePerSecond: number;
  /** Rejections within a minute that disconnect the sender. */
  rateStrikes: number;
  /** `say` lines in one record that share one token (a pasted block of lines is one message). */
  pasteLines: number;
  /** Burst of the bucket for requests a client makes on its own (lookups, resume, join replay). */
  autoBurst: number;
  /** Refill per second of that bucket. */
  autoPerSecond: number;
  /** Replayed messages (history, resume, join replay) one token pays for. */
  replayRowsPerToken: number;
  /** Rows of a list answer (`/who`, `/rooms`, `/bans`) one token pays for. */
  listRowsPerToken: number;
  /** Send queue bytes per client. */
  sendQueueBytes: number;
  /** Send queue events per client. */
  sendQueueEvents: number;
  /** Messages replayed on join. */
  historyOnJoin: number;
  /** Messages kept per room. */
  historyKept: number;
  /** Messages kept in all rooms together (bounds the database). */
  historyTotal: number;
  /**
   * Group commit window, 0…1000 ms: under load (the previous commit less than this long ago)
   * the messages of this long share one transaction and their records; 0: one per event-loop turn.
   */
  commitWindowMs: number;
  /** Largest `/history N`. */
  historyMax: number;
  /** Most messages replayed per room on resume. */
  resumeMax: number;
  /** Auth attempts on one connection. */
  authAttempts: number;
  /** Names one identity may own (with name expiry, this bounds the registry). */
  namesPerIdentity: number;
  /**
   * Members above which a room is quiet: its joins, leaves, away and back go only to the user
   * they are about (announcing them to everyone costs O(members²) as a big room fills).
   */
  quietRoomMembers: number;
  /** Rooms one identity may create per day (UTC): joining a room that does not exist yet. */
  roomsPerDay: number;
  /** Topics one identity may set per day (UTC). */
  topicsPerDay: number;
  /** Days after which a name nobody logged in with (or switched to) is released. */
  nameExpiryDays: number;
  /** Days after which a room with no members and no history (only a topic) is removed. */
  roomExpiryDays: number;
  /** Largest database file in bytes; beyond it writes fail with `storage_full`. */
  dbBytes: number;
  /** Private messages kept for one offline recipient. */
  dmQueuePerRecipient: number;
  /** Private messages one sender may have waiting for one offline recipient. */
  dmQueuePerSender: number;
  /** Private messages kept for offline recipients on the whole server. */
  dmQueueTotal: number;
  /** Days a queued private message waits before it is dropped (its sender told, if online). */
  dmQueueDays: number;
  /** 1: room records are chosen for clients that offer them (docs/protocol.md §3); 0: never. */
  roomRecords: number;
}

/** The defaults of DESIGN.md §4. */
export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  handshakeFrame: 4096,
  recordFrame: 16_400,
  recordPlaintext: 16_384,
  textBytes: 2048,
  envelopeBytes: 8192,
  handshakeMs: 10_000,
  idlePingMs: 60_000,
  idleCloseMs: 120_000,
  stalledWriteMs: 30_000,
  maxConnections: 1024,
  maxUnauthenticated: 64,
  perIpConcurrent: 16,
  perIpNew: 60,
  perIpWindowMs: 600_000,
  rateBurst: 10,
  ratePerSecond: 2,
  rateStrikes: 30,
  pasteLines: 20,
  autoBurst: 64,
  autoPerSecond: 2,
  replayRowsPerToken: 25,
  listRowsPerToken: 100,
  sendQueueBytes: 256 * 1024,
  sendQueueEvents: 2000,
  historyOnJoin: 50,
  historyKept: 10_000,
  historyTotal: 500_000,
  commitWindowMs: 10,
  historyMax: 500,
  resumeMax: 1000,
  authAttempts: 5,
  namesPerIdentity: 5,
  quietRoomMembers: 200,
  roomsPerDay: 20,
  topicsPerDay: 50,
  nameExpiryDays: 90,
  roomExpiryDays: 7,
  dbBytes: 2 * 1024 * 1024 * 1024,
  dmQueuePerRecipient: 500,
  dmQueuePerSender: 50,
  dmQueueTotal: 100_000,
  dmQueueDays: 30,
  roomRecords: 1,
});

/** Smallest record body: the 16-byte tag plus one byte of plaintext. */
export const MIN_RECORD_FRAME = 17;

/** A token bucket driven by an injected clock (milliseconds). */
export class TokenBucket {
  #tokens: number;
  #last: number;
  readonly #burst: number;
  readonly #perMs: number;
  readonly #now: () => number;

  /** A full bucket of `burst` tokens refilling at `perSecond`. */
  constructor(burst: number, perSecond: number, now: () => number = Date.now) {
    if (!(burst > 0) || !(perSecond > 0)) throw new RangeError("burst and rate must be positive");
    this.#burst = burst;
    this.#perMs = perSecond / 1000;
    this.#now = now;
    this.#tokens = burst;
    this.#last = now();
  }

  /** Tokens in the bucket now (fractional). */
  get tokens(): number {
    this.#refill();
    return this.#tokens;
  }

  /** Takes `n` tokens (default one); false, taking nothing, when fewer are left. */
  take(n = 1): boolean {
    this.#refill();
    if (this.#tokens < n) return false;
    this.#tokens -= n;
    return true;
  }

  /** Takes up to `n` tokens (fractions too) and returns how many were taken. */
  takeUpTo(n: number): number {
    this.#refill();
    const got = Math.max(0, Math.min(n, this.#tokens));
    this.#tokens -= got;
    return got;
  }

  #refill(): void {
    const t = this.#now();
    this.#tokens = Math.min(this.#burst, this.#tokens + Math.max(0, t - this.#last) * this.#perMs);
    this.#last = t;
  }
}
