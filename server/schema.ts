/**
 * The database schema of server/store.ts and its migrations (`PRAGMA user_version`).
 * @module
 */

import type { DatabaseSync } from "node:sqlite";

/** The schema version this code writes (`PRAGMA user_version`). */
export const SCHEMA_VERSION = 4;

const SCHEMA_V1 = `
CREATE TABLE names (
  key TEXT PRIMARY KEY,
  display TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  created INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX names_by_owner ON names (fingerprint);
CREATE TABLE rooms (
  room TEXT PRIMARY KEY,
  last_seq INTEGER NOT NULL DEFAULT 0,
  topic TEXT NOT NULL DEFAULT '',
  topic_by TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
CREATE TABLE messages (
  room TEXT NOT NULL,
  seq INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  sender TEXT NOT NULL,
  text TEXT NOT NULL,
  me INTEGER NOT NULL,
  id TEXT NOT NULL,
  sender_fp TEXT NOT NULL,
  PRIMARY KEY (room, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX messages_by_id ON messages (sender_fp, id) WHERE id <> '';
CREATE INDEX messages_by_ts ON messages (ts);
CREATE TABLE bans (
  target TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('name', 'fingerprint', 'ip')),
  by TEXT NOT NULL,
  reason TEXT NOT NULL,
  created INTEGER NOT NULL,
  expires INTEGER
) WITHOUT ROWID;
CREATE TABLE ops (
  fingerprint TEXT PRIMARY KEY
) WITHOUT ROWID;
`;

/**
 * Version 2: names remember when they were last used (unused names expire), rooms when their
 * topic was last set (empty rooms expire), and `usage` counts what each identity created today.
 */
const SCHEMA_V2 = `
ALTER TABLE names ADD COLUMN last_used INTEGER NOT NULL DEFAULT 0;
UPDATE names SET last_used = created;
CREATE INDEX names_by_last_used ON names (last_used);
ALTER TABLE rooms ADD COLUMN updated INTEGER NOT NULL DEFAULT 0;
CREATE TABLE usage (
  fingerprint TEXT NOT NULL,
  kind TEXT NOT NULL,
  day INTEGER NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY (fingerprint, kind)
) WITHOUT ROWID;
`;

/**
 * Version 3: private rooms (docs/protocol.md §8). `rooms.private` marks a room's kind (it only
 * ever goes from 0 to 1); `messages.kind` is 0 for a text line, 1 for a sealed line and 2 for a
 * sender key, whose `text` is the base64 envelope; `messages.to_fp` addresses a sender key to one
 * identity (`''`: the whole room); `room_members` keeps the member identities of private rooms
 * with the public keys they logged in with, and the room's `seq` when each became a member.
 */
const SCHEMA_V3 = `
ALTER TABLE rooms ADD COLUMN private INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN kind INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN to_fp TEXT NOT NULL DEFAULT '';
CREATE TABLE room_members (
  room TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  name TEXT NOT NULL,
  sig_pub TEXT NOT NULL,
  kem_pub TEXT NOT NULL,
  kem_sig TEXT NOT NULL,
  since INTEGER NOT NULL,
  PRIMARY KEY (room, fingerprint)
) WITHOUT ROWID;
`;

/**
 * Version 4: private messages wait for an offline recipient in `dm_queue` (ordered by `n`), and
 * `identity_keys` keeps the public keys of identities that own names, so a sender can seal a
 * message for a recipient who is not connected.
 */
const SCHEMA_V4 = `
CREATE TABLE dm_queue (
  n INTEGER PRIMARY KEY,
  recipient TEXT NOT NULL,
  sender TEXT NOT NULL,
  from_name TEXT NOT NULL,
  to_name TEXT NOT NULL,
  id TEXT NOT NULL,
  ts INTEGER NOT NULL,
  envelope TEXT NOT NULL
);
CREATE INDEX dm_queue_by_recipient ON dm_queue (recipient, sender);
CREATE UNIQUE INDEX dm_queue_by_id ON dm_queue (sender, id);
CREATE INDEX dm_queue_by_ts ON dm_queue (ts);
CREATE TABLE identity_keys (
  fingerprint TEXT PRIMARY KEY,
  sig_pub TEXT NOT NULL,
  kem_pub TEXT NOT NULL,
  kem_sig TEXT NOT NULL,
  updated INTEGER NOT NULL
) WITHOUT ROWID;
`;

/**
 * Brings the schema to {@linkcode SCHEMA_VERSION} in one transaction; refuses a newer one.
 * `now` (ms) dates the rooms that existed before version 2.
 */
export function migrate(db: DatabaseSync, now: number): void {
  const version = (db.prepare("PRAGMA user_version").get() as Record<string, unknown>)
    .user_version as number;
  if (version === SCHEMA_VERSION) return;
  if (version > SCHEMA_VERSION) {
    throw new RangeError(`database schema version ${version} is newer than ${SCHEMA_VERSION}`);
  }
  db.exec("BEGIN IMMEDIATE");
  try {
    if (version < 1) db.exec(SCHEMA_V1);
    if (version < 2) {
      db.exec(SCHEMA_V2);
      db.prepare("UPDATE rooms SET updated = ?").run(now);
    }
    if (version < 3) db.exec(SCHEMA_V3);
    if (version < 4) db.exec(SCHEMA_V4);
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    db.exec("COMMIT");
  } catch (e) {
    db.exec("ROLLBACK");
    throw e;
  }
}
