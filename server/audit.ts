/**
 * The moderation audit trail: every operator action (op, deop, ban, unban, mute, unmute, kick,
 * motd, topic, room modes) as one record saying who did what to whom. Records go to the
 * operator console at info level and to the `--log` transcript.
 * @module
 */

import type { TranscriptEntry } from "./transcript.ts";

/** Kinds of moderation records. */
export type ModerationKind =
  | "op"
  | "deop"
  | "ban"
  | "unban"
  | "mute"
  | "unmute"
  | "kick"
  | "motd"
  | "topic"
  | "mode"
  | "invite";

/** One moderation action. */
export interface ModerationRecord {
  /** What was done. */
  kind: ModerationKind;
  /** Who did it: a user's name or `"console"`. */
  by: string;
  /** The fingerprint of `by`; absent for the console. */
  byFingerprint?: string;
  /** The user acted on, by name, when there is one. */
  name?: string;
  /** What the action applies to: a fingerprint, an address or prefix, a name, a mode. */
  target?: string;
  /** The room, for room actions. */
  room?: string;
  /** The reason given. */
  reason?: string;
  /** New text (topic, message of the day). */
  text?: string;
}

/** Where moderation records go. */
export interface AuditSinks {
  /** The console log (info level). */
  log: (message: string, props: Record<string, unknown>) => void;
  /** The `--log` transcript, when there is one. */
  transcript?: { write(entry: TranscriptEntry): void };
  /** Clock, ms since the epoch. */
  now: () => number;
}

/** The record as a transcript entry (`ts` now). */
export function auditEntry(r: ModerationRecord, ts: number): TranscriptEntry {
  const e: TranscriptEntry = { ts, kind: r.kind, by: r.by };
  if (r.byFingerprint !== undefined) e.by_fp = r.byFingerprint;
  if (r.room !== undefined) e.room = r.room;
  if (r.name !== undefined) e.name = r.name;
  if (r.target !== undefined) e.target = r.target;
  if (r.reason !== undefined) e.reason = r.reason;
  if (r.text !== undefined) e.text = r.text;
  return e;
}

/** A function recording each action to both sinks. */
export function auditTrail(sinks: AuditSinks): (r: ModerationRecord) => void {
  return (r) => {
    const { kind, by, ...rest } = r;
    sinks.log(`${kind} by ${by}`, rest);
    // A topic change is already in the transcript as the room's `topic` event.
    if (kind !== "topic") sinks.transcript?.write(auditEntry(r, sinks.now()));
  };
}
