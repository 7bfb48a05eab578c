/**
 * What a `chat bench` run reports (throughput, latency, server figures), and its text form.
 * @module
 */

import type { Spread } from "./measure.ts";

/** Result of the handshake mode. */
export interface HandshakeReport {
  mode: "handshakes";
  handshakes: number;
  ok: number;
  seconds: number;
  perSecond: number;
  handshakeMs: Spread;
  serverCpuMsPerHandshake?: number;
  errors: Record<string, number>;
}

/** Result of the load mode. */
export interface LoadReport {
  mode: "load";
  clients: number;
  connected: number;
  senders: number;
  room: string;
  rooms: number;
  size: number;
  rate: number;
  connectSeconds: number;
  handshakeMs: Spread;
  sent: number;
  acknowledged: number;
  messagesPerSecond: number;
  expectedDeliveries: number;
  deliveries: number;
  deliveriesPerSecond: number;
  duplicates: number;
  latencyMs: Spread;
  losses: number;
  errors: Record<string, number>;
  /** Addresses the clients were spread over. */
  nodes: number;
  /** Threads the clients were spread over (`--workers`), when more than one. */
  workers?: number;
  /** Room records the clients opened, all together (0 without room records). */
  roomRecords: number;
  /** Distinct room-record signatures the bench verified (once per record, for all clients). */
  roomSignaturesVerified?: number;
  serverCpuMsPerConnection?: number;
  serverCpuMsRun?: number;
  /** The NATS server's CPU time during the run (`--nats-pid`). */
  natsCpuMsRun?: number;
  /** `--private`: sender keys given before the run, and the server's CPU time for them. */
  keys?: { given: number; serverCpuMs?: number };
  serverRssBytes?: number;
  serverRssJoinedBytes?: number;
  /** The bench process's CPU time (every thread) from the first send to the end of the drain. */
  benchCpuMsRun?: number;
  /** How late a 10 ms timer of the bench ran during the run (its event-loop lag). */
  benchLagMs?: Spread;
  /** Per message: the latency of its first delivery (to any receiver). */
  firstLatencyMs?: Spread;
  /** Per message: its last delivery's latency minus its first's (the fan-out's spread). */
  fanoutSpreadMs?: Spread;
}

const f1 = (x: number) => Number.isFinite(x) ? x.toFixed(1) : "-";
const f0 = (x: number) => Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "-";
const f2 = (x: number) => Number.isFinite(x) ? x.toFixed(2) : "-";

function errorsText(e: Record<string, number>): string {
  const parts = Object.entries(e).map(([k, v]) => `${k} ${v}`);
  return parts.length === 0 ? "0" : parts.join(", ");
}

