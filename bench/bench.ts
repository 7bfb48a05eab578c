/**
 * `chat bench`: a load generator. It connects real chat/1 clients (bench/load_client.ts) in
 * one process, lets some of them send timestamped messages to one room, counts every
 * delivery, and reports throughput, latency, handshake times, losses and errors. A second
 * mode runs sequential connect + handshake + auth + bye cycles. With `--server-pid` it also
 * reads the server's CPU time and resident memory from /proc (Linux).
 * @module
 */

import { parseCommonArgs, type UsageError } from "./bench_args.ts";
import {
  LagProbe,
  pool,
  Reservoir,
  sampleProc,
  sampleProcs,
  sleep,
  spread,
  Tally,
} from "./measure.ts";
import { formatReport, type HandshakeReport, type LoadReport } from "./bench_report.ts";
import { checkRoom } from "../shared/names.ts";
import { fromBase64 } from "../shared/encoding.ts";
import { newId, type ServerMessage } from "../shared/messages.ts";
import { PrivateSender } from "./private_load.ts";
import { fingerprint } from "../shared/crypto.ts";
import {
  type BenchIdentity,
  benchIdentity,
  benchName,
  LoadClient,
  LoadClientError,
  withDmKey,
} from "./load_client.ts";

/** Usage text of `chat bench`. */
export const BENCH_USAGE =
  `Usage: chat bench HOST[:PORT][,HOST[:PORT]…] (--accept-new | --fingerprint SHA256:…) [options]
  Several addresses (the nodes of a cluster): client i connects to address i mod N.
  --clients N        clients to connect, named bench0001… (default 100)
  --senders N        how many of them send (default 10)
  --messages N       messages in total, split over the senders (default 1000)
  --rate N           messages per second in total; 0 = as fast as possible (default 0)
  --window N         unacknowledged messages per sender at most (default 32)
  --size BYTES       text size of each message, 32…2048 (default 64)
  --room #R          the room (default #bench)
  --rooms N          spread the clients round-robin over N rooms #R-1…#R-N (default 1: #R)
  --accept-new       accept any server key (no pin check)
  --fingerprint FP   connect only if the server key has this fingerprint
  --handshakes N     instead: N sequential connect + handshake + auth + bye
  --soak MINUTES     instead: a long run with misbehaving clients and a verdict (--soak 1 --help)
  --memory N1,N2,…   instead: server RSS per idle connection, in steps (--memory 1 --help)
  --attack           instead: a canary's round trips under expensive requests (--attack --help)
  --no-room-records  do not offer room records (every delivery in a record sealed for its
                     member alone, as older clients get them; default: offer them)
  --dm-key           send a DM key (kem_pub + kem_sig) in auth, as real clients do
                     (one fixed key, the same in every run)
  --private          the room is private (end-to-end encrypted; created by client 1 if new):
                     senders give their keys to every member first, then send sealed lines
                     (implies --dm-key; one room)
  --concurrency N    connections being set up at once (default 50)
  --hold SECONDS     keep every connection open this long after the run (default 0)
  --drain SECONDS    wait this long for outstanding deliveries (default 10)
  --timeout SECONDS  deadline for connect + handshake + auth (default 10)
  --server-pid PID[,PID…]  read the servers' CPU time and memory from /proc (Linux), summed
  --nats-pid PID     also read the NATS server's CPU time (a cluster), reported apart
  --json             print one JSON object instead of text
The bench names' keys are derived from the names: run it against test servers only.
Exit codes: 0 ok, 1 losses or failed clients, 2 usage, 3 server key mismatch, 5 no connection.
`;

