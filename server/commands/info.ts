/**
 * Commands that describe the server and its users: `/service`, `/who`, `/whois`, `/rooms`,
 * `/keys`.
 * @module
 */

import type { Command, Listing, UserView } from "../command_host.ts";
import type { NodeStatus } from "../nodes.ts";
import { formatDuration } from "../duration.ts";
import {
  andMore,
  cmd,
  fail,
  liveUser,
  mapListing,
  member,
  page,
  plural,
  validRoom,
} from "./common.ts";

/** The cipher suite `/service` reports. */
export const CIPHER_SUITE =
  "chat/1: X25519, Ed25519, HKDF-SHA-256, AES-256-GCM; DMs RSA-OAEP-3072 + AES-256-GCM";

/** Most nodes `/service` and `/stats` name (the count covers all). */
export const NODES_SHOWN = 32;

/**
 * The nodes line of `/service`: `Nodes: 3, 22 users — alpha 12 users (this one), beta 7 users, …`
 * (a single server: its one node).
 */
export function nodesLine(nodes: readonly NodeStatus[]): string {
  const total = nodes.reduce((n, x) => n + x.users, 0);
  const named = nodes.slice(0, NODES_SHOWN).map((x, i) =>
    `${x.name} ${plural(x.users, "user")}${i === 0 ? " (this one)" : ""}`
  );
  if (nodes.length > NODES_SHOWN) named.push(andMore(nodes.length - NODES_SHOWN, false));
  return `Nodes: ${nodes.length}, ${plural(total, "user")} — ${named.join(", ")}`;
}

/** `/service`: server name, version, uptime, figures, limits and cipher suite. */
export const serviceCmd: Command = cmd(
  "service",
  "",
  "Server name, version, node, uptime, users, rooms, key, limits, cipher suite",
  {},
  (
    ctx,
  ) => {
    const i = ctx.host.info();
    const l = ctx.host.limits;
    const uptime = ctx.host.now() - i.startedAt;
    const limits = {
      textBytes: l.textBytes,
      envelopeBytes: l.envelopeBytes,
      historyOnJoin: l.historyOnJoin,
      historyMax: l.historyMax,
      historyKept: l.historyKept,
      rateBurst: l.rateBurst,
      ratePerSecond: l.ratePerSecond,
      maxConnections: l.maxConnections,
    };
    const text = [
      `Server: ${i.serverName} (chat ${i.version})`,
      `Node: ${i.node}${i.nodes.length === 1 ? " (a single server)" : ""}`,
      nodesLine(i.nodes),
      `Uptime: ${formatDuration(uptime)}`,
      `Users online: ${i.users} (${plural(i.connections, "connection")})`,
      `Rooms: ${i.rooms}`,
      `Host key: ${i.hostFingerprint}`,
      `Limits: text ${l.textBytes} bytes, DM ${l.envelopeBytes} bytes, history ${l.historyOnJoin} ` +
      `on join / ${l.historyMax} per request / ${l.historyKept} kept, rate ${l.rateBurst} burst + ` +
      `${l.ratePerSecond}/s, ${l.maxConnections} connections`,
      `Cipher suite: ${CIPHER_SUITE}`,
    ].join("\n");
    return {
      text,
      data: {
        name: i.serverName,
        version: i.version,
        uptime,
        users: i.users,
        connections: i.connections,
        rooms: i.rooms,
        hostFingerprint: i.hostFingerprint,
        node: i.node,
        nodeCount: i.nodes.length,
        nodes: i.nodes.slice(0, NODES_SHOWN).map((x) => ({ name: x.name, users: x.users })),
        limits,
        cipherSuite: CIPHER_SUITE,
      },
    };
  },
);

/** `/who [#room]`: the users online or the members of a room. */
export const whoCmd: Command = cmd(
  "who",
  "[#room]",
  "List the users online, or the members of a room",
  { max: 1 },
  (
    ctx,
    args,
  ) => {
    let users: Listing<UserView>;
    let where = "online";
    if (args.length === 1) {
      const room = validRoom(args[0]);
      const m = ctx.host.members(room);
      if (m === undefined) fail("no_such_room", `There is no room ${room}.`);
      users = m;
      where = `in ${room}`;
    } else users = ctx.host.users();
    const { shown: data, more, cut } = page(
      ctx,
      mapListing(
        users,
        (u) => u.away === undefined ? { name: u.name } : { name: u.name, away: u.away },
      ),
    );
    const names = data.map((d) => d.away === undefined ? d.name : `${d.name} (away: ${d.away})`);
    if (more > 0) names.push(andMore(more, cut));
    return { text: `${plural(users.size, "user")} ${where}: ${names.join(", ")}`, data };
  },
);

