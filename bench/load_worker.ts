/**
 * A load shard (bench/load_shard.ts) in a worker thread: {@linkcode WorkerShard} is its handle in
 * the main thread, and this module, started as a worker, serves it — each call posted as
 * `{ id, op, arg }` and answered `{ id, ok, value | error }`. The worker inherits the process's
 * permissions. Importing the module outside a worker does nothing.
 * @module
 */

import { LoadShard, type ShardConnected, type ShardPlan, type ShardResult } from "./load_shard.ts";

/** What a shard answers, by operation. */
interface Ops {
  connect: ShardConnected;
  giveKeys: number;
  run: ShardResult;
  close: Record<string, number>;
}

/** The main thread's handle of a shard running in its own worker thread. */
export class WorkerShard {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { ok: (v: unknown) => void; fail: (e: Error) => void }>();
  #next = 0;
  #failed: Error | undefined;

  /** Starts a worker running the shard `plan`. */
  constructor(plan: ShardPlan) {
    this.#worker = new Worker(new URL("./load_worker.ts", import.meta.url), { type: "module" });
    this.#worker.onmessage = (e: MessageEvent) => {
      const { id, ok, value, error } = e.data as {
        id: number;
        ok: boolean;
        value?: unknown;
        error?: string;
      };
      const p = this.#pending.get(id);
      this.#pending.delete(id);
      if (ok) p?.ok(value);
      else p?.fail(new Error(`bench worker: ${error}`));
    };
    this.#worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.#failed = new Error(`bench worker: ${e.message}`);
      for (const p of this.#pending.values()) p.fail(this.#failed);
      this.#pending.clear();
    };
    void this.#call("plan", plan).catch(() => {}); // a failure shows at the next call
  }

  #call<T>(op: string, arg?: unknown): Promise<T> {
    if (this.#failed !== undefined) return Promise.reject(this.#failed);
    const id = this.#next++;
    return new Promise<T>((ok, fail) => {
      this.#pending.set(id, { ok: ok as (v: unknown) => void, fail });
      this.#worker.postMessage({ id, op, arg });
    });
  }

  /** See {@linkcode LoadShard.connect}. */
  connect(): Promise<Ops["connect"]> {
    return this.#call("connect");
  }

  /** See {@linkcode LoadShard.giveKeys}. */
  giveKeys(): Promise<Ops["giveKeys"]> {
    return this.#call("giveKeys");
  }

  /** See {@linkcode LoadShard.run}. */
  run(t0: number): Promise<Ops["run"]> {
    return this.#call("run", t0);
  }

  /** See {@linkcode LoadShard.close}; then ends the worker. */
  async close(): Promise<Ops["close"]> {
    try {
      return await this.#call("close");
    } catch (e) {
      return { [`worker: ${e instanceof Error ? e.message : e}`]: 1 };
    } finally {
      this.#worker.terminate();
    }
  }
}

/** Serves one shard in this worker thread. */
function serve(scope: { onmessage: unknown; postMessage(m: unknown): void }): void {
  let shard: LoadShard | undefined;
  scope.onmessage = async (e: MessageEvent) => {
    const { id, op, arg } = e.data as { id: number; op: string; arg: unknown };
    try {
      let value: unknown;
      if (op === "plan") shard = new LoadShard(arg as ShardPlan);
      else if (shard === undefined) throw new Error("no plan");
      else if (op === "connect") value = await shard.connect();
      else if (op === "giveKeys") value = await shard.giveKeys();
      else if (op === "run") value = await shard.run(arg as number);
      else if (op === "close") value = await shard.close();
      else throw new Error(`unknown operation ${op}`);
      scope.postMessage({ id, ok: true, value });
    } catch (err) {
      scope.postMessage({ id, ok: false, error: err instanceof Error ? err.message : String(err) });
    }
  };
}

/** True in a worker thread (`WorkerGlobalScope`), false in the main thread. */
function inWorker(): boolean {
  const scope = (globalThis as { WorkerGlobalScope?: abstract new () => unknown })
    .WorkerGlobalScope;
  return scope !== undefined && globalThis instanceof scope;
}

if (inWorker()) serve(globalThis as unknown as Parameters<typeof serve>[0]);
