/**
 * Log records as one line of text each for the server's terminal: time (UTC), level, message
 * and the properties the message does not already show, as `key=value`. The line is handed on
 * as text; the console screen sanitizes it before it reaches the terminal.
 * @module
 */

import type { Logger, LogRecord, Sink } from "@logtape/logtape";

const LEVEL: Record<string, string> = {
  trace: "TRACE",
  debug: "DEBUG",
  info: "INFO",
  warning: "WARN",
  error: "ERROR",
  fatal: "FATAL",
};

function show(v: unknown): string {
  if (typeof v === "string") return /^[^\s"=]+$/.test(v) ? v : `"${v.replaceAll('"', '\\"')}"`;
  if (v instanceof Error) return JSON.stringify(v.message);
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

let clockSecond = NaN;
let clockText = "";

/** `HH:MM:SS` (UTC) of a time in ms, worked out once per second. */
function clock(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== clockSecond) {
    const t = ((second % 86_400) + 86_400) % 86_400;
    const two = (n: number) => (n < 10 ? "0" : "") + n;
    clockText = `${two(Math.floor(t / 3600))}:${two(Math.floor(t / 60) % 60)}:${two(t % 60)}`;
    clockSecond = second;
  }
  return clockText;
}

/** One line for `record`: `HH:MM:SS LEVEL message key=value …`. */
export function formatLogLine(record: LogRecord): string {
  let line = `${clock(record.timestamp)} ${LEVEL[record.level] ?? record.level} `;
  const parts = record.message;
  for (let i = 0; i < parts.length; i++) line += i % 2 === 0 ? String(parts[i]) : show(parts[i]);
  const raw = typeof record.rawMessage === "string" ? record.rawMessage : "";
  const placeholders = raw.includes("{");
  const props = record.properties;
  for (const k of Object.keys(props)) {
    if (placeholders && raw.includes(`{${k}}`)) continue;
    line += ` ${k}=${show(props[k])}`;
  }
  return line;
}

/**
 * `message` followed by ` key=value` for each of `props`, exactly as {@linkcode formatLogLine}
 * shows the properties of a message without placeholders; undefined when the text would contain
 * `{` (the logger would read it as a template). Logged as a message without properties, a
 * notice takes the logger's short path (no property snapshot) and prints the same line.
 */
export function noticeText(message: string, props: Record<string, unknown>): string | undefined {
  if (message.includes("{")) return undefined;
  let text = message;
  for (const k of Object.keys(props)) text += ` ${k}=${show(props[k])}`;
  return text.includes("{") ? undefined : text;
}

/**
 * The hub's notices (logins, logouts, name claims) logged through `logger`, each as its
 * finished text ({@linkcode noticeText}), or with its properties when the text cannot be a plain
 * message.
 */
export function noticeLog(
  logger: Logger,
): (level: "debug" | "info" | "warn", message: string, props: Record<string, unknown>) => void {
  return (level, message, props) => {
    const text = noticeText(message, props);
    if (text === undefined) logger[level](message, props);
    else logger[level](text);
  };
}

/** A sink passing each record, formatted by {@linkcode formatLogLine}, to `write`. */
export function lineSink(write: (line: string) => void): Sink {
  return (record) => write(formatLogLine(record));
}
