import assert from "node:assert/strict";
import { parseClientMessage, parseJsonObject } from "../../shared/messages.ts";
import { ProtocolError } from "../../shared/errors.ts";

const ID = "AAAAAAAAAAAAAAAAAAAAAA==";

function badMessage(text: string): void {
  assert.throws(
    () => parseJsonObject(text),
    (e) => e instanceof ProtocolError && e.code === "bad_message",
    text,
  );
}

Deno.test("parseJsonObject: a __proto__ key is refused, spelled out or escaped, at any depth", () => {
  badMessage('{"__proto__":{"x":1}}');
  badMessage('{"t":"say","a":{"__proto__":1}}');
  badMessage('{"\\u005f_proto__":1}');
  badMessage('{"t":"x","a":[{"__pr\\u006fto__":1}]}');
  badMessage('{"\\u005F\\u005Fproto\\u005F\\u005F":1}');
});

Deno.test("parseJsonObject: objects parse with and without escapes; other values are refused", () => {
  assert.deepEqual(parseJsonObject('{"t":"say","text":"proto __proto"}'), {
    t: "say",
    text: "proto __proto",
  });
  assert.deepEqual(parseJsonObject('{"text":"\\u00e9\\n__proto__"}'), { text: "é\n__proto__" });
  badMessage("");
  badMessage("[1]");
  badMessage("null");
  badMessage("{");
});

Deno.test("parseClientMessage: a say with an escaped text parses; one with __proto__ does not", () => {
  const ok = parseClientMessage(
    JSON.stringify({ t: "say", id: ID, room: "#a", text: "caf\u00e9 \u0007" }),
  );
  assert.deepEqual(ok, { t: "say", id: ID, room: "#a", text: "café \u0007" });
  assert.throws(
    () => parseClientMessage(`{"t":"say","id":"${ID}","room":"#a","text":"x","\\u005f_proto__":1}`),
    (e) => e instanceof ProtocolError && e.code === "bad_message",
  );
});
