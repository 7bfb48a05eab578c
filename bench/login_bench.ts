/**
 * `deno bench`: the hub's part of a login and logout — `auth` of a returning identity with a DM
 * key into a room of 0 or 1,000 members (name lookup, quota, key record, welcome, join with
 * history, the `login` and `logout` notices through the logger and the console's line format,
 * written to /dev/null), then the disconnect — over a real store in a temporary directory (WAL,
 * as the server runs it). The handshake's cryptography is in bench/handshake_bench.ts.
 * @module
 */

import { DEFAULT_LIMITS } from "../shared/limits.ts";
import { Blacklist } from "../shared/names.ts";
import type { AuthMessage } from "../shared/messages.ts";
import { Hub, type Peer } from "../server/hub.ts";
import { Store } from "../server/store.ts";
import { configure, getLogger } from "@logtape/logtape";
import { lineSink, noticeLog } from "../server/log_sink.ts";
import { ConsoleScreen, syncWriter } from "../server/console_screen.ts";

// The server's console: notices formatted as lines and written out (here to /dev/null).
const devNull = Deno.openSync("/dev/null", { write: true });
const screen = new ConsoleScreen({
  out: syncWriter(devNull),
  err: syncWriter(devNull),
  interactive: false,
});
await configure({
  reset: true,
  sinks: { screen: lineSink((l) => screen.notice(l)) },
  loggers: [
    { category: ["chat"], lowestLevel: "info", sinks: ["screen"] },
    { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["screen"] },
  ],
});

const dir = Deno.makeTempDirSync();
const store = Store.open(`${dir}/chat.db`, { schedule: (commit) => commit() });
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
  connectionCount: () => 1,
  log: noticeLog(getLogger(["chat", "server"])),
});

let nextId = 1;
function peer(n: number): Peer {
  return {
    id: nextId++,
    ip: "192.0.2.1",
    fingerprint: "SHA256:" + String(n).padStart(43, "0"),
    sigPub: "s".repeat(44),
    kemPub: "k".repeat(560),
    kemSig: "g".repeat(88),
    send: () => {},
    replay: (source) => {
      while (source.next(64).length > 0);
    },
    grant: (_, rows) => rows,
    close: () => {},
  };
}

function login(n: number, room: string): number {
  const p = peer(n);
  const auth: AuthMessage = {
    t: "auth",
    name: `bench${n}`,
    sig_pub: p.sigPub,
    proof: "",
    client: "bench/0",
    rooms: [room],
  };
  if (hub.authenticate(p, auth) !== "ok") throw new Error("login refused");
  return p.id;
}

// 1,000 members in #big; the benched identity has logged in before (its name is claimed).
for (let i = 1; i <= 1000; i++) login(i, "#big");
hub.disconnect(login(0, "#empty"), "quit");

Deno.bench("login + logout, returning identity, empty room", { group: "login" }, () => {
  hub.disconnect(login(0, "#empty"), "quit");
});

Deno.bench("login + logout, returning identity, room of 1,000", { group: "login" }, () => {
  hub.disconnect(login(0, "#big"), "quit");
});

globalThis.addEventListener("unload", () => {
  store.close();
  devNull.close();
  Deno.removeSync(dir, { recursive: true });
});
