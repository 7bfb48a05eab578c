import { deepEqual as assertEquals, throws as assertThrows } from "node:assert/strict";
import {
  checkRequest,
  cookieName,
  cookieValues,
  keyProtocol,
  type RequestFacts,
  sameSecret,
  securityHeaders,
} from "../../client/gui/guard.ts";
import { MAX_FROM_PAGE, parseFromPage } from "../../client/gui/wire.ts";

const cfg = {
  token: "0123456789abcdef0123456789abcdef",
  secret: "fedcba9876543210fedcba9876543210",
  wsKey: "00112233445566778899aabbccddeeff",
  port: 4321,
};
const protocols = `chat-gui, ${keyProtocol(cfg.wsKey)}`;
const ws = { target: "/ws", upgrade: true, origin: "http://127.0.0.1:4321", protocols };
const cookie = `${cookieName(4321)}=${cfg.secret}`;

function req(over: Partial<RequestFacts>): RequestFacts {
  return {
    method: "GET",
    target: "/",
    host: "127.0.0.1:4321",
    origin: null,
    cookie,
    upgrade: false,
    ...over,
  };
}

Deno.test("guard: the token is exchanged for a cookie and a redirect whose fragment is the key", () => {
  const d = checkRequest(req({ target: `/?token=${cfg.token}`, cookie: null }), cfg);
  assertEquals(d, {
    kind: "exchange",
    setCookie: `chat_gui_4321=${cfg.secret}; Path=/; HttpOnly; SameSite=Strict`,
    location: `/#k=${cfg.wsKey}`,
  });
});

Deno.test("guard: the WebSocket needs the key as well as the cookie (the cookie alone is refused)", () => {
  assertEquals(checkRequest(req(ws), cfg), { kind: "allow", path: "/ws", protocol: "chat-gui" });
  const noKey = { kind: "deny", status: 403, reason: "no WebSocket key" };
  for (
    const p of [
      null,
      "",
      "chat-gui",
      keyProtocol(cfg.wsKey), // the key without the protocol it is answered with
      `chat-gui, ${keyProtocol("0".repeat(32))}`,
      `chat-gui, ${keyProtocol(cfg.secret)}`, // the cookie's value is not the key
      `chat-gui, chat-key.${cfg.wsKey.slice(1)}`,
      `chat-gui, ${cfg.wsKey}`,
    ]
  ) {
    assertEquals(checkRequest(req({ ...ws, protocols: p }), cfg), noKey, String(p));
  }
  // the key without the cookie is no better
  assertEquals(checkRequest(req({ ...ws, cookie: null }), cfg), {
    kind: "deny",
    status: 403,
    reason: "no session cookie",
  });
});

Deno.test("guard: without the cookie, or with a wrong token or cookie, every path is 403", () => {
  for (const target of ["/", "/app.js", "/style.css", "/ws", "/nothing"]) {
    assertEquals(checkRequest(req({ target, cookie: null }), cfg), {
      kind: "deny",
      status: 403,
      reason: "no session cookie",
    });
  }
  assertEquals(
    checkRequest(req({ target: `/?token=${"0".repeat(32)}`, cookie: null }), cfg),
    { kind: "deny", status: 403, reason: "wrong token" },
  );
  assertEquals(
    checkRequest(req({ cookie: `${cookieName(4321)}=${"1".repeat(32)}` }), cfg).kind,
    "deny",
  );
  // the cookie of another page (another port) does not count
  assertEquals(
    checkRequest(req({ cookie: `${cookieName(4322)}=${cfg.secret}` }), cfg).kind,
    "deny",
  );
  // the token is not accepted in place of the cookie on other paths or on the WebSocket
  assertEquals(
    checkRequest(
      req({
        target: `/ws?token=${cfg.token}`,
        cookie: null,
        upgrade: true,
        origin: "http://127.0.0.1:4321",
      }),
      cfg,
    ).kind,
    "deny",
  );
});

Deno.test("guard: with the cookie, the page, its files and the WebSocket are allowed", () => {
  assertEquals(checkRequest(req({}), cfg), { kind: "allow", path: "/" });
  assertEquals(checkRequest(req({ target: "/app.js" }), cfg), { kind: "allow", path: "/app.js" });
  assertEquals(checkRequest(req(ws), cfg), { kind: "allow", path: "/ws", protocol: "chat-gui" });
  assertEquals(
    checkRequest(req({ host: "localhost:4321", origin: "http://localhost:4321" }), cfg).kind,
    "allow",
  );
  assertEquals(
    checkRequest(req({ cookie: `a=b; ${cookie}; c=d` }), cfg).kind,
    "allow",
  );
});

