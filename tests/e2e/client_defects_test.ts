/**
 * End to end with real processes, in plain and `--json` mode: a changed server key gives a hint
 * that works when pasted, `--fingerprint` trusts exactly the named key, every failure is a JSON
 * object in `--json` mode, and an error is said once.
 */

import assert from "node:assert/strict";
import { runChat, startClient, startServer, until } from "../support/procs.ts";

const welcomed = (out: string) => out.includes('"t":"welcome"');

Deno.test("e2e: changed server key → JSON failure, a pasteable --fingerprint hint that works", async () => {
  const home = await Deno.makeTempDir({ prefix: "chat-e2e-fp-" });
  let server = await startServer();
  const port = server.port;
  const hp = `127.0.0.1:${port}`;
  const client = (...more: string[]) =>
    runChat(["client", hp, "--name", "alice", "--json", "--home", home, ...more]);
  try {
    const first = await client("--accept-new");
    assert.equal(first.code, 0, first.stderr);
    assert.ok(welcomed(first.stdout));
    await server.stop();
    server = await startServer({ port }); // another data dir: another host key
    const changed = await client();
    assert.equal(changed.code, 3, changed.stderr);
    const fatal = JSON.parse(changed.stdout.trim().split("\n").at(-1)!);
    assert.equal(fatal.t, "fatal");
    assert.equal(fatal.code, "host_key_changed");
    assert.equal(fatal.exit, 3);
    assert.equal(fatal.offered, server.fingerprint);
    const hint = `  chat client ${hp} --fingerprint ${server.fingerprint} --home ${home}`;
    assert.ok(changed.stderr.split("\n").includes(hint), changed.stderr);

    // Another key than the one named: refused, and the pin is kept.
    const wrong = await client("--fingerprint", fatal.pinned);
    assert.equal(wrong.code, 4, wrong.stderr);
    assert.equal(JSON.parse(wrong.stdout.trim()).code, "untrusted");

    // The hint as typed (after `chat`), plus the name and the output mode of this test.
    const pasted = hint.trim().split(" ").slice(1);
    const ok = await runChat([...pasted, "--name", "alice", "--json"]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.ok(welcomed(ok.stdout), ok.stdout);
    assert.equal(
      (await Deno.readTextFile(`${home}/known_servers`)).trim().split("\n").at(-1),
      `${hp} ${server.fingerprint}`,
    );
    const again = await client();
    assert.equal(again.code, 0, "the new key is pinned now");
  } finally {
    await server.stop();
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("e2e: a name in use is said once, on stderr, and is a JSON failure with --json", async () => {
  const server = await startServer();
  const [h1, h2] = [
    await Deno.makeTempDir({ prefix: "chat-e2e-n1-" }),
    await Deno.makeTempDir({ prefix: "chat-e2e-n2-" }),
  ];
  const holder = startClient(server.port, ["--name", "alice", "--accept-new", "--json"], h1);
  try {
    await until(() => holder.lines.some(welcomed), "alice in", [holder], 20_000);
    const plain = await runChat([
      "client",
      `127.0.0.1:${server.port}`,
      "--name",
      "alice",
      "--accept-new",
      "--home",
      h2,
    ]);
    assert.equal(plain.code, 4, plain.stderr);
    const said = (plain.stdout + plain.stderr).split("\n").filter((l) => l.includes("in use"));
    assert.deepEqual(said, ["chat: alice is in use right now."]);
    const json = await runChat([
      "client",
      `127.0.0.1:${server.port}`,
      "--name",
      "alice",
      "--json",
      "--home",
      h2,
    ]);
    assert.equal(json.code, 4);
    assert.deepEqual(JSON.parse(json.stdout.trim().split("\n").at(-1)!), {
      t: "fatal",
      code: "name",
      exit: 4,
      message: "alice is in use right now.",
    });
  } finally {
    await holder.kill();
    await server.stop();
    await Deno.remove(h1, { recursive: true });
    await Deno.remove(h2, { recursive: true });
  }
});

/** A TCP relay on one port in front of the server that can be cut and restored (same port). */
class Relay {
  #listener: Deno.TcpListener;
  readonly #conns = new Set<Deno.Conn>();
  readonly #tasks = new Set<Promise<void>>();
  readonly port: number;

  constructor(readonly target: number) {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.port = (this.#listener.addr as Deno.NetAddr).port;
    this.#accept(this.#listener);
  }

  #accept(l: Deno.TcpListener): void {
    const task = (async () => {
      for await (const c of l) {
        this.#conns.add(c);
        let s: Deno.Conn;
        try {
          s = await Deno.connect({ hostname: "127.0.0.1", port: this.target });
        } catch {
          c.close();
          this.#conns.delete(c);
          continue;
        }
        this.#conns.add(s);
        const pipe = (a: Deno.Conn, b: Deno.Conn) =>
          a.readable.pipeTo(b.writable).catch(() => {}).finally(() => {
            for (const x of [a, b]) {
              if (this.#conns.delete(x)) {
                try {
                  x.close();
                } catch {
                  // closed
                }
              }
            }
          });
        const t = Promise.all([pipe(c, s), pipe(s, c)]).then(() => {});
        this.#tasks.add(t);
        t.finally(() => this.#tasks.delete(t));
      }
    })().catch(() => {});
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task));
  }

  /** Closes the port and every connection through it. */
  async cut(): Promise<void> {
    try {
      this.#listener.close();
    } catch {
      // closed
    }
    for (const c of [...this.#conns]) {
      this.#conns.delete(c);
      try {
        c.close();
      } catch {
        // closed
      }
    }
    await Promise.all([...this.#tasks]);
  }

  /** Listens on the same port again. */
  restore(): void {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: this.port });
    this.#accept(this.#listener);
  }
}

Deno.test("e2e: a private message typed while disconnected is held and sent on reconnect", async () => {
  const server = await startServer();
  const [ha, hb] = [
    await Deno.makeTempDir({ prefix: "chat-e2e-dq-a-" }),
    await Deno.makeTempDir({ prefix: "chat-e2e-dq-b-" }),
  ];
  const relay = new Relay(server.port);
  const bob = startClient(server.port, ["--name", "bob", "--accept-new", "--json"], hb);
  const alice = startClient(relay.port, ["--name", "alice", "--accept-new", "--json"], ha);
  const both = [alice, bob];
  try {
    await until(() => both.every((c) => c.lines.some(welcomed)), "both in", both, 20_000);
    await relay.cut();
    await until(
      () => alice.lines.some((l) => l.includes('"state":"reconnecting"')),
      "alice offline",
      both,
    );
    await alice.send("/msg bob typed while offline");
    await until(
      () => alice.lines.some((l) => l.includes("held: sent when the connection is back")),
      "held",
      both,
    );
    assert.ok(!alice.lines.some((l) => l.includes('"t":"dm_failed"')), alice.lines.join("\n"));
    relay.restore();
    await until(
      () => bob.lines.some((l) => l.includes('"t":"dm"') && l.includes("typed while offline")),
      "bob receives it",
      both,
      30_000,
    );
    await until(
      () => alice.lines.some((l) => l.includes('"t":"dm"') && l.includes('"from":"alice"')),
      "alice sees it sent",
      both,
    );
    await alice.end();
    assert.equal((await alice.status).code, 0, alice.errors.join("\n"));
  } finally {
    await alice.kill();
    await bob.kill();
    await relay.cut();
    await server.stop();
    await Deno.remove(ha, { recursive: true });
    await Deno.remove(hb, { recursive: true });
  }
});
