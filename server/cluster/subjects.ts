/**
 * The NATS names one cluster uses: subjects, room streams and key-value buckets, all prefixed by
 * the cluster's name so that several clusters can share one NATS. Pure.
 * @module
 */

import { decodeUtf8, fromHex, toHex, utf8 } from "../../shared/encoding.ts";

/** A cluster name: 1–32 of `A-Za-z0-9_-`. */
export const CLUSTER_NAME = /^[A-Za-z0-9_-]{1,32}$/;

/** The NATS names of one cluster. */
export interface Subjects {
  /** Prefix of the subjects room messages are stored under (`<prefix>.<room>`). */
  room: string;
  /** Prefix of the subjects stored messages are republished on, with their seq. */
  live: string;
  /** Prefix of the subjects of live events between nodes. */
  bus: string;
  /** The stream of `room` (`#dev` → `CHAT_<cluster>_ROOM_dev`). */
  streamOf(room: string): string;
  /** The room of a stream name, or undefined when it is not one of this cluster's rooms. */
  roomOfStream(stream: string | undefined): string | undefined;
  /** The subject `room`'s messages are stored under. */
  roomSubject(room: string): string;
  /** The subject `room`'s stored messages are republished on. */
  liveSubject(room: string): string;
  /** The name of one of the cluster's key-value buckets. */
  bucket(what: string): string;
}

/** The names of cluster `name` (checked against {@linkcode CLUSTER_NAME}). */
export function clusterSubjects(name: string): Subjects {
  if (!CLUSTER_NAME.test(name)) {
    throw new RangeError("a cluster name is 1 to 32 of A-Z, a-z, 0-9, _ and -");
  }
  const streamPrefix = `CHAT_${name}_ROOM_`;
  const room = `chat.${name}.room`;
  const live = `chat.${name}.live`;
  // Room names are # and [a-z0-9_-]: valid as a subject token and in a stream name.
  const slug = (r: string) => r.slice(1);
  return {
    room,
    live,
    bus: `chat.${name}.bus`,
    streamOf: (r) => streamPrefix + slug(r),
    roomOfStream: (s) =>
      s !== undefined && s.startsWith(streamPrefix) && s.length > streamPrefix.length
        ? `#${s.slice(streamPrefix.length)}`
        : undefined,
    roomSubject: (r) => `${room}.${slug(r)}`,
    liveSubject: (r) => `${live}.${slug(r)}`,
    bucket: (what) => `chat_${name}_${what}`,
  };
}

/** A key-value key for any text (KV keys allow few characters): its UTF-8 bytes in hex. */
export function kvKey(text: string): string {
  return toHex(utf8.encode(text)) || "_";
}

/** The text of a key made by {@linkcode kvKey}; undefined when it is not one. */
export function fromKvKey(key: string): string | undefined {
  if (key === "_") return "";
  if (!/^(?:[0-9a-f]{2})+$/.test(key)) return undefined;
  try {
    return decodeUtf8(fromHex(key));
  } catch {
    return undefined;
  }
}
