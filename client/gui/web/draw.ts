/// <reference lib="dom" />
/**
 * Drawing the model into the page: the conversation list with unread counts and mention marks,
 * the active conversation's header and lines (times, nick colours, date separators, mentions,
 * actions, events, pending messages), and the reconnection banner. Every string from the
 * network is set as text (`textContent`), never parsed as HTML.
 * @module
 */

import type { Conversation, Line, Model } from "./model.ts";
import { clock, day, nickClass, pieces, visible } from "./text.ts";
import type { PeerInfo } from "../wire.ts";

/** Creates an element with a class and optional text. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  cls = "",
  text?: string,
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls !== "") e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** Finds a required element by id. */
export function byId<T extends HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (e === null) throw new TypeError(`missing #${id}`);
  return e as T;
}

/** The label of a conversation in the list and the header. */
export function convLabel(id: string): string {
  return id.startsWith("@") ? visible(id.slice(1)) : visible(id);
}

/** Redraws the list of conversations. */
export function drawList(model: Model, onOpen: (id: string) => void): void {
  const rooms = byId<HTMLUListElement>("room-list");
  const dms = byId<HTMLUListElement>("dm-list");
  // The list is drawn anew: the entry that had the keyboard focus gets it back.
  const focused = (document.activeElement as HTMLElement | null)?.dataset?.conv;
  rooms.replaceChildren();
  dms.replaceChildren();
  let n = 0;
  for (const id of model.order()) {
    const c = model.conv(id);
    n++;
    const li = el("li");
    const b = el("button", "conv");
    b.type = "button";
    b.dataset.conv = c.id;
    if (c.id === model.active) b.setAttribute("aria-current", "page");
    b.append(el("span", "conv-name", convLabel(c.id)));
    const parts = [convLabel(c.id)];
    if (model.state.sealed.includes(c.id)) {
      b.append(el("span", "sealed", "e2e"));
      parts.push("private room, end-to-end encrypted");
    }
    if (c.mentioned) {
      b.append(el("span", "mark", "@"));
      parts.push(c.id.startsWith("@") ? "new private message" : "mentions you");
    }
    if (c.unread > 0) {
      b.append(el("span", "badge", String(c.unread)));
      parts.push(`${c.unread} unread`);
    }
    if (n <= 9) parts.push(`Alt+${n}`);
    b.setAttribute("aria-label", parts.join(", "));
    b.addEventListener("click", () => onOpen(c.id));
    li.append(b);
    (c.id.startsWith("@") ? dms : rooms).append(li);
    if (c.id === focused) b.focus();
  }
}

/** How lines are drawn: the user's name (mentions) and the `timestamps` and `colors` settings. */
export interface LineStyle {
  /** The user's name. */
  me: string;
  /** Show each line's time. */
  timestamps: boolean;
  /** Colour names. */
  colors: boolean;
}

function lineItem(l: Line, o: LineStyle): HTMLLIElement {
  const li = el("li", `line ${l.kind}`);
  if (l.pending) li.classList.add("pending");
  if (l.mention) li.classList.add("mention");
  if (l.own) li.classList.add("own");
  if (o.timestamps) {
    const time = el("time", "ts", clock(l.ts));
    time.dateTime = new Date(l.ts).toISOString();
    li.append(time);
  }
  if (l.kind === "msg") {
    const from = visible(l.from ?? "");
    const nick = o.colors ? `nick ${nickClass(l.from ?? "")}` : "nick";
    if (l.me) {
      li.classList.add("action");
      li.append(el("span", "star", "* "), el("span", nick, from));
      li.append(el("span", "sep", " "));
    } else {
      li.append(el("span", nick, from), el("span", "sep", ": "));
    }
    const body = el("span", "text");
    for (const p of pieces(l.text, o.me)) {
      body.append(p.mention ? el("mark", "", p.text) : document.createTextNode(p.text));
    }
    if (l.pending) body.append(el("span", "state", " (sending…)"));
    li.append(body);
  } else {
    li.append(el("span", "text", l.text));
  }
  return li;
}

/** Redraws the active conversation's lines, keeping the reader's place. */
export function drawLines(c: Conversation | undefined, style: LineStyle): void {
  const list = byId<HTMLOListElement>("messages");
  const fromBottom = list.scrollHeight - list.scrollTop - list.clientHeight;
  const items: HTMLLIElement[] = [];
  let last = "";
  for (const l of c?.lines ?? []) {
    const d = day(l.ts);
    if (d !== last) {
      const sep = el("li", "day");
      sep.setAttribute("role", "separator");
      sep.append(el("span", "", d));
      items.push(sep);
      last = d;
    }
    items.push(lineItem(l, style));
  }
  list.replaceChildren(...items);
  // At the bottom (or near it) stays at the bottom; otherwise the same distance from it.
  list.scrollTop = fromBottom < 40 ? list.scrollHeight : list.scrollHeight - list.clientHeight -
    fromBottom;
}

/** Redraws the header: title, topic, and for a private conversation the peer's safety number. */
export function drawHeader(model: Model, peer: PeerInfo | undefined): void {
  const id = model.active;
  byId("title").textContent = id === "" ? "chat" : convLabel(id);
  const c = model.convs.get(id);
  const sealed = model.state.sealed.includes(id)
    ? "Private room: messages are end-to-end encrypted. "
    : "";
  byId("topic").textContent = id.startsWith("#") ? sealed + visible(c?.topic ?? "") : "";
  const box = byId("peer");
  if (!id.startsWith("@")) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  const safety = byId("safety");
  const status = byId("peer-status");
  if (peer === undefined || peer.name.toLowerCase() !== id.slice(1).toLowerCase()) {
    safety.textContent = "…";
    status.textContent = "";
    return;
  }
  safety.textContent = peer.safety ?? "not known yet: press Verify to fetch the key";
  status.textContent = peer.safety === null
    ? ""
    : peer.verified
    ? "verified"
    : "not verified: compare it with them, then press Trust";
  document.title = `${convLabel(id)} — chat`;
}

/** Shows or hides the banner for a lost connection. */
export function drawBanner(model: Model, pending: number, gone: string | undefined): void {
  const b = byId("banner");
  if (gone !== undefined) {
    b.hidden = false;
    b.textContent = gone;
    return;
  }
  if (model.link.up) {
    b.hidden = true;
    b.textContent = "";
    return;
  }
  b.hidden = false;
  b.textContent = `${visible(model.link.text)} — messages you type are kept and sent when ` +
    `the connection is back${pending > 0 ? ` (${pending} waiting)` : ""}.`;
}
