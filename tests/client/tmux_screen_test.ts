/**
 * The full screen over time, in a real terminal: a tmux pane runs `chat client` against a real
 * server while plain `--json` clients act as another user and as a second session of the same
 * user. The unread marker: never above the user's own lines, never for lines arriving while the
 * window is shown. Skips without tmux.
 */
import assert from "node:assert/strict";
import {
  type ClientProcess,
  MAIN,
  RUN_FLAGS,
  startClient,
  startServer,
  until,
} from "../support/procs.ts";
import { hasTmux, Pane, shellQuote } from "../support/tmux.ts";

const TMUX = hasTmux();
if (!TMUX) console.warn("tmux_screen_test: tmux is not installed; terminal tests skipped");

/** The status line (the row above the input row) and the input row of a pane text. */
function bottom(text: string): { status: string; input: string } {
  const rows = text.split("\n");
  return { status: rows.at(-2) ?? "", input: rows.at(-1) ?? "" };
}

/** The row index of the first row matching `re` (-1: none). */
function rowOf(text: string, re: RegExp): number {
  return text.split("\n").findIndex((r) => re.test(r));
}

const MARK = /─ new messages ─/;

Deno.test({
  name: "tmux screen: the unread marker ignores own lines and lines arriving while shown",
  ignore: !TMUX,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "chat-tmuxs-" });
    const server = await startServer({ dataDir: `${dir}/srv` });
    const pane = new Pane();
    const clients: ClientProcess[] = [];
    try {
      const bob = startClient(
        server.port,
        ["--name", "bob", "--accept-new", "--json"],
        `${dir}/bob`,
      );
      clients.push(bob);
      await until(() => bob.lines.some((l) => l.includes('"t":"welcome"')), "bob", [bob], 60_000);
      await bob.send("/join #dev");
      const cmd = [
        Deno.execPath(),
        ...RUN_FLAGS,
        MAIN,
        "client",
        `127.0.0.1:${server.port}`,
        "--name",
        "alice",
        "--accept-new",
        "--home",
        `${dir}/alice`,
      ].map(shellQuote).join(" ");
      await pane.tmux("new-session", "-d", "-s", "t", "-x", "100", "-y", "30", `${cmd}; sleep 60`);
      await pane.until((s) => bottom(s).input === "#lobby>", "#lobby window", 60_000);
      await pane.keys("/join #dev", "Enter");
      await pane.until((s) => bottom(s).input === "#dev>", "#dev window");
      await pane.keys("M-2");
      await pane.until((s) => bottom(s).input === "#lobby>", "back in #lobby");
      // A second session of the same identity (same home), as on another machine.
      const elsewhere = startClient(
        server.port,
        ["--accept-new", "--json", "--room", "#dev"],
        `${dir}/alice`,
      );
      clients.push(elsewhere);

      await t.step("own lines from another session: not unread, no marker above them", async () => {
        await until(
          () => elsewhere.lines.some((l) => l.includes('"t":"welcome"')),
          "second session",
          [elsewhere],
          60_000,
        );
        await elsewhere.send("mine from elsewhere");
        await until(
          () => elsewhere.lines.some((l) => l.includes('"text":"mine from elsewhere"')),
          "sent",
          [elsewhere],
        );
        const lobby = await pane.text();
        assert.match(bottom(lobby).status, /\[2:#lobby\] 3:#dev(\s|$)/, "no unread count for #dev");
        await pane.keys("M-3");
        const text = await pane.until(
          (s) => bottom(s).input === "#dev>" && /alice: mine from elsewhere$/m.test(s),
          "own line in #dev",
        );
        assert.doesNotMatch(text, MARK, `no marker above own lines:\n${text}`);
      });

      await t.step(
        "the marker goes above another's line, own lines before it stay above",
        async () => {
          await pane.keys("M-2");
          await pane.until((s) => bottom(s).input === "#lobby>", "#lobby again");
          await elsewhere.send("mine before");
          await until(
            () => elsewhere.lines.some((l) => l.includes('"text":"mine before"')),
            "mine before",
            [elsewhere],
          );
          await bob.send("bob here");
          await until(
            () => elsewhere.lines.some((l) => l.includes('"text":"bob here"')),
            "bob here",
            [elsewhere],
          );
          await elsewhere.send("mine after");
          await pane.until((s) => /3:#dev\(1\)/.test(bottom(s).status), "one unread in #dev");
          await until(
            () => elsewhere.lines.some((l) => l.includes('"text":"mine after"')),
            "mine after",
            [elsewhere],
          );
          await pane.keys("M-3");
          const text = await pane.until(
            (s) => bottom(s).input === "#dev>" && /alice: mine after$/m.test(s),
            "#dev shown",
          );
          const marker = rowOf(text, MARK);
          assert.ok(marker >= 0, `a marker:\n${text}`);
          assert.equal(rowOf(text, /bob: bob here$/), marker + 1, "right above the other's line");
          assert.ok(rowOf(text, /alice: mine before$/) < marker, "own lines before it: above");
          assert.ok(rowOf(text, /alice: mine after$/) > marker);
        },
      );

      await t.step("lines arriving while shown: the marker stays put, no new one", async () => {
        await bob.send("live one");
        const text = await pane.until((s) => /bob: live one$/m.test(s), "live line");
        assert.equal(text.split("\n").filter((r) => MARK.test(r)).length, 1);
        assert.equal(rowOf(text, /bob: bob here$/), rowOf(text, MARK) + 1);
        // Left and back with nothing new: no marker; then a line while shown adds none.
        await pane.keys("M-2");
        await pane.until((s) => bottom(s).input === "#lobby>", "#lobby");
        await pane.keys("M-3");
        await pane.until((s) => bottom(s).input === "#dev>", "#dev");
        await bob.send("while shown");
        const after = await pane.until((s) => /bob: while shown$/m.test(s), "line while shown");
        assert.doesNotMatch(after, MARK, `no marker while shown:\n${after}`);
      });
    } finally {
      await pane.tmux("kill-server").catch(() => "");
      for (const c of clients) await c.kill();
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
