/**
 * Defects a newcomer hit in the interactive client, each driven in a real terminal: a tmux pane
 * runs `chat client` against a real server while plain-mode clients act as other users. Skips
 * with a message without tmux.
 */
import assert from "node:assert/strict";
import {
  type ClientProcess,
  type ServerProcess,
  startClient,
  startServer,
  until,
} from "../support/procs.ts";
import { clientLine, hasTmux, Pane } from "../support/tmux.ts";

const TMUX = hasTmux();
if (!TMUX) console.warn("tmux_defects_test: tmux is not installed; terminal tests skipped");

/** The interactive client for `name` in a 100×30 pane; `extra` are more client arguments. */
async function openPane(
  pane: Pane,
  port: number,
  home: string,
  name: string,
  extra: string[] = [],
): Promise<void> {
  await pane.open(`${clientLine(port, name, home, extra)}; echo EXIT=$?; sleep 60`);
}

/** A plain `--json` client named `name`, once it is welcomed. */
async function jsonClient(
  port: number,
  name: string,
  home: string,
  args: string[] = [],
): Promise<ClientProcess> {
  const c = startClient(port, ["--name", name, "--accept-new", "--json", ...args], home);
  await until(
    () => c.lines.some((l) => l.includes('"t":"welcome"')),
    `${name} welcome`,
    [c],
    30_000,
  );
  return c;
}

async function stopAll(pane: Pane, clients: ClientProcess[], server: ServerProcess | undefined) {
  await pane.tmux("kill-server").catch(() => "");
  for (const c of clients) await c.kill();
  await server?.stop();
}

