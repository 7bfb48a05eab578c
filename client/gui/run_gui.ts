/**
 * `chat gui`: the same client core as `chat client` (connection, outbox, resume, pins, private
 * messages) with the browser view. The local page is served first, so that the first-run
 * questions (trust the server's key, choose a name) are dialogs on it; then the connection
 * starts and the application runs until the user quits or the last tab has been closed for the
 * grace period. The settings file is the terminal client's (`config.json` in the home): the name
 * and rooms saved for the server, timestamps, colours and the bell (desktop notifications here),
 * and what the page changes with `/set`, `/join` and `/leave` is saved the same way.
 * @module
 */

import { App } from "../app.ts";
import { ChatClient, type ServerAddress } from "../client.ts";
import { safetyNumber } from "../dm.ts";
import { SeenFile } from "../dm_seen.ts";
import { loadOrCreateIdentity } from "../identity.ts";
import { KnownServers, normalizeHostPort } from "../known_servers.ts";
import { KnownUsers } from "../known_users.ts";
import { startSettings } from "../settings.ts";
import { SETTINGS_FILE, SettingsFile } from "../settings_file.ts";
import type { ClientEvent } from "../view.ts";
import { GuiView } from "./gui_view.ts";
import { startLocalServer } from "./local_server.ts";
import { openBrowser } from "./open_browser.ts";
import type { GuiState, PeerInfo } from "./wire.ts";

const NO_STATE = { me: "", timestamps: false, ignored: new Set<string>(), bell: "off" as const };

/** Settings for {@link runGui}. */
export interface GuiOptions {
  /** Server host. */
  host: string;
  /** Server port. */
  port: number;
  /** Further addresses of the same service, tried in order (see `chat client`). */
  fallbacks?: readonly ServerAddress[];
  /** Identity and pins directory. */
  home: string;
  /** Name to use (default: the one saved for the server, else asked for in a dialog). */
  name?: string;
  /** Room to talk in first (default: the first saved room, else #lobby; saved ones rejoined). */
  room?: string;
  /** Open the browser (false: only print the address). */
  open: boolean;
  /** Trust an unknown server's key without asking. */
  acceptNew?: boolean;
  /** Trust exactly this server key. */
  fingerprint?: string;
  /** Offer room records (default true; false for `--no-room-records`). */
  roomRecords?: boolean;
  /** Arguments the changed-key hint repeats. */
  hintArgs?: string[];
  /** Prints one line for the user (default `console.log`). */
  say?: (line: string) => void;
  /** Grace period after the last tab closed, ms (default 30 s). */
  lingerMs?: number;
}

/** Runs `chat gui`; resolves with the exit code (errors that end it are thrown). */
export async function runGui(o: GuiOptions): Promise<number> {
  const say = o.say ?? ((l: string) => console.log(l));
  const hostPort = normalizeHostPort(o.host, o.port);
  const settings = await SettingsFile.load(`${o.home}/${SETTINGS_FILE}`);
  const start = startSettings(settings.settings, hostPort, {
    name: o.name,
    room: o.room,
    color: true,
  }, true);
  const { identity } = await loadOrCreateIdentity(o.home, (l) => console.error(l));
  const knownServers = await KnownServers.load(`${o.home}/known_servers`);
  const knownUsers = await KnownUsers.load(`${o.home}/known_users`);
  const seen = await SeenFile.open(`${o.home}/dm_seen`);
  if (seen.notice !== undefined) console.error(seen.notice);
  let app: App | undefined;
  let client: ChatClient | undefined;
  const state = (): GuiState => {
    const s = app?.state;
    const rooms = s === undefined ? [] : [...s.rooms].sort();
    return {
      me: s?.me || client?.name || "",
      server: hostPort,
      room: s?.room ?? start.room,
      rooms,
      sealed: rooms.filter((r) => client?.isPrivate(r) === true),
      names: Object.fromEntries(rooms.map((r) => [r, s!.namesIn(r)])),
      commands: s === undefined ? [] : [...s.commands].sort(),
      known: s === undefined ? [] : [...s.knownRooms].sort(),
      timestamps: s?.timestamps ?? start.timestamps,
      colors: settings.settings.colors,
      bell: s?.bell ?? start.bell,
      ignored: s === undefined ? [] : [...s.ignored].sort(),
    };
  };
  const peer = async (name: string): Promise<PeerInfo> => {
    const fp = knownUsers.lookup(hostPort, name) ?? null;
    return {
      name,
      fingerprint: fp,
      safety: fp === null ? null : await safetyNumber(identity.fingerprint, fp),
      verified: fp !== null && knownUsers.isVerified(hostPort, name),
    };
  };
  const view = new GuiView({
    state,
    peer,
    history: (room, n, before) =>
      void client?.command(
        "history",
        [room, String(n), ...(before === null ? [] : [String(before)])],
        true,
      ),
    lingerMs: o.lingerMs,
  });
  view.setServer(hostPort);
  const local = await startLocalServer({ onSocket: (ws) => view.attach(ws) }).catch((e) => {
    seen.close();
    throw e;
  });
  try {
    if (!o.open || !await openBrowser(local.url)) {
      say(`chat gui: open ${local.url} in your browser`);
    } else {
      say(`chat gui: opened the browser on http://127.0.0.1:${local.port}/`);
    }
    const early: ClientEvent[] = [];
    let push = (ev: ClientEvent): void => void early.push(ev);
    client = new ChatClient({
      host: o.host,
      port: o.port,
      fallbacks: o.fallbacks,
      identity,
      knownServers,
      rooms: start.rooms,
      expectedFingerprint: o.fingerprint,
      hintArgs: o.hintArgs ?? [],
      reconnect: true,
      dmQueue: true,
      roomRecords: o.roomRecords ?? true,
      onEvent: (ev) => push(ev),
      trustNewServer: (hp, fp) => {
        if (o.fingerprint !== undefined) return Promise.resolve(o.fingerprint === fp);
        if (o.acceptNew) return Promise.resolve(true);
        return view.askTrust(hp, fp);
      },
      chooseName: (reason) => {
        if (start.name !== undefined && reason === undefined) return Promise.resolve(start.name);
        return view.askName(reason);
      },
    });
    try {
      await client.start();
    } catch (e) {
      const text = e instanceof Error ? e.message : String(e);
      view.show({ t: "local", level: "error", text }, NO_STATE);
      throw e;
    }
    app = new App(view, {
      room: start.room,
      json: false,
      timestamps: start.timestamps,
      bell: start.bell,
      settings,
      hostPort,
      early,
      dm: { identity, knownUsers, hostPort, seen },
    });
    for (const ev of early.splice(0)) app.onEvent(ev);
    const a = app;
    push = (ev) => a.onEvent(ev);
    const code = await app.run(client);
    if (client.fatal) throw client.fatal;
    return code;
  } finally {
    await view.close();
    await client?.close().catch(() => {});
    await local.close();
    seen.close();
  }
}
