/**
 * The input area of the interactive client in a real terminal (tmux, 100×30): long input,
 * editing on whole grapheme clusters, bracketed paste, Alt+Enter and the message limit, against
 * a real server with a plain `--json` client as the other user. Skips with a message without tmux.
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
if (!TMUX) console.warn("tmux_input_test: tmux is not installed; terminal tests skipped");

const COLS = 100;
const ROWS = 30;
/** Rows the input area may take in a 30-row pane (half of it). */
const AREA = 15;
const PROMPT = "#lobby> ";

/** `line` cut into rows of the pane's width (the last one possibly empty when full). */
function rowsOf(line: string): string[] {
  const rows: string[] = [];
  for (let i = 0; i <= line.length; i += COLS) rows.push(line.slice(i, i + COLS));
  return rows;
}

/**
 * True when the pane `s` ends with the input rows `rows` and nothing above them is a left-over
 * input row (a prompt, or a row of the long typed or pasted text). Holds for an input area under
 * the chat lines as for one under a status line.
 */
function inputIs(s: string, rows: string[]): boolean {
  const want = rows.join("\n");
  if (!s.endsWith(`\n${want}`)) return false;
  const above = s.slice(0, s.length - want.length - 1).split("\n");
  return !above.some((l) => l.startsWith(PROMPT.trimEnd()) || /^[a-z0-9]{20,}$/.test(l));
}

/** The index of the last non-blank row of `text`. */
function lastRow(text: string): number {
  return text.split("\n").length - 1;
}

/** Asserts that the cursor is at column `x` of the last non-blank row. */
async function atLastRow(pane: Pane, x: number): Promise<void> {
  assert.deepEqual(await pane.cursor(), { x, y: lastRow(await pane.text()) });
}

async function openPane(pane: Pane, port: number, home: string, name: string): Promise<void> {
  await pane.open(`${clientLine(port, name, home)}; echo EXIT=$?; sleep 60`, COLS, ROWS);
}

/** Whether `c` received a room message with exactly `text`. */
function received(c: ClientProcess, text: string): boolean {
  return c.lines.some((l) => {
    const m = JSON.parse(l) as { t?: string; text?: string };
    return m.t === "msg" && m.text === text;
  });
}

