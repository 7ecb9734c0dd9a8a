import pg from "pg";
import { isConnectionError, StoreUnavailableError } from "./postgres-errors.ts";
import { asStoreError, storeClosed } from "../store-errors.ts";
import type { Row } from "./row-mapping.ts";

/** One statement: its text, its parameters, and a name to prepare it once per connection. */
export interface Statement {
  text: string;
  values?: unknown[];
  /** Prepared once per connection under this name; the text of a name must never change. */
  name?: string;
}

/** Runs one statement; the `query` of `PostgresConnection.transaction`. */
export type Query = (statement: Statement) => Promise<pg.QueryResult<Row>>;

/** Options of `PostgresConnection`. */
export interface PostgresConnectionOptions {
  connectionString: string;
  /** Most connections the pool opens. */
  poolSize: number;
  /** Reported in `pg_stat_activity.application_name`. */
  applicationName: string;
  /** How long opening a connection may take before the operation fails, in ms. */
  connectTimeoutMs: number;
  /** How often `SELECT 1` probes the database while it is unreachable, in ms. */
  healthCheckIntervalMs: number;
  /**
   * How long a statement may go unanswered before it fails and its connection is discarded, in
   * ms: bounds the wait on a connection whose network died silently.
   */
  queryTimeoutMs: number;
  /**
   * PostgreSQL's `idle_in_transaction_session_timeout` on every session, in ms: the server ends a
   * session that sits inside a transaction this long without a statement (its client froze, or
   * lost the network), so the row locks it held are not held forever. A
   * `idle_in_transaction_session_timeout` parameter in the connection string wins. 0: none.
   */
  idleInTransactionTimeoutMs: number;
}

const INT8_OID = 20;

// bigint columns hold epoch milliseconds and lease tokens, both far below 2^53: read them as
// numbers rather than pg's default strings. Scoped to this pool, so other pg users in the
// process keep their parsers.
const parseInt8 = (value: string): number => Number(value);
const TYPES = {
  getTypeParser: (oid: number, format?: "text" | "binary"): ((value: string) => unknown) =>
    oid === INT8_OID && format !== "binary"
      ? parseInt8
      : (pg.types.getTypeParser(oid, format ?? "text") as (value: string) => unknown),
};

/**
 * The store's `pg.Pool`, with what the store needs around it: readiness (`isReady`), the ids of
 * its own backends (so that its own notifications can be told apart), and a record of the
 * operations in flight (so that `close` ends the pool only after they settle).
 *
 * Losing the database never crashes the process: the pool's `error` events are handled, and
 * operations reject with the connection error. The first such error marks the connection not
 * ready and starts a `SELECT 1` probe every `healthCheckIntervalMs` until the database answers
 * again; any successful statement marks it ready too. Readiness reflects the last statement or
 * probe: with no traffic at all, a database that went away is noticed at the next operation.
 */
