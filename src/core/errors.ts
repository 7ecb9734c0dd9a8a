/**
 * The error tree, one root for the whole package. Every error Steadfast raises is a
 * `SteadfastError` with a string `code`: the API's (`ErrorCode`), an invalid option's
 * (`invalid_option`), the stores' (`StoreError`), the resilience policies' rejections
 * (`circuit_open`, `timeout`...), the REST client's (`connection_failed`, or the server's code),
 * the CLI's, the server's (`listen_failed`). `isSteadfastError` recognises one across copies of the package (it
 * checks a brand registered with `Symbol.for`, not `instanceof`).
 *
 * Whether something is retried is a property of its type, read by brand: `TerminalError` never is
 * (`isTerminalError`), `RetryableError` may be, not before its `retryAfterMs`
 * (`isRetryableError`). A subclass may rename itself; the guards do not read `name`.
 */

const BRAND = Symbol.for("steadfast.error");
// true for a RetryableError, false for a TerminalError, absent for the others.
const RETRYABLE = Symbol.for("steadfast.error.retryable");

/** Codes of errors the HTTP API can answer with. Each maps to one HTTP status (server/problem.ts). */
export const ErrorCodes = [
  "invalid_json",
  "invalid_request",
  "payload_too_large",
  "unauthorized",
  "forbidden",
  "not_found",
  "idempotency_key_reused",
  "event_id_reused",
  "invalid_url",
  "blocked_destination",
  "invalid_state",
  "unsupported_media_type",
  "not_acceptable",
  "shutting_down",
  "store_unavailable",
  "internal",
] as const;
/** One of `ErrorCodes`. */
export type ErrorCode = (typeof ErrorCodes)[number];

const API_CODES: ReadonlySet<string> = new Set(ErrorCodes);

/** True when `code` is one of the API's `ErrorCodes`. */
export function isErrorCode(code: string): code is ErrorCode {
  return API_CODES.has(code);
}

/** One field-level problem, reported in `422` answers as `errors[]`. */
export interface FieldIssue {
  /** Dotted path of the field, such as `retry.maxAttempts`. */
  field: string;
  /** What is wrong and how to fix it. */
  message: string;
}

/** Options common to every `SteadfastError`. */
export interface SteadfastErrorOptions {
  cause?: unknown;
  /** Field-level problems, for validation errors. */
  issues?: readonly FieldIssue[];
}

/**
 * Base of every error Steadfast raises. `C` is the type of its `code`: one of the API's
 * `ErrorCode`s unless a subclass says otherwise.
 *
 * @example
 * try { await call.result({ timeoutMs: 5_000 }); }
 * catch (error) { if (isSteadfastError(error)) console.log(error.code, error.message); }
 */
export class SteadfastError<C extends string = ErrorCode> extends Error {
  /** What happened, stable and machine-readable (`not_found`, `circuit_open`, `wait_timeout`...). */
  readonly code: C;
  /** Field-level problems (validation errors); empty otherwise. */
  readonly issues: readonly FieldIssue[];
  readonly [BRAND] = true;

  constructor(code: C, message: string, options: SteadfastErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SteadfastError";
    this.code = code;
    this.issues = options.issues ?? [];
  }
}

/** An error that must not be retried (a 4xx-class mistake, a blocked destination). */
export class TerminalError<C extends string = ErrorCode> extends SteadfastError<C> {
  readonly [RETRYABLE] = false;

  constructor(code: C, message: string, options: SteadfastErrorOptions = {}) {
    super(code, message, options);
    this.name = "TerminalError";
  }
}

/** An error worth retrying, optionally not before `retryAfterMs` milliseconds. */
export class RetryableError<C extends string = ErrorCode> extends SteadfastError<C> {
  /** The earliest retry, in ms from now, when the error knows it. */
  readonly retryAfterMs: number | undefined;
  readonly [RETRYABLE] = true;

  constructor(
    code: C,
    message: string,
    options: SteadfastErrorOptions & { retryAfterMs?: number } = {},
  ) {
    super(code, message, options);
    this.name = "RetryableError";
    this.retryAfterMs = options.retryAfterMs;
  }
}

