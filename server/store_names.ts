/**
 * The names registry in the server's database: the first identity to claim a name owns it.
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { type Row, str } from "./store_rows.ts";
import { guardStatement, type Statement } from "./storage_error.ts";

/** The identity that owns a registered name. */
export interface NameOwner {
  /** The display name as first claimed. */
  name: string;
  /** Owner's identity fingerprint. */
  fingerprint: string;
  /** Claim time, milliseconds since the epoch. */
  created: number;
  /** When the name was last noted as used (see `Upkeep.touchName`), ms since the epoch. */
  lastUsed: number;
}

/** The names of one database; owned by `Store`, which opens and closes the database. */
export class Names {
  readonly #q: Record<string, Statement>;
  readonly #now: () => number;

  /** Prepares the statements on `db`; `now` dates claims, `fail` maps database errors. */
  constructor(db: DatabaseSync, now: () => number, fail: (e: unknown) => unknown) {
    this.#now = now;
    const p = (sql: string) => guardStatement(db.prepare(sql), fail);
    this.#q = {
      ownerOf: p("SELECT display, fingerprint, created, last_used FROM names WHERE key = ?"),
      namesOf: p("SELECT COUNT(*) AS n FROM names WHERE fingerprint = ?"),
      insertName: p(
        "INSERT INTO names (key, display, fingerprint, created, last_used) " +
          "VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
      ),
      releaseName: p("DELETE FROM names WHERE key = ? AND fingerprint = ?"),
    };
  }

  /** The owner of the name with case-folded `key`, or undefined when nobody owns it. */
  ownerOf(key: string): NameOwner | undefined {
    const r = this.#q.ownerOf.get(str(key, "key")) as Row | undefined;
    if (r === undefined) return undefined;
    return {
      name: r.display as string,
      fingerprint: r.fingerprint as string,
      created: r.created as number,
      lastUsed: r.last_used as number,
    };
  }

  /**
   * Claims the name with case-folded `key` for `fingerprint`, atomically; the first identity to
   * claim a name owns it. The claim is committed before this returns. An existing owner's stored
   * display name is left unchanged; a name already owned costs one read, no write.
   */
  claimName(
    key: string,
    displayName: string,
    fingerprint: string,
  ): "claimed" | "owned_by_you" | "owned_by_other" {
    str(key, "key");
    str(displayName, "displayName");
    str(fingerprint, "fingerprint");
    const owner = this.ownerOf(key);
    if (owner !== undefined) {
      return owner.fingerprint === fingerprint ? "owned_by_you" : "owned_by_other";
    }
    const now = this.#now();
    const inserted = this.#q.insertName.run(key, displayName, fingerprint, now, now);
    if (inserted.changes === 1) return "claimed";
    return this.ownerOf(key)?.fingerprint === fingerprint ? "owned_by_you" : "owned_by_other";
  }

  /** How many names `fingerprint` owns. */
  namesOwnedBy(fingerprint: string): number {
    return (this.#q.namesOf.get(str(fingerprint, "fingerprint")) as Row).n as number;
  }

  /** Frees the name with case-folded `key` if `fingerprint` owns it; true when it was released. */
  releaseName(key: string, fingerprint: string): boolean {
    const r = this.#q.releaseName.run(str(key, "key"), str(fingerprint, "fingerprint"));
    return r.changes === 1;
  }
}
