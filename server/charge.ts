/**
 * What a connection's requests cost (docs/protocol.md §5 "Charging"). Pure accounting, driven by
 * an injected clock: two token buckets (the user's messages and the client's automatic requests),
 * the paste rule, answers paid by their size, and the strikes that end a flooding connection.
 *
 * - The `say` lines of one record share one token, up to `pasteLines` of them (a paste is one
 *   message); every other request (`dm`, `cmd`) takes a token of its own.
 * - A `cmd` marked `auto` whose command only reads ({@linkcode AUTO_COMMANDS}), and every
 *   `dm_ack`, is charged to the automatic bucket instead; running that bucket dry refuses the request but is never a strike.
 * - The token of a request also pays for the first token's worth of its answer. Larger answers
 *   (history, resume and join replay rows; list rows) take more tokens before the work is done,
 *   from the same bucket, and are cut to what the bucket holds.
 * @module
 */

import { type Limits, TokenBucket } from "../shared/limits.ts";

/** The limits charging reads. */
export type ChargeLimits = Pick<
  Limits,
  | "rateBurst"
  | "ratePerSecond"
  | "rateStrikes"
  | "pasteLines"
  | "autoBurst"
  | "autoPerSecond"
  | "replayRowsPerToken"
  | "listRowsPerToken"
>;

/**
 * Commands a client may send on its own (`auto: true`): they only read, or (`skey`, `keyreq`)
 * carry a private room's keys, which the client sends without its user asking.
 */
export const AUTO_COMMANDS: ReadonlySet<string> = new Set([
  "help",
  "service",
  "who",
  "whois",
  "rooms",
  "history",
  "keys",
  "members",
  "skey",
  "keyreq",
]);

/** Rows an answer is made of: replayed messages, or entries of a list answer. */
export type AnswerKind = "replay" | "list";

/**
 * The outcome of charging a request: `ok` (run it); `limited` (refused, one strike); `flooding`
 * (refused, and the strikes of the last minute reached `rateStrikes`: close the connection);
 * `auto_limited` (an automatic request refused, no strike).
 */
export type Verdict = "ok" | "limited" | "flooding" | "auto_limited";

/** The request fields charging looks at. */
export interface Chargeable {
  /** Message type. */
  t: "say" | "dm" | "dm_ack" | "cmd";
  /** Command name (`cmd`). */
  name?: string;
  /** Sent by the client on its own (`cmd`). */
  auto?: boolean;
}

/** Window in which strikes add up. */
const STRIKE_WINDOW_MS = 60_000;

/** The charges of one connection. */
export class Charges {
  readonly #l: ChargeLimits;
  readonly #now: () => number;
  // The buckets are made on first use: a bucket nobody took from is full, whenever it is made,
  // so making it late charges exactly as making it with the connection (idle connections are
  // many, and most never ping or run an automatic request of their own).
  #messages: TokenBucket | undefined = undefined;
  #auto: TokenBucket | undefined = undefined;
  #pings: TokenBucket | undefined = undefined;
  #paste = 0;
  #strikes: number[] | undefined = undefined;
  /** Whether answers of the current request are paid from the message bucket (else automatic). */
  #currentMessages = false;
  /** Tokens of the current request that still pay for its answer. */
  #credit = 0;

  /** Full buckets for a new connection (`RangeError` for a non-positive rate or burst). */
  constructor(limits: ChargeLimits, now: () => number) {
    if (!(limits.replayRowsPerToken > 0) || !(limits.listRowsPerToken > 0)) {
      throw new RangeError("rows per token must be positive");
    }
    // The buckets' own checks, before any is made.
    if (!(limits.rateBurst > 0) || !(limits.ratePerSecond > 0)) {
      throw new RangeError("burst and rate must be positive");
    }
    if (!(limits.autoBurst > 0) || !(limits.autoPerSecond > 0)) {
      throw new RangeError("burst and rate must be positive");
    }
    this.#l = limits;
    this.#now = now;
  }

  #messageBucket(): TokenBucket {
    return this.#messages ??= new TokenBucket(this.#l.rateBurst, this.#l.ratePerSecond, this.#now);
  }

  #autoBucket(): TokenBucket {
    return this.#auto ??= new TokenBucket(this.#l.autoBurst, this.#l.autoPerSecond, this.#now);
  }

  #current(): TokenBucket {
    return this.#currentMessages ? this.#messageBucket() : this.#autoBucket();
  }

  /**
   * Uses `bucket` as the automatic bucket: the server shares one among the connections of an
   * address, so reconnecting does not refill it.
   */
  shareAutomatic(bucket: TokenBucket): void {
    this.#auto = bucket;
  }

  /** A new record starts: its `say` lines share a token again. */
  record(): void {
    this.#paste = 0;
  }

  /** True when a `ping` may be answered. */
  ping(): boolean {
    // Pings have a bucket of their own: a record full of pings cannot ask for many answers.
    this.#pings ??= new TokenBucket(this.#l.rateBurst, this.#l.ratePerSecond, this.#now);
    return this.#pings.take();
  }

  /**
   * What follows is done for the client on its own (the replay after `auth`): its answers are
   * paid from the automatic bucket, with no request token to start from.
   */
  automatic(): void {
    this.#currentMessages = false;
    this.#credit = 0;
  }

  /** Charges one request before it runs. */
  request(msg: Chargeable): Verdict {
    const auto = msg.t === "dm_ack" ||
      (msg.t === "cmd" && msg.auto === true && AUTO_COMMANDS.has(msg.name ?? ""));
    if (auto) {
      this.#currentMessages = false;
      this.#credit = 0;
      if (!this.#autoBucket().take()) return "auto_limited";
      this.#credit = 1;
      return "ok";
    }
    this.#currentMessages = true;
    this.#credit = 0;
    if (msg.t === "say" && this.#paste > 0) {
      this.#paste--;
      return "ok";
    }
    if (!this.#messageBucket().take()) return this.#strike();
    if (msg.t === "say") this.#paste = this.#l.pasteLines - 1;
    else this.#credit = 1;
    return "ok";
  }

  /**
   * How many of `wanted` rows of an answer the current request may have: the rest of its own
   * token first, then tokens taken now from its bucket. Fewer than `wanted` means the answer is
   * cut; the rows granted are paid for.
   */
  rows(kind: AnswerKind, wanted: number): number {
    if (!(wanted > 0)) return 0;
    const per = kind === "replay" ? this.#l.replayRowsPerToken : this.#l.listRowsPerToken;
    const fromCredit = Math.min(wanted, Math.floor(this.#credit * per + 1e-9));
    this.#credit = Math.max(0, this.#credit - fromCredit / per);
    const rest = wanted - fromCredit;
    if (rest === 0) return wanted;
    const bucket = this.#current();
    const more = Math.min(rest, Math.floor(bucket.tokens * per + 1e-9));
    if (more > 0) bucket.takeUpTo(more / per);
    return fromCredit + more;
  }

  #strike(): Verdict {
    const now = this.#now();
    const strikes = this.#strikes ??= [];
    strikes.push(now);
    while (strikes.length > 0 && now - strikes[0] > STRIKE_WINDOW_MS) strikes.shift();
    return strikes.length >= this.#l.rateStrikes ? "flooding" : "limited";
  }
}