/**
 * `CallHandle.result({ timeoutMs })` ran out of time before the call ended. The call goes on:
 * call `result()` again to keep waiting. Neither terminal nor retryable: it says nothing about
 * the call's outcome.
 */
export class WaitTimeoutError extends SteadfastError<"wait_timeout"> {
  /** The call waited for. */
  readonly callId: string;
  /** Its status when the wait ended (`queued`, `running` or `waiting`). */
  readonly status: string;
  /** How long the wait lasted, ms. */
  readonly timeoutMs: number;

  /** `what` names what was waited for: `Call` (default) or `Run`. */
  constructor(callId: string, status: string, timeoutMs: number, what: "Call" | "Run" = "Call") {
    super(
      "wait_timeout",
      `${what} ${callId} is still ${status} after ${timeoutMs} ms; call result() again to keep waiting`,
    );
    this.name = "WaitTimeoutError";
    this.callId = callId;
    this.status = status;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * An option or argument the caller passed is out of range or of the wrong shape: a programming or
 * configuration mistake, reported when the object is built, never retried.
 */
export class InvalidOptionError extends TerminalError<"invalid_option"> {
  constructor(message: string, options: SteadfastErrorOptions = {}) {
    super("invalid_option", message, options);
    this.name = "InvalidOptionError";
  }
}

/** Codes of `StoreError`. */
export const StoreErrorCodes = [
  "store_closed",
  "store_failed",
  "connect_failed",
  "migration_failed",
  "write_conflict",
  "api_key_conflict",
  "call_exists",
  "invariant_broken",
] as const;
/** One of `StoreErrorCodes`. */
export type StoreErrorCode = (typeof StoreErrorCodes)[number];

/**
 * The database refused or failed an operation. `code` says how:
 *
 * - `store_closed`: the store was used after `close()`;
 * - `store_failed`: the database failed it (a batch transaction rolled back, an fsync failed, a
 *   connection ended); the driver's error is the `cause`;
 * - `connect_failed`: the database could not be reached when the store opened;
 * - `migration_failed`: a migration failed (rolled back), or the schema is newer than this
 *   Steadfast, or two migrations share a version;
 * - `write_conflict`: a compare-and-set write kept losing to other writers;
 * - `api_key_conflict`: the key is another tenant's; `call_exists`: the call id is taken;
 * - `invariant_broken`: a bug in Steadfast (please report it).
 *
 * None is an API code: the HTTP API answers them `500 internal` (and logs them). When the
 * database cannot be reached mid-operation the store raises `StoreUnavailableError` instead
 * (`503 store_unavailable`, retryable).
 */
export class StoreError extends SteadfastError<StoreErrorCode> {
  constructor(code: StoreErrorCode, message: string, options: SteadfastErrorOptions = {}) {
    super(code, message, options);
    this.name = "StoreError";
  }
}

function brand(value: unknown, key: symbol): unknown {
  return typeof value === "object" && value !== null
    ? (value as Record<symbol, unknown>)[key]
    : undefined;
}

/**
 * True for any error Steadfast raised (core, engine, resilience policies, REST client, CLI), from
 * this copy of the package or another.
 */
export function isSteadfastError(value: unknown): value is SteadfastError<string> {
  return brand(value, BRAND) === true;
}

/** True for a `TerminalError` (or a subclass), from any copy of the package. Never retried. */
export function isTerminalError(value: unknown): value is TerminalError<string> {
  return brand(value, RETRYABLE) === false && isSteadfastError(value);
}

/** True for a `RetryableError` (or a subclass), from any copy of the package. */
export function isRetryableError(value: unknown): value is RetryableError<string> {
  return brand(value, RETRYABLE) === true && isSteadfastError(value);
}

/** True for a `WaitTimeoutError`, from any copy of the package. */
export function isWaitTimeoutError(value: unknown): value is WaitTimeoutError {
  return isSteadfastError(value) && value.code === "wait_timeout";
}
