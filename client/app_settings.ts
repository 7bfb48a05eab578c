/**
 * The settings side of the application: `/set`, `/ignore`, `/unignore`, `/timestamp` and `/bell`
 * change the settings and save them; connection events keep them up to date (the name picked the
 * first time, the rooms joined and left, the new names of ignored identities). Ignoring is by
 * identity: `/ignore NAME` looks NAME's fingerprint up (`/whois`, or the pinned key when NAME is
 * not connected), and every name that identity is seen with afterwards (`nick` events) is hidden
 * too, across restarts.
 * @module
 */

import { isFingerprint } from "../shared/crypto.ts";
import type { ErrorMessage, ReplyMessage } from "../shared/messages.ts";
import { nameKey } from "../shared/names.ts";
import type { AppState } from "./app_state.ts";
import type { Action } from "./input.ts";
import {
  addIgnore,
  applySet,
  defaultSettings,
  describeIgnores,
  describeSettings,
  ignoredNames,
  removeIgnore,
  renameIgnored,
  serverOf,
  type Settings,
  shortFingerprint,
} from "./settings.ts";
import type { BellMode, ClientEvent, Where } from "./view.ts";

/** Where settings live: read them, change them (saved when there is a file). */
export interface SettingsStore {
  /** The file, for `/set` to show ("" when kept in memory only). */
  readonly path: string;
  /** The current settings (read only: change them with `update`). */
  readonly settings: Settings;
  /** Applies `change` and saves; rejects (saving nothing) when the change or the write fails. */
  update(change: (s: Settings) => void): Promise<void>;
}

/**
 * Settings kept in memory only (nothing is saved), the defaults with `timestamps` and `bell` as
 * given: for tests and sessions without a home.
 */
export function memorySettings(display: { timestamps?: boolean; bell?: BellMode }): SettingsStore {
  const settings = defaultSettings();
  if (display.timestamps !== undefined) settings.timestamps = display.timestamps;
  if (display.bell !== undefined) settings.bell = display.bell;
  return {
    path: "",
    settings,
    update(change) {
      try {
        change(settings);
        return Promise.resolve();
      } catch (e) {
        return Promise.reject(e);
      }
    },
  };
}

/** What the settings side needs from the application. */
export interface SettingsHost {
  /** The client-side state (its `ignored`, `timestamps` and `bell` follow the settings). */
  readonly state: AppState;
  /** The server, `host:port`, the per-server settings belong to. */
  readonly hostPort: string;
  /** Name and rooms are remembered on their own (interactive sessions only). */
  readonly remember: boolean;
  /** A change of `colors` shows at once (the page); otherwise from the next start. */
  readonly liveColors?: boolean;
  /**
   * What keeps colours off in this run whatever the setting says (`--no-color`, `NO_COLOR`);
   * undefined when nothing does.
   */
  readonly noColor?: string;
  /** Runs a server command as typed by the user (`auto`: sent by the client on its own). */
  command(name: string, args: string[], auto?: boolean): Promise<ReplyMessage | ErrorMessage>;
  /** The fingerprint pinned for `name` on this server, if any. */
  pinned(name: string): string | undefined;
  /** Shows a notice; `where` as in {@link Where} (default: the window shown). */
  info(text: string, level?: "info" | "error", where?: Where): void;
}

/** Shows the answers of one settings command (where it was typed). */
type Say = (text: string, level?: "info" | "error") => void;

/** Names whose identity was looked up, at most (then the oldest are forgotten). */
export const PROBED_MAX = 1_000;
/** Identity lookups in flight at once, and waiting, at most (more are skipped). */
export const PROBES_IN_FLIGHT = 2;
/** Identity lookups waiting their turn, at most. */
export const PROBES_WAITING = 32;

/** The fingerprint in a `/whois` reply, if it holds one. */
function fingerprintOf(r: ReplyMessage | ErrorMessage): string | undefined {
  if (r.t !== "reply") return undefined;
  const fp = (r.data as { fingerprint?: unknown } | undefined)?.fingerprint;
  return typeof fp === "string" && isFingerprint(fp) ? fp : undefined;
}

