/**
 * The operator console's lines: plain text is an announcement to everyone; `/command args`
 * runs a command of the table as an operator (by "console"), plus `/say #room text` and
 * `/stats`. Answers are text to print.
 * @module
 */

import { ProtocolError } from "../shared/errors.ts";
import { checkRoom } from "../shared/names.ts";
import type { CommandHost } from "./command_host.ts";
import { runCommand } from "./commands.ts";
import { checkText, plural } from "./commands/common.ts";
import { NODES_SHOWN } from "./commands/info.ts";
import { formatDuration } from "./duration.ts";
import type { HubCore } from "./hub_core.ts";
import type { AppendResult } from "./store.ts";

/** Runs one console line against `core` through `host`; returns the text to print. */
export function consoleLine(core: HubCore, host: CommandHost, line: string): string {
  const text = line.trim();
  if (text === "") return "";
  core.settle();
  if (!text.startsWith("/")) {
    try {
      checkText(text, core.o.limits.textBytes, "announcement");
    } catch (e) {
      if (e instanceof ProtocolError) return `error (${e.code}): ${e.message}`;
      throw e;
    }
    core.fanout.event(undefined, "announce", { by: "console", text });
    return `Announced to ${core.sessions.byId.size} users.`;
  }
  const [name, ...args] = text.slice(1).split(/\s+/);
  const lower = name.toLowerCase();
  try {
    if (lower === "stats") return stats(core);
    if (lower === "say") return consoleSay(core, args);
    const result = runCommand({ host, by: "console", operator: true, admin: true }, lower, args);
    if (lower === "help" && args.length === 0) {
      return result.text + "\n  /say #room text  Send a message as server\n" +
        "  /stats  Node, connections, users, rooms, messages relayed, the cluster's nodes\n" +
        "  plain text  Announce to everyone";
    }
    return result.text;
  } catch (e) {
    if (e instanceof ProtocolError) return `error (${e.code}): ${e.message}`;
    throw e;
  }
}

function consoleSay(core: HubCore, args: string[]): string {
  if (args.length < 2) return "usage: /say #room text";
  const room = args[0];
  const ok = checkRoom(room);
  if (!ok.ok) return `error (bad_args): ${ok.reason}`;
  const text = args.slice(1).join(" ");
  checkText(text, core.o.limits.textBytes, "message");
  let said: AppendResult | undefined;
  core.o.store.append({
    room,
    ts: core.o.now(),
    from: "server",
    text,
    me: false,
    id: "",
    senderFp: "",
  }, (r) => {
    said = r;
    if (r.ok) core.fanout.relay(r.message);
  });
  core.settle(); // the embedded store commits here; a cluster's answers later
  const n = core.rooms.sessionsIn(room)?.size ?? 0;
  if (said === undefined) return `Saying in ${room} to ${n} members here.`;
  if (!said.ok) {
    const e = said.error;
    return e instanceof ProtocolError ? `error (${e.code}): ${e.message}` : `error: ${e.message}`;
  }
  return `Said in ${room} (seq ${said.message.seq}) to ${n} members.`;
}

function stats(core: HubCore): string {
  const i = core.info();
  const total = i.nodes.reduce((n, x) => n + x.users, 0);
  const nodes = i.nodes.slice(0, NODES_SHOWN).map((x, k) =>
    `  ${x.name}: ${plural(x.users, "user")}, ${plural(x.connections, "connection")}${
      k === 0 ? " (this one)" : ""
    }`
  );
  if (i.nodes.length > NODES_SHOWN) nodes.push(`  and ${i.nodes.length - NODES_SHOWN} more`);
  return [
    `node: ${i.node}`,
    `connections: ${i.connections}`,
    `users: ${i.users}`,
    `rooms: ${i.rooms}`,
    `messages relayed: ${i.messages}`,
    `deliveries: ${i.deliveries}`,
    `uptime: ${formatDuration(core.o.now() - i.startedAt)}`,
    `nodes: ${i.nodes.length}, ${plural(total, "user")}`,
    ...nodes,
  ].join("\n");
}
