/**
 * The local web server of `chat gui`: listens on 127.0.0.1 only (a free port), answers every
 * request through {@link checkRequest} (token for cookie and WebSocket key, cookie required,
 * the key too on the WebSocket, Host and Origin checked), serves the page's three files with a strict Content-Security-Policy, and hands each
 * accepted WebSocket to the caller.
 * @module
 */

import { checkRequest, securityHeaders } from "./guard.ts";
import { toHex } from "../../shared/encoding.ts";
import { randomBytes } from "../../shared/crypto.ts";
import { ASSETS } from "./assets.ts";

/** Settings for {@link startLocalServer}. */
export interface LocalServerOptions {
  /** Called with each accepted WebSocket (before it is open). */
  onSocket(ws: WebSocket): void;
  /** Port to listen on (default 0: a free one). */
  port?: number;
}

/** A running local server. */
export interface LocalServer {
  /** The port it listens on. */
  readonly port: number;
  /** The address to open: it carries the token. */
  readonly url: string;
  /** Stops listening (open WebSockets are closed by their owner). */
  close(): Promise<void>;
}

/** Seconds without a pong before a tab's WebSocket is closed. */
const WS_IDLE_TIMEOUT_S = 60;

/** Starts the server on 127.0.0.1 with fresh random token, cookie secret and WebSocket key. */
export function startLocalServer(opts: LocalServerOptions): Promise<LocalServer> {
  const token = toHex(randomBytes(16));
  const secret = toHex(randomBytes(16));
  const wsKey = toHex(randomBytes(16));
  let port = 0;
  const { promise, resolve } = Promise.withResolvers<LocalServer>();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: opts.port ?? 0,
    onListen: (addr) => {
      port = addr.port;
      resolve({
        port,
        url: `http://127.0.0.1:${port}/?token=${token}`,
        close: () => server.shutdown(),
      });
    },
    onError: () => new Response("internal error", { status: 500 }),
  }, (req) => {
    const url = new URL(req.url);
    const upgrade = (req.headers.get("upgrade") ?? "").toLowerCase() === "websocket";
    const headers = securityHeaders(port);
    const d = checkRequest({
      method: req.method,
      target: url.pathname + url.search,
      host: req.headers.get("host"),
      origin: req.headers.get("origin"),
      cookie: req.headers.get("cookie"),
      upgrade,
      protocols: req.headers.get("sec-websocket-protocol"),
    }, { token, secret, wsKey, port });
    if (d.kind === "deny") {
      return new Response(`${d.status === 403 ? "forbidden" : "refused"}: ${d.reason}\n`, {
        status: d.status,
        headers: { ...headers, "content-type": "text/plain; charset=utf-8" },
      });
    }
    if (d.kind === "exchange") {
      return new Response(null, {
        status: 303,
        headers: { ...headers, "set-cookie": d.setCookie, location: d.location },
      });
    }
    if (d.path === "/ws") {
      if (!upgrade) return new Response("expected a WebSocket\n", { status: 400, headers });
      const { socket, response } = Deno.upgradeWebSocket(req, {
        idleTimeout: WS_IDLE_TIMEOUT_S,
        protocol: d.protocol,
      });
      opts.onSocket(socket);
      return response;
    }
    if (d.path === "/favicon.ico") return new Response(null, { status: 204, headers });
    const asset = ASSETS[d.path];
    if (asset === undefined) return new Response("not found\n", { status: 404, headers });
    return new Response(req.method === "HEAD" ? null : asset.body, {
      headers: { ...headers, "content-type": asset.type },
    });
  });
  return promise;
}
