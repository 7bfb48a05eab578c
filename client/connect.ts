/**
 * The record path of one connection: dial an address within a deadline and open a session on
 * it (handshake, pin check, authentication), then read its frames — ordinary records and, when
 * negotiated, room records — and hand every server message on, in order, until it ends.
 * @module
 */

import { ConnectError, errorText, HostKeyChangedError, RefusedError } from "./errors.ts";
import { openSession, type OpenSessionDeps } from "./open_session.ts";
import type { Session } from "./session.ts";
import { ProtocolError } from "../shared/errors.ts";
import { withDeadline } from "../shared/io.ts";
import type { ServerMessage } from "../shared/messages.ts";

/** An address to dial, with its normalised `host:port`. */
export interface Dialled {
  /** Host name or IP address. */
  host: string;
  /** Port. */
  port: number;
  /** `host:port` as pins name it. */
  hostPort: string;
}

/**
 * Connects to `addr` (TCP, within `timeoutMs`), then runs {@link openSession} within the same
 * budget and returns the welcomed session. `HostKeyChangedError` and `RefusedError` are passed
 * on as they are; any other failure is a `ConnectError` naming the address. The connection is
 * closed on every failure.
 */
export async function dialSession(
  addr: Dialled,
  timeoutMs: number,
  deps: Omit<OpenSessionDeps, "hostPort">,
): Promise<Session> {
  const hostPort = addr.hostPort;
  let conn: Deno.TcpConn;
  try {
    const connecting = Deno.connect({ hostname: addr.host, port: addr.port });
    conn = await withDeadline(
      connecting,
      timeoutMs,
      () => new ConnectError("connect timed out"),
    ).catch((e) => {
      connecting.then((late) => late.close(), () => {}); // a connect that lands after the deadline
      throw e;
    });
  } catch (e) {
    throw new ConnectError(`cannot connect to ${hostPort}: ${errorText(e)}`, { cause: e });
  }
  try {
    conn.setNoDelay(true);
  } catch {
    // not fatal
  }
  try {
    return await openSession(conn, Date.now() + timeoutMs, { ...deps, hostPort });
  } catch (e) {
    try {
      conn.close();
    } catch {
      // closed
    }
    if (e instanceof HostKeyChangedError || e instanceof RefusedError) throw e;
    if (e instanceof ProtocolError || e instanceof ConnectError) {
      throw new ConnectError(`${hostPort}: ${e.message}`, { cause: e });
    }
    throw new ConnectError(`${hostPort}: ${errorText(e)}`, { cause: e });
  }
}

/**
 * Reads `s` until it ends: every frame is opened (a room record with the session's room-record
 * checks) and its messages go to `onMessage` in order; the end — EOF, a read error, a record or
 * message that fails its checks — goes to `onLost` with why (a `ProtocolError`'s code first,
 * e.g. `bad_record: …`). Stops quietly once the session is closed.
 */
export async function readSession(
  s: Session,
  onMessage: (m: ServerMessage) => void,
  onLost: (detail: string) => void,
): Promise<void> {
  const buf = new Uint8Array(16_384);
  try {
    for (;;) {
      // Records that came in with the end of the handshake are handled before waiting.
      for (let f = s.decoder.next(); f !== null; f = s.decoder.next()) {
        for (const m of s.read(f, s.decoder.room)) {
          if (s.closed) return;
          onMessage(m);
        }
      }
      if (s.closed) return;
      const n = await s.conn.read(buf);
      if (n === null) {
        s.decoder.finish();
        return onLost("the server closed the connection");
      }
      s.lastRecv = Date.now();
      s.decoder.push(buf.slice(0, n));
    }
  } catch (e) {
    onLost(e instanceof ProtocolError ? `${e.code}: ${e.message}` : errorText(e));
  }
}