/** Parsed `chat bench` options. */
export interface BenchConfig {
  /** Server host (the first address). */
  host: string;
  /** Server port (the first address). */
  port: number;
  /** Every address; client i connects to address i mod N. */
  targets: { host: string; port: number }[];
  /** Expected host-key fingerprint; undefined with --accept-new. */
  fingerprint?: string;
  /** Clients to connect. */
  clients: number;
  /** Senders among them. */
  senders: number;
  /** Messages in total. */
  messages: number;
  /** Total messages per second; 0 = unpaced. */
  rate: number;
  /** Outstanding messages per sender. */
  window: number;
  /** Text size in bytes. */
  size: number;
  /** The room. */
  room: string;
  /** Rooms the clients are spread over (1 = just `room`). */
  rooms: number;
  /** Handshake-only mode: this many sequential cycles (0 = load mode). */
  handshakes: number;
  /** Send a DM key in `auth` (one RSA key shared by all bench identities). */
  dmKey: boolean;
  /** A private room: sealed lines (`--private`). */
  private: boolean;
  /** Offer room records (false with `--no-room-records`). */
  roomRecords: boolean;
  /** Parallel connection setups. */
  concurrency: number;
  /** Hold time after the run (ms). */
  holdMs: number;
  /** Drain deadline (ms). */
  drainMs: number;
  /** Connect + handshake + auth deadline (ms). */
  timeoutMs: number;
  /** Server processes to observe (their figures are summed). */
  serverPids: number[];
  /** The NATS server's process, observed apart. */
  natsPid?: number;
  /** JSON output. */
  json: boolean;
}

/** Parses `chat bench` arguments; throws what `usage` builds for any mistake. */
export function parseBenchArgs(
  args: string[],
  usage: UsageError,
): BenchConfig | "help" {
  const a = parseCommonArgs(
    args,
    {
      clients: { type: "string" },
      senders: { type: "string" },
      messages: { type: "string" },
      rate: { type: "string" },
      window: { type: "string" },
      size: { type: "string" },
      room: { type: "string" },
      rooms: { type: "string" },
      handshakes: { type: "string" },
      "dm-key": { type: "boolean" },
      private: { type: "boolean" },
      "no-room-records": { type: "boolean" },
      concurrency: { type: "string" },
      hold: { type: "string" },
      drain: { type: "string" },
      timeout: { type: "string" },
      "nats-pid": { type: "string" },
    },
    BENCH_USAGE,
    usage,
    true,
  );
  if (a === "help") return "help";
  const { int, str } = a;
  const room = str("room") ?? "#bench";
  if (!checkRoom(room).ok) throw a.fail(`bad --room "${room}"`);
  const clients = int("clients", str("clients"), 100, 1, 9999);
  const senders = int("senders", str("senders"), Math.min(10, clients), 1, 9999);
  if (senders > clients) throw a.fail("--senders cannot exceed --clients");
  const rooms = str("rooms");
  if (rooms !== undefined && room.length + 1 + rooms.length > 33) {
    throw a.fail(`--room "${room}" is too long for --rooms ${rooms}`);
  }
  const natsPid = str("nats-pid");
  if (a.flag("private") && rooms !== undefined && rooms !== "1") {
    throw a.fail("--private takes one room");
  }
  return {
    host: a.host,
    port: a.port,
    targets: a.targets,
    fingerprint: a.fingerprint,
    clients,
    senders,
    messages: int("messages", str("messages"), 1000, 0, 10_000_000),
    rate: int("rate", str("rate"), 0, 0, 10_000_000),
    window: int("window", str("window"), 32, 1, 100_000),
    size: int("size", str("size"), 64, 32, 2048),
    room,
    rooms: int("rooms", rooms, 1, 1, 9999),
    handshakes: int("handshakes", str("handshakes"), 0, 1, 9999),
    dmKey: a.flag("dm-key") || a.flag("private"),
    private: a.flag("private"),
    roomRecords: !a.flag("no-room-records"),
    concurrency: int("concurrency", str("concurrency"), 50, 1, 10_000),
    holdMs: int("hold", str("hold"), 0, 0, 86_400) * 1000,
    drainMs: int("drain", str("drain"), 10, 0, 3600) * 1000,
    timeoutMs: int("timeout", str("timeout"), 10, 1, 3600) * 1000,
    serverPids: a.serverPids,
    natsPid: natsPid === undefined ? undefined : int("nats-pid", natsPid, 0, 1, 2 ** 31),
    json: a.json,
  };
}

/**
 * The SPKI of the RSA-OAEP-3072 key every bench identity presents with `--dm-key` (its private
 * half was never kept). It is the same in every run, so that from the second run on a server
 * sees returning identities, with the DM key it already verified, as it sees real clients.
 */
