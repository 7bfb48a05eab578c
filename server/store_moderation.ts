/**
 * Bans and operators in the server's database (the bans read through an in-memory copy).
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { num, type Row, str } from "./store_rows.ts";
import { guardStatement, type Statement } from "./storage_error.ts";

/** A ban on a name key, an identity fingerprint or an IP address. */
export interface Ban {
  /** What is banned: a case-folded name key, a fingerprint or an IP address. */
  target: string;
  /** The kind of `target`. */
  kind: "name" | "fingerprint" | "ip";
  /** Who issued the ban. */
  by: string;
  /** Why. */
  reason: string;
  /** Creation time, milliseconds since the epoch. */
  created: number;
  /** Expiry time in milliseconds since the epoch, or null for a permanent ban. */
  expires: number | null;
}

const BAN_KINDS: ReadonlySet<string> = new Set(["name", "fingerprint", "ip"]);

function toBan(r: Row): Ban {
  return {
    target: r.target as string,
    kind: r.kind as Ban["kind"],
    by: r.by as string,
    reason: r.reason as string,
    created: r.created as number,
    expires: r.expires === null ? null : r.expires as number,
  };
}

/** The bans and operators of one database; owned by `Store`. */
export class Moderation {
  readonly #q: Record<string, Statement>;
  readonly #now: () => number;
  #bans: Ban[] | undefined; // cache of every stored ban, dropped on each change

  /** Prepares the statements on `db`; `now` decides expiry, `fail` maps database errors. */
  constructor(db: DatabaseSync, now: () => number, fail: (e: unknown) => unknown) {
    this.#now = now;
    const p = (sql: string) => guardStatement(db.prepare(sql), fail);
    this.#q = {
      addBan: p(
        "INSERT OR REPLACE INTO bans (target, kind, by, reason, created, expires) " +
          "VALUES (?, ?, ?, ?, ?, ?)",
      ),
      removeBan: p("DELETE FROM bans WHERE target = ?"),
      bans: p(
        "SELECT target, kind, by, reason, created, expires FROM bans " +
          "WHERE expires IS NULL OR expires > ? ORDER BY created, target",
      ),
      addOp: p("INSERT OR IGNORE INTO ops (fingerprint) VALUES (?)"),
      removeOp: p("DELETE FROM ops WHERE fingerprint = ?"),
      isOp: p("SELECT 1 AS x FROM ops WHERE fingerprint = ?"),
    };
  }

  /** Forgets the cached bans (after expiry removed some). */
  dropCache(): void {
    this.#bans = undefined;
  }

  /** Adds a ban, replacing any ban on the same `target`. */
  addBan(b: Ban): void {
    if (typeof b !== "object" || b === null) throw new TypeError("ban must be an object");
    if (typeof b.kind !== "string" || !BAN_KINDS.has(b.kind)) {
      throw new TypeError("kind must be name, fingerprint or ip");
    }
    const expires = b.expires === null ? null : num(b.expires, "expires");
    this.#bans = undefined;
    this.#q.addBan.run(
      str(b.target, "target"),
      b.kind,
      str(b.by, "by"),
      str(b.reason, "reason"),
      num(b.created, "created"),
      expires,
    );
  }

  /** Removes the ban on `target`; true when there was one (expired or not). */
  removeBan(target: string): boolean {
    this.#bans = undefined;
    return this.#q.removeBan.run(str(target, "target")).changes === 1;
  }

  /** The bans in force now (expired ones omitted), oldest first. */
  bans(): Ban[] {
    const now = this.#now();
    this.#bans ??= (this.#q.bans.all(Number.MIN_SAFE_INTEGER) as Row[]).map(toBan);
    return this.#bans.filter((b) => b.expires === null || b.expires > now).map((b) => ({ ...b }));
  }

  /** Makes `fingerprint` an operator (idempotent). */
  addOp(fingerprint: string): void {
    this.#q.addOp.run(str(fingerprint, "fingerprint"));
  }

  /** Removes `fingerprint` from the operators; true when it was one. */
  removeOp(fingerprint: string): boolean {
    return this.#q.removeOp.run(str(fingerprint, "fingerprint")).changes === 1;
  }

  /** True when `fingerprint` was made an operator with {@linkcode addOp}. */
  isOp(fingerprint: string): boolean {
    return this.#q.isOp.get(str(fingerprint, "fingerprint")) !== undefined;
  }
}
