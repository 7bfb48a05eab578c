/**
 * The settings file on disk (`HOME/config.json`, HOME being `--home DIR` or else
 * `$XDG_CONFIG_HOME/chat`): read whole within a bound, written atomically with mode 0600 (a
 * temporary file renamed over it). Every change re-reads the file first and applies itself to
 * what is there, so two clients sharing a home (or an edit by hand) lose nothing but the key that
 * changed. Changes are made one at a time.
 * @module
 */

import { decodeUtf8 } from "../shared/encoding.ts";
import { readRegularFile } from "../shared/safe_file.ts";
import { writeLinesAtomic } from "./pin_file.ts";
import {
  defaultSettings,
  parseSettings,
  serializeSettings,
  type Settings,
  SETTINGS_MAX_BYTES,
  SettingsError,
} from "./settings.ts";

/** The settings file's name inside the client's home. */
export const SETTINGS_FILE = "config.json";

/** Reads `path`: defaults when it does not exist; SettingsError (naming the file) when bad. */
export async function readSettings(path: string): Promise<Settings> {
  let bytes: Uint8Array;
  try {
    bytes = await readRegularFile(path, SETTINGS_MAX_BYTES);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return defaultSettings();
    if (e instanceof RangeError || e instanceof TypeError) {
      throw new SettingsError("(file)", `cannot be used: ${e.message}`);
    }
    throw e;
  }
  try {
    return parseSettings(decodeUtf8(bytes));
  } catch (e) {
    if (e instanceof SettingsError) {
      e.message = `${path}: ${e.message}`;
      throw e;
    }
    throw new SettingsError("(file)", `${path} is not UTF-8 text`);
  }
}

/** The settings of one client, kept in memory and in their file. */
export class SettingsFile {
  /** The file. */
  readonly path: string;
  #settings: Settings;
  #queue: Promise<void> = Promise.resolve();

  private constructor(path: string, settings: Settings) {
    this.path = path;
    this.#settings = settings;
  }

  /** Loads `path` (see {@link readSettings}). */
  static async load(path: string): Promise<SettingsFile> {
    return new SettingsFile(path, await readSettings(path));
  }

  /** The settings as last read or written (do not change them: use {@link update}). */
  get settings(): Settings {
    return this.#settings;
  }

  /**
   * Re-reads the file, applies `change` to what it holds and writes it back atomically (mode
   * 0600). When the file became unreadable or bad meanwhile it is left alone and the promise
   * rejects; `change` errors (RangeError) reject too, writing nothing.
   */
  update(change: (s: Settings) => void): Promise<void> {
    const run = async () => {
      const s = await readSettings(this.path);
      change(s);
      await writeLinesAtomic(this.path, [new TextEncoder().encode(serializeSettings(s).trimEnd())]);
      this.#settings = s;
    };
    const p = this.#queue.then(run);
    this.#queue = p.catch(() => {});
    return p;
  }
}
