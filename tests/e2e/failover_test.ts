/**
 * End to end with real processes: a client given several addresses (`chat client a,b`). Two
 * independent servers sharing one `--host-key` file stand in for two nodes of a cluster; they
 * share the key but not the chat, so what needs the shared store (history and seq continuity
 * across nodes) is tested with the cluster, not here.
 *
 * - the first address is dead: the second is used, and only it is pinned;
 * - the connected server is killed: the client reconnects to the other one by itself, pins it
 *   without asking (its key is the one pinned for the first), and every line typed meanwhile is
 *   acknowledged once and reaches a member there once, in order;
 * - the other address presents another key: exit 3, naming the address whose pin differs, with
 *   the pin file unchanged;
 * - bad lists are usage errors.
 */

import assert from "node:assert/strict";
import { saveIdentity } from "../../shared/keys.ts";
import { identities } from "../adversarial/helpers.ts";
import {
  type ClientProcess,
  events,
  exitWithin,
  MAIN,
  RUN_FLAGS,
  startClient,
  startServer,
  until,
} from "../support/procs.ts";

async function tempDir(prefix: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix });
  await Deno.chmod(dir, 0o700);
  return dir;
}

/** A client home holding identity number `i` (no key generation in the client process). */
async function home(i: number): Promise<string> {
  const dir = await tempDir("chat-e2e-home-");
  await saveIdentity(`${dir}/identity`, (await identities())[i]);
  return dir;
}

