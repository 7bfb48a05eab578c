/**
 * Test support for the command table: a hub with an operator, peers in it, and running a
 * command as a peer.
 * @module
 */

import assert from "node:assert/strict";
import { FakePeer, type Json } from "./fake_peer.ts";
import { fp, mid, peerId } from "./hub_world.ts";
import { DEFAULT_LIMITS } from "../../shared/limits.ts";
import type { AuthMessage } from "../../shared/messages.ts";
import { Blacklist } from "../../shared/names.ts";
import { Hub, type HubOptions } from "../../server/hub.ts";
import { Store } from "../../server/store.ts";

/** The identity character of the server's `--admin` (`fp(OP)`). */
export const OP = "A";

/** A hub over an in-memory store, its clock and its MOTD (which a test may change). */
export interface World {
  hub: Hub;
  store: Store;
  clock: { t: number };
  motd: { text: string };
}

/**
 * A hub named "testnet" (admin `fp(OP)`, text up to 64 bytes, names `evil*` forbidden, up for
 * 1h 2m 3s, 7 connections) over an in-memory store; the clock stands still until a test moves it.
 */
export function world(): World {
  const clock = { t: 1_700_000_000_000 };
  const motd = { text: "" };
  const store = Store.open(":memory:", { now: () => clock.t, schedule: (commit) => commit() });
  const opts: HubOptions = {
    store,
    limits: { ...DEFAULT_LIMITS, textBytes: 64 },
    now: () => clock.t,
    serverName: "testnet",
    version: "0.1.0",
    motd: () => motd.text,
    hostFingerprint: fp("H"),
    admins: new Set([fp(OP)]),
    blacklist: () => Blacklist.parse("evil*\n"),
    startedAt: clock.t - 3_723_000,
    connectionCount: () => 7,
  };
  return { hub: new Hub(opts), store, clock, motd };
}

/** A test body run with a fresh {@linkcode world}, whose store is closed after it. */
export function withWorld(fn: (w: World) => void): () => void {
  return () => {
    const w = world();
    try {
      fn(w);
    } finally {
      w.store.close();
    }
  };
}

/**
 * A peer of identity `fp(who)` authenticated as `name` in `rooms` (from `extra.ip`; with a KEM
 * key when `extra.kem`); what the hub sent it so far is taken.
 */
export function connect(
  w: World,
  name: string,
  who: string,
  rooms = ["#lobby"],
  extra: { ip?: string; kem?: boolean } = {},
): FakePeer {
  const p = new FakePeer(
    peerId(),
    fp(who),
    extra.ip,
    extra.kem ? "kem-" + who : undefined,
    extra.kem ? "ksig-" + who : undefined,
  );
  const a: AuthMessage = { t: "auth", name, sig_pub: "x", proof: "p", client: "t/0", rooms };
  assert.equal(w.hub.authenticate(p, a), "ok");
  p.take();
  return p;
}

let n = 1000;

/** A fresh command id (unique in the process). */
export function commandId(): string {
  return mid(++n);
}

/** Runs a command and returns the last message the caller received (reply or error). */
export function run(w: World, p: FakePeer, name: string, ...args: string[]): Json {
  const id = commandId();
  w.hub.handle(p.id, { t: "cmd", id, name, args });
  const got = p.take();
  const last = got[got.length - 1];
  assert.equal(last.id, id);
  return last;
}

/** Runs a command, asserts that it failed with `code`, and returns the error. */
export function expectError(
  w: World,
  p: FakePeer,
  code: string,
  name: string,
  ...args: string[]
): Json {
  const r = run(w, p, name, ...args);
  assert.equal(r.t, "error", `${name} ${args.join(" ")}: ${JSON.stringify(r)}`);
  assert.equal(r.code, code, `${name} ${args.join(" ")}`);
  return r;
}
