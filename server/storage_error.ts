/**
 * Database failures as the user is told of them: {@linkcode StorageError} and the mapping from
 * SQLite's errors, plus prepared statements and transactions that throw it.
 * @module
 */

import type {
  DatabaseSync,
  SQLInputValue,
  StatementResultingChanges,
  StatementSync,
} from "node:sqlite";
import { ProtocolError } from "../shared/errors.ts";

/**
 * A failure of the database itself (disk full, read-only file, I/O error), as the user is told:
 * `code` is `storage_full` when the disk or the `dbBytes` cap is full, else `internal`. The
 * request that met it fails; the store stays usable and the next request tries again.
 */
export class StorageError extends ProtocolError {
  /** Wraps the database error `cause`. */
  constructor(code: "storage_full" | "internal", message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.name = "StorageError";
  }
}

/** SQLite primary result codes that mean the storage, not the request, failed. */
const SQLITE_READONLY = 8;
const SQLITE_FULL = 13;

/**
 * The {@linkcode StorageError} for an error thrown by the database, or `e` itself when it is
 * not one (argument errors and refusals such as `duplicate_id` pass through).
 */
export function toStorageError(e: unknown): unknown {
  if (e instanceof ProtocolError || e instanceof TypeError || e instanceof RangeError) return e;
  const err = e as { code?: unknown; errcode?: unknown };
  if (typeof e !== "object" || e === null || typeof err.code !== "string") return e;
  if (!err.code.startsWith("ERR_SQLITE") && err.code !== "ERR_INVALID_STATE") return e;
  // Errors of `exec` carry no `errcode`, only SQLite's fixed text for the code.
  const text = e instanceof Error ? e.message : "";
  const primary = typeof err.errcode === "number"
    ? err.errcode & 0xff
    : text.startsWith("database or disk is full")
    ? SQLITE_FULL
    : text.startsWith("attempt to write a readonly database")
    ? SQLITE_READONLY
    : -1;
  if (primary === SQLITE_FULL) {
    return new StorageError("storage_full", "The server's storage is full; nothing was saved.", {
      cause: e,
    });
  }
  const what = primary === SQLITE_READONLY ? "is read-only" : "failed";
  return new StorageError("internal", `The server's storage ${what}; nothing was saved.`, {
    cause: e,
  });
}

/** A prepared statement whose database errors are thrown as {@linkcode StorageError}. */
export interface Statement {
  run(...params: SQLInputValue[]): StatementResultingChanges;
  get(...params: SQLInputValue[]): unknown;
  all(...params: SQLInputValue[]): unknown[];
}

/** `stmt` with every error passed through `fail` (which returns what to throw). */
export function guardStatement(stmt: StatementSync, fail: (e: unknown) => unknown): Statement {
  return new GuardedStatement(stmt, fail);
}

// A class rather than closures: no function allocated per call on the hot path.
class GuardedStatement implements Statement {
  readonly #stmt: StatementSync;
  readonly #fail: (e: unknown) => unknown;

  constructor(stmt: StatementSync, fail: (e: unknown) => unknown) {
    this.#stmt = stmt;
    this.#fail = fail;
  }

  run(...params: SQLInputValue[]): StatementResultingChanges {
    try {
      return this.#stmt.run(...params);
    } catch (e) {
      throw this.#fail(e);
    }
  }

  get(...params: SQLInputValue[]): unknown {
    try {
      return this.#stmt.get(...params);
    } catch (e) {
      throw this.#fail(e);
    }
  }

  all(...params: SQLInputValue[]): unknown[] {
    try {
      return this.#stmt.all(...params);
    } catch (e) {
      throw this.#fail(e);
    }
  }
}

/** Runs `sql` on `db`, throwing its errors passed through `fail` (which returns what to throw). */
export function execGuarded(db: DatabaseSync, sql: string, fail: (e: unknown) => unknown): void {
  try {
    db.exec(sql);
  } catch (e) {
    throw fail(e);
  }
}

interface TxStatements {
  begin: StatementSync;
  commit: StatementSync;
  rollback: StatementSync;
}

// BEGIN / COMMIT / ROLLBACK prepared once per database, not parsed again for every transaction.
const txStatements = new WeakMap<DatabaseSync, TxStatements>();

function runGuarded(stmt: StatementSync, fail: (e: unknown) => unknown): void {
  try {
    stmt.run();
  } catch (e) {
    throw fail(e);
  }
}

/**
 * Runs `body` in one immediate transaction on `db` and returns its result; rolls back and
 * rethrows when it throws. Errors of the database itself pass through `fail`.
 */
export function transaction<T>(db: DatabaseSync, fail: (e: unknown) => unknown, body: () => T): T {
  let tx = txStatements.get(db);
  if (tx === undefined) {
    try {
      tx = {
        begin: db.prepare("BEGIN IMMEDIATE"),
        commit: db.prepare("COMMIT"),
        rollback: db.prepare("ROLLBACK"),
      };
    } catch (e) {
      throw fail(e);
    }
    txStatements.set(db, tx);
  }
  runGuarded(tx.begin, fail);
  try {
    const result = body();
    runGuarded(tx.commit, fail);
    return result;
  } catch (e) {
    // A full disk may already have rolled the transaction back.
    if (db.isTransaction) runGuarded(tx.rollback, fail);
    throw e;
  }
}