/** Renders a report as text lines. */
export function formatReport(r: LoadReport | HandshakeReport, target: string): string {
  const out: string[] = [];
  if (r.mode === "handshakes") {
    out.push(`chat bench ${target}: ${r.handshakes} sequential handshakes`);
    out.push(`handshakes  ${r.ok} ok in ${f2(r.seconds)} s: ${f1(r.perSecond)} handshakes/s`);
    out.push(
      `handshake   p50 ${f2(r.handshakeMs.p50)} ms  p99 ${f2(r.handshakeMs.p99)} ms  ` +
        `max ${f2(r.handshakeMs.max)} ms`,
    );
    if (r.serverCpuMsPerHandshake !== undefined) {
      out.push(`server cpu  ${f2(r.serverCpuMsPerHandshake)} ms per handshake`);
    }
    out.push(`errors      ${errorsText(r.errors)}`);
    return out.join("\n");
  }
  out.push(
    `chat bench ${target}: ${r.clients} clients, ${r.senders} senders in ${r.room}` +
      `${r.rooms > 1 ? ` (spread over ${r.rooms} rooms)` : ""}, ` +
      `${r.size}-byte messages, rate ${r.rate === 0 ? "max" : `${r.rate}/s`}` +
      `${r.workers !== undefined ? `, clients in ${r.workers} threads` : ""}`,
  );
  out.push(
    `connect     ${r.connected} of ${r.clients} in ${f2(r.connectSeconds)} s; handshake+auth ` +
      `p50 ${f2(r.handshakeMs.p50)} ms  p99 ${f2(r.handshakeMs.p99)} ms`,
  );
  out.push(
    `messages    ${r.sent} sent, ${r.acknowledged} acknowledged: ${f0(r.messagesPerSecond)} msgs/s`,
  );
  out.push(
    `deliveries  ${r.deliveries} of ${r.expectedDeliveries} expected: ` +
      `${f0(r.deliveriesPerSecond)} deliveries/s`,
  );
  out.push(
    `latency     p50 ${f2(r.latencyMs.p50)} ms  p99 ${f2(r.latencyMs.p99)} ms  ` +
      `max ${f2(r.latencyMs.max)} ms`,
  );
  if (r.firstLatencyMs !== undefined && r.fanoutSpreadMs !== undefined) {
    out.push(
      `first copy  p50 ${f2(r.firstLatencyMs.p50)} ms  p99 ${f2(r.firstLatencyMs.p99)} ms;  ` +
        `last − first p50 ${f2(r.fanoutSpreadMs.p50)} ms  p99 ${f2(r.fanoutSpreadMs.p99)} ms`,
    );
  }
  if (r.benchLagMs !== undefined) {
    out.push(
      `bench lag   p50 ${f2(r.benchLagMs.p50)} ms  p99 ${f2(r.benchLagMs.p99)} ms  ` +
        `max ${f2(r.benchLagMs.max)} ms (its event loop, every 10 ms)`,
    );
  }
  if (r.serverCpuMsPerConnection !== undefined) {
    out.push(
      `server cpu  ${f2(r.serverCpuMsPerConnection)} ms per connection, ` +
        `${f0(r.serverCpuMsRun ?? NaN)} ms during the run (bench process ` +
        `${f0(r.benchCpuMsRun ?? NaN)} ms)`,
    );
    if (r.serverCpuMsRun !== undefined && r.deliveries > 0) {
      const nodes = r.nodes > 1 ? `, summed over ${r.nodes} servers` : "";
      out.push(
        `            ${f1((r.serverCpuMsRun * 1000) / r.deliveries)} µs per delivery${nodes}`,
      );
    }
  }
  if (r.keys !== undefined) {
    const cpu = r.keys.serverCpuMs === undefined
      ? ""
      : `, server ${f0(r.keys.serverCpuMs)} ms (${
        f1((r.keys.serverCpuMs * 1000) / r.keys.given)
      } µs each)`;
    out.push(`keys        ${r.keys.given} sender keys given before the run${cpu}`);
  }
  if (r.natsCpuMsRun !== undefined) {
    const per = r.deliveries > 0
      ? `, ${f1((r.natsCpuMsRun * 1000) / r.deliveries)} µs per delivery`
      : "";
    out.push(`nats cpu    ${f0(r.natsCpuMsRun)} ms during the run${per}`);
  }
  if (r.serverRssBytes !== undefined) {
    const joined = r.serverRssJoinedBytes === undefined
      ? ""
      : `${f1(r.serverRssJoinedBytes / 1024 / 1024)} MiB right after joining, `;
    out.push(`server rss  ${joined}${f1(r.serverRssBytes / 1024 / 1024)} MiB at the end`);
  }
  const sigs = r.roomSignaturesVerified === undefined
    ? ""
    : `, ${r.roomSignaturesVerified} distinct signatures verified`;
  out.push(`room recs   ${r.roomRecords} opened by the clients${sigs}`);
  out.push(`duplicates  ${r.duplicates}`);
  out.push(`losses      ${r.losses}`);
  out.push(`errors      ${errorsText(r.errors)}`);
  return out.join("\n");
}