export class PostgresConnection {
  readonly #pool: pg.Pool;
  readonly #clientConfig: pg.ClientConfig;
  readonly #healthCheckIntervalMs: number;
  readonly #queryTimeoutMs: number;
  readonly #inFlight = new Set<Promise<unknown>>();
  readonly #ownBackends = new Map<pg.PoolClient, number>();
  #ready = true;
  #probe: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: PostgresConnectionOptions) {
    this.#healthCheckIntervalMs = options.healthCheckIntervalMs;
    this.#queryTimeoutMs = options.queryTimeoutMs;
    this.#clientConfig = {
      connectionString: options.connectionString,
      application_name: options.applicationName,
      connectionTimeoutMillis: options.connectTimeoutMs,
      keepAlive: true,
      types: TYPES,
      ...(options.idleInTransactionTimeoutMs > 0
        ? { idle_in_transaction_session_timeout: Math.floor(options.idleInTransactionTimeoutMs) }
        : {}),
    };
    this.#pool = new pg.Pool({ ...this.#clientConfig, max: options.poolSize });
    // An idle client whose connection dies emits `error` through the pool; unhandled, it would
    // crash the process. The pool has already discarded that client.
    this.#pool.on("error", () => this.#markDown());
    this.#pool.on("connect", (client) => {
      const pid = (client as unknown as { processID?: number | null }).processID;
      if (typeof pid === "number") this.#ownBackends.set(client, pid);
    });
    this.#pool.on("remove", (client) => this.#ownBackends.delete(client));
  }

  /** Connection settings for a dedicated client (the LISTEN connection) like the pool's. */
  get clientConfig(): pg.ClientConfig {
    return { ...this.#clientConfig };
  }

  /** False from a connection error until a statement or probe succeeds again. */
  isReady(): boolean {
    return this.#ready && !this.#closed;
  }

  /** True when `pid` is the backend process of one of this pool's connections. */
  isOwnBackend(pid: number): boolean {
    for (const own of this.#ownBackends.values()) if (own === pid) return true;
    return false;
  }

  /**
   * Runs one statement on a pooled connection (autocommit). It fails after `queryTimeoutMs`
   * without an answer, and the pool then discards its connection.
   */
  query(statement: Statement): Promise<pg.QueryResult<Row>> {
    return this.#track(() => this.#pool.query<Row>(this.#timed(statement, this.#queryTimeoutMs)));
  }

  /**
   * Runs `run` inside `BEGIN ... COMMIT` on one connection, rolling back if it throws. The
   * connection is discarded rather than reused if the rollback itself fails. Statements fail
   * after `queryTimeoutMs` unless `untimed` (migrations may legitimately run long).
   */
  transaction<T>(run: (query: Query) => Promise<T>, untimed = false): Promise<T> {
    const timeoutMs = untimed ? undefined : this.#queryTimeoutMs;
    return this.#track(async () => {
      const client = await this.#pool.connect();
      // While checked out, a client's connection error has no pool listener.
      const onError = () => this.#markDown();
      client.on("error", onError);
      let broken: Error | undefined;
      const query: Query = (statement) => client.query<Row>(this.#timed(statement, timeoutMs));
      try {
        await query({ text: "BEGIN" });
        const result = await run(query);
        await query({ text: "COMMIT" });
        return result;
      } catch (error) {
        try {
          // Timed even for migrations: after a statement timed out, the connection may never
          // answer, and an untimed ROLLBACK queued behind it would wait forever.
          await client.query(this.#timed({ text: "ROLLBACK" }, this.#queryTimeoutMs));
        } catch (rollbackError) {
          broken = asStoreError(rollbackError);
        }
        throw error;
      } finally {
        client.removeListener("error", onError);
        client.release(broken);
      }
    });
  }

  /** Waits for the operations in flight, then closes every connection. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#probe);
    this.#probe = undefined;
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
    await this.#pool.end();
  }

  #track<T>(run: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(storeClosed("PostgreSQL"));
    const operation = run().then(
      (value) => {
        this.#ready = true;
        return value;
      },
      (error: unknown) => {
        if (!isConnectionError(error)) throw asStoreError(error);
        this.#markDown();
        throw error instanceof StoreUnavailableError ? error : new StoreUnavailableError(error);
      },
    );
    this.#inFlight.add(operation);
    const forget = () => this.#inFlight.delete(operation);
    operation.then(forget, forget);
    return operation;
  }

  // pg reads query_timeout from each query's config; its types do not declare it.
  #timed(statement: Statement, timeoutMs: number | undefined): Statement {
    return timeoutMs === undefined
      ? statement
      : ({ ...statement, query_timeout: timeoutMs } as Statement);
  }

  #markDown(): void {
    if (this.#closed) return;
    this.#ready = false;
    this.#scheduleProbe(0);
  }

  #scheduleProbe(delayMs: number): void {
    if (this.#probe !== undefined || this.#closed) return;
    this.#probe = setTimeout(() => {
      // A probe that hangs (a half-open connection) must not hold readiness hostage.
      const probe = this.#pool.query(this.#timed({ text: "SELECT 1" }, this.#queryTimeoutMs)).then(
        () => {
          this.#probe = undefined;
          this.#ready = true;
        },
        () => {
          this.#probe = undefined;
          if (!this.#ready) this.#scheduleProbe(this.#healthCheckIntervalMs);
        },
      );
      // close() waits for it: the pool must not end under a query that is still connecting.
      this.#inFlight.add(probe);
      void probe.finally(() => this.#inFlight.delete(probe));
    }, delayMs);
    // Probing must not keep a process alive that has nothing else to do.
    this.#probe.unref();
  }
}
