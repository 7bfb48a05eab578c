/**
 * `deno bench -A bench/store_bench.ts`: what the database costs the server per room message
 * (server/store_messages.ts) — a group commit of one message (a message that arrives alone) and of
 * 30 (a batch under load), on a database file in WAL mode, with random 16-character ids as
 * clients send them. Wall time per commit; divide by the batch size for a message.
 * @module
 */

import { Store } from "../server/store.ts";

const dir = Deno.makeTempDirSync({ prefix: "chat_store_bench_" });
const stores: Store[] = [];
globalThis.addEventListener("unload", () => {
  for (const s of stores) s.close();
  Deno.removeSync(dir, { recursive: true });
});

const FP = "SHA256:" + "a".repeat(43);
const TEXT = "x".repeat(100);
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const id = () => {
  const b = crypto.getRandomValues(new Uint8Array(16));
  let s = "";
  for (const x of b) s += ALPHABET[x & 63];
  return s;
};

for (const batch of [1, 30]) {
  const commits: (() => void)[] = [];
  const store = Store.open(`${dir}/b${batch}.db`, { schedule: (c) => commits.push(c) });
  const done = () => {};
  Deno.bench(`${batch} message(s) per commit`, { group: "group commit" }, () => {
    for (let i = 0; i < batch; i++) {
      store.append({
        room: "#bench",
        ts: Date.now(),
        from: "bench0001",
        text: TEXT,
        me: false,
        id: id(),
        senderFp: FP,
      }, done);
    }
    commits.shift()!();
  });
  stores.push(store);
}
