/// <reference lib="dom" />
/**
 * The page of `chat gui`: one WebSocket to the user's own `chat` process, which does the
 * protocol and the cryptography. Events are applied to the {@link Model} and drawn; the input
 * sends lines (Enter sends, Shift+Enter adds a line, Tab completes names, rooms and commands);
 * questions from the process are modal dialogs; scrolling to the top fetches older messages.
 * The WebSocket key comes once, in the fragment of the address the token was exchanged at; it is
 * kept in this origin's storage (for a reload, another tab, a tab reopened) and offered as a
 * subprotocol, never sent by the browser on its own.
 * @module
 */

import { complete } from "../../completion.ts";
import type { FromPage, PeerInfo, Prompt, ToPage } from "../wire.ts";
import { byId, drawBanner, drawHeader, drawLines, drawList, el } from "./draw.ts";
import { Model } from "./model.ts";
import { visible } from "./text.ts";
import { typed } from "./typed.ts";

const model = new Model();
let ws: WebSocket | undefined;
let peer: PeerInfo | undefined;
let gone: string | undefined;
let ended = false;
const prompts = new Map<number, Prompt>();
let shownPrompt: number | undefined;
/** Messages asked for per page of older history. */
const HISTORY_PAGE = 50;

const input = byId<HTMLTextAreaElement>("input");
const list = byId<HTMLOListElement>("messages");
const hint = byId("hint");

function send(m: FromPage): void {
  if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify(m));
}

function pendingCount(): number {
  let n = 0;
  for (const c of model.convs.values()) for (const l of c.lines) if (l.pending) n++;
  return n;
}

let frame = 0;
let frameLines = false;

/** Redraws once per frame at most, however many events came (a new tab gets the backlog at once). */
function redraw(lines = true): void {
  frameLines ||= lines;
  if (frame !== 0) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    const all = frameLines;
    frameLines = false;
    redrawNow(all);
  });
}

function redrawNow(lines: boolean): void {
  drawList(model, openConv);
  drawOlder();
  drawHeader(model, peer);
  if (lines) drawLines(model.convs.get(model.active), model.state);
  drawBanner(model, pendingCount(), gone);
  byId("me").textContent = model.state.me === ""
    ? visible(model.state.server)
    : `${visible(model.state.me)} on ${visible(model.state.server)}`;
}

function openConv(id: string): void {
  if (id === "") return redraw();
  model.open(id);
  if (id.startsWith("@")) {
    peer = undefined;
    send({ k: "peer", name: id.slice(1) });
  }
  redraw();
  input.focus();
}

function notify(n: { title: string; body: string; conv: string }): void {
  if (!("Notification" in globalThis) || Notification.permission !== "granted") return;
  const note = new Notification(visible(n.title), { body: visible(n.body), tag: n.conv });
  note.onclick = () => {
    globalThis.focus();
    openConv(n.conv);
  };
}

function onMessage(m: ToPage): void {
  switch (m.k) {
    case "state": {
      const look = (st: typeof m.state) => `${st.rooms.join(" ")} ${st.timestamps} ${st.colors}`;
      const before = look(model.state);
      const moved = m.state.room !== model.state.room;
      model.setState(m.state);
      // The application moved to another room (after /join, or leaving one): show it.
      if (moved && m.state.rooms.includes(m.state.room) && model.active !== m.state.room) {
        model.open(m.state.room);
        redraw();
        return;
      }
      redraw(before !== look(m.state));
      return;
    }
    case "ev": {
      const fx = model.apply(m.ev, { visible: !document.hidden, at: m.at, where: m.where });
      if (fx.notify !== undefined) notify(fx.notify);
      if (m.ev.t === "dm" || m.ev.t === "local") {
        // A private conversation's key may have been pinned or trusted just now.
        if (model.active.startsWith("@")) send({ k: "peer", name: model.active.slice(1) });
      }
      redraw(fx.changed.has(model.active) || m.ev.t === "status");
      return;
    }
    case "prompt":
      prompts.set(m.id, m.prompt);
      showPrompt();
      return;
    case "prompt_done":
      prompts.delete(m.id);
      if (shownPrompt === m.id) {
        shownPrompt = undefined;
        byId<HTMLDialogElement>("dialog").close();
      }
      showPrompt();
      return;
    case "peer":
      peer = m.peer;
      drawHeader(model, peer);
      return;
    case "clear":
      for (const c of model.convs.values()) c.lines.length = 0;
      redraw();
      return;
    case "bye":
      ended = true;
      try {
        localStorage.removeItem(KEY_ITEM);
      } catch {
        // no storage
      }
      gone = m.text;
      redraw(false);
      return;
  }
}