Deno.test({
  name: "tmux defects: /help CMD, /who, help width",
  ignore: !TMUX,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "chat-tmuxd-" });
    const server = await startServer({ dataDir: `${dir}/srv` });
    const pane = new Pane();
    const bob = await jsonClient(server.port, "bob", `${dir}/bob`, ["--room", "#dev"]);
    try {
      await openPane(pane, server.port, `${dir}/alice`, "alice");
      await pane.until((s) => /^#lobby>/m.test(s), "prompt");

      await t.step(
        "/help CMD shows that command only; /help bogus says there is none",
        async () => {
          await pane.keys("/help whois", "Enter");
          const one = await pane.until((s) => s.includes("/whois NAME — "), "one command");
          assert.doesNotMatch(one, /\/rooms/, "not the whole list");
          await pane.keys("/help me", "Enter");
          await pane.until(
            (s) => /^\d\d:\d\d -- \/me action +send an action/m.test(s),
            "a client command",
          );
          await pane.keys("/help bogus", "Enter");
          await pane.until(
            (s) => s.includes("! there is no command /bogus; /help lists them all"),
            "unknown command",
          );
          await pane.keys("/clear", "Enter");
        },
      );

      await t.step("/help's list fits 100 columns without wrapping mid-word", async () => {
        await pane.keys("/help", "Enter");
        const text = await pane.until((s) => s.includes("//text"), "help list");
        for (const line of text.split("\n")) {
          assert.ok(line.length < 100, `a line fills the pane (wrapped): ${line}`);
        }
        await pane.keys("/clear", "Enter");
      });

      await t.step("/who without a room lists every user online, as help says", async () => {
        await pane.keys("/who", "Enter");
        await pane.until(
          (s) => /2 users online: (alice, bob|bob, alice)$/m.test(s),
          "everyone online",
        );
      });
    } finally {
      await stopAll(pane, [bob], server);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "tmux defects: the reconnect status counts down to the next attempt; /reconnect tries now",
  ignore: !TMUX,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "chat-tmuxd-" });
    let server: ServerProcess | undefined = await startServer({ dataDir: `${dir}/srv` });
    const port = server.port;
    const pane = new Pane();
    try {
      await openPane(pane, port, `${dir}/alice`, "alice");
      await pane.until((s) => /^#lobby>/m.test(s), "prompt");
      await server.stop("SIGKILL");
      server = undefined;
      // Connection notices are in the status window (window 1).
      await pane.keys("M-1");
      // Attempts back off; wait for one that is 10 s or more away.
      const waits = (s: string) =>
        [...s.matchAll(
          /-- reconnecting: next attempt in (\d+(?:\.\d)?) s \(\/reconnect tries now\)/g,
        )]
          .map((m) => Number(m[1]));
      await pane.until((s) => waits(s).some((w) => w >= 10), "a long wait", 40_000);
      assert.doesNotMatch(await pane.text(), /reconnecting: reconnecting/);
      server = await startServer({ dataDir: `${dir}/srv`, port });
      const asked = Date.now();
      await pane.keys("/reconnect", "Enter");
      await pane.until((s) => s.includes("-- reconnecting now"), "reconnecting now");
      await pane.until(
        (s) => (s.match(/connected to chat/g) ?? []).length === 2,
        "connected again",
        8_000,
      );
      assert.ok(Date.now() - asked < 8_000, "before the scheduled attempt");
      await pane.keys("/reconnect", "Enter");
      await pane.until((s) => s.includes("! not waiting to reconnect"), "connected: nothing to do");
    } finally {
      await stopAll(pane, [], server);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "tmux defects: one notice per away, nick and kick, whatever the rooms shared",
  ignore: !TMUX,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "chat-tmuxd-" });
    const server = await startServer({ dataDir: `${dir}/srv` });
    const pane = new Pane();
    let bob: ClientProcess | undefined;
    try {
      await openPane(pane, server.port, `${dir}/alice`, "alice");
      await pane.until((s) => /^#lobby>/m.test(s), "prompt");
      await pane.keys("/join #dev", "Enter"); // first member: operator of #dev
      await pane.until((s) => /^#dev>/m.test(s), "in #dev");
      bob = await jsonClient(server.port, "bob", `${dir}/bob`);
      await bob.send("/join #dev");
      await pane.until((s) => s.includes("bob joined #dev"), "bob in #dev");
      const count = (s: string, re: RegExp) => (s.match(re) ?? []).length;

      await bob.send("/away lunch");
      await bob.send("/nick bobby");
      await bob.send("/back");
      const t1 = await pane.until((s) => s.includes("bobby is back"), "back");
      assert.equal(count(t1, /bob is away: lunch/g), 1, t1);
      assert.equal(count(t1, /bob is now known as bobby/g), 1, t1);
      assert.equal(count(t1, /bobby is back/g), 1, t1);

      await pane.keys("/kick #dev bobby spam", "Enter");
      const t2 = await pane.until(
        (s) => s.includes("bobby was kicked from #dev by alice (spam)"),
        "kick notice",
      );
      await new Promise((r) => setTimeout(r, 500)); // a leave line would come right after
      const t3 = await pane.text();
      assert.equal(count(t3, /bobby was kicked/g), 1, t2);
      assert.doesNotMatch(t3, /bobby left #dev/);
    } finally {
      await stopAll(pane, bob === undefined ? [] : [bob], server);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** A TCP relay in front of the server that delays everything the server sends by `ms`. */
class SlowRelay {
  readonly #listener: Deno.TcpListener;
  readonly #conns = new Set<Deno.Conn>();
  readonly #tasks = new Set<Promise<unknown>>();
  readonly port: number;

  constructor(target: number, ms: number) {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#listener = listener;
    this.port = (listener.addr as Deno.NetAddr).port;
    this.#track(
      (async () => {
        for await (const c of listener) {
          this.#conns.add(c);
          const s = await Deno.connect({ hostname: "127.0.0.1", port: target });
          this.#conns.add(s);
          this.#track(c.readable.pipeTo(s.writable).catch(() => {}));
          const delayed = new TransformStream<Uint8Array, Uint8Array>({
            transform: (chunk, ctl) =>
              new Promise((r) => setTimeout(() => r(ctl.enqueue(chunk)), ms)),
          });
          this.#track(s.readable.pipeThrough(delayed).pipeTo(c.writable).catch(() => {}));
        }
      })().catch(() => {}),
    );
  }

  #track(p: Promise<unknown>): void {
    this.#tasks.add(p);
    p.finally(() => this.#tasks.delete(p));
  }

  async close(): Promise<void> {
    this.#listener.close();
    for (const c of this.#conns) {
      try {
        c.close();
      } catch {
        // closed
      }
    }
    await Promise.all([...this.#tasks]);
  }
}

Deno.test({
  name: "tmux defects: a late acknowledgement replaces the pending line, never repeats it",
  ignore: !TMUX,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "chat-tmuxd-" });
    const server = await startServer({ dataDir: `${dir}/srv` });
    // Every answer comes 700 ms late: later than the pending line waits (400 ms).
    const relay = new SlowRelay(server.port, 700);
    const pane = new Pane();
    try {
      await openPane(pane, relay.port, `${dir}/alice`, "alice");
      await pane.until((s) => /^#lobby>/m.test(s), "prompt", 30_000);
      for (const text of ["slow one", "slow two"]) {
        await pane.keys(text, "Enter");
        await pane.until((s) => s.includes(`alice: ${text} …`), `${text} pending`);
        const done = await pane.until(
          (s) => s.includes(`alice: ${text}\n`) || s.endsWith(`alice: ${text}\n#lobby>`),
          `${text} acknowledged`,
        );
        assert.equal((done.match(new RegExp(`alice: ${text}`, "g")) ?? []).length, 1, done);
        assert.doesNotMatch(done, new RegExp(`alice: ${text} …`));
      }
    } finally {
      await stopAll(pane, [], server);
      await relay.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
