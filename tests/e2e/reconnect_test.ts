/**
 * End to end with real processes: reconnection without loss. A `kill -9` of the server while two
 * `--json` clients talk (both come back by themselves, every line typed during the outage
 * arrives once, in order); a client whose own path is cut while a third client talks (it resumes
 * by seq: no gap, no duplicate; a message whose acknowledgement was lost is delivered once);
 * `--no-reconnect` (exit 1, unacknowledged lines reported as failed); `--log FILE`.
 */

import assert from "node:assert/strict";
import { createIdentity, type Identity, saveIdentity } from "../../shared/keys.ts";
import { identities } from "../adversarial/helpers.ts";
import {
  type ClientProcess,
  exitWithin,
  type ServerProcess,
  startClient,
  startServer,
  until,
} from "../support/procs.ts";

type Obj = Record<string, unknown>;

let third: Promise<Identity> | undefined;

/** Three identities (alice, bob, carol), generated once per file: RSA-3072 is slow. */
async function people(): Promise<Identity[]> {
  third ??= createIdentity();
  const [a, b] = await identities();
  return [a, b, await third];
}

/** A client home holding `id` (so the client process generates no keys). */
async function home(id: Identity): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "chat-e2e-home-" });
  await Deno.chmod(dir, 0o700);
  await saveIdentity(`${dir}/identity`, id);
  return dir;
}

/** Every stdout line of a `--json` client, parsed (a line that is not JSON fails the test). */
function objs(c: ClientProcess): Obj[] {
  return c.lines.map((l) => JSON.parse(l) as Obj);
}

/** Room messages (`t: "msg"`) a client has printed, optionally only those with `text`. */
function msgs(c: ClientProcess, text?: string): Obj[] {
  return objs(c).filter((o) => o.t === "msg" && (text === undefined || o.text === text));
}

/** Local events of kind `t` (pending, acked, failed, status) a client has printed. */
function kind(c: ClientProcess, t: string): Obj[] {
  return objs(c).filter((o) => o.t === t);
}

/** Status events with `state`. */
function statuses(c: ClientProcess, state: string): Obj[] {
  return kind(c, "status").filter((o) => o.state === state);
}

/** Checks that a client saw the seqs of `room` as one run with no gap and no duplicate. */
function assertContiguous(c: ClientProcess, room: string, who: string): number[] {
  const seqs = msgs(c).filter((m) => m.room === room).map((m) => m.seq as number);
  assert.ok(seqs.length > 0, `${who} saw no message`);
  const want = seqs.map((_, i) => seqs[0] + i);
  assert.deepEqual(seqs, want, `${who}: seqs not contiguous`);
  return seqs;
}