/**
 * `/whois NAME`: a connected user's fingerprint, rooms, idle time and away text. Times are
 * durations (the server does not know the reader's time zone); `data.since` is the epoch time.
 */
export const whoisCmd: Command = cmd(
  "whois",
  "NAME",
  "Show a user's fingerprint, rooms, idle time and away text",
  {
    min: 1,
    max: 1,
  },
  (ctx, [name]) => {
    const u = liveUser(ctx, name);
    const now = ctx.host.now();
    const data = {
      name: u.name,
      fingerprint: u.fingerprint,
      rooms: [...u.rooms],
      idle: Math.max(0, now - u.lastActive),
      since: u.since,
      ...(u.away === undefined ? {} : { away: u.away }),
      ...(ctx.host.isOperator(u.fingerprint) ? { operator: true } : {}),
      ...(ctx.host.isAdmin(u.fingerprint) ? { admin: true } : {}),
    };
    const text = [
      `${u.name}${data.admin ? " (administrator)" : data.operator ? " (operator)" : ""}`,
      `  fingerprint: ${u.fingerprint}`,
      `  rooms: ${data.rooms.join(" ")}`,
      `  idle: ${formatDuration(data.idle)}`,
      `  connected: ${formatDuration(now - u.since)} ago`,
      ...(u.away === undefined ? [] : [`  away: ${u.away}`]),
    ].join("\n");
    return { text, data };
  },
);

/** `/rooms`: the rooms with their member counts and topics. */
export const roomsCmd: Command = cmd(
  "rooms",
  "",
  "List the rooms with their member counts and topics (when set)",
  {},
  (ctx) => {
    const all = ctx.host.rooms();
    const { shown: rooms, more, cut } = page(ctx, all);
    const lines = rooms.map((r) =>
      `${r.name}${r.private === true ? " [private]" : ""} (${plural(r.members, "member")})${
        r.topic === "" ? "" : `: ${r.topic}`
      }`
    );
    if (more > 0) lines.push(andMore(more, cut));
    return { text: [`${plural(all.size, "room")}:`, ...lines].join("\n"), data: rooms };
  },
);

/**
 * `/keys NAME`: a user's public keys, for private messages: a connected user's, else those the
 * name's owner last logged in with (to seal a message that waits in the offline queue).
 */
export const keysCmd: Command = cmd(
  "keys",
  "NAME [#room]",
  "Get a user's public keys, connected or not (or a private room member's, with #room)",
  {
    min: 1,
    max: 2,
  },
  (ctx, [name, room]) => {
    if (room !== undefined) {
      // A member of a private room, connected or not, as it last joined (protocol §8).
      validRoom(room);
      member(ctx, room);
      const m = ctx.host.privateRooms.memberKeys(room, name);
      if (m === undefined) fail("not_in_room", `${name} is not a member of ${room}.`);
      return {
        text: `${m.name} ${m.fingerprint}`,
        data: {
          name: m.name,
          fingerprint: m.fingerprint,
          sig_pub: m.sigPub,
          kem_pub: m.kemPub,
          kem_sig: m.kemSig,
        },
      };
    }
    let u: { name: string; fingerprint: string; sigPub: string; kemPub?: string; kemSig?: string };
    const live = ctx.host.user(name);
    if (live !== undefined) u = live;
    else {
      const stored = ctx.host.storedKeys(name);
      if (stored === undefined) fail("no_such_user", `There is no user called ${name}.`);
      if (stored.keys === undefined) {
        fail(
          "offline",
          `${stored.name} is not connected, and this server has no key for it.`,
        );
      }
      u = { name: stored.name, ...stored.keys };
    }
    if (u.kemPub === undefined || u.kemSig === undefined) {
      fail("no_kem_key", `${u.name} cannot receive private messages.`);
    }
    return {
      text: `${u.name} ${u.fingerprint}`,
      data: {
        name: u.name,
        fingerprint: u.fingerprint,
        sig_pub: u.sigPub,
        kem_pub: u.kemPub,
        kem_sig: u.kemSig,
      },
    };
  },
);
