/**
 * One operation of an idempotency or rate-limit store on its database (issue 13): refused once
 * the store is closed, and any failure of the driver reported as a `StoreError`.
 */
import { StoreError } from "../core/errors.ts";

/**
 * Runs `operation` unless the store is `closed`, its failure wrapped.
 *
 * @param store The store in error messages: `PostgreSQL idempotency`, `Redis rate limit`.
 * @throws StoreError `store_closed` ("The <store> store is closed.") or `store_failed`
 *   ("The <store> store failed: <driver error>", the driver's error as the cause).
 * @example return storeCall(this.#closed, "Redis rate limit", () => this.#redis.get(key));
 */
export async function storeCall<T>(
  closed: boolean,
  store: string,
  operation: () => Promise<T>,
): Promise<T> {
  if (closed) throw new StoreError("store_closed", `The ${store} store is closed.`);
  try {
    return await operation();
  } catch (error) {
    throw new StoreError("store_failed", `The ${store} store failed: ${String(error)}`, {
      cause: error,
    });
  }
}