Deno.test({
  name: "tmux input: long input, graphemes, paste, Alt+Enter, the message limit",
  ignore: !TMUX,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "chat-tmuxi-" });
    let server: ServerProcess | undefined;
    let bob: ClientProcess | undefined;
    const pane = new Pane();
    try {
      server = await startServer({ dataDir: `${dir}/srv`, args: ["--limit", "textBytes=4096"] });
      bob = startClient(server.port, ["--name", "bob", "--accept-new", "--json"], `${dir}/bob`);
      const b = bob;
      // Starting includes creating bob's identity (an RSA-3072 key): slow on a loaded machine.
      await until(
        () => b.lines.some((l) => l.includes('"t":"welcome"')),
        "bob welcome",
        [b],
        30_000,
      );
      await openPane(pane, server.port, `${dir}/alice`, "alice");
      await pane.until((s) => s.endsWith(`\n${PROMPT.trimEnd()}`), "prompt");

      await t.step(
        "a 3,000-character paste, Ctrl-U, typing and Backspace on wrapped rows",
        async () => {
          let text = "";
          for (let i = 0; i < 3000; i++) text += String.fromCharCode(97 + Math.floor(i / 100) % 26);
          await pane.paste(text);
          const all = rowsOf(PROMPT + text);
          assert.equal(all.length, 31);
          const shown = all.slice(all.length - AREA);
          await pane.until((s) => inputIs(s, shown), "the end of the paste, no stale rows");
          await atLastRow(pane, 8);

          // An incoming line goes above the input area and leaves it as it was.
          await b.send("said during the paste");
          await pane.until(
            (s) => s.includes("bob: said during the paste") && inputIs(s, shown),
            "incoming line above the input",
          );
          await atLastRow(pane, 8);

          await pane.keys("C-u");
          const cleared = await pane.until((s) => s.endsWith(`\n${PROMPT.trimEnd()}`), "cleared");
          assert.doesNotMatch(cleared, /[a-z]{30}/, "no row of the paste is left");
          assert.ok(inputIs(cleared, [PROMPT.trimEnd()]));
          await atLastRow(pane, PROMPT.length);

          await pane.keys("hello");
          await pane.until((s) => s.endsWith(`\n${PROMPT}hello`), "typed text visible");
          await atLastRow(pane, PROMPT.length + 5);

          const more = "0123456789".repeat(19).slice(0, 187);
          await pane.literal(more);
          let expect = rowsOf(`${PROMPT}hello${more}`);
          assert.equal(expect.length, 3);
          await pane.until((s) => inputIs(s, expect.slice(0, 2)), "wraps");
          assert.deepEqual(await pane.cursor(), { x: 0, y: lastRow(await pane.text()) + 1 });

          await pane.tmux("send-keys", "-t", "t", "-N", "3", "BSpace");
          expect = rowsOf(`${PROMPT}hello${more.slice(0, -3)}`);
          await pane.until((s) => inputIs(s, expect), "back one row up");
          await atLastRow(pane, 97);

          await pane.tmux("send-keys", "-t", "t", "-N", "100", "BSpace");
          expect = rowsOf(`${PROMPT}hello${more.slice(0, -103)}`);
          assert.equal(expect.length, 1);
          await pane.until((s) => inputIs(s, expect), "back over two rows");
          await atLastRow(pane, expect[0].length);

          await pane.keys("C-u");
          await pane.until((s) => s.endsWith(`\n${PROMPT.trimEnd()}`), "cleared again");
        },
      );

      await t.step("editing works on whole grapheme clusters", async () => {
        await pane.literal("x👨‍👩‍👧y");
        await pane.keys("Left", "BSpace");
        await pane.until((s) => s.endsWith(`\n${PROMPT}xy`), "the family deleted whole");
        assert.equal((await pane.cursor()).x, PROMPT.length + 1);
        await pane.literal("中");
        await pane.until((s) => s.endsWith(`\n${PROMPT}x中y`), "a wide character");
        assert.equal((await pane.cursor()).x, PROMPT.length + 3);
        await pane.keys("End");
        await pane.literal("🇫🇷");
        await pane.keys("Left", "DC");
        await pane.literal("e\u0301");
        await pane.until((s) => s.endsWith(`\n${PROMPT}x中ye\u0301`), "the flag deleted whole");
        await pane.keys("BSpace");
        await pane.until(
          (s) => s.endsWith(`\n${PROMPT}x中y`),
          "the accent deleted with its letter",
        );
        assert.equal((await pane.cursor()).x, PROMPT.length + 4);
        await pane.keys("Home", "C-Right");
        assert.equal((await pane.cursor()).x, PROMPT.length + 4);
        await pane.keys("Enter");
        await until(() => received(b, "x中y"), "bob gets x中y", [b]);
      });

      await t.step("a message over the limit is refused, not echoed, and kept", async () => {
        const long = "z".repeat(5012);
        await pane.paste(long);
        await pane.until((s) => s.endsWith("zzzz"), "the long line in the input");
        await pane.keys("Enter");
        const text = await pane.until(
          (s) => s.includes("! message is 5,012 bytes; the limit is 4,096"),
          "the refusal",
        );
        assert.ok(text.endsWith("z".repeat(20)), "the text stays in the input");
        assert.doesNotMatch(text, /alice: z/, "not echoed");
        await pane.keys("BSpace");
        await pane.tmux("send-keys", "-t", "t", "-N", "40", "M-BSpace");
        await pane.keys("C-u", "short", "Enter");
        await until(() => received(b, "short"), "bob gets the short line", [b]);
        assert.ok(!b.lines.some((l) => l.includes("zzzz")), "the long line was never sent");
      });
      await t.step(
        "Alt+Enter inserts a line break; Enter sends both lines as one message",
        async () => {
          await pane.keys("first line", "M-Enter", "second line");
          await pane.until(
            (s) => s.endsWith(`\n${PROMPT}first line\n${" ".repeat(PROMPT.length)}second line`),
            "two lines in the input",
          );
          await atLastRow(pane, PROMPT.length + "second line".length);
          await pane.keys("Enter");
          await until(() => received(b, "first line\nsecond line"), "bob gets one message", [b]);
          await pane.until(
            (s) => /alice: first line\n +second line\n/.test(s) && inputIs(s, [PROMPT.trimEnd()]),
            "shown once",
          );
        },
      );

      await t.step("a pasted block of lines is one message", async () => {
        await pane.paste("one\ntwo\nthree\n");
        const pad = " ".repeat(PROMPT.length);
        await pane.until(
          (s) => s.endsWith(`\n${PROMPT}one\n${pad}two\n${pad}three`),
          "the block in the input, not sent yet",
        );
        assert.ok(!received(b, "one"), "not sent line by line");
        await pane.keys("Enter");
        await until(() => received(b, "one\ntwo\nthree"), "bob gets the block", [b]);
        assert.equal(
          b.lines.filter((l) => l.includes('"t":"msg"') && l.includes('"from":"alice"')).length,
          4,
          "one message per Enter: x中y, the two lines, short, the block",
        );
      });

      await t.step("a paste of more than 5 lines asks first", async () => {
        const seven = "l1\nl2\nl3\nl4\nl5\nl6\nl7";
        await pane.paste(seven);
        await pane.until((s) => s.endsWith("\npaste 7 lines as one message? (y/n)"), "question");
        await pane.keys("x", "Enter");
        await pane.until(
          (s) => s.endsWith("\npaste 7 lines as one message? (y/n)"),
          "still asking",
        );
        await pane.keys("n");
        await pane.until(
          (s) => s.includes("(paste dropped)") && inputIs(s, [PROMPT.trimEnd()]),
          "dropped",
        );
        await pane.paste(seven);
        await pane.until((s) => s.endsWith("(y/n)"), "asked again");
        await pane.keys("y");
        await pane.until((s) => s.endsWith(`${" ".repeat(PROMPT.length)}l7`), "the lines taken");
        await pane.keys("Enter");
        await until(() => received(b, seven), "bob gets the 7 lines as one message", [b]);
      });
      await t.step(
        "Ctrl-D on an empty input leaves, and bracketed paste is off again",
        async () => {
          await pane.keys("C-d");
          await pane.until((s) => /^EXIT=0$/m.test(s), "exit");
          await pane.paste("after-exit");
          const text = await pane.until((s) => s.includes("after-exit"), "the paste echoed");
          assert.doesNotMatch(text, /200~/, "no bracketed-paste markers: the mode was turned off");
        },
      );
    } finally {
      await pane.tmux("kill-server").catch(() => "");
      await bob?.kill();
      await server?.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