/** A port nothing listens on (bound, then released). */
function deadPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** A new host key file in a new directory; returns its path. */
async function keyFile(): Promise<string> {
  const dir = await tempDir("chat-hostkey-");
  const path = `${dir}/host_key`;
  const r = await new Deno.Command(Deno.execPath(), {
    args: [...RUN_FLAGS, MAIN, "keys", "host-key", path],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
  return path;
}

const statuses = (c: ClientProcess, state: string) =>
  events(c).filter((o) => o.t === "status" && o.state === state).map((o) => o.detail as string);
const of = (c: ClientProcess, t: string, text?: string) =>
  events(c).filter((o) => o.t === t && (text === undefined || o.text === text));
const welcomes = (c: ClientProcess) => of(c, "welcome").length;
const pins = async (h: string) =>
  (await Deno.readTextFile(`${h}/known_servers`).catch(() => "")).trim().split("\n").filter((
    l,
  ) => l !== "").sort();

Deno.test("failover: the first address is dead, the second is used and only it is pinned", async () => {
  const server = await startServer();
  const dead = deadPort();
  const h = await home(0);
  const target = `127.0.0.1:${dead},127.0.0.1:${server.port}`;
  const alice = startClient(target, ["--json", "--name", "alice", "--accept-new"], h);
  try {
    // "connected" is printed after the welcome: wait for it, not for the welcome.
    await until(() => statuses(alice, "connected").length === 1, "alice in", [alice], 20_000);
    assert.deepEqual(statuses(alice, "connecting"), [
      `127.0.0.1:${dead}`,
      `127.0.0.1:${server.port}`,
    ]);
    assert.deepEqual(statuses(alice, "connected"), [`127.0.0.1:${server.port}`]);
    assert.deepEqual(await pins(h), [`127.0.0.1:${server.port} ${server.fingerprint}`]);
  } finally {
    await alice.kill();
    await server.stop();
  }
});

Deno.test("failover: all addresses dead → exit 5 naming each", async () => {
  const [a, b] = [deadPort(), deadPort()];
  const h = await home(0);
  const alice = startClient(
    `127.0.0.1:${a},127.0.0.1:${b}`,
    ["--json", "--name", "alice", "--accept-new"],
    h,
  );
  const status = await exitWithin(alice, 30_000);
  assert.equal(status.code, 5, alice.errors.join("\n"));
  const err = alice.errors.join("\n");
  assert.match(err, new RegExp(`cannot connect to 127\\.0\\.0\\.1:${a}.*; .*127\\.0\\.0\\.1:${b}`));
});

Deno.test("failover: the connected server dies → the client goes on at the other, nothing typed is lost", async () => {
  const key = await keyFile();
  const a = await startServer({ args: ["--host-key", key] });
  const b = await startServer({ args: ["--host-key", key] });
  const [atA, atB] = [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`];
  assert.equal(a.fingerprint, b.fingerprint);
  const aliceHome = await home(0);
  // alice trusted the first address before; she has no pin for the second and no --accept-new.
  await Deno.writeTextFile(`${aliceHome}/known_servers`, `${atA} ${a.fingerprint}\n`, {
    mode: 0o600,
  });
  const bob = startClient(b.port, ["--json", "--name", "bob", "--accept-new"], await home(1));
  const alice = startClient(`${atA},${atB}`, ["--json", "--name", "alice"], aliceHome);
  const all = [alice, bob];
  try {
    await until(
      () => statuses(alice, "connected").length === 1 && welcomes(bob) === 1,
      "both in",
      all,
      20_000,
    );
    assert.deepEqual(statuses(alice, "connected"), [atA]);
    await alice.send("before the drop");
    await until(() => of(alice, "acked").length === 1, "first line acked", all);

    await a.stop("SIGKILL");
    const during = ["during one", "during two", "during three"];
    for (const line of during) await alice.send(line);
    await until(
      () => statuses(alice, "connected").length === 2,
      "alice at the other node",
      all,
      30_000,
    );
    assert.deepEqual(statuses(alice, "connected"), [atA, atB]);
    assert.ok(
      statuses(alice, "reconnecting").some((d) => d.startsWith(`next attempt at ${atB} in`)),
      JSON.stringify(statuses(alice, "reconnecting")),
    );
    await until(() => of(alice, "acked").length === 4, "every line acked", all, 20_000);
    await until(
      () => during.every((t) => of(bob, "msg", t).length === 1),
      "bob got the lines typed during the drop",
      all,
    );
    await bob.send("welcome back");
    await until(() => of(alice, "msg", "welcome back").length === 1, "alice hears bob", all);
    // Exactly once, in order, nothing failed.
    const seen = of(bob, "msg").filter((m) => m.from === "alice").map((m) => m.text);
    assert.deepEqual(seen, during);
    const typed = new Map(of(alice, "pending").map((m) => [m.id, m.text]));
    const acked = of(alice, "acked").map((m) => typed.get(m.id));
    assert.deepEqual(acked, ["before the drop", ...during]);
    assert.equal(of(alice, "failed").length, 0, JSON.stringify(of(alice, "failed")));
    // The second address was pinned without asking: its key is the one pinned for the first.
    assert.deepEqual(
      await pins(aliceHome),
      [`${atA} ${a.fingerprint}`, `${atB} ${b.fingerprint}`].sort(),
    );
  } finally {
    await alice.kill();
    await bob.kill();
    await a.stop();
    await b.stop();
  }
});

Deno.test("failover: the other address presents another key → exit 3, pins unchanged", async () => {
  const a = await startServer();
  const c = await startServer(); // its own key
  const [atA, atC] = [`127.0.0.1:${a.port}`, `127.0.0.1:${c.port}`];
  const h = await home(0);
  const alice = startClient(`${atA},${atC}`, ["--json", "--name", "alice", "--accept-new"], h);
  try {
    await until(() => welcomes(alice) === 1, "alice in", [alice], 20_000);
    const before = await pins(h);
    assert.deepEqual(before, [`${atA} ${a.fingerprint}`]);
    await a.stop("SIGKILL");
    const status = await exitWithin(alice, 30_000);
    assert.equal(status.code, 3, alice.errors.join("\n"));
    const err = alice.errors.join("\n");
    assert.match(err, new RegExp(`KEY HAS CHANGED for ${atC}`));
    assert.ok(err.includes(`pinned:  ${a.fingerprint} (for ${atA}, in the same address list`), err);
    assert.ok(err.includes(`offered: ${c.fingerprint}`), err);
    assert.ok(err.includes(`chat client ${atA},${atC} --fingerprint ${c.fingerprint}`), err);
    assert.deepEqual(await pins(h), before);
  } finally {
    await alice.kill();
    await a.stop();
    await c.stop();
  }
});

Deno.test("failover: a list with an address twice, too many addresses or an empty entry is a usage error", async () => {
  const h = await home(0);
  const many = Array.from({ length: 17 }, (_, i) => `127.0.0.1:${1000 + i}`).join(",");
  for (
    const [target, why] of [
      ["127.0.0.1:5000,127.0.0.1:5000", /is given twice/],
      ["localhost:5000,LOCALHOST", /is given twice/],
      [many, /at most 16 addresses, got 17/],
      ["127.0.0.1:5000,", /bad address ""/],
    ] as const
  ) {
    const c = startClient(target, ["--json", "--name", "alice"], h);
    const status = await exitWithin(c, 20_000);
    assert.equal(status.code, 2, `${target}: ${c.errors.join("\n")}`);
    assert.match(c.errors.join("\n"), why);
  }
});