/** The message of an error thrown while changing settings. */
function why(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Carries out the settings commands and keeps the settings in step with the session. */
export class AppSettings {
  readonly #host: SettingsHost;
  readonly #store: SettingsStore;
  #ownFp = "";
  #welcomed = false;
  /** Names whose identity was looked up (or is being), oldest first. */
  readonly #probed = new Set<string>();
  readonly #waiting: string[] = [];
  #inFlight = 0;
  /** Changes being saved. */
  readonly #saving = new Set<Promise<void>>();
  /** The rooms last saved (or being saved). */
  #lastRooms: readonly string[] | undefined;
  /** The rooms joined at the last look (undefined until the first look after the welcome). */
  #joined: ReadonlySet<string> | undefined;

  /** Settings from `store` for `host`; the state takes the ignore list at once. */
  constructor(host: SettingsHost, store: SettingsStore) {
    this.#host = host;
    this.#store = store;
    this.#sync();
  }

  /** The names hidden now are those of the ignored identities. */
  #sync(): void {
    const ignored = this.#host.state.ignored;
    ignored.clear();
    for (const k of ignoredNames(this.#store.settings, this.#host.hostPort)) ignored.add(k);
  }

  /** Resolves once every change asked for so far is saved (or failed). */
  async idle(): Promise<void> {
    while (this.#saving.size > 0) await Promise.all([...this.#saving]);
  }

  /** Saves `change`, reporting a failure; resolves true when saved. */
  async #save(change: (s: Settings) => void): Promise<boolean> {
    const p = this.#store.update(change);
    const done = p.then(() => {}, () => {});
    this.#saving.add(done);
    done.then(() => this.#saving.delete(done));
    try {
      await p;
      return true;
    } catch (e) {
      this.#host.info(`settings not saved: ${why(e)}`, "error");
      return false;
    } finally {
      this.#sync();
    }
  }

  /**
   * Handles a settings action, its answers shown with `say` (default: the host's `info`); false
   * when `a` is not one.
   */
  async perform(a: Action, say: Say = (t, l) => this.#host.info(t, l)): Promise<boolean> {
    const s = this.#host.state;
    const hp = this.#host.hostPort;
    switch (a.kind) {
      case "set": {
        if (a.key === undefined) {
          say(describeSettings(this.#store.settings, hp, this.#store.path || "memory"));
          return true;
        }
        const { key, value } = a;
        if (value === undefined) {
          say(`usage: /set ${key} VALUE (/set shows every setting)`, "error");
          return true;
        }
        try {
          applySet(structuredClone(this.#store.settings), hp, key, value); // check first
        } catch (e) {
          say(why(e), "error");
          return true;
        }
        if (await this.#save((st) => applySet(st, hp, key, value))) {
          const st = this.#store.settings;
          s.timestamps = st.timestamps;
          s.bell = st.bell;
          this.#lastRooms = st.servers[hp]?.rooms; // what trackRooms goes on from
          say(this.#setReply(key, value.trim()));
        }
        return true;
      }
      case "timestamp":
        if (a.on !== undefined) {
          s.timestamps = a.on;
          await this.#save((st) => st.timestamps = a.on!);
        }
        say(`timestamps ${s.timestamps ? "on" : "off"}`);
        return true;
      case "bell":
        if (a.mode !== undefined) {
          s.bell = a.mode;
          await this.#save((st) => st.bell = a.mode!);
        }
        say(`bell: ${s.bell}`);
        return true;
      case "ignore":
        if (a.name === undefined) {
          const list = describeIgnores(this.#store.settings, hp);
          say(
            list.length === 0 ? "you ignore nobody" : `you ignore: ${list.join("; ")}`,
          );
        } else await this.#ignore(a.name, say);
        return true;
      case "unignore": {
        let gone: ReturnType<typeof removeIgnore>;
        const ok = await this.#save((st) => gone = removeIgnore(st, hp, a.name));
        if (!ok) return true;
        if (gone === undefined) say(`you were not ignoring ${a.name}`, "error");
        else {
          say(
            `no longer ignoring ${gone.names.join(", ")} ${shortFingerprint(gone.fingerprint)}`,
          );
        }
        return true;
      }
      default:
        return false;
    }
  }

  /**
   * The answer to `/set KEY VALUE` once saved, saying when it takes effect: bell and timestamps
   * at once, colours at once in the page and from the next start in a terminal, the name and
   * rooms (what a start uses) from the next start.
   */
  #setReply(key: string, value: string): string {
    const k = key.toLowerCase() === "colours" ? "colors" : key.toLowerCase();
    const sv = this.#store.settings.servers[this.#host.hostPort];
    switch (k) {
      case "colors": {
        const said = `${key.toLowerCase()} set to ${value}`;
        const off = this.#host.noColor;
        if (this.#host.liveColors === true) return said;
        if (off === undefined) return `${said} (from the next start)`;
        if (!this.#store.settings.colors) return `${said} (they are off now too: ${off})`;
        return off === "NO_COLOR"
          ? `${said}, but NO_COLOR is set: colours stay off while it is`
          : `${said}: from the next start without --no-color`;
      }
      case "name":
        return sv?.name === undefined
          ? "name removed (the next start asks for one)"
          : `name set to ${sv.name} (used from the next start; /nick ${sv.name} changes it now)`;
      case "rooms":
        return sv === undefined || sv.rooms.length === 0
          ? "rooms removed (the next start joins #lobby)"
          : `rooms set to ${sv.rooms.join(" ")} (joined at the next start)`;
      default:
        return `${k} set to ${value}`;
    }
  }

  /** `/ignore NAME`: by the fingerprint the server reports for NAME, or the pinned one. */
  async #ignore(name: string, say: Say): Promise<void> {
    const hp = this.#host.hostPort;
    let fp: string | undefined;
    const r = await this.#host.command("whois", [name]);
    let shown = name;
    if (r.t === "reply") {
      fp = fingerprintOf(r);
      const d = r.data as { name?: unknown } | undefined;
      if (typeof d?.name === "string" && nameKey(d.name) === nameKey(name)) shown = d.name;
    }
    fp ??= this.#host.pinned(name);
    if (fp === undefined) {
      const reason = r.t === "error" ? `${r.message} ` : "";
      say(
        `${reason}Cannot ignore ${name}: ignoring is by identity, and ${name} is not connected ` +
          "and has no pinned key. Try again while they are online.",
        "error",
      );
      return;
    }
    if (fp === this.#ownFp) {
      say("you cannot ignore yourself", "error");
      return;
    }
    let added = false;
    if (!await this.#save((st) => added = addIgnore(st, hp, fp!, shown))) return;
    say(
      added
        ? `ignoring ${shown} ${shortFingerprint(fp)}: their room and private messages are ` +
          "hidden, under any name they use"
        : `already ignoring ${shown}`,
    );
  }

  /** Follows the session: own fingerprint, first name, rooms, renamed ignored identities. */
  observe(ev: ClientEvent): void {
    const hp = this.#host.hostPort;
    const st = this.#store.settings;
    if (ev.t === "welcome") {
      this.#ownFp = ev.msg.fingerprint;
      this.#welcomed = true;
      const name = ev.msg.name;
      if (this.#host.remember && st.servers[hp]?.name === undefined) {
        this.#save((s) => {
          serverOf(s, hp).name ??= name;
        }).then((ok) => {
          if (ok) this.#host.info(`${name} is remembered for ${hp} (/set name to change it)`);
        });
      }
    }
    if (ev.t === "server") {
      const m = ev.msg;
      if (m.t === "msg" && m.replay !== true) this.#probe(m.from);
      if (m.t === "event" && m.kind === "join" && m.name !== undefined) this.#probe(m.name);
    }
    if (ev.t === "server" && ev.msg.t === "event" && ev.msg.kind === "nick") {
      const { old, name } = ev.msg;
      if (old !== undefined && name !== undefined && this.#host.state.ignored.has(nameKey(old))) {
        this.#host.state.ignored.add(nameKey(name));
        this.#save((s) => renameIgnored(s, hp, old, name));
      }
    }
    this.trackRooms();
  }

  /**
   * While someone is ignored, looks up (once, automatically, bounded) the identity behind a name
   * seen joining or talking live: an ignored identity under a name taken while this client was
   * not running is hidden from then on.
   */
  #probe(name: string): void {
    const key = nameKey(name);
    const me = this.#host.state.me;
    if (me !== "" && nameKey(me) === key) return;
    if (this.#host.state.ignored.has(key) || this.#probed.has(key)) return;
    if ((this.#store.settings.servers[this.#host.hostPort]?.ignore.length ?? 0) === 0) return;
    if (this.#waiting.length >= PROBES_WAITING) return;
    if (this.#probed.size >= PROBED_MAX) {
      this.#probed.delete(this.#probed.values().next().value!);
    }
    this.#probed.add(key);
    this.#waiting.push(name);
    this.#nextProbe();
  }

  #nextProbe(): void {
    while (this.#inFlight < PROBES_IN_FLIGHT && this.#waiting.length > 0) {
      const name = this.#waiting.shift()!;
      this.#inFlight++;
      this.#host.command("whois", [name], true).then((r) => {
        const fp = fingerprintOf(r);
        const hp = this.#host.hostPort;
        const known = this.#store.settings.servers[hp]?.ignore.some((e) => e.fingerprint === fp);
        if (fp === undefined || !known) return;
        this.#host.state.ignored.add(nameKey(name));
        return this.#save((s) => addIgnore(s, hp, fp, name)).then(() => {});
      }, () => {}).finally(() => {
        this.#inFlight--;
        this.#nextProbe();
      });
    }
  }

  /**
   * Saves the rooms joined and left, in the order they were saved, new ones after: at the first
   * look after the welcome the saved rooms become those joined; from then on a room joined is
   * added and a room left removed, and the others (e.g. from `/set rooms`) stay as they are.
   */
  trackRooms(): void {
    if (!this.#host.remember || !this.#welcomed) return;
    const hp = this.#host.hostPort;
    const joined = this.#host.state.rooms;
    const before = this.#joined;
    if (before?.size === joined.size && [...joined].every((r) => before.has(r))) return;
    this.#joined = new Set(joined);
    const saved = this.#lastRooms ?? this.#store.settings.servers[hp]?.rooms ?? [];
    const next = [
      ...saved.filter((r) => joined.has(r) || (before !== undefined && !before.has(r))),
      ...[...joined].filter((r) => !saved.includes(r) && before?.has(r) !== true),
    ]
      .slice(0, 32);
    if (next.length === saved.length && next.every((r, i) => r === saved[i])) return;
    this.#lastRooms = next;
    this.#save((s) => {
      serverOf(s, hp).rooms = next;
    });
  }
}
