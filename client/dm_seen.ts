/**
 * The recipient's replay protection kept across restarts (PROTOCOL.md §7 "Replay"): a
 * {@link ReplayCache} whose every change is appended to the file `dm_seen` in the client's home
 * before the message is shown, so a private message shown once is never shown again, whichever
 * process receives it next. The file is private (mode 0600), bounded (pruned by age when opened,
 * and rewritten atomically when the appended lines pass the bound), and never stops the client
 * from starting: a damaged line is skipped.
 *
 * Format, one item per line: `keep MS` (how long ids are kept), `floor TS` (nothing at or
 * before it is accepted), or `TS FINGERPRINT ID` (an accepted envelope).
 * @module
 */

import { DM_REPLAY_KEEP_MS, ReplayCache, type ReplayChange } from "../shared/e2e.ts";
import { toHex, utf8 } from "../shared/encoding.ts";
import { randomBytes } from "../shared/crypto.ts";
import { readRegularFile } from "../shared/safe_file.ts";

/** Most ids remembered (each line is about 90 bytes). */
export const DM_SEEN_MAX = 20_000;
/** Largest file read; a larger one is set aside (see {@link SeenFile.open}). */
export const DM_SEEN_FILE_MAX = 8 * 1024 * 1024;

const ENTRY = /^(\d{1,16}) (SHA256:[A-Za-z0-9+/]{43}) ([A-Za-z0-9+/]{22}==)$/;
const ITEM = /^(keep|floor) (\d{1,16})$/;

/** The items of a file's text; damaged or cut lines are skipped. */
function parse(text: string): {
  entries: [string, string, number][];
  floor: number;
  keep: number;
  lines: number;
} {
  const lines = text === "" ? [] : text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  let floor = -Infinity;
  let keep = DM_REPLAY_KEEP_MS;
  const entries: [string, string, number][] = [];
  for (const line of lines) {
    const e = ENTRY.exec(line);
    if (e !== null) {
      entries.push([e[2], e[3], Number(e[1])]);
      continue;
    }
    const i = ITEM.exec(line);
    if (i === null) continue;
    if (i[1] === "keep") keep = Math.max(keep, Number(i[2]));
    else floor = Math.max(floor, Number(i[2]));
  }
  return { entries, floor, keep, lines: lines.length };
}

/** Settings of {@link SeenFile.open}. */
export interface SeenFileOptions {
  /** Clock, ms since the epoch (default `Date.now`). */
  now?: () => number;
  /** Most ids remembered (default {@link DM_SEEN_MAX}). */
  max?: number;
}

/** A replay cache persisted in a file. */
export class SeenFile {
  /** The cache; its changes are written to the file as they happen. */
  readonly cache: ReplayCache;
  /** What went wrong with the file when it was opened, to tell the user; undefined if nothing. */
  readonly notice: string | undefined;
  readonly #path: string;
  readonly #max: number;
  readonly #now: () => number;
  #file: Deno.FsFile | undefined;
  #appended = 0;
  #failed = false;

  private constructor(path: string, max: number, now: () => number, notice?: string) {
    this.#path = path;
    this.#max = max;
    this.#now = now;
    this.notice = notice;
    this.cache = new ReplayCache({ max, onChange: (c) => this.#write(c) });
  }

  /**
   * Opens (creating, mode 0600) the file at `path` and loads it: ids older than the kept window
   * are dropped, the newest `max` kept, and the file rewritten atomically when that changed it.
   * A file that is not a regular file or is over {@link DM_SEEN_FILE_MAX} is renamed aside, and
   * the floor is set to now (envelopes sent before cannot be told from replays), with a notice.
   */
  static async open(path: string, opts: SeenFileOptions = {}): Promise<SeenFile> {
    const now = opts.now ?? Date.now;
    const max = opts.max ?? DM_SEEN_MAX;
    let text = "";
    let notice: string | undefined;
    try {
      // Lossy on purpose: a damaged byte spoils one line, not the file.
      text = new TextDecoder().decode(await readRegularFile(path, DM_SEEN_FILE_MAX));
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) {
        const aside = `${path}.bad-${toHex(randomBytes(4))}`;
        await Deno.rename(path, aside).catch(() => {});
        notice = `${path} could not be used (${e instanceof Error ? e.message : e}); moved to ` +
          `${aside}. Private messages sent before now will not be shown.`;
      }
    }
    const f = new SeenFile(path, max, now, notice);
    const { entries, floor: stored, keep, lines } = parse(text);
    // Beyond `max`, the newest are kept; the floor rises to the newest one left out.
    const floor = Math.max(stored, notice === undefined ? -Infinity : now());
    f.cache.keepAtLeast(keep);
    f.cache.load(entries, floor);
    f.cache.prune(now());
    if (f.cache.size + 2 < lines || notice !== undefined || lines === 0) {
      f.#rewrite();
    }
    f.#open();
    return f;
  }

  /** Remembers ids for at least `ms` (a server that keeps queued messages longer). */
  keepAtLeast(ms: number): void {
    if (this.cache.keepAtLeast(ms)) this.#write({ t: "keep", ms });
  }

  /** Closes the file. */
  close(): void {
    try {
      this.#file?.close();
    } catch {
      // already closed
    }
    this.#file = undefined;
  }

  #open(): void {
    this.close();
    this.#file = Deno.openSync(this.#path, { append: true, create: true, mode: 0o600 });
  }

  #write(c: ReplayChange | { t: "keep"; ms: number }): void {
    if (this.#failed) return;
    const line = c.t === "seen"
      ? `${c.ts} ${c.fp} ${c.id}\n`
      : c.t === "floor"
      ? `floor ${c.ts}\n`
      : `keep ${c.ms}\n`;
    try {
      if (++this.#appended > this.#max) {
        this.cache.prune(this.#now());
        this.#rewrite();
        this.#open();
        return; // the rewrite holds the change
      }
      const bytes = utf8.encode(line);
      for (let at = 0; at < bytes.length;) at += this.#file!.writeSync(bytes.subarray(at));
    } catch (e) {
      // Kept in memory for this process; a restart may show this message again.
      this.#failed = true;
      console.error(`cannot write ${this.#path}: ${e instanceof Error ? e.message : e}`);
    }
  }

  /**
   * Replaces the file with the cache's state: a temporary file (0600, synced), renamed over. What
   * another process of the same home appended meanwhile is read back in first.
   */
  #rewrite(): void {
    const c = this.cache;
    try {
      if (Deno.statSync(this.#path).size <= DM_SEEN_FILE_MAX) {
        const { entries, floor } = parse(new TextDecoder().decode(Deno.readFileSync(this.#path)));
        c.load(entries, floor);
        c.prune(this.#now());
      }
    } catch {
      // no file yet, or unreadable: what the cache holds is written
    }
    const out = [`keep ${c.keepMs}`];
    if (c.floor > -Infinity) out.push(`floor ${c.floor}`);
    for (const [fp, id, ts] of c.entries()) out.push(`${ts} ${fp} ${id}`);
    const temp = `${this.#path}.tmp-${toHex(randomBytes(6))}`;
    const file = Deno.openSync(temp, { write: true, createNew: true, mode: 0o600 });
    try {
      const bytes = utf8.encode(out.join("\n") + "\n");
      for (let at = 0; at < bytes.length;) at += file.writeSync(bytes.subarray(at));
      file.syncSync();
    } finally {
      file.close();
    }
    try {
      Deno.renameSync(temp, this.#path);
    } catch (e) {
      Deno.removeSync(temp);
      throw e;
    }
    this.#appended = 0;
  }
}
