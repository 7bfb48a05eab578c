/**
 * Who may use the local page of `chat gui`: a decision per HTTP request. The address the
 * browser is opened on carries a random token; the first request with it gets an HttpOnly,
 * SameSite=Strict cookie and a redirect to the page without the token, whose fragment carries
 * the WebSocket key (a fragment is never sent to a server; the page keeps the key in its
 * origin's storage). Every other request needs the cookie. Cookies are not port-scoped (the
 * browser sends this one to any server on 127.0.0.1), so the WebSocket upgrade needs the key as
 * well, offered as the subprotocol `chat-key.KEY`: a browser never sends it by itself, and only
 * the page's own origin can read it. The Host header must name the loopback
 * address and port the page is served on (a page on another site that rebinds its DNS name to
 * 127.0.0.1 sends its own name), and an Origin, when present (always on a WebSocket upgrade),
 * must be the page's own.
 * @module
 */

import { equalSecrets } from "../../shared/crypto.ts";

/** The secrets and the address one local page is served with. */
export interface GuardConfig {
  /** The token in the address the browser is opened on (32 hex digits: 128 bits). */
  token: string;
  /** The cookie value given in exchange for the token (32 hex digits). */
  secret: string;
  /** The WebSocket key given in the redirect's fragment (32 hex digits). */
  wsKey: string;
  /** The port the page is served on (127.0.0.1 only). */
  port: number;
}

/** What {@link checkRequest} looks at in a request. */
export interface RequestFacts {
  /** HTTP method. */
  method: string;
  /** The request's path and query, e.g. `/?token=…` or `/app.js`. */
  target: string;
  /** The Host header, or null. */
  host: string | null;
  /** The Origin header, or null. */
  origin: string | null;
  /** The Cookie header, or null. */
  cookie: string | null;
  /** True for a WebSocket upgrade. */
  upgrade: boolean;
  /** The Sec-WebSocket-Protocol header, or null. */
  protocols?: string | null;
}

/** The answer to a request. */
export type Decision =
  | { kind: "allow"; path: string; protocol?: string }
  | { kind: "exchange"; setCookie: string; location: string }
  | { kind: "deny"; status: 400 | 403 | 405; reason: string };

/** The cookie's name: one per port, so two pages on one machine do not replace each other's. */
export function cookieName(port: number): string {
  return `chat_gui_${port}`;
}

/** The subprotocol the page asks for and the process answers with. */
export const WS_PROTOCOL = "chat-gui";

/** The subprotocol that carries the WebSocket key. */
export function keyProtocol(wsKey: string): string {
  return `chat-key.${wsKey}`;
}

/** Longest request target, Host, Origin, Cookie or Sec-WebSocket-Protocol header looked at. */
export const MAX_HEADER = 4096;

const SECRET = /^[0-9a-f]{32}$/;

/** Compares two strings in time that depends only on their lengths. */
export function sameSecret(a: string, b: string): boolean {
  const enc = new TextEncoder();
  return equalSecrets(enc.encode(a), enc.encode(b));
}

/** The values of cookie `name` in a Cookie header (a browser may send a name more than once). */
export function cookieValues(header: string, name: string): string[] {
  const out: string[] = [];
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) out.push(part.slice(eq + 1).trim());
  }
  return out;
}

/** The Host values the page answers to: the loopback address or `localhost`, with its port. */
export function allowedHosts(port: number): string[] {
  return [`127.0.0.1:${port}`, `localhost:${port}`];
}

/** The subprotocols offered in a Sec-WebSocket-Protocol header. */
export function protocolValues(header: string): string[] {
  return header.split(",").map((p) => p.trim()).filter((p) => p !== "");
}

/** Decides what to do with one request (see the module documentation). */
export function checkRequest(req: RequestFacts, cfg: GuardConfig): Decision {
  const deny = (status: 400 | 403 | 405, reason: string): Decision => ({
    kind: "deny",
    status,
    reason,
  });
  if (!SECRET.test(cfg.token) || !SECRET.test(cfg.secret) || !SECRET.test(cfg.wsKey)) {
    throw new TypeError("token, secret and WebSocket key must be 32 hex digits");
  }
  const protocols = req.protocols ?? "";
  const sizes = [req.target, req.host ?? "", req.origin ?? "", req.cookie ?? "", protocols];
  if (sizes.some((s) => s.length > MAX_HEADER)) return deny(400, "header too long");
  const hosts = allowedHosts(cfg.port);
  if (req.host === null || !hosts.includes(req.host.toLowerCase())) {
    return deny(403, "wrong Host");
  }
  if (req.origin !== null && !hosts.some((h) => req.origin === `http://${h}`)) {
    return deny(403, "foreign Origin");
  }
  if (req.upgrade && req.origin === null) return deny(403, "WebSocket without Origin");
  if (req.method !== "GET" && req.method !== "HEAD") return deny(405, "method not allowed");
  let url: URL;
  try {
    url = new URL(req.target, `http://${hosts[0]}`);
  } catch {
    return deny(400, "bad request target");
  }
  const cookies = cookieValues(req.cookie ?? "", cookieName(cfg.port));
  const hasCookie = cookies.some((v) => sameSecret(v, cfg.secret));
  const token = url.searchParams.get("token");
  if (token !== null && !req.upgrade && url.pathname === "/") {
    if (!sameSecret(token, cfg.token)) return deny(403, "wrong token");
    return {
      kind: "exchange",
      setCookie: `${cookieName(cfg.port)}=${cfg.secret}; Path=/; HttpOnly; SameSite=Strict`,
      location: `/#k=${cfg.wsKey}`,
    };
  }
  if (!hasCookie) return deny(403, "no session cookie");
  if (!req.upgrade) return { kind: "allow", path: url.pathname };
  const offered = protocolValues(protocols);
  const key = keyProtocol(cfg.wsKey);
  const hasKey = offered.some((p) => sameSecret(p, key));
  if (!hasKey || !offered.includes(WS_PROTOCOL)) return deny(403, "no WebSocket key");
  return { kind: "allow", path: url.pathname, protocol: WS_PROTOCOL };
}

/** Headers every answer of the local page carries. */
export function securityHeaders(port: number): Record<string, string> {
  const ws = allowedHosts(port).map((h) => `ws://${h}`).join(" ");
  return {
    "content-security-policy": `default-src 'self'; connect-src 'self' ${ws}; ` +
      "img-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; " +
      "frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "cache-control": "no-store",
  };
}
