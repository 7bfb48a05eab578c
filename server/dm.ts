/**
 * Private messages (`dm`, PROTOCOL.md §7): the server checks the envelope's size and encoding and
 * hands it, unread, to every session of the recipient's name, then acknowledges. For a name whose
 * owner is not connected it keeps the envelope in the offline queue (server/dm_queue.ts) and
 * acknowledges it as `queued`; a session that sends `dm_ack` gets what waits for its identity, a
 * window of {@link DM_QUEUE_WINDOW} at a time, each deleted once acknowledged.
 * @module
 */

import { ProtocolError } from "../shared/errors.ts";
import type { DmAckMessage, DmRequest } from "../shared/messages.ts";
import { nameKey } from "../shared/names.ts";
import type { HubCore } from "./hub_core.ts";
import type { QueuedDm } from "./dm_queue.ts";
import { sendError } from "./peer.ts";
import type { Session } from "./sessions.ts";
import { DAY_MS } from "./upkeep.ts";

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Queued envelopes sent to one session and not acknowledged yet, at most: the next ones follow as
 * acknowledgements come (bounds what a client holds and how many senders' keys it looks up).
 */
export const DM_QUEUE_WINDOW = 16;

/** Handles `dm` from `s`; refusals throw `ProtocolError`. */
export function dm(core: HubCore, s: Session, m: DmRequest): void {
  if (core.muted.has(s.fingerprint)) {
    throw new ProtocolError("muted", "You are muted; your private message was not sent.");
  }
  const max = Math.ceil(core.o.limits.envelopeBytes / 3) * 4;
  if (m.envelope.length > max) {
    throw new ProtocolError("too_long", `The private message is larger than the limit.`);
  }
  if (m.envelope.length === 0 || m.envelope.length % 4 !== 0 || !B64.test(m.envelope)) {
    throw new ProtocolError("bad_envelope", "The private message is not base64.");
  }
  if (s.kemPub === undefined) {
    // Nobody could answer, and the recipient's client could not look the sender's key up.
    throw new ProtocolError(
      "dm_key_required",
      "You have no private-message key, so you cannot send private messages.",
    );
  }
  const key = nameKey(m.to);
  const ts = core.o.now();
  const live = core.sessions.byName.get(key);
  if (live !== undefined) return relay(core, s, m, ts, core.sessions.siblings(live));
  const remote = core.roster.user(key);
  if (remote !== undefined && core.o.bus !== undefined) {
    // On another node of the cluster: acknowledged once that node handed it on.
    core.o.bus.dm(remote.node, key, dmLine(s, m, ts)).then((ok) => {
      if (!core.sessions.isLive(s)) return;
      if (ok) s.peer.send(JSON.stringify({ t: "ack", id: m.id }));
      else sendError(s.peer, m.id, "offline", `${m.to} is not connected.`);
    });
    return;
  }
  const owner = core.o.store.ownerOf(key);
  if (owner === undefined) {
    throw new ProtocolError("no_such_user", `There is no user called ${m.to}.`);
  }
  // The owner connected under another name still reads it at once.
  const elsewhere = core.sessions.byFp.get(owner.fingerprint);
  if (elsewhere !== undefined && elsewhere.size > 0) return relay(core, s, m, ts, elsewhere);
  const queue = core.o.store.dmQueue;
  if (queue === undefined) throw new ProtocolError("offline", `${m.to} is not connected.`);
  queue.push({
    recipient: owner.fingerprint,
    sender: s.fingerprint,
    from: s.name,
    to: owner.name,
    id: m.id,
    ts,
    envelope: m.envelope,
  }, core.o.limits);
  s.peer.send(JSON.stringify({ t: "ack", id: m.id, queued: true }));
}

/** The `dm` line relayed to the recipient's sessions. */
function dmLine(s: Session, m: DmRequest, ts: number): string {
  return JSON.stringify({ t: "dm", id: m.id, from: s.name, ts, envelope: m.envelope });
}

function relay(core: HubCore, s: Session, m: DmRequest, ts: number, to: Iterable<Session>): void {
  const line = dmLine(s, m, ts);
  for (const t of to) {
    t.peer.send(line);
    core.fanout.deliveries++;
  }
  s.peer.send(JSON.stringify({ t: "ack", id: m.id }));
}

/**
 * Handles `dm_ack` from `s`: deletes the acknowledged envelopes that wait for its identity, and
 * sends the next ones of the queue (the first `dm_ack` of a session starts the delivery).
 */
export function dmAck(core: HubCore, s: Session, m: DmAckMessage): void {
  const queue = core.o.store.dmQueue;
  if (queue === undefined) return;
  const w = s.dmQueue ??= { last: 0, inFlight: new Set() };
  for (const n of m.q) w.inFlight.delete(n);
  queue.ack(s.fingerprint, m.q);
  const room = DM_QUEUE_WINDOW - w.inFlight.size;
  if (room <= 0) return;
  const rows = queue.after(s.fingerprint, w.last, room);
  if (rows.length === 0) return;
  for (const r of rows) {
    w.last = r.n;
    w.inFlight.add(r.n);
  }
  const lines = rows.map(deliveryLine);
  s.peer.replay({ next: (max) => lines.splice(0, max) });
  core.fanout.deliveries += rows.length;
}

/** The `dm` line of a queued envelope: its original time, and `q` to acknowledge it by. */
export function deliveryLine(r: QueuedDm): string {
  return JSON.stringify({
    t: "dm",
    id: r.id,
    from: r.from,
    ts: r.ts,
    envelope: r.envelope,
    q: r.n,
  });
}

/**
 * Drops the envelopes queued longer than `dmQueueDays` (at most `max` per call) and tells each
 * sender that is connected, with `error dm_expired` carrying the message's id. Returns how many
 * were dropped.
 */
export function expireQueued(core: HubCore, max = 1000): number {
  const queue = core.o.store.dmQueue;
  if (queue === undefined) return 0;
  const days = core.o.limits.dmQueueDays;
  const gone = queue.expire(core.o.now() - days * DAY_MS, max);
  for (const r of gone) {
    const line = JSON.stringify({
      t: "error",
      id: r.id,
      code: "dm_expired",
      message: `Your private message to ${r.to} of ${utcMinute(r.ts)} was not delivered: ` +
        `${r.to} did not connect within ${days} days, and it was deleted.`,
    });
    for (const s of core.sessions.byFp.get(r.sender) ?? []) s.peer.send(line);
  }
  return gone.length;
}

/** `YYYY-MM-DD HH:MM UTC`. */
function utcMinute(ts: number): string {
  return `${new Date(ts).toISOString().slice(0, 16).replace("T", " ")} UTC`;
}
