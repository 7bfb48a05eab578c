/**
 * Log records as one line of text each for the server's terminal: time (UTC), level, message
 * and the properties the message does not already show, as `key=value`. The line is handed on
 * as text; the console screen sanitizes it before it reaches the terminal.
 * @module
 */

import type { LogRecord, Sink } from "@logtape/logtape";

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

/** One line for `record`: `HH:MM:SS LEVEL message key=value …`. */
export function formatLogLine(record: LogRecord): string {
  const time = new Date(record.timestamp).toISOString().slice(11, 19);
  const message = record.message.map((part, i) => i % 2 === 0 ? String(part) : show(part)).join(
    "",
  );
  const raw = typeof record.rawMessage === "string" ? record.rawMessage : "";
  const props = Object.entries(record.properties)
    .filter(([k]) => !raw.includes(`{${k}}`))
    .map(([k, v]) => ` ${k}=${show(v)}`)
    .join("");
  return `${time} ${LEVEL[record.level] ?? record.level} ${message}${props}`;
}

/** A sink passing each record, formatted by {@linkcode formatLogLine}, to `write`. */
export function lineSink(write: (line: string) => void): Sink {
  return (record) => write(formatLogLine(record));
}
