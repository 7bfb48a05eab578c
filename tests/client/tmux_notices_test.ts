/**
 * How notices, events and answers look in the interactive client, in a real terminal: a tmux pane
 * runs `chat client` against a real server while a plain-mode client acts as another user.
 * Skips with a message without tmux.
 */
import assert from "node:assert/strict";
import { type ClientProcess, startClient, startServer, until } from "../support/procs.ts";
import { bottom, clientLine, hasTmux, Pane, withoutStatus } from "../support/tmux.ts";

const TMUX = hasTmux();
if (!TMUX) console.warn("tmux_notices_test: tmux is not installed; terminal tests skipped");

/** The rows of a pane text without the status and input rows. */
function shown(text: string): string[] {
  return withoutStatus(text).split("\n").slice(0, -1);
}

Deno.test({
  name: "tmux notices: times on every line, leaves without '(left)', one line per /nick, answers " +
    "where they belong, /set colors under --no-color",
  ignore: !TMUX,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "chat-tmuxn-" });
    const server = await startServer({ dataDir: `${dir}/srv` });
    const pane = new Pane();
    let bob: ClientProcess | undefined;
    const bobIn = (room: string) =>
      until(
        () => bob!.lines.some((l) => l.includes(`"text":"You joined ${room}."`)),
        `bob in ${room}`,
        [bob!],
        20_000,
      );
    try {
      bob = startClient(server.port, ["--name", "bob", "--accept-new", "--json"], `${dir}/bob`);
      await until(() => bob!.lines.some((l) => l.includes('"t":"welcome"')), "bob", [bob], 30_000);
      await pane.open(
        `${clientLine(server.port, "alice", `${dir}/alice`, ["--no-color"])}; sleep 60`,
        100,
        30,
      );
      await pane.until((s) => bottom(s).input === "#lobby>", "prompt");

      await t.step("notices and answers carry the time, like events", async () => {
        await pane.keys("/bell", "Enter");
        await pane.until((s) => /^\d\d:\d\d -- bell: mention$/m.test(s), "a local answer");
        await pane.keys("/win 1", "Enter");
        await pane.until(
          (s) => /^\d\d:\d\d -- connected to .* as alice$/m.test(s),
          "the welcome in the status window",
        );
        await pane.keys("/win 2", "Enter");
        await pane.until((s) => bottom(s).input === "#lobby>", "back in #lobby");
      });

      await t.step("your own /nick is one line", async () => {
        await pane.keys("/nick alicia", "Enter");
        const text = await pane.until(
          (s) => s.includes("You are now alicia (was alice)."),
          "the reply",
        );
        // Give the server's nick event (sent to the sessions sharing #lobby) time to show, too.
        await new Promise((r) => setTimeout(r, 1_500));
        const rows = shown(await pane.text()).filter((r) =>
          r.includes("alicia") && !r.includes("> /nick")
        );
        assert.deepEqual(rows.length, 1, rows.join("\n") + "\n" + text);
        assert.match(rows[0], /^\d\d:\d\d {3}You are now alicia \(was alice\)\.$/);
        await until(() => bob!.lines.some((l) => l.includes('"kind":"nick"')), "bob sees it", [
          bob!,
        ]);
      });

      await t.step("a /leave is 'bob left #lobby'; other leaves say why", async () => {
        await bob!.send("/leave #lobby");
        await pane.until((s) => /^\d\d:\d\d -- bob left #lobby$/m.test(s), "bob left");
        assert.doesNotMatch(await pane.text(), /\(left\)/);
        await bob!.send("/join #lobby");
        await bobIn("#lobby");
        await bob!.end(); // quits
        await pane.until((s) => /^\d\d:\d\d -- bob left #lobby \(quit\)$/m.test(s), "bob quit");
      });

      await t.step("a /join's answer is in the room joined, not where it was typed", async () => {
        await pane.keys("/join #ops", "Enter");
        const ops = await pane.until(
          (s) => bottom(s).input === "#ops>" && s.includes("You joined #ops."),
          "#ops with its answer",
        );
        assert.doesNotMatch(ops, /alicia joined #ops/, "the reply says it once");
        await pane.keys("/win #lobby", "Enter");
        const lobby = await pane.until((s) => bottom(s).input === "#lobby>", "#lobby");
        assert.doesNotMatch(withoutStatus(lobby), /You joined #ops/);
        assert.match(lobby, /#lobby> \/join #ops/, "the command stays where it was typed");
      });

      await t.step("an unknown command is said as /help says it", async () => {
        await pane.keys("/frob", "Enter");
        const text = await pane.until(
          (s) => /^\d\d:\d\d ! there is no command \/frob; \/help lists them all$/m.test(s),
          "the client's wording",
        );
        assert.doesNotMatch(text, /unknown_command/);
      });

      await t.step("/set colors on under --no-color says they stay off", async () => {
        await pane.keys("/set colors on", "Enter");
        await pane.until(
          (s) => s.includes("-- colors set to on: from the next start without --no-color"),
          "the truthful answer",
        );
      });
    } finally {
      await pane.tmux("kill-server").catch(() => "");
      await bob?.kill();
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
