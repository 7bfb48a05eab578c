/** The plain view: input lines from a stream, one sanitized line or JSON object per event. */

import assert from "node:assert/strict";
import { jsonEvent, jsonLine, MAX_INPUT_LINE, PlainView } from "../../client/plain.ts";
import type { RenderState } from "../../client/view.ts";
import { isSafe } from "../../shared/sanitize.ts";
import { msg, TS, welcome } from "../support/client_events.ts";

// ---- PlainView ----

function streamOf(...chunks: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return ReadableStream.from(chunks.map((c) => enc.encode(c)));
}
const RS: RenderState = { me: "alice", timestamps: false, ignored: new Set(["eve"]), bell: "off" };

async function collect(view: PlainView): Promise<string[]> {
  const out: string[] = [];
  for await (const l of view.lines()) out.push(l);
  return out;
}

Deno.test("plain: input lines split on LF and CRLF across chunks; the last may lack a newline", async () => {
  const view = new PlainView({
    json: false,
    input: streamOf("he", "llo\r\nwor", "ld\n\nlast"),
    write: () => {},
  });
  assert.deepEqual(await collect(view), ["hello", "world", "", "last"]);
  await view.close();
});

Deno.test("plain: an over-long input line is reported and skipped", async () => {
  const out: string[] = [];
  const long = "x".repeat(MAX_INPUT_LINE + 1);
  const view = new PlainView({
    json: false,
    input: streamOf("a\n", long.slice(0, 40_000), long.slice(40_000) + "\nb\n"),
    write: (s) => out.push(s),
  });
  assert.deepEqual(await collect(view), ["a", "b"]);
  assert.deepEqual(out, [`! input line longer than ${MAX_INPUT_LINE} characters: not sent\n`]);
});

Deno.test("plain: text output is one sanitized line per event; pending lines are skipped", () => {
  const out: string[] = [];
  const view = new PlainView({ json: false, write: (s) => out.push(s), now: () => TS });
  view.show({ t: "server", msg: msg({ text: "hi\x1b[2J\nthere" }) }, RS);
  view.show({ t: "pending", id: "1", room: "#lobby", text: "x", me: false }, RS);
  view.show({ t: "server", msg: msg({ from: "eve" }) }, RS);
  assert.deepEqual(out, ["[#lobby] bob: hi␛[2J␊there\n"]);
});

Deno.test("plain: while the connection is down, pending lines are printed", () => {
  const out: string[] = [];
  const view = new PlainView({ json: false, write: (s) => out.push(s), now: () => TS });
  view.show({ t: "status", state: "lost", detail: "gone" }, RS);
  view.show({ t: "pending", id: "1", room: "#lobby", text: "queued", me: false }, RS);
  view.show(welcome(), RS);
  view.show({ t: "pending", id: "2", room: "#lobby", text: "online", me: false }, RS);
  assert.equal(out.filter((l) => l.includes("queued …")).length, 1, out.join(""));
  assert.equal(out.filter((l) => l.includes("online")).length, 0, out.join(""));
});

Deno.test("plain: JSON output is the server message itself, or a local kind", () => {
  const out: string[] = [];
  const view = new PlainView({ json: true, write: (s) => out.push(s) });
  const m = msg({ text: "a\u202eb\x1b]0;t\x07\u0085" });
  view.show({ t: "server", msg: m }, RS);
  view.show({ t: "pending", id: "1", room: "#lobby", text: "x", me: false }, RS);
  view.show({ t: "acked", id: "1", msg: msg({ seq: 9 }) }, RS);
  view.show({ t: "server", msg: msg({ from: "eve" }) }, RS);
  assert.equal(out.length, 3);
  assert.deepEqual(JSON.parse(out[0]), m);
  assert.deepEqual(JSON.parse(out[1]), {
    t: "pending",
    id: "1",
    room: "#lobby",
    text: "x",
    me: false,
  });
  assert.deepEqual(JSON.parse(out[2]), { t: "acked", id: "1", room: "#lobby", seq: 9 });
  for (const line of out) {
    assert.ok(line.endsWith("\n"));
    assert.ok(isSafe(line.slice(0, -1)), line);
  }
  assert.equal(jsonLine("\u202e\u{e0041}"), '"\\u202e\\udb40\\udc41"');
  assert.deepEqual(jsonEvent({ t: "local", level: "info", text: "x" }), {
    t: "local",
    level: "info",
    text: "x",
  });
});

Deno.test("plain: askName refuses (the name must come from --name)", async () => {
  const view = new PlainView({ json: false, write: () => {} });
  await assert.rejects(view.askName("name_taken."), /name_taken\. .*--name/);
});

Deno.test("plain: close ends a pending read", async () => {
  let cancelled = false;
  const input = new ReadableStream<Uint8Array>({
    cancel() {
      cancelled = true;
    },
  });
  const view = new PlainView({ json: false, input, write: () => {} });
  const it = view.lines()[Symbol.asyncIterator]();
  const next = it.next();
  await view.close();
  assert.deepEqual(await next, { value: undefined, done: true });
  assert.equal(cancelled, true);
});