function showPrompt(): void {
  const dlg = byId<HTMLDialogElement>("dialog");
  if (shownPrompt !== undefined || prompts.size === 0) return;
  const [id, p] = prompts.entries().next().value!;
  shownPrompt = id;
  const body = byId("dialog-body");
  const field = byId<HTMLInputElement>("dialog-input");
  const label = byId("dialog-label");
  const yes = byId<HTMLButtonElement>("dialog-yes");
  const no = byId<HTMLButtonElement>("dialog-no");
  body.replaceChildren();
  if (p.kind === "trust") {
    byId("dialog-title").textContent = "Trust this server?";
    body.append(
      el("p", "", `The server ${visible(p.server)} is not known yet. Its key fingerprint is:`),
      el("p", "fingerprint", visible(p.fingerprint)),
      el("p", "", "Compare it with the one its operator gave you before trusting it."),
    );
    field.hidden = true;
    label.hidden = true;
    yes.textContent = "Trust and connect";
    no.textContent = "Do not connect";
    no.hidden = false;
  } else {
    byId("dialog-title").textContent = "Choose your name";
    if (p.reason !== undefined) body.append(el("p", "error", visible(p.reason)));
    body.append(el("p", "", `The name others see on ${visible(p.server)}.`));
    field.hidden = false;
    label.hidden = false;
    field.value = "";
    yes.textContent = "Connect";
    no.hidden = true;
  }
  const answer = (value: string) => {
    if (shownPrompt !== id) return;
    send({ k: "answer", id, value });
  };
  yes.onclick = () => answer(p.kind === "trust" ? "yes" : field.value);
  no.onclick = () => answer("no");
  field.onkeydown = (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      answer(field.value);
    }
  };
  dlg.oncancel = (e) => e.preventDefault();
  dlg.showModal();
  (p.kind === "trust" ? no : field).focus();
}

function submit(): void {
  const text = input.value;
  if (text.trim() === "") return;
  const conv = model.active;
  const t = typed(text, conv, model.order(), model.state.me);
  if (t.kind === "send") send({ k: "line", conv: conv === "" ? null : conv, text: t.text });
  if (t.kind === "error") hint.textContent = t.text;
  input.value = "";
  if (t.kind !== "error") hint.textContent = "";
  resize();
  if (t.kind === "open") {
    model.conv(t.conv);
    openConv(t.conv);
  }
  if (t.kind === "close") {
    model.convs.delete(t.conv);
    openConv(model.order()[0] ?? "");
  }
}

function resize(): void {
  input.style.height = "auto";
  input.style.height = `${Math.min(input.scrollHeight, 200)}px`;
}

function tab(e: KeyboardEvent): void {
  const upto = input.value.slice(0, input.selectionStart);
  // An empty input or one ending in a space: Tab moves the focus, as everywhere else.
  if (upto === "" || /\s$/.test(upto) || e.shiftKey) return;
  const room = model.active.startsWith("#") ? model.active : model.state.room;
  const [hits, word] = complete(upto, {
    commands: model.state.commands,
    names: model.state.names[room] ?? [],
    rooms: model.state.known,
  });
  e.preventDefault();
  if (hits.length === 0) {
    hint.textContent = "no completion";
    return;
  }
  let pick = hits[0];
  if (hits.length > 1) {
    let i = 0;
    while (hits.every((h) => h[i] !== undefined && h[i] === hits[0][i])) i++;
    pick = hits[0].slice(0, i);
    hint.textContent = hits.map(visible).join("  ");
  } else {
    hint.textContent = "";
  }
  const head = upto.slice(0, upto.length - word.length) + pick;
  input.value = head + input.value.slice(input.selectionStart);
  input.selectionStart = input.selectionEnd = head.length;
}

input.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    submit();
  } else if (e.key === "Tab") {
    tab(e);
  }
});
input.addEventListener("input", resize);
byId("send").addEventListener("click", submit);

document.addEventListener("keydown", (e) => {
  if (e.altKey && /^[1-9]$/.test(e.key)) {
    const id = model.order()[Number(e.key) - 1];
    if (id !== undefined) {
      e.preventDefault();
      openConv(id);
    }
  } else if (
    e.key === "Escape" && document.activeElement !== input &&
    !byId<HTMLDialogElement>("dialog").open
  ) {
    input.focus();
  }
});