/** True when the process has not exited within 50 ms. */
async function running(c: ClientProcess): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const wait = new Promise<boolean>((r) => timer = setTimeout(() => r(true), 50));
  try {
    return await Promise.race([c.status.then(() => false), wait]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A TCP relay on 127.0.0.1:0 in front of one server port that the test controls: `muteS2C`
 * discards server-to-client bytes (acknowledgements are lost, the connection stays up); `cut()`
 * closes every relayed connection and refuses new ones until `restore()`.
 */
class Relay {
  readonly port: number;
  muteS2C = false;
  #refuse = false;
  #target: number;
  #listener: Deno.TcpListener;
  #sockets = new Set<Deno.TcpConn>();
  #tasks = new Set<Promise<void>>();
  #accepting: Promise<void>;

  constructor(target: number) {
    this.#target = target;
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.port = this.#listener.addr.port;
    this.#accepting = this.#acceptLoop();
  }

  async #acceptLoop(): Promise<void> {
    for (;;) {
      let c: Deno.TcpConn;
      try {
        c = await this.#listener.accept();
      } catch {
        return;
      }
      if (this.#refuse) {
        c.close();
        continue;
      }
      const t = this.#relay(c).finally(() => this.#tasks.delete(t));
      this.#tasks.add(t);
    }
  }

  #drop(c: Deno.TcpConn): void {
    if (!this.#sockets.delete(c)) return;
    try {
      c.close();
    } catch {
      // closed
    }
  }

  async #relay(client: Deno.TcpConn): Promise<void> {
    this.#sockets.add(client);
    let server: Deno.TcpConn;
    try {
      server = await Deno.connect({ hostname: "127.0.0.1", port: this.#target });
    } catch {
      this.#drop(client);
      return;
    }
    this.#sockets.add(server);
    await Promise.all([this.#pump(client, server, false), this.#pump(server, client, true)]);
  }

  async #pump(src: Deno.TcpConn, dst: Deno.TcpConn, s2c: boolean): Promise<void> {
    const buf = new Uint8Array(16_384);
    try {
      for (;;) {
        const n = await src.read(buf);
        if (n === null) break;
        if (s2c && this.muteS2C) continue;
        for (let off = 0; off < n;) off += await dst.write(buf.subarray(off, n));
      }
    } catch {
      // closed by the other pump or by cut()
    }
    this.#drop(src);
    this.#drop(dst);
  }

  /** Closes every relayed connection and refuses new ones. */
  cut(): void {
    this.#refuse = true;
    for (const c of [...this.#sockets]) this.#drop(c);
  }

  /** Relays again, in both directions. */
  restore(): void {
    this.muteS2C = false;
    this.#refuse = false;
  }

  /** Closes the listener and every connection, and waits for all of them. */
  async close(): Promise<void> {
    this.#listener.close();
    await this.#accepting;
    for (const c of [...this.#sockets]) this.#drop(c);
    await Promise.all([...this.#tasks]);
  }
}

const JSON_ARGS = ["--accept-new", "--json"];

Deno.test("e2e: kill -9 and restart the server: clients come back, outage lines arrive once", async () => {
  const [ida, idb] = await people();
  const homes = [await home(ida), await home(idb)];
  const logPath = `${homes[0]}/transcript.jsonl`;
  const servers: ServerProcess[] = [];
  const clients: ClientProcess[] = [];
  try {
    const first = await startServer();
    servers.push(first);
    const alice = startClient(
      first.port,
      [...JSON_ARGS, "--name", "alice", "--log", logPath],
      homes[0],
    );
    clients.push(alice);
    await until(
      () => statuses(alice, "connected").length === 1,
      "alice connected",
      clients,
      10_000,
    );
    const bob = startClient(first.port, [...JSON_ARGS, "--name", "bob"], homes[1]);
    clients.push(bob);
    await until(() => statuses(bob, "connected").length === 1, "bob connected", clients, 10_000);
    await alice.send("a-hello");
    await until(() => msgs(bob, "a-hello").length === 1, "bob sees a-hello", clients, 5_000);
    await bob.send("b-hello");
    await until(() => msgs(alice, "b-hello").length === 1, "alice sees b-hello", clients, 5_000);

    // The server dies without a word.
    assert.equal((await first.stop("SIGKILL")).signal, "SIGKILL");
    for (const [c, who] of [[alice, "alice"], [bob, "bob"]] as const) {
      await until(() => statuses(c, "lost").length >= 1, `${who} notices the loss`, clients, 5_000);
    }
    const outA = ["a-out-1", "a-out-2", "a-out-3"];
    const outB = ["b-out-1", "b-out-2", "b-out-3"];
    for (const t of outA) await alice.send(t);
    for (const t of outB) await bob.send(t);
    // Shown as pending, not lost.
    await until(
      () => outA.every((t) => kind(alice, "pending").some((p) => p.text === t)),
      "pending lines",
      clients,
    );
    await until(
      () => outB.every((t) => kind(bob, "pending").some((p) => p.text === t)),
      "pending lines",
      clients,
    );
    assert.deepEqual(kind(alice, "failed"), []);
    assert.deepEqual(kind(bob, "failed"), []);
    assert.ok(await running(alice) && await running(bob), "a lost server does not end the client");

    // The outage lasts long enough for at least one attempt to fail (the first comes after
    // 0.4–0.6 s, the next 0.8–1.2 s later).
    await new Promise((r) => setTimeout(r, 1_500));
    // Same port, same data dir: same host key, and the clients come back by themselves.
    const second = await startServer({ dataDir: first.dataDir, port: first.port });
    servers.push(second);
    assert.equal(second.port, first.port);
    assert.equal(second.fingerprint, first.fingerprint);
    await until(
      () =>
        outA.every((t) => msgs(bob, t).length > 0) && outB.every((t) => msgs(alice, t).length > 0),
      "outage lines delivered after the restart",
      clients,
      20_000,
    );
    await until(
      () => kind(alice, "acked").length === 4 && kind(bob, "acked").length === 4,
      "outage lines acknowledged",
      clients,
    );
    // Barriers: anything duplicated would arrive before these.
    await alice.send("a-final");
    await until(() => msgs(bob, "a-final").length === 1, "bob sees a-final", clients, 5_000);
    await bob.send("b-final");
    await until(() => msgs(alice, "b-final").length === 1, "alice sees b-final", clients, 5_000);
    await until(() => kind(bob, "acked").length === 5, "bob's own b-final", clients, 5_000);

    for (const [c, outs, who] of [[bob, outA, "bob"], [alice, outB, "alice"]] as const) {
      for (const t of outs) assert.equal(msgs(c, t).length, 1, `${who} sees ${t} once`);
      const order = msgs(c).map((m) => m.text).filter((t) => outs.includes(t as string));
      assert.deepEqual(order, outs, `${who}: order`);
      const seqs = assertContiguous(c, "#lobby", who);
      assert.equal(seqs.length, 10, `${who}: 2 + 6 + 2 messages`);
      // Re-authenticated with the same identity: same name and fingerprint both times.
      const welcomes = kind(c, "welcome");
      assert.equal(welcomes.length, 2, `${who}: two welcomes`);
      assert.equal(welcomes[0].fingerprint, welcomes[1].fingerprint);
      assert.equal(welcomes[1].name, who);
      assert.equal(statuses(c, "connected").length, 2);
      // The outage is shown once, however many attempts failed.
      assert.equal(statuses(c, "lost").length, 1, `${who}: lost shown once`);
      const waits = statuses(c, "reconnecting");
      assert.ok(waits.length >= 1, `${who}: reconnecting shown`);
      for (const w of waits) {
        assert.match(String(w.detail), /^next attempt in \d+(\.\d)? s \(\/reconnect tries now\)$/);
      }
      assert.deepEqual(kind(c, "failed"), []);
      // Every pending line got exactly one acknowledgement.
      const pending = kind(c, "pending").map((p) => p.id).sort();
      assert.deepEqual(kind(c, "acked").map((p) => p.id).sort(), pending);
    }

    // End of input after everything is acknowledged: exit 0.
    await alice.end();
    await bob.end();
    assert.equal((await exitWithin(alice, 15_000)).code, 0, alice.errors.join("\n"));
    assert.equal((await exitWithin(bob, 15_000)).code, 0, bob.errors.join("\n"));

    // --log: one JSON object per line, private (0600), the room messages alice saw, in order.
    const text = await Deno.readTextFile(logPath);
    assert.ok(text.endsWith("\n"));
    const logged = text.slice(0, -1).split("\n").map((l) => JSON.parse(l) as Obj);
    for (const o of logged) {
      assert.equal(typeof o, "object");
      assert.ok(["msg", "event", "failed"].includes(o.t as string), JSON.stringify(o));
    }
    const seen = msgs(alice).map((m) => [m.seq, m.from, m.text]);
    assert.deepEqual(logged.filter((o) => o.t === "msg").map((m) => [m.seq, m.from, m.text]), seen);
    assert.ok(logged.some((o) => o.t === "event" && o.kind === "join" && o.name === "bob"));
    if (Deno.build.os !== "windows") {
      assert.equal((await Deno.stat(logPath)).mode! & 0o077, 0, "transcript is private");
    }
  } finally {
    for (const c of clients) await c.kill();
    for (const s of servers) await s.stop("SIGKILL");
    if (servers[0]) await Deno.remove(servers[0].dataDir, { recursive: true });
    for (const h of homes) await Deno.remove(h, { recursive: true });
  }
});

Deno.test("e2e: one client's path cut while another talks: resume by seq, no gap, no duplicate", async () => {
  const [, idb, idc] = await people();
  const homes = [await home(idb), await home(idc)];
  let server: ServerProcess | undefined;
  let relay: Relay | undefined;
  const clients: ClientProcess[] = [];
  try {
    server = await startServer();
    relay = new Relay(server.port);
    // bob talks through the relay; carol connects directly.
    const bob = startClient(relay.port, [...JSON_ARGS, "--name", "bob"], homes[0]);
    clients.push(bob);
    await until(() => statuses(bob, "connected").length === 1, "bob connected", clients, 10_000);
    const carol = startClient(server.port, [...JSON_ARGS, "--name", "carol"], homes[1]);
    clients.push(carol);
    await until(
      () => statuses(carol, "connected").length === 1,
      "carol connected",
      clients,
      10_000,
    );
    await carol.send("c-1");
    await until(() => msgs(bob, "c-1").length === 1, "bob sees c-1", clients, 5_000);

    // bob's acknowledgement is lost: the server relays his line, bob never hears back.
    relay.muteS2C = true;
    await bob.send("b-before-cut");
    await until(() => msgs(carol, "b-before-cut").length === 1, "carol sees it", clients, 5_000);
    const [sent] = kind(bob, "pending");
    assert.equal(sent.text, "b-before-cut");
    assert.deepEqual(kind(bob, "acked"), []);
    relay.cut();
    await until(() => statuses(bob, "lost").length >= 1, "bob notices the cut", clients, 5_000);

    // carol talks while bob is away; bob types a line.
    const missed = ["c-2", "c-3", "c-4", "c-5"];
    for (const t of missed) await carol.send(t);
    await until(
      () => kind(carol, "acked").length === 5,
      "carol's lines acknowledged",
      clients,
      5_000,
    );
    await bob.send("b-during-cut");
    await until(() => kind(bob, "pending").length === 2, "pending lines", clients);
    relay.restore();

    await until(() => msgs(bob, "c-5").length > 0, "bob resumes", clients, 15_000);
    await until(
      () => kind(bob, "acked").length === 2,
      "bob's two lines acknowledged",
      clients,
      5_000,
    );
    await until(
      () => msgs(carol, "b-during-cut").length > 0,
      "carol sees b-during-cut",
      clients,
      5_000,
    );
    await carol.send("c-final");
    await until(() => msgs(bob, "c-final").length === 1, "bob sees c-final", clients, 5_000);
    await bob.send("b-final");
    await until(() => msgs(carol, "b-final").length === 1, "carol sees b-final", clients, 5_000);
    await until(() => kind(bob, "acked").length === 3, "bob's own b-final", clients, 5_000);

    // bob: every message of #lobby exactly once, by seq; the missed ones came as replay.
    assertContiguous(bob, "#lobby", "bob");
    for (const t of ["c-1", ...missed, "c-final", "b-before-cut", "b-during-cut", "b-final"]) {
      assert.equal(msgs(bob, t).length, 1, `bob sees ${t} once`);
    }
    for (const t of missed) assert.equal(msgs(bob, t)[0].replay, true, `${t} is a replay`);
    assert.equal(msgs(bob, "c-1")[0].replay, undefined);
    // The line whose ack was lost: re-sent with the same id, delivered once, acknowledged once.
    assert.equal(msgs(carol, "b-before-cut").length, 1);
    assert.equal(msgs(carol, "b-before-cut")[0].id, sent.id);
    assert.equal(msgs(bob, "b-before-cut")[0].id, sent.id);
    assert.equal(kind(bob, "acked").filter((a) => a.id === sent.id).length, 1);
    assert.equal(msgs(carol, "b-during-cut").length, 1);
    assertContiguous(carol, "#lobby", "carol");
    assert.deepEqual(kind(bob, "failed"), []);
    assert.equal(statuses(bob, "connected").length, 2);
    assert.equal(statuses(carol, "lost").length, 0);
  } finally {
    for (const c of clients) await c.kill();
    await relay?.close();
    await server?.stop("SIGKILL");
    if (server) await Deno.remove(server.dataDir, { recursive: true });
    for (const h of homes) await Deno.remove(h, { recursive: true });
  }
});

Deno.test("e2e: --no-reconnect: the server dies → exit 1, unacknowledged line reported failed", async () => {
  const [ida] = await people();
  const dir = await home(ida);
  let server: ServerProcess | undefined;
  let relay: Relay | undefined;
  let alice: ClientProcess | undefined;
  try {
    server = await startServer();
    relay = new Relay(server.port);
    alice = startClient(relay.port, [...JSON_ARGS, "--name", "alice", "--no-reconnect"], dir);
    await until(
      () => statuses(alice!, "connected").length === 1,
      "alice connected",
      [alice!],
      10_000,
    );
    await alice.send("acked-line");
    await until(
      () => kind(alice!, "acked").length === 1,
      "first line acknowledged",
      [alice!],
      5_000,
    );
    relay.muteS2C = true; // the next acknowledgement never arrives
    await alice.send("unacked-line");
    await until(() => kind(alice!, "pending").length === 2, "pending lines", [alice!]);
    await server.stop("SIGKILL");
    const status = await exitWithin(alice, 10_000);
    assert.equal(status.code, 1, alice.errors.join("\n"));
    const failed = kind(alice, "failed");
    assert.equal(failed.length, 1);
    assert.equal(failed[0].text, "unacked-line");
    assert.equal(failed[0].id, kind(alice, "pending")[1].id);
    assert.equal(statuses(alice, "reconnecting").length, 0);
    assert.equal(statuses(alice, "closed").length, 1);
  } finally {
    await alice?.kill();
    await relay?.close();
    await server?.stop("SIGKILL");
    if (server) await Deno.remove(server.dataDir, { recursive: true });
    await Deno.remove(dir, { recursive: true });
  }
});
