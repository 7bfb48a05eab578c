/**
 * What the page shows, without the page: conversations (rooms and private ones) with their
 * lines in order, unread counts and mention marks, messages waiting for the server's
 * acknowledgement, and the connection's state. Fed with the events the process sends. Pure.
 * @module
 */

import { formatEvent, isMention } from "../../render.ts";
import type { RenderState, ViewEvent } from "../../view.ts";
import type { GuiState } from "../wire.ts";

/** Lines kept per conversation, at most (the oldest go first). */
export const LINES_MAX = 3_000;

/** One line of a conversation. */
export interface Line {
  /** Unique within the conversation: `s:SEQ` for room messages, `p:ID` while pending, else a count. */
  key: string;
  /** How it is drawn. */
  kind: "msg" | "event" | "info" | "error";
  /** Time, ms since the epoch. */
  ts: number;
  /** Sender (messages only). */
  from?: string;
  /** The text (untrusted: drawn as text, made visible by the page). */
  text: string;
  /** An action (`/me`). */
  me?: boolean;
  /** Room sequence number, for ordering. */
  seq?: number;
  /** Not yet acknowledged by the server. */
  pending?: boolean;
  /** Mentions the user. */
  mention?: boolean;
  /** Sent by the user. */
  own?: boolean;
}

/** A room (`#name`) or a private conversation (`@name`). */
export interface Conversation {
  /** `#room` or `@name`. */
  id: string;
  /** Lines in order. */
  lines: Line[];
  /** Messages arrived while the conversation was not shown. */
  unread: number;
  /** One of them mentions the user (or it is private). */
  mentioned: boolean;
  /** The room's topic, when known. */
  topic: string;
}

/** What the page should do after an event besides drawing. */
export interface Effects {
  /** Conversations whose lines changed. */
  changed: Set<string>;
  /**
   * A desktop notification to show, if any: as the `bell` setting says (`mention`: a mention or
   * private message; `all`: any message from someone else; `off`: none), when not in view.
   */
  notify?: { title: string; body: string; conv: string };
}

const RENDER_PLAIN = { color: false } as const;

/** The page's model of the session. */
export class Model {
  /** Conversations by id, in the order they appeared. */
  readonly convs: Map<string, Conversation> = new Map();
  /** The conversation shown. */
  active = "";
  /** The latest state from the process. */
  state: GuiState = {
    me: "",
    server: "",
    room: "",
    rooms: [],
    sealed: [],
    names: {},
    commands: [],
    known: [],
    timestamps: true,
    colors: true,
    bell: "mention",
    ignored: [],
  };
  /** Connection state: "connected", or why it is not. */
  link: { up: boolean; text: string } = { up: false, text: "connecting" };
  #count = 0;
  readonly #now: () => number;

  /** An empty model; `now` is the clock for lines the server did not stamp. */
  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** The conversation `id`, created when missing. */
  conv(id: string): Conversation {
    let c = this.convs.get(id);
    if (c === undefined) {
      c = { id, lines: [], unread: 0, mentioned: false, topic: "" };
      this.convs.set(id, c);
      if (this.active === "") this.active = id;
    }
    return c;
  }

  /** Shows conversation `id`: its unread count and mention mark are cleared. */
  open(id: string): void {
    const c = this.conv(id);
    this.active = id;
    c.unread = 0;
    c.mentioned = false;
  }

  /** Takes a new state: joined rooms get a conversation; left rooms lose theirs. */
  setState(s: GuiState): void {
    const before = this.state.rooms;
    this.state = s;
    for (const r of s.rooms) this.conv(r);
    for (const r of before) {
      if (!s.rooms.includes(r)) {
        this.convs.delete(r);
        if (this.active === r) this.active = s.room;
      }
    }
    if (this.active === "" || !this.convs.has(this.active)) {
      if (s.room !== "") this.open(s.room);
    }
  }

