import assert from "node:assert/strict";
import { welcomeLine } from "../../server/welcome.ts";
import { DEFAULT_LIMITS } from "../../shared/limits.ts";
import { utf8Length } from "../../shared/encoding.ts";

function welcome(motd: string, topic = "a topic") {
  const line = welcomeLine({
    name: "bob",
    fingerprint: "SHA256:" + "x".repeat(43),
    serverName: "chat",
    version: "1",
    motd,
    rooms: [{ name: "#lobby", topic, members: 1 }],
  }, DEFAULT_LIMITS);
  return { line, msg: JSON.parse(line) };
}

Deno.test("welcome: kept whole while it fits one record, counted in UTF-8 bytes", () => {
  const limit = DEFAULT_LIMITS.recordPlaintext;
  const short = welcome("hello");
  assert.equal(short.msg.server.motd, "hello");
  assert.equal(short.msg.rooms[0].topic, "a topic");

  // 6,000 × "é": more UTF-16 units than a third of the limit, but 12,000 bytes: it fits.
  const wide = welcome("é".repeat(6000));
  assert.ok(wide.line.length * 3 > limit);
  assert.ok(utf8Length(wide.line) <= limit);
  assert.equal(wide.msg.server.motd, "é".repeat(6000));
  assert.equal(wide.msg.rooms[0].topic, "a topic");
});

Deno.test("welcome: too long for one record, the MOTD and topics are left out", () => {
  const limit = DEFAULT_LIMITS.recordPlaintext;
  for (const motd of ["é".repeat(9000), "a".repeat(limit), "😀".repeat(5000)]) {
    const { line, msg } = welcome(motd);
    assert.ok(utf8Length(line) <= limit);
    assert.equal(msg.server.motd, "");
    assert.equal(msg.rooms[0].topic, "");
    assert.equal(msg.rooms[0].name, "#lobby");
    assert.equal(msg.name, "bob");
  }
});
