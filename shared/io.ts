/**
 * Small helpers over a writer or a promise passed in: complete writes and deadlines.
 * @module
 */

/** Anything with a `write` that may write only part of what it is given (sockets, files). */
export interface PartialWriter {
  /** Writes some of `p`; resolves with how many bytes. */
  write(p: Uint8Array): Promise<number>;
}

/** Writes all of `data`, however many calls that takes. */
export async function writeAll(w: PartialWriter, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await w.write(off === 0 ? data : data.subarray(off));
}

/** `p`, or a rejection with `error()` after `ms`; the timer is always cleared. */
export function withDeadline<T>(p: Promise<T>, ms: number, error: () => Error): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(error()), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
