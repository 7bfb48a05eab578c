/**
 * The messages between the `chat gui` process and its browser page, one JSON object per
 * WebSocket text message. The process sends the events the `--json` view shows (as the view
 * receives them), the session state, prompts and peers' safety numbers; the page sends input
 * lines, prompt answers and requests for history or a peer's safety number. Pure: the page's
 * code imports it too.
 * @module
 */

import type { ViewEvent } from "../view.ts";

/** The session state the page draws its room list, title and completion from. */
export interface GuiState {
  /** The user's name ("" before the first welcome). */
  me: string;
  /** The server, `host:port`. */
  server: string;
  /** The room plain lines go to. */
  room: string;
  /** Rooms joined. */
  rooms: string[];
  /** Joined rooms that are private (end-to-end encrypted). */
  sealed: string[];
  /** Names known in each joined room. */
  names: Record<string, string[]>;
  /** Command names (without `/`) for completion. */
  commands: string[];
  /** Room names known (for completion). */
  known: string[];
  /** Show times (the `timestamps` setting). */
  timestamps: boolean;
  /** Colour names (the `colors` setting). */
  colors: boolean;
  /** Which messages raise a desktop notification (the `bell` setting). */
  bell: "mention" | "all" | "off";
  /** Ignored name keys. */
  ignored: string[];
}

/** A peer's key as pinned, and the safety number with the user's own key. */
export interface PeerInfo {
  /** The name. */
  name: string;
  /** The pinned identity fingerprint, or null when none is pinned yet. */
  fingerprint: string | null;
  /** The safety number (12 groups of 5 digits), or null without a pin. */
  safety: string | null;
  /** The pin was accepted with `/trust`. */
  verified: boolean;
}

/** A question the page shows as a dialog. */
export type Prompt =
  | { kind: "trust"; server: string; fingerprint: string }
  | { kind: "name"; server: string; reason?: string };

/** What the process sends. */
export type ToPage =
  | {
    k: "ev";
    ev: ViewEvent;
    /** When the process saw it (ms since the epoch). */
    at: number;
    /** The conversation it belongs to when the event names none: where the user last typed. */
    where: string;
  }
  | { k: "state"; state: GuiState }
  | { k: "prompt"; id: number; prompt: Prompt }
  | { k: "prompt_done"; id: number }
  | { k: "peer"; peer: PeerInfo }
  | { k: "clear" }
  | { k: "bye"; text: string };

/** What the page sends. */
export type FromPage =
  | { k: "line"; conv: string | null; text: string }
  | { k: "answer"; id: number; value: string }
  | { k: "history"; room: string; n: number; before: number | null }
  | { k: "peer"; name: string };

/** Longest message the page may send, in UTF-16 code units (checked before parsing). */
export const MAX_FROM_PAGE = 131_072;

/** Most messages fetched back by one history request. */
export const MAX_HISTORY = 500;

const ROOMISH = /^#[^\s]{1,64}$/;
const NAMEISH = /^[^\s]{1,64}$/;
const CONVISH = /^[#@][^\s]{1,64}$/;

/**
 * Parses one message from the page; throws `RangeError` when it is too long and `TypeError`
 * when it is not one of {@link FromPage}.
 */
export function parseFromPage(data: string): FromPage {
  if (data.length > MAX_FROM_PAGE) throw new RangeError("message from the page too long");
  const v: unknown = JSON.parse(data);
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new TypeError("not an object");
  }
  const o = v as Record<string, unknown>;
  switch (o.k) {
    case "line":
      if (typeof o.text !== "string") break;
      if (o.conv !== null && !(typeof o.conv === "string" && CONVISH.test(o.conv))) break;
      return { k: "line", conv: o.conv, text: o.text };
    case "answer":
      if (!Number.isSafeInteger(o.id) || typeof o.value !== "string") break;
      if (o.value.length > 1024) break;
      return { k: "answer", id: o.id as number, value: o.value };
    case "history":
      if (typeof o.room !== "string" || !ROOMISH.test(o.room)) break;
      if (!Number.isSafeInteger(o.n) || (o.n as number) < 1) break;
      if (o.before !== null && !(Number.isSafeInteger(o.before) && (o.before as number) > 0)) {
        break;
      }
      return {
        k: "history",
        room: o.room,
        n: Math.min(o.n as number, MAX_HISTORY),
        before: o.before as number | null,
      };
    case "peer":
      if (typeof o.name !== "string" || !NAMEISH.test(o.name)) break;
      return { k: "peer", name: o.name };
  }
  throw new TypeError("unknown message from the page");
}
