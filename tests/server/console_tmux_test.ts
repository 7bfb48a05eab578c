/**
 * The operator console of a real `chat server` running in a terminal (tmux): announcements,
 * /who, /say, /kick and /stats reach a real client. Skips with a message without tmux.
 */
import assert from "node:assert/strict";
import { startClient, waitFor } from "../support/procs.ts";
import { chatLine, hasTmux, Pane } from "../support/tmux.ts";

const TMUX = hasTmux();
if (!TMUX) console.warn("console_tmux_test: tmux is not installed; console test skipped");

Deno.test({
  name: "console: the operator types into the server's terminal",
  ignore: !TMUX,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "chat-console-" });
    const pane = new Pane();
    const cmd = chatLine("server", "--host", "127.0.0.1", "--port", "0", "--data", `${dir}/srv`) +
      "; echo EXIT=$?; sleep 30";
    await pane.open(cmd, 120, 40);
    let bot: ReturnType<typeof startClient> | undefined;
    try {
      const started = await pane.until((t) => /listening on \S+:\d+/.test(t), "server start");
      const port = Number(/listening on \S+:(\d+)/.exec(started)![1]);
      bot = startClient(port, ["--name", "robo", "--accept-new", "--json"], `${dir}/robo`);
      const events = () => bot!.lines.map((l) => JSON.parse(l));
      await waitFor(() => events().some((e) => e.t === "welcome"), 20_000, "robo welcome");

      await pane.keys("hello everyone", "Enter");
      await waitFor(
        () => events().some((e) => e.kind === "announce" && e.text === "hello everyone"),
        10_000,
        "announcement",
      );

      await pane.keys("/who", "Enter");
      await pane.until((t) => /robo/.test(t.split("/who")[1] ?? ""), "/who output");

      await pane.keys("/say #lobby from the console", "Enter");
      await waitFor(
        () =>
          events().some((e) =>
            e.t === "msg" && e.from === "server" && e.text === "from the console"
          ),
        10_000,
        "console /say",
      );

      await pane.keys("/stats", "Enter");
      await pane.until((t) => /connections/i.test(t.split("/stats")[1] ?? ""), "/stats output");

      await pane.keys("/kick robo enough", "Enter");
      const status = await bot.status;
      const seen = events();
      assert.ok(seen.some((e) => e.t === "event" && e.kind === "kick" && e.name === "robo"));
      assert.ok(seen.some((e) => e.t === "status" && e.state === "closed"), "robo is told");
      assert.notEqual(status.code, 0, "a kicked plain client does not exit 0");

      await pane.keys("C-c");
      const end = await pane.until((t) => t.includes("EXIT="), "clean shutdown");
      assert.match(end, /server stopped\s+EXIT=0/);
    } finally {
      await bot?.kill();
      await pane.tmux("kill-server").catch(() => "");
      await Deno.remove(dir, { recursive: true });
    }
  },
});
