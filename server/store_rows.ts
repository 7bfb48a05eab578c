/**
 * Argument checks and row helpers shared by the parts of the server's database
 * (server/store.ts and the server/store_*.ts files it is made of).
 * @module
 */

/** A row as `node:sqlite` returns it. */
export type Row = Record<string, unknown>;

/** `value` when it is a string; TypeError naming `what` otherwise. */
export function str(value: unknown, what: string): string {
  if (typeof value !== "string") throw new TypeError(`${what} must be a string`);
  return value;
}

/** `value` when it is a finite number; TypeError naming `what` otherwise. */
export function num(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new TypeError(`${what} must be a finite number`);
  }
  return value;
}

/** `value` when it is a non-negative safe integer; TypeError or RangeError naming `what`. */
export function count(value: unknown, what: string): number {
  if (typeof value !== "number") throw new TypeError(`${what} must be a number`);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${what} must be a non-negative integer`);
  }
  return value;
}
