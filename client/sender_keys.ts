/**
 * The keys of the senders of incoming private messages, looked up on the client's own initiative
 * and bounded so that no stream of messages can make the client send a stream of requests: checked
 * keys are remembered (bounded, for an hour), a failed lookup is remembered with a backoff, one
 * lookup per sender is in flight at a time, and a fixed number of lookups in all, with a bounded
 * number of senders waiting for their turn.
 * @module
 */

import { nameKey } from "../shared/names.ts";

/** The bounds of {@link SenderKeys}. */
export interface SenderKeyLimits {
  /** Lookups in flight at once (default 2). */
  inFlight: number;
  /** Senders waiting for a free lookup; more are refused at once (default 32). */
  waiting: number;
  /** Senders whose keys are remembered (default 1 000; the least recently used goes first). */
  remembered: number;
  /** How long checked keys are remembered, ms (default one hour). */
  keepMs: number;
  /** Senders whose failed lookup is remembered (default 1 000; the oldest goes first). */
  failures: number;
  /** The wait after a first failure, ms (default 30 s); it doubles with each further failure. */
  failBaseMs: number;
  /** The longest wait after failures, ms (default 15 min). */
  failMaxMs: number;
  /** The wait after a failure that says nothing about the sender (e.g. rate_limited), ms (2 s). */
  transientMs: number;
}

/** The default bounds. */
export const SENDER_KEY_LIMITS: Readonly<SenderKeyLimits> = Object.freeze({
  inFlight: 2,
  waiting: 32,
  remembered: 1_000,
  keepMs: 60 * 60 * 1000,
  failures: 1_000,
  failBaseMs: 30_000,
  failMaxMs: 15 * 60 * 1000,
  transientMs: 2_000,
});

interface Failure {
  /** No lookup before this time. */
  until: number;
  /** The sender's current backoff (0: none yet). */
  wait: number;
}

/** Bounded, deduplicated lookups of senders' keys (`K`: checked keys, with the name served). */
export class SenderKeys<K extends { name: string }> {
  readonly #fetch: (name: string) => Promise<K>;
  readonly #transient: (e: unknown) => boolean;
  readonly #now: () => number;
  readonly #l: SenderKeyLimits;
  readonly #known = new Map<string, { keys: K; at: number }>();
  readonly #failed = new Map<string, Failure>();
  readonly #pending = new Map<string, Promise<K | null>>();
  readonly #queue: (() => void)[] = [];
  #active = 0;
  /** Lookups started, for tests and diagnostics. */
  lookups = 0;

  /**
   * Looks keys up with `fetch` (which checks them), within `limits`. A failure for which
   * `transient` is true (the client's own budget or connection, not the sender) waits only
   * `transientMs` and does not lengthen the sender's backoff.
   */
  constructor(
    fetch: (name: string) => Promise<K>,
    opts: {
      now?: () => number;
      limits?: Partial<SenderKeyLimits>;
      transient?: (e: unknown) => boolean;
    } = {},
  ) {
    this.#fetch = fetch;
    this.#transient = opts.transient ?? (() => false);
    this.#now = opts.now ?? Date.now;
    this.#l = { ...SENDER_KEY_LIMITS, ...opts.limits };
  }

  /**
   * The checked keys of `name`: remembered ones, or the result of one lookup shared by every
   * caller asking meanwhile. `null`, without a lookup, while an earlier failure's wait runs or
   * when too many senders are waiting already; `null` too when the lookup fails.
   */
  get(name: string): Promise<K | null> {
    const key = nameKey(name);
    const now = this.#now();
    const known = this.#known.get(key);
    if (known !== undefined && now - known.at < this.#l.keepMs) {
      this.#known.delete(key); // most recently used last
      this.#known.set(key, known);
      return Promise.resolve(known.keys);
    }
    const pending = this.#pending.get(key);
    if (pending !== undefined) return pending;
    const failed = this.#failed.get(key);
    if (failed !== undefined && now < failed.until) return Promise.resolve(null);
    if (this.#active >= this.#l.inFlight && this.#queue.length >= this.#l.waiting) {
      return Promise.resolve(null);
    }
    const p = this.#lookup(name, key).finally(() => this.#pending.delete(key));
    this.#pending.set(key, p);
    return p;
  }

  /** Remembers keys the user's own action fetched (e.g. `/msg`), and clears a failure. */
  remember(keys: K): void {
    const key = nameKey(keys.name);
    this.#failed.delete(key);
    this.#known.delete(key);
    this.#known.set(key, { keys, at: this.#now() });
    while (this.#known.size > this.#l.remembered) {
      this.#known.delete(this.#known.keys().next().value!);
    }
  }

  async #lookup(name: string, key: string): Promise<K | null> {
    if (this.#active < this.#l.inFlight) this.#active++;
    else await new Promise<void>((resolve) => this.#queue.push(resolve)); // handed a slot
    this.lookups++;
    try {
      const keys = await this.#fetch(name);
      this.remember(keys);
      return keys;
    } catch (e) {
      this.#fail(key, this.#transient(e));
      return null;
    } finally {
      const next = this.#queue.shift();
      if (next !== undefined) next(); // the slot passes on
      else this.#active--;
    }
  }

  #fail(key: string, transient: boolean): void {
    const last = this.#failed.get(key)?.wait ?? 0;
    const wait = transient
      ? last
      : last === 0
      ? this.#l.failBaseMs
      : Math.min(last * 2, this.#l.failMaxMs);
    const until = this.#now() + (transient ? this.#l.transientMs : wait);
    this.#failed.delete(key);
    this.#failed.set(key, { until, wait });
    this.#trim();
  }

  #trim(): void {
    while (this.#failed.size > this.#l.failures) {
      this.#failed.delete(this.#failed.keys().next().value!);
    }
  }
}
