/**
 * Record-layer attacks from an authenticated client: replayed, reordered, reflected, bit-flipped
 * and truncated records, and oversized frames. Each must close the attacker's connection, deliver
 * nothing from the bad record to the honest client in #lobby, and leave the server serving.
 */

import assert from "node:assert/strict";
import { RecordSealer } from "../../shared/record.ts";
import { utf8 } from "../../shared/encoding.ts";
import { EvilClient, flipBit } from "../support/evil_client.ts";
import { assertStillServing, msgsFrom, startTestServer, type TestServer } from "./helpers.ts";

/** Server + honest observer "olivia" + attacker `name`, both in #lobby. */
async function scene(
  name: string,
  body: (t: TestServer, evil: EvilClient, observer: EvilClient) => Promise<void>,
): Promise<void> {
  const t = await startTestServer();
  const clients: EvilClient[] = [];
  try {
    const observer = await EvilClient.joined(t.port, "olivia");
    clients.push(observer);
    const evil = await EvilClient.joined(t.port, name);
    clients.push(evil);
    const { match } = await observer.readUntil((m) =>
      m.t === "event" && m.kind === "join" && m.name === name
    );
    assert.ok(match, "observer saw the attacker join");
    await body(t, evil, observer);
  } finally {
    for (const c of clients) await c.close();
    await t.close();
  }
}

/** The attacker is cut off: closed, nothing from it relayed, its leave seen; server serves. */
async function assertCutOff(
  t: TestServer,
  evil: EvilClient,
  observer: EvilClient,
  name: string,
): Promise<void> {
  assert.equal(await evil.waitClosed(5000), true, "server closed the attacker's connection");
  const seen = await observer.sync();
  assert.deepEqual(msgsFrom(seen, name), [], "nothing from the attacker was delivered");
  const leave = seen.find((m) => m.t === "event" && m.kind === "leave" && m.name === name);
  assert.equal(leave?.reason, "connection lost");
  await assertStillServing(t, observer);
}

Deno.test("replayed record: the original is delivered once, the replay closes", async () => {
  await scene("mallory", async (t, evil, observer) => {
    const say = EvilClient.say("only once");
    const body = await evil.send(say);
    const { match } = await observer.readUntil((m) => m.t === "msg" && m.from === "mallory");
    assert.equal(match?.text, "only once");
    assert.equal(match?.id, say.id);
    await evil.sendFrame(body); // identical bytes again
    await assertCutOff(t, evil, observer, "mallory");
  });
});

Deno.test("reordered records: neither is delivered and the connection closes", async () => {
  await scene("mallory", async (t, evil, observer) => {
    const first = await evil.seal(EvilClient.say("first"));
    const second = await evil.seal(EvilClient.say("second"));
    await evil.sendFrame(second);
    await evil.sendFrame(first);
    await assertCutOff(t, evil, observer, "mallory");
  });
});

Deno.test("reflected record (the server's own welcome sent back) closes", async () => {
  await scene("mallory", async (t, evil, observer) => {
    assert.ok(evil.received.length > 0);
    await evil.sendFrame(evil.received[0]);
    await assertCutOff(t, evil, observer, "mallory");
  });
});

Deno.test("record sealed for the wrong direction and counter (s2c keys) closes", async () => {
  await scene("mallory", async (t, evil, observer) => {
    // A say sealed with the server's direction byte and keys: a reflection attempt of a forged kind.
    const sealer = new RecordSealer(evil.session!.s2c);
    const body = await sealer.seal(utf8.encode(JSON.stringify(EvilClient.say("x"))));
    await evil.sendFrame(body);
    await assertCutOff(t, evil, observer, "mallory");
  });
});

for (
  const [label, offset] of [["first ciphertext byte", 0], ["a middle byte", 20], [
    "the tag",
    -1,
  ]] as const
) {
  Deno.test(`bit flipped in ${label} of a record: nothing delivered, closed`, async () => {
    await scene("mallory", async (t, evil, observer) => {
      const body = await evil.seal(EvilClient.say("tampered"));
      await evil.sendFrame(flipBit(body, offset, 3));
      await assertCutOff(t, evil, observer, "mallory");
    });
  });
}

Deno.test("record shortened by one byte (length prefix matching) closes", async () => {
  await scene("mallory", async (t, evil, observer) => {
    const body = await evil.seal(EvilClient.say("short"));
    await evil.sendFrame(body.subarray(0, body.length - 1));
    await assertCutOff(t, evil, observer, "mallory");
  });
});

Deno.test("record cut short by EOF inside the frame: nothing delivered", async () => {
  await scene("mallory", async (t, evil, observer) => {
    const body = await evil.seal(EvilClient.say("cut"));
    await evil.sendHeader(body.length, body.subarray(0, body.length >> 1));
    await evil.closeWrite();
    await assertCutOff(t, evil, observer, "mallory");
  });
});

Deno.test("record frame over the limit (16,401) closes on the header alone", async () => {
  await scene("mallory", async (t, evil, observer) => {
    await evil.sendHeader(16_401); // no body follows: the server must not wait for one
    await assertCutOff(t, evil, observer, "mallory");
  });
});

Deno.test("record frame of length 0xFFFFFFFF closes on the header alone", async () => {
  await scene("mallory", async (t, evil, observer) => {
    await evil.sendHeader(0xffffffff);
    await assertCutOff(t, evil, observer, "mallory");
  });
});

Deno.test("record frame under the minimum (16 bytes, a bare tag) closes", async () => {
  await scene("mallory", async (t, evil, observer) => {
    await evil.sendHeader(16, new Uint8Array(16));
    await assertCutOff(t, evil, observer, "mallory");
  });
});

Deno.test("a record at the limit (16,400 bytes) is accepted, not cut off", async () => {
  await scene("mallory", async (_t, evil, observer) => {
    // 16,384 bytes of plaintext: a ping padded with spaces is valid JSON.
    const ping = JSON.stringify({ t: "ping", n: 7 });
    const plain = ping + " ".repeat(16_384 - ping.length);
    const body = await evil.seal(plain);
    assert.equal(body.length, 16_400);
    await evil.sendFrame(body);
    const { match } = await evil.readUntil((m) => m.t === "pong");
    assert.equal(match?.n, 7);
    assert.deepEqual(msgsFrom(await observer.sync(), "mallory"), []);
  });
});
