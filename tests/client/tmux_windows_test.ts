/**
 * Windows in the real interactive client: a tmux pane runs `chat client` against a real server
 * while a plain `--json` client acts as another user. Two rooms and a conversation, switching
 * by Alt+digit and /win, the hotlist's counts and marks, the unread marker, PgUp fetching older
 * history from the server, /query and /close, leaving the last room. Skips without tmux.
 */
import assert from "node:assert/strict";
import { type ClientProcess, startClient, startServer, until } from "../support/procs.ts";
import { bottom, clientLine, hasTmux, Pane } from "../support/tmux.ts";

const TMUX = hasTmux();
if (!TMUX) console.warn("tmux_windows_test: tmux is not installed; terminal tests skipped");

Deno.test({
  name: "tmux windows: rooms and a conversation, switching, hotlist, marker, history, /close",
  ignore: !TMUX,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "chat-tmuxw-" });
    const server = await startServer({
      dataDir: `${dir}/srv`,
      args: ["--limit", "rateBurst=500", "--limit", "ratePerSecond=500"],
    });
    const pane = new Pane();
    const bob: ClientProcess = startClient(
      server.port,
      ["--name", "bob", "--accept-new", "--json"],
      `${dir}/bob`,
    );
    try {
      // Starting a process takes long on a busy machine.
      await until(() => bob.lines.some((l) => l.includes('"t":"welcome"')), "bob", [bob], 60_000);
      for (let i = 1; i <= 120; i++) await bob.send(`old ${i}`);
      await until(() => bob.lines.some((l) => l.includes('"text":"old 120"')), "history", [bob]);
      const cmd = clientLine(server.port, "alice", `${dir}/alice`);
      await pane.open(`${cmd}; echo EXIT=$?; sleep 60`);

      await t.step("the start room fills the screen; /join opens a second window", async () => {
        const text = await pane.until(
          (s) => bottom(s).input === "#lobby>",
          "#lobby window",
          60_000,
        );
        assert.match(text, /bob: old 120$/m);
        assert.match(bottom(text).status, /^\[alice\] 1:status \[2:#lobby\]/);
        await pane.keys("/join #dev", "Enter");
        const dev = await pane.until((s) => bottom(s).input === "#dev>", "#dev window");
        assert.match(bottom(dev).status, /1:status 2:#lobby \[3:#dev\]/);
        assert.doesNotMatch(dev, /old 120/, "the room's own window shows only that room");
      });

      await t.step(
        "Alt+digit switches; the hotlist counts messages and marks a mention",
        async () => {
          await pane.keys("M-2");
          await pane.until((s) => bottom(s).input === "#lobby>", "back in #lobby");
          await bob.send("/join #dev");
          await bob.send("dev one");
          await bob.send("dev two, alice?");
          const text = await pane.until((s) => /3:#dev\(2!\)/.test(bottom(s).status), "hotlist");
          assert.match(bottom(text).status, /\[2:#lobby\] 3:#dev\(2!\)/);
          assert.doesNotMatch(text, /dev one/, "not shown in #lobby");
        },
      );

      await t.step("a private message opens a conversation window, marked", async () => {
        await bob.send("/msg alice psst");
        await pane.until((s) => /4:bob\(1!\)/.test(bottom(s).status), "conversation in hotlist");
      });

      await t.step("/win N shows a window, with the unread marker where it was left", async () => {
        await pane.keys("/win 3", "Enter");
        const text = await pane.until(
          (s) => bottom(s).input === "#dev>" && s.includes("dev two"),
          "#dev shown",
        );
        assert.match(bottom(text).status, /\[3:#dev\] 4:bob\(1!\)/, "#dev is read now");
        const rows = text.split("\n");
        const marker = rows.findIndex((r) => /─ new messages ─/.test(r));
        const first = rows.findIndex((r) => /bob: dev one$/.test(r));
        assert.ok(marker >= 0 && first > marker, `the marker is above the new lines:\n${text}`);
        assert.ok(
          rows.findIndex((r) => /alice joined #dev/.test(r)) < marker,
          "what was seen is above it",
        );
      });

      await t.step("each window keeps its own input", async () => {
        await pane.keys("draft for dev");
        await pane.until((s) => bottom(s).input === "#dev> draft for dev", "typed in #dev");
        await pane.keys("M-2");
        await pane.until((s) => bottom(s).input === "#lobby>", "#lobby's input is empty");
        await pane.keys("C-n");
        await pane.until((s) => bottom(s).input === "#dev> draft for dev", "the draft is kept");
        await pane.keys("C-u");
        await pane.until((s) => bottom(s).input === "#dev>", "cleared");
        await pane.keys("M-Left");
        await pane.until((s) => bottom(s).input === "#lobby>", "Alt+← shows the one before");
        await pane.keys("C-p");
        await pane.until((s) => bottom(s).input === "status>", "Ctrl+P too");
        await pane.keys("M-Right", "M-Right");
        await pane.until((s) => bottom(s).input === "#dev>", "Alt+→ the one after");
      });

      await t.step("in a conversation, plain text goes to that person", async () => {
        await pane.keys("M-4");
        await pane.until((s) => bottom(s).input === "bob>" && s.includes("bob: psst"), "query");
        await pane.keys("hi bob", "Enter");
        await until(
          () => bob.lines.some((l) => l.includes('"t":"dm"') && l.includes('"text":"hi bob"')),
          "the private message reaches bob",
          [bob],
        );
        await pane.until((s) => /alice: hi bob$/m.test(s), "own private message shown");
      });

      await t.step("/close closes the conversation; /query opens it again", async () => {
        await pane.keys("/close", "Enter");
        const closed = await pane.until((s) => bottom(s).input === "#dev>", "back in #dev");
        assert.doesNotMatch(bottom(closed).status, /bob/);
        await pane.keys("/query bob", "Enter");
        const again = await pane.until((s) => bottom(s).input === "bob>", "conversation again");
        assert.match(bottom(again).status, /\[4:bob\]/);
        await pane.keys("/close", "Enter");
        await pane.until((s) => bottom(s).input === "#dev>", "closed again");
      });

      await t.step("PgUp pages back and fetches older history at the top", async () => {
        await pane.keys("/win #lobby", "Enter");
        await pane.until((s) => bottom(s).input === "#lobby>", "#lobby");
        let text = "";
        for (let i = 0; i < 30 && !/bob: old 1$/m.test(text); i++) {
          await pane.keys("PPage");
          text = await pane.text();
        }
        text = await pane.until((s) => /bob: old 1$/m.test(s), "the first message of #lobby");
        assert.match(bottom(text).status, /-MORE-$/);
        assert.match(text, /bob: old 2$/m, "in order");
        // Back to the bottom.
        for (let i = 0; i < 30 && bottom(text).status.endsWith("-MORE-"); i++) {
          await pane.keys("NPage");
          text = await pane.text();
        }
        assert.match(text, /bob: old 120$/m);
      });

      await t.step("leaving the last room leaves the status window with a hint", async () => {
        await pane.keys("/close", "Enter");
        await pane.until((s) => bottom(s).input === "#dev>", "#lobby left, #dev shown");
        await pane.keys("/close", "Enter");
        const text = await pane.until((s) => bottom(s).input === "status>", "status window");
        assert.match(text, /you are in no room: \/join #room to talk/);
        assert.match(bottom(text).status, /^\[alice\] \[1:status\]\s*$/);
        await pane.keys("hello?", "Enter");
        await pane.until((s) => s.includes("! this is the status window"), "status hint");
        assert.ok(!bob.lines.some((l) => l.includes('"text":"hello?"')), "nothing was sent");
      });

      await t.step("a resize redraws at the new width; wrapped lines hang", async () => {
        await pane.tmux("resize-window", "-t", "t", "-x", "60", "-y", "20");
        const text = await pane.until(
          (s) =>
            // "HH:MM -- you are in no room: …": the rest hangs under the text, past the time.
            s.split("\n").some((r) =>
              /^ {9}NAME for a private conversation, \/help for more/.test(r)
            ),
          "the hint wrapped at 60 columns under its text",
        );
        for (const row of text.split("\n")) assert.ok(row.length <= 60, row);
        assert.equal(bottom(text).input, "status>");
      });

      await t.step("/quit leaves the full screen", async () => {
        await pane.keys("/quit", "Enter");
        const end = await pane.until((s) => /^EXIT=\d+$/m.test(s), "exit");
        assert.match(end, /^EXIT=0$/m);
        assert.doesNotMatch(end, /status>/, "the alternate screen is gone");
      });
    } finally {
      await pane.tmux("kill-server").catch(() => "");
      await bob.kill();
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
