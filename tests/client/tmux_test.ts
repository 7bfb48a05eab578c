/**
 * The real interactive client in a real terminal: a tmux pane drives `chat client` against a
 * real server, while a plain-mode client sends messages. Skips with a message without tmux.
 */
import assert from "node:assert/strict";
import { makeIdentity, startClient, startServer, waitFor } from "../support/procs.ts";
import { clientLine, hasTmux, Pane, withoutStatus } from "../support/tmux.ts";

const TMUX = hasTmux();
if (!TMUX) console.warn("tmux_test: tmux is not installed; terminal tests skipped");

const HOSTILE = "evil\x1b[2J\x1b[H\x1b]52;c;cHduZWQ=\x07\x1b]0;PWNED\x07\x1bkWIN\x1b\\ \u202eabc";

Deno.test({
  name: "tmux: the interactive client in a real terminal",
  ignore: !TMUX,
  sanitizeResources: true,
  sanitizeOps: true,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "chat-tmux-" });
    const motdFile = `${dir}/motd`;
    await Deno.writeTextFile(motdFile, "Welcome\x1b[2J\rFAKE\u202e line");
    await Promise.all([makeIdentity(`${dir}/alice`), makeIdentity(`${dir}/robo`)]);
    const server = await startServer({ dataDir: `${dir}/srv`, args: ["--motd", `@${motdFile}`] });
    const pane = new Pane();
    const bot = startClient(
      server.port,
      ["--name", "robo", "--accept-new", "--json"],
      `${dir}/robo`,
    );
    try {
      await waitFor(
        () => bot.lines.some((l) => l.includes('"t":"welcome"')),
        20_000,
        "bot welcome",
      );
      const cmd = clientLine(server.port, "alice", `${dir}/alice`);
      await pane.open(`${cmd}; echo EXIT=$?; stty -a | grep -o -- '-\\?icanon'; sleep 60`, 120, 30);
      // Let applications set the clipboard and window name, so that an attempt would show.
      await pane.tmux("set-option", "-g", "set-clipboard", "on");
      await pane.tmux("set-option", "-g", "allow-rename", "on");
      // A fixed window name that only an escape sequence could change (tmux would otherwise
      // rename the window after whatever process runs in it).
      await pane.tmux("set-option", "-w", "-t", "t", "automatic-rename", "off");
      await pane.tmux("rename-window", "-t", "t", "chat-test");
      const title = await pane.display("#{pane_title}");
      const windowName = await pane.display("#{window_name}");

      await t.step("connects and shows the hostile MOTD visibly, on indented lines", async () => {
        await pane.until((s) => /^#lobby> $/m.test(s + " "), "prompt");
        // The welcome is in the status window (window 1).
        await pane.keys("M-1");
        const text = await pane.until((s) => /^status> $/m.test(s + " "), "status window");
        assert.match(text, /connected to chat .* as alice/);
        assert.match(text, /Welcome␛\[2J␍FAKE<U\+202E> line/);
        assert.doesNotMatch(text, /^FAKE/m);
        await pane.keys("M-2");
        await pane.until((s) => /^#lobby> $/m.test(s + " "), "back in #lobby");
      });

      await t.step("typing while messages arrive keeps the input intact", async () => {
        await pane.keys("half ", "typed");
        for (let i = 1; i <= 3; i++) {
          await bot.send(`incoming ${i}`);
          await pane.until((s) => s.includes(`robo: incoming ${i}`), `message ${i}`);
        }
        await pane.until((s) => s.endsWith("\n#lobby> half typed"), "input intact");
        assert.equal(await pane.display("#{cursor_x}"), String("#lobby> half typed".length));
        await pane.keys(" line", "Enter");
        await pane.until(
          (s) => /alice: half typed line\n#lobby>$/.test(withoutStatus(s)),
          "own message acknowledged",
        );
        assert.ok(bot.lines.some((l) => l.includes('"text":"half typed line"')));
      });

      await t.step("a hostile message is shown visibly and changes nothing", async () => {
        await bot.send(HOSTILE);
        const text = await pane.until((s) => s.includes("robo: evil"), "hostile message");
        assert.match(text, /robo: evil␛\[2J␛\[H␛]52;c;cHduZWQ=␇␛]0;PWNED␇␛kWIN␛\\ <U\+202E>abc/);
        assert.match(text, /robo: incoming 1/, "the screen was not cleared");
        assert.equal(await pane.display("#{pane_title}"), title);
        assert.equal(await pane.display("#{window_name}"), windowName);
        assert.equal((await pane.tmux("list-buffers")).trim(), "", "no clipboard write");
        await pane.until((s) => s.endsWith("\n#lobby>"), "prompt back");
      });

      await t.step("Tab completes commands, rooms and names", async () => {
        await pane.keys("/jo", "Tab");
        await pane.until((s) => s.endsWith("#lobby> /join"), "command completion");
        await pane.keys("#lo", "Tab");
        await pane.until((s) => s.endsWith("#lobby> /join #lobby"), "room completion");
        await pane.keys("C-e", "C-u", "ro", "Tab");
        await pane.until((s) => s.endsWith("#lobby> robo:"), "name completion");
        await pane.keys("C-e", "C-u");
        await pane.until((s) => s.endsWith("#lobby>"), "cleared line");
      });

      await t.step(
        "Ctrl-C once clears the line; twice quits and restores the terminal",
        async () => {
          await pane.keys("junk", "C-c");
          const hint = "(Ctrl-C again within 2 s to quit)";
          await pane.until(
            (s) => withoutStatus(s).endsWith(`\n${hint}\n#lobby>`),
            "hint and a cleared line",
          );
          await new Promise((r) => setTimeout(r, 2_200));
          await pane.keys("C-c");
          await pane.until(
            (s) => withoutStatus(s).endsWith(`\n${hint}\n${hint}\n#lobby>`),
            "a slow second Ctrl-C only clears the line again",
          );
          await pane.keys("C-c");
          const end = await pane.until((s) => /icanon$/.test(s), "exit");
          assert.match(end, /^EXIT=0$/m);
          assert.match(end, /^icanon$/m, "canonical mode is back");
          await waitFor(
            () => bot.lines.some((l) => l.includes('"kind":"leave"') && l.includes('"alice"')),
            10_000,
            "leave event",
          );
        },
      );
    } finally {
      await pane.tmux("kill-server").catch(() => "");
      await bot.end();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const st = await Promise.race([
        bot.status,
        new Promise<null>((r) => timer = setTimeout(() => r(null), 15_000)),
      ]);
      clearTimeout(timer);
      if (st === null) await bot.kill();
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
