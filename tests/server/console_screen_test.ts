import assert from "node:assert/strict";
import type { LogRecord } from "@logtape/logtape";
import { CONSOLE_HINT, CONSOLE_PROMPT, ConsoleScreen } from "../../server/console_screen.ts";
import { formatLogLine, lineSink, noticeLog, noticeText } from "../../server/log_sink.ts";

function screen(interactive: boolean) {
  const out: string[] = [];
  const s = new ConsoleScreen({
    out: (t) => out.push(`out:${t}`),
    err: (t) => out.push(`err:${t}`),
    interactive,
  });
  return { s, out };
}

Deno.test("console screen: hint and prompt; a notice erases the prompt and redraws it", () => {
  const { s, out } = screen(true);
  s.start();
  s.notice("INFO login name=\x1b]0;x\x07");
  s.answer("1 user online: a\x1b[2Jb\nsecond line");
  s.answer("");
  s.stop();
  assert.deepEqual(out, [
    `out:${CONSOLE_HINT}\n`,
    `out:${CONSOLE_PROMPT}`,
    "err:\r\x1b[KINFO login name=␛]0;x␇\n",
    `out:${CONSOLE_PROMPT}`,
    "out:1 user online: a␛[2Jb\nsecond line\n",
    `out:${CONSOLE_PROMPT}`,
    `out:${CONSOLE_PROMPT}`,
    "out:\r\x1b[K",
  ]);
});

Deno.test("console screen: without a terminal, no hint, no prompt, no erasing", () => {
  const { s, out } = screen(false);
  s.start();
  s.notice("a\nb\x1b[31m");
  s.answer("ok");
  assert.deepEqual(out, ["err:a␊b␛[31m\n", "out:ok\n"]);
});

Deno.test("log line: time, level, message, the properties not in the message", () => {
  const record: LogRecord = {
    category: ["chat", "server"],
    level: "info",
    message: ["logout ", "bob", ""],
    rawMessage: "logout {name}",
    timestamp: Date.UTC(2026, 0, 2, 3, 4, 5),
    properties: { name: "bob", ip: "127.0.0.1", reason: 'kicked by "x" y' },
  };
  assert.equal(
    formatLogLine(record),
    '03:04:05 INFO logout bob ip=127.0.0.1 reason="kicked by \\"x\\" y"',
  );
});

Deno.test("log line: each record shows its own second; no placeholders shows every property", () => {
  const at = (timestamp: number): LogRecord => ({
    category: ["chat", "server"],
    level: "info",
    message: ["login"],
    rawMessage: "login",
    timestamp,
    properties: { name: "bob", n: 2 },
  });
  const midnight = Date.UTC(2026, 0, 3);
  assert.equal(formatLogLine(at(midnight - 1)), "23:59:59 INFO login name=bob n=2");
  assert.equal(formatLogLine(at(midnight)), "00:00:00 INFO login name=bob n=2");
  assert.equal(formatLogLine(at(midnight + 999)), "00:00:00 INFO login name=bob n=2");
  assert.equal(formatLogLine(at(midnight + 3_723_000)), "01:02:03 INFO login name=bob n=2");
  assert.equal(formatLogLine(at(midnight - 1)), "23:59:59 INFO login name=bob n=2");
});

Deno.test("notice log: the same line as logging the properties; `{` keeps the properties", async () => {
  const { configure, getLogger, reset } = await import("@logtape/logtape");
  const lines: string[] = [];
  await configure({
    reset: true,
    sinks: { lines: lineSink((l) => lines.push(l.slice(9))) }, // without the time
    loggers: [
      { category: ["t"], lowestLevel: "info", sinks: ["lines"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: [] },
    ],
  });
  try {
    const log = getLogger(["t"]);
    const notice = noticeLog(log);
    const cases: [string, Record<string, unknown>][] = [
      ["login", { ip: "127.0.0.1", name: "bob", fingerprint: "SHA256:ab+/c" }],
      ["logout", { ip: "::1", name: "Zoë", fingerprint: "SHA256:x", reason: 'kicked by "x" y=1' }],
      ["name claimed", { name: "bob", fingerprint: "SHA256:x", n: 2, none: undefined }],
      ["logout", { name: "bob", reason: "kicked by {x}" }], // not a plain message: properties
    ];
    for (const [message, props] of cases) {
      log.info(message, props);
      notice("info", message, props);
      assert.equal(lines.length, 2);
      assert.equal(lines[1], lines[0]);
      lines.length = 0;
    }
    assert.equal(noticeText("login", { name: "bob" }), "login name=bob");
    // A `{` anywhere would be read as a template: no finished text.
    assert.equal(noticeText("logout", { reason: "kicked by {x}" }), undefined);
    assert.equal(noticeText("a {b}", { b: 1 }), undefined);
  } finally {
    await reset();
  }
});