Deno.test("guard: a foreign Host (DNS rebinding) or Origin is refused even with the cookie", () => {
  for (
    const host of ["evil.example:4321", "127.0.0.1:80", "127.0.0.1", "127.0.0.1.evil:4321", null]
  ) {
    assertEquals(checkRequest(req({ host }), cfg), {
      kind: "deny",
      status: 403,
      reason: "wrong Host",
    });
  }
  for (
    const origin of [
      "http://evil.example",
      "http://127.0.0.1:4322",
      "https://127.0.0.1:4321",
      "null",
    ]
  ) {
    assertEquals(checkRequest(req({ origin }), cfg), {
      kind: "deny",
      status: 403,
      reason: "foreign Origin",
    });
    assertEquals(checkRequest(req({ ...ws, origin }), cfg).kind, "deny");
  }
  assertEquals(checkRequest(req({ ...ws, origin: null }), cfg), {
    kind: "deny",
    status: 403,
    reason: "WebSocket without Origin",
  });
});

Deno.test("guard: other methods and over-long headers are refused", () => {
  assertEquals(checkRequest(req({ method: "POST" }), cfg).kind, "deny");
  assertEquals(checkRequest(req({ method: "POST" }), cfg), {
    kind: "deny",
    status: 405,
    reason: "method not allowed",
  });
  assertEquals(checkRequest(req({ cookie: "x".repeat(5000) }), cfg), {
    kind: "deny",
    status: 400,
    reason: "header too long",
  });
  assertEquals(checkRequest(req({ ...ws, protocols: "x".repeat(5000) }), cfg).kind, "deny");
  assertThrows(() => checkRequest(req({}), { ...cfg, token: "short" }), TypeError);
  assertThrows(() => checkRequest(req({}), { ...cfg, wsKey: "" }), TypeError);
});

Deno.test("guard: helpers", () => {
  assertEquals(cookieValues("a=1; b = 2;b=3", "b"), ["2", "3"]);
  assertEquals(sameSecret("abc", "abc"), true);
  assertEquals(sameSecret("abc", "abd"), false);
  assertEquals(sameSecret("abc", "ab"), false);
  const h = securityHeaders(4321);
  assertEquals(h["content-security-policy"].startsWith("default-src 'self';"), true);
  assertEquals(h["x-frame-options"], "DENY");
});

Deno.test("wire: messages from the page are checked before they are used", () => {
  assertEquals(parseFromPage('{"k":"line","conv":"#a","text":"hi"}'), {
    k: "line",
    conv: "#a",
    text: "hi",
  });
  assertEquals(parseFromPage('{"k":"line","conv":"@b","text":"/msg b x"}').k, "line");
  assertEquals(parseFromPage('{"k":"line","conv":null,"text":"x"}').k, "line");
  assertEquals(parseFromPage('{"k":"history","room":"#a","n":9999,"before":null}'), {
    k: "history",
    room: "#a",
    n: 500,
    before: null,
  });
  assertEquals(parseFromPage('{"k":"history","room":"#a","n":50,"before":7}').k, "history");
  assertEquals(parseFromPage('{"k":"answer","id":1,"value":"yes"}').k, "answer");
  assertThrows(() => parseFromPage("x".repeat(MAX_FROM_PAGE + 1)), RangeError);
  for (
    const bad of [
      "[]",
      "null",
      '{"k":"line","conv":"lobby","text":"x"}',
      '{"k":"line","conv":"#a"}',
      '{"k":"line","conv":"#a b","text":"x"}',
      '{"k":"history","room":"#a","n":0,"before":null}',
      '{"k":"history","room":"#a","n":5,"before":0}',
      '{"k":"history","room":"#a","n":5}',
      '{"k":"answer","id":"1","value":"x"}',
      '{"k":"peer","name":"a b"}',
      '{"k":"eval","code":"1"}',
    ]
  ) {
    assertThrows(() => parseFromPage(bad), TypeError, bad);
  }
});