const BENCH_DM_SPKI =
  "MIIBojANBgkqhkiG9w0BAQEFAAOCAY8AMIIBigKCAYEAt9bBwRdWPYCqPqNcjkb869uab8VyzWAnYvWdE7KWA/gN" +
  "6ywK4hxwamG6RrK7ltXUUmjUZGiLiwMVlMwwNz4AvlB1Wwg17TBKOoepLlBec+hK5aW34C2n13W48RnU99fUZJQP" +
  "+qv1UOtwtoHKiPkDrqVLF2OwsTY6tMYJ9Ecxiy8lsIx7+aVhL7jefceqHTxoSagrC9H5klJ1Wuj0T7EgZDwXEDww" +
  "hR4IOF26PZRIBCr4QTuYDCm+ZgqMpVNtKr2iMDvYAwNKW9Qi/Z8MM0ULgEJD86+iRcBtNOMrXfbfSg4CwdziurtP" +
  "OTxo1Sff+bkXomx3xGiyMXNKqYXeE+b8JMJ0C9Anh8E9SL0HQFSLyc0MTA9Z2KgOWkRnjJ9yEPz6ZN2AGpd1eoWa" +
  "VJ44PPbTr2/Di1xRL2BfDCbDqfk7nHF1RVVp9SgB5PspQ7HpMjLG8qWad0LUYeNULqJDyxuwehSOnMvRYeIzJK8F" +
  "JVcHGJEShaBA3wKCLWikjZrr1JKBAgMBAAE=";

/** The bench DM key, as bytes. */
function dmKeySpki(): Uint8Array {
  return fromBase64(BENCH_DM_SPKI);
}

