/**
 * The seams of room records (docs/protocol.md §3 "Room records") between the pure hub, the
 * connections and server/room_records.ts, as types only: the fan-out hands a room's lines to a
 * {@linkcode RoomChannel}; a connection that negotiated room records is a
 * {@linkcode RoomReceiver}; its outbox holds {@linkcode QueuedBatch}es.
 * @module
 */

/** A batch of one room's lines as an outbox holds it: counted, closed, and sealed when drained. */
export interface QueuedBatch {
  /** Lines in the batch so far. */
  readonly lines: number;
  /** Their bytes (plaintext, without separators). */
  readonly bytes: number;
  /** Takes no more lines (a member has something queued after it). */
  close(): void;
  /** The whole room frame (flagged length ‖ body), sealed and signed at the first call. */
  frame(): Uint8Array;
}

/** What a connection shows of a room epoch it was given (for the `pong` of §3 "Withheld records"). */
export interface HeldEpoch {
  /** The epoch id, padded base64. */
  readonly id: string;
  /** The next `rseq` of the epoch: every room record below it was queued already. */
  readonly next: number;
}

/**
 * A connection that negotiated room records, as the room channel sees it. It costs nothing
 * until its first batch: the channel makes the map of epochs with the first `rkey` and drops it
 * when the last room is left.
 */
export interface RoomReceiver {
  /**
   * The epoch given per room (by an `rkey` queued to this connection); made, kept and dropped by
   * the channel; undefined while none is held.
   */
  epochs: Map<string, HeldEpoch> | undefined;
  /** Queues a batch in order with the connection's other messages; a full queue drops it. */
  sendBatch(batch: QueuedBatch): void;
}

/** A room member as the channel sees it (a hub session). */
export interface RoomMember {
  /** The member's connection. */
  readonly peer: {
    /** Queues one ordinary message (bytes shared by every recipient). */
    send(line: Uint8Array): void;
    /** Present when the connection negotiated room records. */
    readonly roomRecords?: RoomReceiver;
  };
}

/** Where the fan-out sends lines for a whole room (server/room_records.ts). */
export interface RoomChannel {
  /**
   * Sends one `msg` or `event` line of `room` to every one of `members` (the room's current
   * members): in the room's open batch for those that negotiated room records, as an ordinary
   * message for the others.
   */
  send(room: string, line: Uint8Array, members: ReadonlySet<RoomMember>): void;
  /** `member` joined `room`: the open batch takes no more lines. */
  joined(room: string, member: RoomMember): void;
  /** `member` left `room`: the batch closes and the next one starts a new epoch. */
  left(room: string, member: RoomMember, empty: boolean): void;
}
