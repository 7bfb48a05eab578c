/**
 * End to end with real processes, in plain and `--json` mode: a changed server key gives a hint
 * that works when pasted, `--fingerprint` trusts exactly the named key, every failure is a JSON
 * object in `--json` mode, and an error is said once.
 */

import assert from "node:assert/strict";
import { type ClientProcess, runChat, startClient, startServer, until } from "../support/procs.ts";
import { safetyNumber } from "../../client/dm.ts";

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

Deno.test("e2e: /verify after a peer's key changed shows the new key's number beside the old", async () => {
  const server = await startServer();
  const homes = await Promise.all(
    ["a", "b1", "b2"].map((n) => Deno.makeTempDir({ prefix: `chat-e2e-v-${n}-` })),
  );
  const started: ClientProcess[] = [];
  const json = (home: string, name: string) => {
    const c = startClient(server.port, ["--name", name, "--accept-new", "--json"], home);
    started.push(c);
    return c;
  };
  const fpOf = (c: ClientProcess) =>
    JSON.parse(c.lines.find((l) => l.includes('"t":"welcome"'))!).fingerprint as string;
  const locals = (c: ClientProcess) =>
    c.lines.filter((l) => l.includes('"t":"local"')).map((l) => JSON.parse(l).text as string);
  try {
    const alice = json(homes[0], "alice");
    const bob1 = json(homes[1], "bob");
    await until(() => started.every((c) => c.lines.some(welcomed)), "in", started, 20_000);
    await alice.send("/verify bob");
    await until(() => locals(alice).some((t) => t.startsWith("safety number")), "v1", started);
    // bob's name passes to another identity (another key).
    await bob1.send("/nick bobold");
    await bob1.send("/nick release bob");
    await until(
      () => bob1.lines.some((l) => l.includes("You gave up the name bob")),
      "released",
      started,
    );
    const bob2 = json(homes[2], "bob");
    await until(() => bob2.lines.some(welcomed), "bob2 in", started, 20_000);
    await alice.send("/verify bob");
    await until(() => locals(alice).some((t) => t.includes("has changed")), "v2", started);
    const text = locals(alice).find((t) => t.includes("has changed"))!;
    const [a, old, now] = [fpOf(alice), fpOf(bob1), fpOf(bob2)];
    const groups = async (fp: string) => {
      const g = (await safetyNumber(a, fp)).split(" ");
      return `  ${g.slice(0, 6).join(" ")}\n  ${g.slice(6).join(" ")}`;
    };
    assert.equal(
      text,
      [
        "bob's key has changed since you pinned it.",
        `safety number with bob's NEW key (${now}), not yet trusted:`,
        await groups(now),
        `safety number with the pinned key (${old}):`,
        await groups(old),
        "compare the new number with bob over another channel; if it matches, /trust bob pins " +
        "the new key as verified",
      ].join("\n"),
    );
  } finally {
    for (const c of started) await c.kill();
    await server.stop();
    for (const h of homes) await Deno.remove(h, { recursive: true });
  }
});
