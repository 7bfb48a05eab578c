/**
 * Shared fixtures of the limit tests: an in-process server with shrunken limits, Refusal
 * decoding, and raw-client loops that answer the server's pings.
 * @module
 */

import assert from "node:assert/strict";
import type { Limits } from "../../shared/limits.ts";
import { decodeUtf8 } from "../../shared/encoding.ts";
import { EvilClient } from "../support/evil_client.ts";
import { startTestServer, type TestServer } from "../adversarial/helpers.ts";

/** Runs `body` against an in-process server with `limits`, always shutting it down. */
export async function withServer(
  limits: Partial<Limits>,
  body: (t: TestServer) => Promise<void>,
): Promise<void> {
  const t = await startTestServer(limits);
  try {
    await body(t);
  } finally {
    await t.close();
  }
}

/** Closes every client given, ignoring undefined ones. */
export async function closeAll(...clients: ({ close(): Promise<void> } | undefined)[]) {
  await Promise.all(clients.map((c) => c?.close()));
}

/** Adds `x` to `open` (closed later with {@link closeAll}) and returns it. */
export function keep<T>(open: T[], x: T): T {
  open.push(x);
  return x;
}

/** The Refusal code carried by `frame` (`0xFF ‖ code`), or undefined if it is not a Refusal. */
export function refusalCode(frame: Uint8Array | null): string | undefined {
  if (frame === null || frame.length < 2 || frame[0] !== 0xff) return undefined;
  return decodeUtf8(frame.subarray(1));
}

/** Asserts that `c` is closed by the server within `ms` and received no byte at all. */
export async function assertDroppedSilently(c: EvilClient, ms = 3000): Promise<void> {
  assert.equal(await c.waitClosed(ms), true, "server closed the connection");
  assert.equal(c.bytesReceived, 0, "server sent nothing");
}

/** Connects a raw client and completes the handshake and login as `name`. */
export function joined(t: TestServer, name: string): Promise<EvilClient> {
  return EvilClient.joined(t.port, name);
}

/**
 * Reads `c` for `ms`, answering every server `ping` with the matching `pong`; returns every
 * message seen. Stops early if the server closes the connection.
 */
export async function answerPings(c: EvilClient, ms: number): Promise<Record<string, unknown>[]> {
  const end = Date.now() + ms;
  const all: Record<string, unknown>[] = [];
  while (Date.now() < end) {
    let r;
    try {
      r = await c.readUntil((m) => m.t === "ping", end - Date.now());
    } catch (e) {
      if (e instanceof Error && e.message.startsWith("timeout")) break;
      throw e;
    }
    all.push(...r.seen);
    if (r.match === undefined) break;
    await c.send({ t: "pong", n: r.match.n });
  }
  return all;
}

/** `leave` events about `name` in `msgs`. */
export function leavesOf(msgs: Record<string, unknown>[], name: string) {
  return msgs.filter((m) => m.t === "event" && m.kind === "leave" && m.name === name);
}

/** Sleeps `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
