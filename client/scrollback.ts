/**
 * A window's scrollback: rendered lines in order, bounded in lines and in characters (the oldest
 * go first), where a line with a known message id replaces the line holding that id (a pending
 * message becomes the acknowledged one) and a room message older than the newest one is put in
 * place by its sequence number (history fetched later). Pure.
 * @module
 */

/** One line of a window, as rendered. */
export interface WindowLine {
  /** Rendered, safe text (SGR colour codes only); "\n" separates the rows it holds. */
  text: string;
  /** Time in ms since the epoch (for the date separators). */
  ts: number;
  /** Cells of the hanging indent of wrapped rows (the text column). */
  indent: number;
  /** Message id: a later line with the same id replaces this one. */
  id?: string;
  /** The room's sequence number: older messages are inserted in order. */
  seq?: number;
}

/** A stored line: the line and its arrival number (increasing, never reused). */
export interface Entry extends WindowLine {
  /** Arrival number, unique in the scrollback. */
  readonly serial: number;
}

/** What {@link Scrollback.add} did with a line. */
export type AddResult = "added" | "replaced" | "duplicate" | "dropped";

/** Default bounds of one scrollback. */
export const SCROLLBACK_LINES = 2_000;
/** Default bound on the characters one scrollback holds. */
export const SCROLLBACK_CHARS = 256_000;

/** The lines of one window, bounded. */
export class Scrollback {
  readonly #maxLines: number;
  readonly #maxChars: number;
  readonly #lines: Entry[] = [];
  readonly #byId = new Map<string, Entry>();
  #chars = 0;
  #serial = 0;
  #topSeq: number | undefined;
  #newestSeq: number | undefined;

  /** Holds at most `maxLines` lines and `maxChars` characters (at least one line). */
  constructor(maxLines = SCROLLBACK_LINES, maxChars = SCROLLBACK_CHARS) {
    if (!Number.isInteger(maxLines) || maxLines < 1) throw new RangeError("maxLines must be >= 1");
    if (!Number.isInteger(maxChars) || maxChars < 1) throw new RangeError("maxChars must be >= 1");
    this.#maxLines = maxLines;
    this.#maxChars = maxChars;
  }

  /** The lines, oldest first. */
  get lines(): readonly Entry[] {
    return this.#lines;
  }

  /** Characters held. */
  get chars(): number {
    return this.#chars;
  }

  /** The arrival number of the newest line added (0 before any). */
  get lastSerial(): number {
    return this.#serial;
  }

  /** The lowest room sequence number held (undefined when none has one). */
  get oldestSeq(): number | undefined {
    let low: number | undefined;
    for (const e of this.#lines) {
      if (e.seq !== undefined && (low === undefined || e.seq < low)) low = e.seq;
    }
    return low ?? this.#topSeq;
  }

  /**
   * Adds a line: replaces the line with the same id, skips a message already held (same seq),
   * puts a message older than the newest held one in order by seq, else appends. Then drops the
   * oldest lines over the bounds; "dropped" when that was this line (too old to keep).
   */
  add(line: WindowLine): AddResult {
    const text = line.text.length > this.#maxChars ? line.text.slice(0, this.#maxChars) : line.text;
    if (line.id !== undefined) {
      const old = this.#byId.get(line.id);
      if (old !== undefined) {
        const i = this.#lines.indexOf(old);
        const e: Entry = { ...line, text, serial: old.serial };
        this.#lines[i] = e;
        this.#byId.set(line.id, e);
        this.#chars += text.length - old.text.length;
        this.#trim();
        return "replaced";
      }
    }
    let at = this.#lines.length;
    if (line.seq !== undefined) {
      if (this.#newestSeq !== undefined && line.seq <= this.#newestSeq) {
        if (this.#lines.some((e) => e.seq === line.seq)) return "duplicate";
        at = this.#lines.findIndex((e) => e.seq !== undefined && e.seq > line.seq!);
        if (at < 0) at = this.#lines.length;
      } else {
        this.#newestSeq = line.seq;
      }
    }
    const e: Entry = { ...line, text, serial: ++this.#serial };
    this.#lines.splice(at, 0, e);
    if (e.id !== undefined) this.#byId.set(e.id, e);
    this.#chars += text.length;
    this.#trim();
    return this.#lines.includes(e) ? "added" : "dropped";
  }

  #trim(): void {
    while (
      this.#lines.length > 1 &&
      (this.#lines.length > this.#maxLines || this.#chars > this.#maxChars)
    ) {
      const gone = this.#lines.shift()!;
      this.#chars -= gone.text.length;
      if (gone.id !== undefined && this.#byId.get(gone.id) === gone) this.#byId.delete(gone.id);
      if (gone.seq !== undefined) this.#topSeq = gone.seq;
    }
  }

  /** True when no more lines fit without dropping one. */
  get full(): boolean {
    return this.#lines.length >= this.#maxLines || this.#chars >= this.#maxChars;
  }

  /** Removes every line (the arrival numbers go on). */
  clear(): void {
    this.#lines.length = 0;
    this.#byId.clear();
    this.#chars = 0;
  }
}
