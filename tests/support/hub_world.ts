/**
 * Test support: a hub over an in-memory store with a still clock, and peers authenticated into it
 * (the hub's own tests and the console's).
 * @module
 */

import assert from "node:assert/strict";
import { FakePeer } from "./fake_peer.ts";
import { DEFAULT_LIMITS, type Limits } from "../../shared/limits.ts";
import type { AuthMessage } from "../../shared/messages.ts";
import { Blacklist } from "../../shared/names.ts";
import { Hub, type HubOptions } from "../../server/hub.ts";
import { Store } from "../../server/store.ts";
import type { TranscriptEntry } from "../../server/transcript.ts";

/** The fingerprint `SHA256:ccc…` made of one repeated character. */
export const fp = (c: string): string => "SHA256:" + c.repeat(43);
/** Message id number `n` (base64 of 16 digits). */
export const mid = (n: number): string => btoa(String(n).padStart(16, "0"));

/** A hub over an in-memory store, its transcript lines and its clock. */
export interface World {
  hub: Hub;
  store: Store;
  log: TranscriptEntry[];
  clock: { t: number };
  opts: HubOptions;
}

/**
 * A hub named "test" (admin `fp("A")`, names `evil*` forbidden) with `over` applied, over `store`
 * or a fresh in-memory one; the clock stands still until a test moves it.
 */
export function world(
  over: Partial<Omit<HubOptions, "limits">> & { limits?: Partial<Limits> } = {},
  store?: Store,
): World {
  const clock = { t: 1_700_000_000_000 };
  const s = store ?? Store.open(":memory:", { now: () => clock.t, schedule: (commit) => commit() });
  const log: TranscriptEntry[] = [];
  const opts: HubOptions = {
    store: s,
    now: () => clock.t,
    serverName: "test",
    version: "0.1.0",
    motd: () => "",
    hostFingerprint: fp("H"),
    admins: new Set([fp("A")]),
    blacklist: () => Blacklist.parse("evil*\n"),
    transcript: { write: (e) => log.push(e) },
    startedAt: clock.t,
    connectionCount: () => 0,
    ...over,
    limits: { ...DEFAULT_LIMITS, ...over.limits },
  };
  return { hub: new Hub(opts), store: s, log, clock, opts };
}

/** The `auth` message for `name` joining `rooms` (resuming after `resume`'s seqs). */
export function auth(
  name: string,
  rooms = ["#lobby"],
  resume?: Record<string, number>,
): AuthMessage {
  const a: AuthMessage = { t: "auth", name, sig_pub: "x", proof: "p", client: "t/0", rooms };
  if (resume) a.resume = resume;
  return a;
}

let nextId = 1;

/** A fresh peer id (unique in the process). */
export function peerId(): number {
  return nextId++;
}

/**
 * A peer of identity `fp(who)` authenticated as `name` in `rooms` (from `ip`; with a KEM key
 * when `kem`); what the hub sent it so far is taken.
 */
export function connect(
  w: World,
  name: string,
  who: string,
  rooms?: string[],
  ip?: string,
  kem = false,
): FakePeer {
  const p = new FakePeer(peerId(), fp(who), ip, kem ? "kem-" + who : undefined, "ksig");
  assert.equal(w.hub.authenticate(p, auth(name, rooms)), "ok");
  p.take();
  return p;
}

/** `p` says `text` in `room` with message id `mid(n)` (as an action with `me`). */
export function say(
  w: World,
  p: FakePeer,
  text: string,
  n: number,
  room = "#lobby",
  me?: boolean,
): void {
  w.hub.handle(p.id, { t: "say", id: mid(n), room, text, ...(me ? { me } : {}) });
}
