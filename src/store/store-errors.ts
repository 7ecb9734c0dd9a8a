// Errors both stores raise the same way.
import { StoreError } from "../core/errors.ts";

/**
 * `error` as an `Error`, so that rejections always carry a stack and a message: anything else
 * thrown (a string...) becomes a `StoreError` `store_failed` whose cause it is.
 */
export function asStoreError(error: unknown): Error {
  return error instanceof Error
    ? error
    : new StoreError("store_failed", String(error), { cause: error });
}

/** The error of an operation on a store after `close()`. */
export function storeClosed(dialect: "PostgreSQL" | "SQLite"): StoreError {
  return new StoreError("store_closed", `The ${dialect} store is closed.`);
}
