/**
 * Room history as a replay source: the messages of a room read from the store a batch at a
 * time as the connection drains, charged to the asking connection before any is read.
 * @module
 */

import type { HistoryAnswer, LineSource } from "./command_host.ts";
import { toMsg } from "./message_line.ts";
import type { Peer } from "./peer.ts";
import type { HubStore } from "./hub_options.ts";

/** The last `n` messages of `room` as a replay source, charged to `peer`. */
export function recent(
  store: HubStore,
  peer: Peer | undefined,
  room: string,
  n: number,
): HistoryAnswer {
  const upTo = store.lastSeq(room);
  return history(store, peer, room, upTo - n, n, upTo);
}

/**
 * The last `n` messages of `room` with `seq` below `below` (older history), as a replay source
 * charged to `peer`.
 */
export function recentBefore(
  store: HubStore,
  peer: Peer | undefined,
  room: string,
  n: number,
  below: number,
): HistoryAnswer {
  const upTo = Math.min(store.lastSeq(room), below - 1);
  return history(store, peer, room, upTo - n, n, upTo);
}

/**
 * Messages of `room` with `seq` above `after`, at most `max`, read from the store a batch at
 * a time as the connection drains (marked `replay`). Messages stored after this call are not
 * included: they go out live. The rows are charged to `peer` before any is read; when its
 * budget is short, only the newest rows it pays for are sent. `upTo` is the room's last seq
 * when the caller has just read it.
 */
export function history(
  store: HubStore,
  peer: Peer | undefined,
  room: string,
  after: number,
  max: number,
  upTo: number = store.lastSeq(room),
): HistoryAnswer {
  let cursor = Math.max(0, after);
  let left = Math.max(0, Math.min(max, upTo - cursor));
  const wanted = left;
  const granted = peer === undefined ? left : peer.grant("replay", left);
  if (granted < left) {
    cursor = upTo - granted;
    left = granted;
  }
  const replay: LineSource = {
    next: (n) => {
      const out: string[] = [];
      if (left <= 0) return out;
      const rows = store.after(room, cursor, Math.min(n, left));
      if (rows.length === 0) left = 0;
      for (const m of rows) {
        if (m.seq > upTo) {
          left = 0;
          break;
        }
        // A sender key is replayed only to the identity it is addressed to.
        if (m.to === undefined || m.to === peer?.fingerprint) {
          out.push(JSON.stringify(toMsg(m, true)));
        }
        cursor = m.seq;
        left--;
      }
      return out;
    },
  };
  return { replay, shown: granted, wanted };
}
