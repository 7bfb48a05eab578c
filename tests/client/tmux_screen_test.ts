/**
 * The full screen over time, in a real terminal: a tmux pane runs `chat client` against a real
 * server while plain `--json` clients act as another user and as a second session of the same
 * user. Date separators in history from earlier days (put in the server's database before it
 * starts, through its own store). The unread marker: never above the user's own lines, never for lines arriving while the
 * window is shown. Ctrl-Z: back to the shell, `fg` redraws with what came meanwhile (the server
 * having dropped the stopped client). Skips without tmux.
 */
import assert from "node:assert/strict";
import { type ClientProcess, startClient, startServer, until } from "../support/procs.ts";
import { bottom, clientLine, hasTmux, Pane, shellQuote } from "../support/tmux.ts";
import { Store } from "../../server/store.ts";

const TMUX = hasTmux();
if (!TMUX) console.warn("tmux_screen_test: tmux is not installed; terminal tests skipped");

/** The row index of the first row matching `re` (-1: none). */
function rowOf(text: string, re: RegExp): number {
  return text.split("\n").findIndex((r) => re.test(r));
}

const MARK = /─ new messages ─/;
const ROOT = new URL("../..", import.meta.url).pathname;

const DAY_MS = 86_400_000;
const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** The day of `ts` as a date separator shows it in UTC, e.g. "Mon Nov 30 2026". */
function utcDay(ts: number): string {
  const d = new Date(ts);
  const dd = String(d.getUTCDate()).padStart(2, "0");
  return `${WEEKDAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${dd} ${d.getUTCFullYear()}`;
}

/**
 * Puts history from earlier days into a server's database before it starts, through the
 * server's own store: what a server that ran on those days would hold. Without ids, as the
 * operator's `/say` stores them: such lines must not replace one another.
 */
function seedHistory(dataDir: string, lines: { ts: number; from: string; text: string }[]): void {
  Deno.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const store = Store.open(`${dataDir}/chat.db`);
  try {
    for (const l of lines) {
      store.appendMessage({
        room: "#lobby",
        ts: l.ts,
        from: l.from,
        text: l.text,
        me: false,
        id: "",
        senderFp: `SHA256:${"A".repeat(43)}`,
      });
    }
  } finally {
    store.close();
  }
}

