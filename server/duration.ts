/**
 * Durations as operators type them (`30s`, `10m`, `2h`, `7d`) and as the server prints them.
 * @module
 */

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses a duration like `30s`, `10m`, `2h`, `7d` into milliseconds; undefined otherwise. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d{1,6})([smhd])$/.exec(text);
  if (m === null || Number(m[1]) === 0) return undefined;
  return Number(m[1]) * UNIT_MS[m[2]];
}

/** `1d 2h 3m 4s`-style text for a duration in milliseconds (largest two units). */
export function formatDuration(ms: number): string {
  let s = Math.max(0, Math.floor(ms / 1000));
  const parts: string[] = [];
  for (const [unit, size] of [["d", 86_400], ["h", 3600], ["m", 60], ["s", 1]] as const) {
    if (s >= size || (unit === "s" && parts.length === 0)) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  return parts.slice(0, 2).join(" ");
}