byId("verify").addEventListener("click", () => {
  if (model.active.startsWith("@")) {
    send({ k: "line", conv: model.active, text: `/verify ${model.active.slice(1)}` });
  }
});
byId("trust").addEventListener("click", () => {
  if (model.active.startsWith("@")) {
    send({ k: "line", conv: model.active, text: `/trust ${model.active.slice(1)}` });
  }
});
byId("dm-open").addEventListener("click", () => {
  const f = byId<HTMLInputElement>("dm-name");
  const name = f.value.trim();
  if (!/^\S{1,64}$/.test(name)) return;
  f.value = "";
  model.conv(`@${name}`);
  openConv(`@${name}`);
});
byId<HTMLInputElement>("dm-name").addEventListener("keydown", (e) => {
  if (e.key === "Enter") {
    e.preventDefault();
    byId("dm-open").click();
  }
});

const notifyButton = byId<HTMLButtonElement>("notify");
if (!("Notification" in globalThis) || Notification.permission !== "default") {
  notifyButton.hidden = true;
}
notifyButton.addEventListener("click", async () => {
  await Notification.requestPermission();
  notifyButton.hidden = Notification.permission !== "default";
});

/** Older history per room: the oldest seq asked before, and whether the start was reached. */
const older = new Map<string, { before: number; done: boolean; at: number }>();

/** Asks for the page of history before the oldest message shown (scrolling up, or the button). */
function fetchOlder(): void {
  const room = model.active;
  if (!room.startsWith("#")) return;
  const oldest = model.convs.get(room)?.lines.find((l) => l.seq !== undefined)?.seq;
  const last = older.get(room);
  if (oldest === undefined) return; // no message yet: nothing to page back from
  if (oldest <= 1) {
    older.set(room, { before: 1, done: true, at: Date.now() });
    drawOlder();
    return;
  }
  // One page at a time; a page that brought nothing older ends it.
  if (last !== undefined && (last.done || Date.now() - last.at < 1000)) return;
  if (last !== undefined && last.before === oldest) {
    older.set(room, { ...last, done: true });
    drawOlder();
    return;
  }
  older.set(room, { before: oldest, done: false, at: Date.now() });
  send({ k: "history", room, n: HISTORY_PAGE, before: oldest });
}

function drawOlder(): void {
  const b = byId<HTMLButtonElement>("older");
  b.hidden = !model.active.startsWith("#") || older.get(model.active)?.done === true;
}

list.addEventListener("scroll", () => {
  if (list.scrollTop <= 40) fetchOlder();
});
// Already at the top (a short list does not scroll): going further up asks for more too.
list.addEventListener("wheel", (e) => {
  if (e.deltaY < 0 && list.scrollTop <= 40) fetchOlder();
}, { passive: true });
list.addEventListener("keydown", (e) => {
  if (["PageUp", "Home", "ArrowUp"].includes(e.key) && list.scrollTop <= 40) fetchOlder();
});
byId("older").addEventListener("click", fetchOlder);

/** Where the WebSocket key is kept: this origin's storage (scheme, host and port). */
const KEY_ITEM = "chat-gui-key";

/** Takes the key from the fragment (then removed from the address) or from storage. */
function wsKey(): string | null {
  const m = /^#k=([0-9a-f]{32})$/.exec(location.hash);
  try {
    if (m !== null) {
      localStorage.setItem(KEY_ITEM, m[1]);
      history.replaceState(null, "", location.pathname);
    }
    return localStorage.getItem(KEY_ITEM) ?? m?.[1] ?? null;
  } catch {
    // No storage: this tab only.
    if (m !== null) history.replaceState(null, "", location.pathname);
    return m?.[1] ?? null;
  }
}

const key = wsKey();

function connect(): void {
  if (key === null) {
    gone = "This tab has no key for the chat: open the address `chat gui` printed.";
    redraw(false);
    return;
  }
  const sock = new WebSocket(`ws://${location.host}/ws`, ["chat-gui", `chat-key.${key}`]);
  ws = sock;
  sock.onmessage = (e) => {
    if (typeof e.data === "string") onMessage(JSON.parse(e.data) as ToPage);
  };
  sock.onopen = () => {
    gone = undefined;
    for (const c of model.convs.values()) c.lines.length = 0;
    redraw();
  };
  sock.onclose = () => {
    if (ended) return;
    if (gone === undefined) gone = "The chat process is not answering; trying again…";
    redraw(false);
    setTimeout(connect, 2000);
  };
}

connect();
input.focus();