async function runHandshakes(c: BenchConfig): Promise<HandshakeReport> {
  const errors = new Tally();
  const ids: BenchIdentity[] = [];
  const spki = c.dmKey ? dmKeySpki() : undefined;
  for (let i = 1; i <= c.handshakes; i++) {
    const id = await benchIdentity(benchName(i));
    ids.push(spki === undefined ? id : await withDmKey(id, spki));
  }
  const times: number[] = [];
  const before = await sampleProcs(c.serverPids);
  const t0 = performance.now();
  for (const [i, id] of ids.entries()) {
    try {
      const client = await LoadClient.connect({
        ...c.targets[i % c.targets.length],
        identity: id,
        rooms: [c.room],
        fingerprint: c.fingerprint,
        timeoutMs: c.timeoutMs,
        roomRecords: c.roomRecords,
        onMessage: () => {},
      });
      times.push(client.handshakeMs);
      await client.bye();
    } catch (e) {
      if (e instanceof LoadClientError && e.kind === "pin") throw e;
      errors.add(e instanceof LoadClientError ? e.kind : "internal");
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  const after = await sampleProcs(c.serverPids);
  const r: HandshakeReport = {
    mode: "handshakes",
    handshakes: c.handshakes,
    ok: times.length,
    seconds,
    perSecond: times.length / seconds,
    handshakeMs: spread(times),
    errors: errors.counts,
  };
  if (before && after && times.length > 0) {
    r.serverCpuMsPerHandshake = (after.cpuMs - before.cpuMs) / times.length;
  }
  return r;
}

interface SenderState {
  client: LoadClient;
  /** The sender key of a private room (`--private`). */
  sealer?: PrivateSender;
  name: string;
  room: string;
  sent: number;
  rejected: number;
  outstanding: Set<string>;
  wake: (() => void) | null;
}

/** The room of client `i` (0-based). */
export function roomOf(c: Pick<BenchConfig, "room" | "rooms">, i: number): string {
  return c.rooms <= 1 ? c.room : `${c.room}-${(i % c.rooms) + 1}`;
}

async function runLoad(c: BenchConfig): Promise<LoadReport> {
  const errors = new Tally();
  const tag = "b" + crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
  const spki = c.dmKey ? dmKeySpki() : undefined;
  const ids = await Promise.all(
    Array.from({ length: c.clients }, async (_, i) => {
      const id = await benchIdentity(benchName(i + 1));
      return spki === undefined ? id : await withDmKey(id, spki);
    }),
  );
  const clients: (LoadClient | undefined)[] = new Array(c.clients);
  const got: Uint8Array[] = [];
  const latency = new Reservoir(1_000_000);
  /** Per message: the latency of its first and of its last delivery (-1: none yet). */
  const firstAt = new Float64Array(c.messages).fill(-1);
  const lastAt = new Float64Array(c.messages);
  const senders: SenderState[] = [];
  const byName = new Map<string, SenderState>();
  let deliveries = 0;
  let duplicates = 0;
  let acknowledged = 0;
  let lastDelivery = 0;
  let lastAck = 0;
  let measuring = false;
  /** Sealed lines are not opened by the bench: their index and send time, by request id. */
  const sealedIds = new Map<string, [number, number]>();
  let answered = 0; // replies and errors to the key distribution and the private join
  const NONE: [number, number] = [-1, 0];
  /**
   * A room record's messages are parsed once and shared by every connection that receives it
   * (bench/load_client.ts): their index and send time are read from the text once too.
   */
  const stamps = new WeakMap<object, [number, number]>();
  const stamped = (m: { text: string; sealed?: string; id: string }): [number, number] => {
    if (m.sealed !== undefined) return sealedIds.get(m.id) ?? NONE;
    let s = stamps.get(m);
    if (s !== undefined) return s;
    if (!m.text.startsWith(tag + " ")) s = NONE;
    else {
      const sp1 = m.text.indexOf(" ", tag.length + 1);
      const sp2 = m.text.indexOf(" ", sp1 + 1);
      s = [Number(m.text.slice(tag.length + 1, sp1)), Number(m.text.slice(sp1 + 1, sp2))];
    }
    stamps.set(m, s);
    return s;
  };

  const onMessage = (ci: number) => (m: ServerMessage, at: number) => {
    if (m.t === "reply") answered++;
    if (m.t === "msg") {
      if (m.replay || m.key !== undefined) return;
      const [g, stamp] = stamped(m);
      if (!(g >= 0 && g < c.messages)) return;
      if (got[ci][g] !== 0) {
        duplicates++;
        return;
      }
      got[ci][g] = 1;
      deliveries++;
      lastDelivery = at;
      latency.add(at - stamp);
      if (firstAt[g] < 0) firstAt[g] = at - stamp;
      lastAt[g] = at - stamp;
      const s = byName.get(m.from);
      if (s && s.client === clients[ci] && s.outstanding.delete(m.id)) {
        acknowledged++;
        lastAck = at;
        s.wake?.();
      }
    } else if (m.t === "error") {
      answered++;
      errors.add(m.code);
      const s = senders.find((x) => x.client === clients[ci]);
      if (s && m.id !== undefined && s.outstanding.delete(m.id)) {
        s.rejected++;
        s.wake?.();
      }
    } else if (m.t === "bye" && measuring) {
      errors.add(`bye ${m.reason}`);
    }
  };

  // Connect.
  const before = await sampleProcs(c.serverPids);
  const times: number[] = [];
  let pinError: LoadClientError | undefined;
  const tc = performance.now();
  const connectOne = async (i: number, rooms: string[]) => {
    if (pinError) return;
    got[i] = new Uint8Array(c.messages);
    try {
      const client = await LoadClient.connect({
        ...c.targets[i % c.targets.length],
        identity: ids[i],
        rooms,
        fingerprint: c.fingerprint,
        timeoutMs: c.timeoutMs,
        roomRecords: c.roomRecords,
        onMessage: onMessage(i),
      });
      clients[i] = client;
      times.push(client.handshakeMs);
    } catch (e) {
      if (e instanceof LoadClientError && e.kind === "pin") pinError = e;
      errors.add(e instanceof LoadClientError ? `connect ${e.kind}` : "connect internal");
    }
  };
  if (c.private) {
    // Client 1 creates the room private (or joins it when it is private already).
    await connectOne(0, ["#lobby"]);
    if (pinError) throw pinError;
    clients[0]?.sendRecord([{ t: "cmd", id: newId(), name: "join", args: [c.room, "--private"] }]);
    const end = performance.now() + c.timeoutMs;
    while (answered === 0 && performance.now() < end) await sleep(5);
  }
  await pool(c.clients, c.concurrency, async (i) => {
    if (c.private && i === 0) return;
    await connectOne(i, [roomOf(c, i)]);
  });
  const connectSeconds = (performance.now() - tc) / 1000;
  const afterConnect = await sampleProcs(c.serverPids);
  /** Where the run's CPU is counted from (after the keys are given, with `--private`). */
  let runFrom = afterConnect;
  let keys: LoadReport["keys"];
  const lag = new LagProbe(10);
  try {
    if (pinError) throw pinError;
    const live = clients.filter((x): x is LoadClient => x !== undefined);
    const textBytes = live[0]?.welcome.limits.textBytes ?? 2048;
    if (c.size > textBytes) errors.add("size_over_server_limit");

    // Send.
    for (let s = 0; s < c.senders; s++) {
      const client = clients[s];
      if (!client) continue;
      const st: SenderState = {
        client,
        name: ids[s].name,
        room: roomOf(c, s),
        sent: 0,
        rejected: 0,
        outstanding: new Set(),
        wake: null,
      };
      if (c.private) st.sealer = new PrivateSender(ids[s], st.room);
      senders.push(st);
      byName.set(st.name, st);
    }
    if (c.private) {
      // Every sender gives its key to every member before the measured run.
      const members = ids.filter((_, i) => clients[i] !== undefined).map((id) => ({
        name: id.name,
        fingerprint: fingerprint(id.sigPublic),
        kemPub: fromBase64(BENCH_DM_SPKI),
      }));
      const before = answered;
      for (const st of senders) await st.sealer!.distribute(st.client, members);
      const end = performance.now() + c.drainMs;
      const want = before + senders.length * members.length;
      while (answered < want && performance.now() < end) await sleep(5);
      keys = { given: senders.length * members.length };
      const afterKeys = await sampleProcs(c.serverPids);
      if (afterConnect && afterKeys) {
        keys.serverCpuMs = afterKeys.cpuMs - afterConnect.cpuMs;
        runFrom = afterKeys;
      }
    }
    const n = senders.length;
    let sent = 0;
    measuring = true;
    const selfBefore = c.serverPids.length === 0 ? undefined : await sampleProc("self");
    const natsBefore = await sampleProc(c.natsPid);
    lag.start();
    const t0 = performance.now();
    const perSender = (k: number) => Math.floor(c.messages / n) + (k < c.messages % n ? 1 : 0);
    let firstIndex = 0;
    const runs = senders.map((st, k) => {
      const count = perSender(k);
      const base = firstIndex;
      firstIndex += count;
      return (async () => {
        for (let j = 0; j < count; j++) {
          while (st.outstanding.size >= c.window && st.client.open) {
            const progress = new Promise<void>((r) => st.wake = r);
            const stuck = await Promise.race([
              progress.then(() => false),
              sleep(c.drainMs).then(() => true),
            ]);
            st.wake = null;
            if (stuck) {
              errors.add("stalled");
              return;
            }
          }
          if (!st.client.open) {
            errors.add("sender_closed");
            return;
          }
          if (c.rate > 0) {
            const due = t0 + ((j * n + k) * 1000) / c.rate;
            const now = performance.now();
            if (due > now + 1) await sleep(due - now);
          }
          const g = base + j;
          const head = `${tag} ${g} ${performance.now().toFixed(3)} `;
          const text = head.length >= c.size
            ? head.trimEnd()
            : head + ".".repeat(c.size - head.length);
          if (st.sealer !== undefined) {
            const t = performance.now(); // sealing is part of the latency
            const id = st.sealer.say(st.client, text);
            sealedIds.set(id, [g, t]);
            st.outstanding.add(id);
          } else st.outstanding.add(st.client.say(st.room, text));
          sent++;
          st.sent++;
        }
      })();
    });
    await Promise.all(runs);

    // Drain: every live client should get every accepted message.
    const members = new Map<string, number>();
    clients.forEach((x, i) => {
      if (x) members.set(roomOf(c, i), (members.get(roomOf(c, i)) ?? 0) + 1);
    });
    const expected = () => {
      let e = 0;
      for (const st of senders) e += (st.sent - st.rejected) * (members.get(st.room) ?? 0);
      return e;
    };
    const drainEnd = performance.now() + c.drainMs;
    while (deliveries < expected() && performance.now() < drainEnd) await sleep(5);
    measuring = false;
    lag.stop();
    const exp = expected();

    const span = (t: number) => (t > t0 ? (t - t0) / 1000 : NaN);
    const report: LoadReport = {
      mode: "load",
      clients: c.clients,
      connected: live.length,
      senders: n,
      room: c.room,
      rooms: c.rooms,
      size: c.size,
      rate: c.rate,
      connectSeconds,
      handshakeMs: spread(times),
      sent,
      acknowledged,
      messagesPerSecond: acknowledged / span(lastAck),
      expectedDeliveries: exp,
      deliveries,
      deliveriesPerSecond: deliveries / span(lastDelivery),
      duplicates,
      latencyMs: { ...spread(latency.values), max: latency.values.length ? latency.max : NaN },
      losses: Math.max(0, exp - deliveries),
      errors: errors.counts,
      nodes: c.targets.length,
      roomRecords: live.reduce((n, x) => n + x.roomRecords, 0),
      benchLagMs: spread(lag.values),
      ...firstAndLast(firstAt, lastAt),
    };
    const memo = live.find((x) => x.roomSignatures !== undefined)?.roomSignatures;
    if (memo !== undefined) report.roomSignaturesVerified = memo.verified;
    if (keys !== undefined) report.keys = keys;
    const afterRun = await sampleProcs(c.serverPids);
    const natsAfter = natsBefore && await sampleProc(c.natsPid);
    if (natsBefore && natsAfter) report.natsCpuMsRun = natsAfter.cpuMs - natsBefore.cpuMs;
    const selfAfter = selfBefore && await sampleProc("self");
    if (selfBefore && selfAfter) report.benchCpuMsRun = selfAfter.cpuMs - selfBefore.cpuMs;
    if (before && afterConnect && afterRun && live.length > 0) {
      report.serverCpuMsPerConnection = (afterConnect.cpuMs - before.cpuMs) / live.length;
      report.serverCpuMsRun = afterRun.cpuMs - runFrom!.cpuMs;
    }
    if (afterConnect) report.serverRssJoinedBytes = afterConnect.rssBytes;
    if (c.holdMs > 0) await sleep(c.holdMs);
    const held = await sampleProcs(c.serverPids);
    if (held) report.serverRssBytes = held.rssBytes;
    for (const x of live) if (!x.open) errors.add(`disconnected: ${x.endReason}`);
    return report;
  } finally {
    measuring = false;
    lag.stop();
    await pool(c.clients, 500, async (i) => {
      await clients[i]?.bye();
    });
  }
}

/**
 * Per message delivered at least once, the latency of its first delivery and how much later its
 * last delivery came (the spread of one message's fan-out over the receivers).
 */
function firstAndLast(
  first: Float64Array,
  last: Float64Array,
): Pick<LoadReport, "firstLatencyMs" | "fanoutSpreadMs"> {
  const f: number[] = [];
  const d: number[] = [];
  for (let g = 0; g < first.length; g++) {
    if (first[g] < 0) continue;
    f.push(first[g]);
    d.push(last[g] - first[g]);
  }
  return { firstLatencyMs: spread(f), fanoutSpreadMs: spread(d) };
}

/** Runs `chat bench`; returns the exit code (usage mistakes are thrown as `usage(...)`). */
export async function runBench(
  args: string[],
  usage: UsageError,
): Promise<number> {
  const c = parseBenchArgs(args, usage);
  if (c === "help") {
    console.log(BENCH_USAGE.trimEnd());
    return 0;
  }
  const target = c.targets.map((t) =>
    t.host.includes(":") ? `[${t.host}]:${t.port}` : `${t.host}:${t.port}`
  )
    .join(",");
  let report: LoadReport | HandshakeReport;
  try {
    report = c.handshakes > 0 ? await runHandshakes(c) : await runLoad(c);
  } catch (e) {
    if (e instanceof LoadClientError && e.kind === "pin") {
      console.error(`chat bench: ${e.message}`);
      return 3;
    }
    throw e;
  }
  console.log(c.json ? JSON.stringify(report) : formatReport(report, target));
  if (report.mode === "handshakes") {
    if (report.ok === 0) return 5;
    return report.ok < report.handshakes ? 1 : 0;
  }
  if (report.connected === 0) return 5;
  return report.losses > 0 || report.connected < report.clients ? 1 : 0;
}
