import type { DatabaseSync, StatementSync } from "node:sqlite";

/** Returns the prepared statement for `sql`, preparing it on first use. */
export type Prepare = (sql: string) => StatementSync;

/**
 * Prepared statements by SQL text, prepared lazily so that a store can be opened before
 * `migrate()` has created the tables its statements name.
 */
export class StatementCache {
  #db: DatabaseSync;
  #statements = new Map<string, StatementSync>();

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** The cached statement for `sql`. Bound so it can be passed around as a `Prepare`. */
  readonly get: Prepare = (sql) => {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  };
}
