/**
 * A set of names kept in order as they come and go, so a listing reads its first page without
 * sorting everything again: adding and removing cost a binary search and one move of the array
 * tail, listing costs only what is read.
 * @module
 */

/** Names in code-unit order (the order of `Array.prototype.sort`), without duplicates. */
export class SortedNames implements Iterable<string> {
  readonly #names: string[] = [];

  /** Number of names. */
  get size(): number {
    return this.#names.length;
  }

  /** Adds `name`; no change when present. */
  add(name: string): void {
    const i = this.#find(name);
    if (this.#names[i] !== name) this.#names.splice(i, 0, name);
  }

  /** Removes `name`; false when it was not there. */
  delete(name: string): boolean {
    const i = this.#find(name);
    if (this.#names[i] !== name) return false;
    this.#names.splice(i, 1);
    return true;
  }

  /** True when `name` is present. */
  has(name: string): boolean {
    return this.#names[this.#find(name)] === name;
  }

  /** The names in order, from the first at or after `from` (all of them by default). */
  *from(from = ""): IterableIterator<string> {
    for (let i = this.#find(from); i < this.#names.length; i++) yield this.#names[i];
  }

  /** The names in order. */
  [Symbol.iterator](): Iterator<string> {
    return this.from();
  }

  /** Index of the first name not below `name`. */
  #find(name: string): number {
    let lo = 0;
    let hi = this.#names.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#names[mid] < name) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
