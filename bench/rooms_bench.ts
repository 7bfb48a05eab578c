/**
 * `deno bench`: one `/rooms` and one `/who` answer with 6,400 live rooms (200 users in 32 rooms
 * each), through the hub as a connection asks them. A list answer reads only its page, so these
 * stay flat however many rooms there are.
 * @module
 */

import { DEFAULT_LIMITS } from "../shared/limits.ts";
import { Blacklist } from "../shared/names.ts";
import { newId } from "../shared/messages.ts";
import { Hub, type Peer } from "../server/hub.ts";
import { Store } from "../server/store.ts";

const USERS = 200;
const ROOMS_EACH = 32;

const store = Store.open(":memory:", { schedule: (commit) => commit() });
const hub = new Hub({
  store,
  limits: { ...DEFAULT_LIMITS, roomsPerDay: 1_000_000 },
  now: Date.now,
  serverName: "bench",
  version: "0",
  motd: () => "",
  hostFingerprint: "SHA256:" + "H".repeat(43),
  admins: new Set(),
  blacklist: () => Blacklist.empty(),
  startedAt: Date.now(),
  connectionCount: () => USERS,
});

let answerBytes = 0;
function peer(id: number): Peer {
  return {
    id,
    ip: "192.0.2.1",
    fingerprint: "SHA256:" + String(id).padStart(43, "0"),
    sigPub: "x",
    send: (line) => answerBytes += line.length,
    replay: () => {},
    close: () => {},
    grant: (_kind, rows) => rows,
  };
}

for (let u = 0; u < USERS; u++) {
  const rooms = Array.from({ length: ROOMS_EACH }, (_, i) => `#room-${u}-${i}`);
  const r = hub.authenticate(peer(u + 1), {
    t: "auth",
    name: `user${u}`,
    sig_pub: "x",
    proof: "p",
    client: "bench",
    rooms,
  });
  if (r !== "ok") throw new Error(`user${u} could not log in`);
}

Deno.bench(`/rooms with ${USERS * ROOMS_EACH} live rooms`, { group: "lists" }, () => {
  hub.handle(1, { t: "cmd", id: newId(), name: "rooms", args: [] });
});

Deno.bench(`/who with ${USERS} users online`, { group: "lists" }, () => {
  hub.handle(1, { t: "cmd", id: newId(), name: "who", args: [] });
});

globalThis.addEventListener("unload", () => store.close());
