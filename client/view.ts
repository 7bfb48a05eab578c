/**
 * The boundary between the chat application and a user interface: the events a connection
 * reports, what the application needs from a connection, and what it needs from a view
 * (interactive terminal or plain/JSON lines).
 * @module
 */

import type {
  AckMessage,
  ErrorMessage,
  MsgMessage,
  ReplyMessage,
  ServerMessage,
  WelcomeMessage,
} from "../shared/messages.ts";

/**
 * Where the user typed a command, for its answer: `#room` (that room's window or conversation),
 * `@name` (the private conversation with name), or "" (the status window). The answer to `/join`
 * names the room joined. Absent: the view decides (the window shown).
 */
export type Where = string;

/** What a connection reports to the application, in order. */
export type ClientEvent =
  | {
    t: "server";
    msg: ServerMessage;
    /** For a command's reply or error, set by the application: where it belongs. */
    where?: Where;
  }
  | { t: "welcome"; msg: WelcomeMessage }
  | { t: "pending"; id: string; room: string; text: string; me: boolean }
  | { t: "acked"; id: string; msg: MsgMessage }
  | { t: "failed"; id: string; room: string; text: string; reason: string }
  | {
    t: "status";
    state: "connecting" | "connected" | "lost" | "reconnecting" | "closed";
    detail: string;
  };

/** What the application needs from a connection. */
export interface ChatClientLike {
  /** Current name (after welcome). */
  readonly name: string;
  /** Queues a room message; returns its id and emits `pending`, then `acked` or `failed`. */
  say(room: string, text: string, me?: boolean): string;
  /**
   * Runs a server command; settles with the reply or the error (has a deadline). `auto` marks a
   * request the client makes on its own (charged to the automatic bucket, PROTOCOL.md §5).
   */
  command(name: string, args: string[], auto?: boolean): Promise<ReplyMessage | ErrorMessage>;
  /**
   * Sends a sealed private-message envelope (base64) to `to` under `id` (the envelope's own id);
   * settles with the server's `ack` or an error such as `offline`. Absent: no private messages.
   */
  sendDm?(to: string, envelope: string, id: string): Promise<AckMessage | ErrorMessage>;
  /** Acknowledges deliveries from the offline queue by their `q` (sent in batches). */
  ackDms?(q: number[]): void;
  /** Says neither acknowledged nor failed yet. */
  pendingCount(): number;
  /** Starts the next reconnection attempt now; false when not waiting to reconnect. */
  reconnectNow?(): boolean;
  /** True when `room` is a private (end-to-end encrypted) room, as far as the client knows. */
  isPrivate?(room: string): boolean;
  /** Sends `bye` (reason "quit" by default) and closes; no reconnection afterwards. */
  close(reason?: string): Promise<void>;
}

/** A message produced by the client itself (command feedback, usage, local errors). */
export interface LocalEvent {
  t: "local";
  level: "info" | "error";
  text: string;
  /** Where it belongs, when it answers something the user typed. */
  where?: Where;
}

/**
 * A private message: incoming once decrypted (`out` false), outgoing once the server
 * acknowledged it (`out` true).
 */
export interface DmEvent {
  t: "dm";
  /** Message id (the envelope's). */
  id: string;
  /** Time in ms since the epoch (server time for incoming, local time for outgoing). */
  ts: number;
  /** Sender's name. */
  from: string;
  /** Recipient's name. */
  to: string;
  /** The decrypted or sent text (untrusted: render it sanitized). */
  text: string;
  /** True for a message the user sent. */
  out: boolean;
  /** Sent, and kept by the server until the recipient connects (outgoing only). */
  queued?: boolean;
}

/** A private message the user typed that was not delivered, and why. */
export interface DmFailedEvent {
  t: "dm_failed";
  /** The intended recipient. */
  to: string;
  /** The text that was not delivered. */
  text: string;
  /** Why. */
  reason: string;
}

/** Everything a view shows. */
export type ViewEvent = ClientEvent | LocalEvent | DmEvent | DmFailedEvent;

/** When to ring the terminal bell: on mentions of the user's name, on every message, or never. */
export type BellMode = "mention" | "all" | "off";

/** Display settings and identity a view needs to render an event. */
export interface RenderState {
  /** The user's current name ("" before welcome: nothing counts as a mention). */
  me: string;
  /** Show `HH:MM` before each line. */
  timestamps: boolean;
  /** Name keys (ASCII lower case) whose messages are hidden. */
  ignored: ReadonlySet<string>;
  /** Bell mode. */
  bell: BellMode;
}

/** Candidates for Tab completion. */
export interface Completions {
  /** Command names without the slash. */
  commands: readonly string[];
  /** Names in the current room. */
  names: readonly string[];
  /** Known room names, with `#`. */
  rooms: readonly string[];
}

/** A user interface for the chat application. */
export interface View {
  /** True for the line-editing terminal, false for plain or JSON lines. */
  readonly interactive: boolean;
  /**
   * True when a change of the `colors` setting shows at once (the page draws from the settings);
   * absent or false where colours are chosen at start (a terminal).
   */
  readonly liveColors?: boolean;
  /** Shows one event (rendered safely; hidden when it comes from an ignored name). */
  show(ev: ViewEvent, state: RenderState): void;
  /** Asks the user for a name, showing `reason` (why the last one was refused) first. */
  askName(reason?: string): Promise<string>;
  /** The user's input lines; ends on end of input, Ctrl-D or a double Ctrl-C. */
  lines(): AsyncIterable<string>;
  /**
   * Where the line last given by `lines()` was typed, for the answers to it; absent (or
   * undefined) where the view has no conversations of its own (the application then asks its
   * windows, if any).
   */
  typedIn?(): Where | undefined;
  /** Replaces the Tab-completion candidates. */
  setCompletions(c: Completions): void;
  /** Tells the view which room the user is talking in (shown in the prompt). */
  setRoom(room: string, isPrivate?: boolean): void;
  /** Clears the screen (no-op where there is none). */
  clear(): void;
  /** Ends input and restores the terminal; safe to call more than once. */
  close(): Promise<void>;
}