  #render(): RenderState {
    return {
      me: this.state.me,
      timestamps: false,
      ignored: new Set(this.state.ignored),
      bell: "off",
    };
  }

  #key(): string {
    return `n:${++this.#count}`;
  }

  #add(conv: string, line: Line, fx: Effects): void {
    const c = this.conv(conv);
    const lines = c.lines;
    if (line.seq !== undefined) {
      if (lines.some((l) => l.key === line.key)) return;
      // Room messages in sequence order (history arrives after newer lines).
      let i = lines.length;
      while (i > 0) {
        const prev = lines[i - 1];
        if (prev.seq !== undefined && prev.seq < line.seq) break;
        if (prev.seq === undefined && prev.ts <= line.ts && !prev.pending) break;
        i--;
      }
      lines.splice(i, 0, line);
    } else {
      lines.push(line);
    }
    if (lines.length > LINES_MAX) lines.splice(0, lines.length - LINES_MAX);
    fx.changed.add(conv);
  }

  #unread(conv: string, mention: boolean, visible: boolean): void {
    if (visible && conv === this.active) return;
    const c = this.conv(conv);
    c.unread++;
    if (mention) c.mentioned = true;
  }

  /** Conversation ids in list order: joined rooms by name, then private ones as they came. */
  order(): string[] {
    const ids = [...this.convs.keys()];
    return [
      ...ids.filter((i) => i.startsWith("#")).sort(),
      ...ids.filter((i) => !i.startsWith("#")),
    ];
  }

  /**
   * Applies one event. `visible` says whether the page is in view (unread counts and
   * notifications are for what the user has not seen); `at` is when the process saw it;
   * `where` is the conversation for events that name none (answers, notices).
   */
  apply(
    ev: ViewEvent,
    o: { visible?: boolean; at?: number; where?: string } = {},
  ): Effects {
    const fx: Effects = { changed: new Set() };
    const visible = o.visible ?? true;
    const now = o.at ?? this.#now();
    const me = this.state.me;
    const here = o.where || this.active || this.state.room;
    const info = (conv: string, kind: "event" | "info" | "error", ts = now) => {
      const text = formatEvent(ev, this.#render(), { ...RENDER_PLAIN, now: ts });
      if (text === null) return;
      // The terminal's line markers ("-- ", "! ", indent) are drawn by style here.
      const n = /^(-- |! | {2})/.exec(text)?.[0].length ?? 0;
      const pad = " ".repeat(n);
      const shown = text.split("\n").map((l, i) => i === 0 || l.startsWith(pad) ? l.slice(n) : l)
        .join("\n");
      this.#add(conv, { key: this.#key(), kind, ts, text: shown }, fx);
    };
    switch (ev.t) {
      case "server": {
        const m = ev.msg;
        if (m.t === "msg") {
          const own = me !== "" && m.from.toLowerCase() === me.toLowerCase();
          const mention = !own && isMention(m.text, me);
          // The user's own message replaces its pending line.
          const c = this.conv(m.room);
          const p = c.lines.findIndex((l) => l.key === `p:${m.id}`);
          if (p >= 0) c.lines.splice(p, 1);
          const line: Line = {
            key: `s:${m.seq}`,
            kind: "msg",
            ts: m.ts,
            from: m.from,
            text: m.undecryptable ?? m.text, // a private line that cannot be opened says so
            seq: m.seq,
            me: m.me === true,
            mention,
            own,
          };
          const had = c.lines.length;
          this.#add(m.room, line, fx);
          if (m.replay !== true && !own && c.lines.length > had) {
            this.#unread(m.room, mention, visible);
            const bell = this.state.bell;
            const wanted = bell === "all" || (bell === "mention" && mention);
            if (wanted && (!visible || this.active !== m.room)) {
              fx.notify = { title: `${m.from} in ${m.room}`, body: m.text, conv: m.room };
            }
          }
          return fx;
        }
        if (m.t === "event") {
          const conv = m.room ?? here;
          if (m.kind === "topic" && m.room !== undefined) this.conv(m.room).topic = m.text ?? "";
          info(conv, "event", m.ts);
          return fx;
        }
        if (m.t === "welcome") {
          for (const r of m.rooms) this.conv(r.name).topic = r.topic;
          info(here, "event");
          return fx;
        }
        info(here, m.t === "error" ? "error" : "info");
        return fx;
      }
      case "welcome":
        for (const r of ev.msg.rooms) {
          if (this.convs.has(r.name) || this.state.rooms.includes(r.name)) {
            this.conv(r.name).topic = r.topic;
          }
        }
        this.link = { up: true, text: "connected" };
        info(here, "event");
        return fx;
      case "pending":
        this.#add(ev.room, {
          key: `p:${ev.id}`,
          kind: "msg",
          ts: now,
          from: me,
          text: ev.text,
          me: ev.me,
          pending: true,
          own: true,
        }, fx);
        return fx;
      case "acked": {
        const c = this.conv(ev.msg.room);
        const p = c.lines.findIndex((l) => l.key === `p:${ev.id}`);
        if (p >= 0) c.lines.splice(p, 1);
        this.#add(ev.msg.room, {
          key: `s:${ev.msg.seq}`,
          kind: "msg",
          ts: ev.msg.ts,
          from: ev.msg.from,
          text: ev.msg.undecryptable ?? ev.msg.text,
          seq: ev.msg.seq,
          me: ev.msg.me === true,
          own: true,
        }, fx);
        fx.changed.add(ev.msg.room);
        return fx;
      }
      case "failed": {
        const c = this.conv(ev.room);
        const p = c.lines.findIndex((l) => l.key === `p:${ev.id}`);
        if (p >= 0) c.lines.splice(p, 1);
        info(ev.room, "error");
        return fx;
      }
      case "status":
        this.link = {
          up: ev.state === "connected",
          text: ev.state === "connected" ? "connected" : `${ev.state}: ${ev.detail}`,
        };
        if (ev.state === "connected") {
          for (const c of this.convs.values()) fx.changed.add(c.id);
        }
        info(here, "event");
        return fx;
      case "local":
        info(here, ev.level === "error" ? "error" : "info");
        return fx;
      case "dm": {
        const peer = ev.out ? ev.to : ev.from;
        const conv = `@${peer}`;
        this.#add(conv, {
          key: this.#key(),
          kind: "msg",
          ts: ev.ts,
          from: ev.from,
          text: ev.text,
          own: ev.out,
        }, fx);
        if (!ev.out) {
          this.#unread(conv, true, visible);
          if (this.state.bell !== "off" && (!visible || this.active !== conv)) {
            fx.notify = { title: `private message from ${ev.from}`, body: ev.text, conv };
          }
        }
        return fx;
      }
      case "dm_failed":
        info(`@${ev.to}`, "error");
        return fx;
    }
  }
}
