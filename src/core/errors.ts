/**
 * The error tree. Every error Steadfast raises is a `SteadfastError` with a string-literal `code`;
 * `isSteadfastError` recognises one across copies of the package (it checks a brand, not
 * `instanceof`). Whether something is retried is a property of its type: `TerminalError` never is,
 * `RetryableError` may carry `retryAfterMs`.
 */

const BRAND = Symbol.for("steadfast.error");

/** Codes of errors the API and the in-process API can raise. Each maps to one HTTP status. */
export const ErrorCodes = [
  "invalid_json",
  "invalid_request",
  "payload_too_large",
  "unauthorized",
  "forbidden",
  "not_found",
  "idempotency_key_reused",
  "invalid_url",
  "blocked_destination",
  "invalid_state",
  "unsupported_media_type",
  "not_acceptable",
  "timeout",
  "shutting_down",
  "store_unavailable",
  "internal",
] as const;
/** One of `ErrorCodes`. */
export type ErrorCode = (typeof ErrorCodes)[number];

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

/** Base of every error Steadfast raises. */
export class SteadfastError extends Error {
  readonly code: ErrorCode;
  readonly issues: readonly FieldIssue[];
  readonly [BRAND] = true;

  constructor(code: ErrorCode, message: string, options: SteadfastErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SteadfastError";
    this.code = code;
    this.issues = options.issues ?? [];
  }
}

/** An error that must not be retried (a 4xx-class mistake, a blocked destination). */
export class TerminalError extends SteadfastError {
  constructor(code: ErrorCode, message: string, options: SteadfastErrorOptions = {}) {
    super(code, message, options);
    this.name = "TerminalError";
  }
}

/** An error worth retrying, optionally not before `retryAfterMs` milliseconds. */
export class RetryableError extends SteadfastError {
  readonly retryAfterMs: number | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: SteadfastErrorOptions & { retryAfterMs?: number } = {},
  ) {
    super(code, message, options);
    this.name = "RetryableError";
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** True for any `SteadfastError`, from this copy of the package or another. */
export function isSteadfastError(value: unknown): value is SteadfastError {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as Record<symbol, unknown>)[BRAND] === true
  );
}