Deno.test({
  name: "tmux screen: date separators in history; the unread marker ignores own lines",
  ignore: !TMUX,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "chat-tmuxs-" });
    const now = Date.now();
    const twoDaysAgo = now - 2 * DAY_MS;
    const yesterday = now - DAY_MS;
    seedHistory(`${dir}/srv`, [
      { ts: twoDaysAgo, from: "dana", text: "from two days back" },
      { ts: twoDaysAgo + 60_000, from: "dana", text: "same day, a minute later" },
      { ts: yesterday, from: "erin", text: "yesterday's news" },
    ]);
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
      // Through the project's task, as README's quick start runs it; days in UTC.
      const cmd = "TZ=UTC " + [
        Deno.execPath(),
        "task",
        "-q",
        "client",
        `127.0.0.1:${server.port}`,
        "--name",
        "alice",
        "--accept-new",
        "--home",
        `${dir}/alice`,
      ].map(shellQuote).join(" ");
      await pane.tmux(
        "new-session",
        "-d",
        "-s",
        "t",
        "-x",
        "100",
        "-y",
        "30",
        "-c",
        ROOT,
        `${cmd}; sleep 60`,
      );
      const lobby = await pane.until(
        (s) => bottom(s).input === "#lobby>" && /alice joined #lobby/.test(s),
        "#lobby window",
        60_000,
      );

      await t.step("history from other days: a date rule where the day changes", () => {
        const rows = lobby.split("\n");
        const at = (re: RegExp) => rows.findIndex((r) => re.test(r));
        const rule = (ts: number) => new RegExp(`^─+ ${utcDay(ts)} ─+$`);
        const first = at(/dana: from two days back$/);
        assert.ok(first >= 0, `the history is shown:\n${lobby}`);
        assert.equal(at(/dana: same day, a minute later$/), first + 1, "same day: no rule");
        assert.equal(at(rule(yesterday)), first + 2, `the next day's rule:\n${lobby}`);
        assert.equal(at(/erin: yesterday's news$/), first + 3);
        const today = at(rule(Date.now()));
        assert.ok(today > first + 3, `today's rule before today's lines:\n${lobby}`);
        assert.ok(at(/alice joined #lobby/) > today);
        assert.equal(at(rule(twoDaysAgo)), -1, "no rule above the first line held");
        const hhmm = new Date(twoDaysAgo).toISOString().slice(11, 16);
        assert.match(rows[first], new RegExp(`^${hhmm} `), "the line's own time, in UTC");
      });

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

      await t.step(
        "Ctrl-Z under a task runner: refused, the screen stays",
        async () => {
          // The pane runs the client under `sh -c`, which leads the process group.
          await pane.keys("C-z");
          const text = await pane.until(
            (s) => /Ctrl-Z: not suspended: the client was started by a task/.test(s),
            "the refusal",
          );
          assert.equal(bottom(text).input, "#dev>");
          await bob.send("still here");
          await pane.until((s) => /bob: still here$/m.test(s), "the client goes on");
        },
      );
    } finally {
      await pane.tmux("kill-server").catch(() => "");
      for (const c of clients) await c.kill();
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "tmux screen: Ctrl-Z suspends to the shell; fg redraws with what came meanwhile",
  ignore: !TMUX,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "chat-tmuxz-" });
    // The server drops a silent connection after 3 s: a stopped client loses its connection.
    const server = await startServer({
      dataDir: `${dir}/srv`,
      args: ["--limit", "idlePingMs=1500", "--limit", "idleCloseMs=3000"],
    });
    const pane = new Pane();
    const bob = startClient(server.port, ["--name", "bob", "--accept-new", "--json"], `${dir}/bob`);
    try {
      await until(() => bob.lines.some((l) => l.includes('"t":"welcome"')), "bob", [bob], 60_000);
      const cmd = clientLine(server.port, "alice", `${dir}/alice`);
      // An interactive shell with job control, as a user has; without the task runner's mark
      // (`deno task test` sets INIT_CWD, which the pane would inherit and the client refuse on).
      await pane.open("env -u INIT_CWD bash --norc -i");
      await pane.literal("PS1='PROMPT$ '; stty -echoctl");
      await pane.keys("Enter");
      await pane.until((s) => /^PROMPT\$ ?$/m.test(s), "the shell");
      await pane.literal(cmd);
      await pane.keys("Enter");
      await pane.until((s) => bottom(s).input === "#lobby>", "#lobby window", 60_000);
      await bob.send("before the break");
      await pane.until((s) => /bob: before the break$/m.test(s), "a first line");

      await t.step("Ctrl-Z gives the shell back: its prompt, the job stopped", async () => {
        await pane.keys("C-z");
        const text = await pane.until(
          (s) => /Stopped/.test(s) && /^PROMPT\$ ?$/m.test(s.split("\n").at(-1) ?? ""),
          "the shell's prompt",
        );
        assert.doesNotMatch(text, /#lobby>/, "the full screen is gone");
        assert.doesNotMatch(text, /2004h|\^\[/, "no escape codes left behind");
        // Typed now, a line goes to the shell, not to the chat.
        await pane.literal("echo shell-$((40+2))");
        await pane.keys("Enter");
        await pane.until((s) => /^shell-42$/m.test(s), "the shell runs commands");
      });

      await t.step("meanwhile the server drops the stopped client; others write", async () => {
        await until(
          () => bob.lines.some((l) => l.includes('"kind":"leave"') && l.includes('"alice"')),
          "alice's connection dropped by the server",
          [bob],
          20_000,
        );
        await bob.send("while you were away");
        await bob.send("and one more");
        await until(
          () => bob.lines.some((l) => l.includes('"text":"and one more"')),
          "sent",
          [bob],
        );
      });

      await t.step("fg: the full screen again, redrawn, with what was missed", async () => {
        await pane.literal("fg");
        await pane.keys("Enter");
        const text = await pane.until(
          (s) => bottom(s).input === "#lobby>" && /bob: and one more$/m.test(s),
          "the chat back, caught up",
          30_000,
        );
        assert.doesNotMatch(text, /PROMPT\$/, "the alternate screen again");
        assert.match(text, /bob: before the break$/m, "what was shown before is drawn again");
        assert.match(text, /bob: while you were away$/m);
        await pane.keys("back again", "Enter");
        await until(
          () => bob.lines.some((l) => l.includes('"text":"back again"')),
          "input works after the resume",
          [bob],
        );
      });

      await t.step("/quit leaves to the shell", async () => {
        await pane.keys("/quit", "Enter");
        await pane.until((s) => /^PROMPT\$ ?$/m.test(s.split("\n").at(-1) ?? ""), "the shell");
      });
    } finally {
      await pane.tmux("kill-server").catch(() => "");
      await bob.kill();
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
