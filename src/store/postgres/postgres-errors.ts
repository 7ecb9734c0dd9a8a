import { isSteadfastError, RetryableError } from "../../core/errors.ts";

// Telling errors about the connection (the database is unreachable, or the connection broke)
// from errors about a statement (a constraint, bad data, a deadlock). The first make the store
// not ready and fail a whole batch; the second fail only the write that caused them, so a
// batch that hit one is replayed write by write.

// Node socket and DNS errors seen when PostgreSQL cannot be reached.
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

// SQLSTATEs that mean the server went away (PostgreSQL appendix A): admin_shutdown,
// crash_shutdown, cannot_connect_now; class 08 is checked separately.
const SHUTDOWN_STATES = new Set(["57P01", "57P02", "57P03"]);

const SQLSTATE = /^[0-9A-Z]{5}$/;

function codeOf(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null || !("code" in error)) return undefined;
  return typeof error.code === "string" ? error.code : undefined;
}

/**
 * True when PostgreSQL rejected a statement (it has a SQLSTATE outside the connection classes,
 * itself or, for one of our errors explaining it (`call_exists`), its cause):
 * the statement certainly did not commit, so the writes of a failed batch can be replayed one by
 * one. Any other failure (a lost connection, a timeout) leaves it unknown whether the statement
 * committed, and a replay could apply writes twice.
 */
export function isStatementError(error: unknown): boolean {
  if (isSteadfastError(error)) return error.cause !== undefined && isStatementError(error.cause);
  const code = codeOf(error);
  if (code === undefined || !SQLSTATE.test(code)) return false;
  return !code.startsWith("08") && !SHUTDOWN_STATES.has(code);
}

/**
 * True when `error` says the database could not be reached or the connection broke: socket
 * errors, connection-class SQLSTATEs, server shutdown, and the pool's and client's own
 * connection messages (which carry no code).
 */
export function isConnectionError(error: unknown): boolean {
  if (error instanceof StoreUnavailableError) return true;
  const code = codeOf(error);
  if (code !== undefined) {
    if (NETWORK_CODES.has(code)) return true;
    if (SQLSTATE.test(code)) return code.startsWith("08") || SHUTDOWN_STATES.has(code);
  }
  const message = error instanceof Error ? error.message : String(error);
  // pg's own messages: "Connection terminated unexpectedly", "timeout exceeded when trying to
  // connect", "Query read timeout" (a query_timeout on a silent connection), "Client has
  // encountered a connection error and is not queryable".
  return /connection|terminated|timeout|not queryable/i.test(message);
}

/**
 * What a store operation fails with when PostgreSQL cannot be reached or the connection broke:
 * `503 store_unavailable` on the API (with `Retry-After`), the driver's error as its `cause`.
 */
export class StoreUnavailableError extends RetryableError {
  constructor(cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(
      "store_unavailable",
      `The database cannot be reached right now (${reason}). Whether this write was stored is unknown: retry it with the same Idempotency-Key, which returns the stored call instead of creating a second one.`,
      { cause, retryAfterMs: 1_000 },
    );
    this.name = "StoreUnavailableError";
  }
}
