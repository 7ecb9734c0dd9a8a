/**
 * The lifecycle role of the `Store` port: which database it is, its schema, whether it can serve
 * now, and its end.
 */

/** Opening, migrating, readiness and closing of a store. */
export interface StoreLifecycle {
  /** `sqlite` or `postgres`. */
  readonly dialect: string;

  /** Applies pending migrations. Idempotent. */
  migrate(): Promise<void>;
  /** Flushes pending writes and releases the connection. */
  close(): Promise<void>;
  /**
   * Whether the store can serve now (false while a lost database connection is being re-opened,
   * and once it is closed). A store whose database cannot be lost (a SQLite file) is ready while
   * it is open. Feeds `/healthz`.
   */
  isReady(): boolean;
}
