/**
 * A JetStream key-value bucket mirrored in memory: read synchronously by the hub, kept current
 * by a watch (every node sees every change within milliseconds), written through to the bucket.
 * Keys are any text (stored hex-encoded); values are JSON, checked by a decoder.
 * @module
 */

import type { KV, Kvm } from "@nats-io/kv";
import { fromKvKey, kvKey } from "./subjects.ts";

/** Turns a stored JSON value into a `T`, or undefined when malformed (then it is ignored). */
export type Decode<T> = (value: unknown) => T | undefined;

/** A bucket and its in-memory copy. */
export class KvReplica<T> {
  /**
   * Told of every change (`value` undefined: deleted); `local` when made through this replica,
   * false when seen from another node.
   */
  onChange: (key: string, value: T | undefined, local: boolean) => void = () => {};
  readonly #kv: KV;
  readonly #decode: Decode<T>;
  readonly #map = new Map<string, T>();
  readonly #stop: () => void;
  readonly #unsure = new Set<string>(); // keys whose write through failed

  private constructor(kv: KV, decode: Decode<T>, stop: () => void) {
    this.#kv = kv;
    this.#decode = decode;
    this.#stop = stop;
  }

  /**
   * Opens (creating if needed) `bucket` and loads it; resolves once every value stored before
   * the call is in memory, or rejects after `timeoutMs`.
   */
  static async open<T>(
    kvm: Kvm,
    bucket: string,
    decode: Decode<T>,
    timeoutMs: number,
  ): Promise<KvReplica<T>> {
    const kv = await kvm.create(bucket, { history: 1 });
    const status = await kv.status();
    const upTo = status.streamInfo.state.last_seq;
    const w = await kv.watch();
    const r = new KvReplica<T>(kv, decode, () => w.stop());
    let loaded: () => void = () => {};
    const ready = new Promise<void>((res) => loaded = res);
    if (upTo === 0) loaded();
    (async () => {
      for await (const e of w) {
        const key = fromKvKey(e.key);
        if (key !== undefined) {
          let value: T | undefined;
          if (e.operation === "PUT") {
            try {
              value = decode(JSON.parse(new TextDecoder().decode(e.value)));
            } catch {
              value = undefined;
            }
          }
          r.#apply(key, value, false);
        }
        if (e.revision >= upTo) loaded();
      }
    })().catch(() => {});
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        ready,
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`loading ${bucket} timed out`)), timeoutMs);
        }),
      ]);
    } catch (e) {
      w.stop();
      throw e;
    } finally {
      clearTimeout(timer);
    }
    return r;
  }

  /** Stops watching. */
  close(): void {
    this.#stop();
  }

  /** The value of `key`, if any. */
  get(key: string): T | undefined {
    return this.#map.get(key);
  }

  /** Every key and value. */
  entries(): IterableIterator<[string, T]> {
    return this.#map.entries();
  }

  /** Number of keys. */
  get size(): number {
    return this.#map.size;
  }

  /**
   * Sets `key` here at once and in the bucket; resolves when the bucket stored it. When that
   * fails, {@linkcode refresh} reads the key back.
   */
  put(key: string, value: T): Promise<void> {
    this.#apply(key, value, true);
    return this.#unsureOn(key, this.#kv.put(kvKey(key), JSON.stringify(value)).then(() => {}));
  }

  /** Deletes `key` here at once and in the bucket (see {@linkcode put}). */
  delete(key: string): Promise<void> {
    this.#apply(key, undefined, true);
    return this.#unsureOn(key, this.#kv.delete(kvKey(key)));
  }

  /** Reads back from the bucket the keys whose write through failed. */
  async refresh(): Promise<void> {
    for (const key of [...this.#unsure]) {
      const e = await this.#kv.get(kvKey(key));
      this.#unsure.delete(key);
      let value: T | undefined;
      if (e !== null && e.operation === "PUT") {
        try {
          value = this.#decode(JSON.parse(new TextDecoder().decode(e.value)));
        } catch {
          value = undefined;
        }
      }
      this.#apply(key, value, false);
    }
  }

  #unsureOn(key: string, p: Promise<void>): Promise<void> {
    return p.catch((e) => {
      if (this.#unsure.size < 10_000) this.#unsure.add(key);
      throw e;
    });
  }

  /**
   * Creates `key` with `value` only if it has no value anywhere in the cluster (one winner in a
   * race); true when this call created it. Either way the winner's value is here afterwards.
   * Throws when the bucket cannot be reached.
   */
  async create(key: string, value: T): Promise<boolean> {
    try {
      await this.#kv.create(kvKey(key), JSON.stringify(value));
      this.#apply(key, value, true);
      return true;
    } catch (e) {
      if (!/wrong last sequence/i.test(String(e))) throw e;
    }
    const e = await this.#kv.get(kvKey(key));
    if (e !== null && e.operation === "PUT") {
      try {
        this.#apply(key, this.#decode(JSON.parse(new TextDecoder().decode(e.value))), false);
      } catch {
        // malformed: ignored, as by the watch
      }
    }
    return false;
  }

  #apply(key: string, value: T | undefined, local: boolean): void {
    const before = this.#map.get(key);
    if (value === undefined) {
      if (!this.#map.delete(key)) return;
    } else {
      if (before !== undefined && JSON.stringify(before) === JSON.stringify(value)) return;
      this.#map.set(key, value);
    }
    this.onChange(key, value, local);
  }
}
