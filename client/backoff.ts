/**
 * Reconnection delays (DESIGN.md §1 Reconnection): 0.5 s doubling to a 30 s cap, each with ±20%
 * jitter so that clients dropped together do not reconnect together. Pure; the random source is
 * passed in.
 * @module
 */

/** First delay in milliseconds. */
export const BACKOFF_BASE_MS = 500;
/** Largest delay in milliseconds, jitter included. */
export const BACKOFF_CAP_MS = 30_000;
/** Relative jitter: a delay is scaled by a factor in [1 − JITTER, 1 + JITTER). */
export const BACKOFF_JITTER = 0.2;

/**
 * The delay in milliseconds before reconnection attempt `attempt` (0 for the first):
 * min(500 · 2^attempt, 30 000) scaled by 1 + 0.2 · (2 · random() − 1), then capped at 30 000.
 * @throws {RangeError} when `attempt` is not a non-negative integer or `random()` is outside [0, 1).
 */
export function nextDelay(attempt: number, random: () => number): number {
  if (!Number.isSafeInteger(attempt) || attempt < 0) {
    throw new RangeError("attempt must be a non-negative integer");
  }
  const r = random();
  if (!(r >= 0 && r < 1)) throw new RangeError("random() must return a number in [0, 1)");
  const base = attempt >= 16
    ? BACKOFF_CAP_MS
    : Math.min(BACKOFF_BASE_MS * 2 ** attempt, BACKOFF_CAP_MS);
  const factor = 1 + BACKOFF_JITTER * (2 * r - 1);
  return Math.min(Math.round(base * factor), BACKOFF_CAP_MS);
}

/** Bye reasons after which the client does not reconnect. */
export const NO_RECONNECT: ReadonlySet<string> = new Set([
  "replaced",
  "kicked",
  "banned",
  "refused",
  "bad_auth",
]);

/** A session that lasted this long ends a run of flooding disconnects. */
export const FLOOD_STREAK_MS = 60_000;

/**
 * After a flooding disconnect: the new count of flooding disconnects in a row (`floods` before,
 * a session of `sessionMs`), and the reconnection attempt to start at, later each time it
 * happens again soon (at most attempt 8).
 */
export function afterFlood(floods: number, sessionMs: number): { floods: number; first: number } {
  const n = sessionMs < FLOOD_STREAK_MS ? floods + 1 : 1;
  return { floods: n, first: Math.min(n + 1, 8) };
}
