/**
 * Buckets in this process's memory (issue 13): the default store, for a single process. Each
 * step runs whole within one call (JavaScript runs one at a time), so it is atomic here; two
 * processes each have their own buckets, so each allows the full limit: use SQLite (one
 * machine), PostgreSQL or Redis to share a limit.
 */
import { StoreError } from "../../core/errors.ts";
import { gcraTake, type GcraOutcome, type GcraStep } from "../gcra.ts";
import type { RateLimitStore } from "../rate-limit-store.ts";

/** A `RateLimitStore` in a `Map`. */
export class MemoryRateLimitStore implements RateLimitStore {
  readonly #tats = new Map<string, number>();
  #closed = false;

  /** Buckets held, full ones not purged yet included. */
  get size(): number {
    return this.#tats.size;
  }

  take(bucket: string, step: GcraStep): Promise<GcraOutcome> {
    if (this.#closed) return Promise.reject(closed());
    const stored = this.#tats.get(bucket);
    const outcome = gcraTake(stored, step);
    // A refused step changes the TAT only when it bounds one left too far ahead.
    if (stored === undefined ? outcome.allowed : outcome.tatUs !== stored)
      this.#tats.set(bucket, outcome.tatUs);
    return Promise.resolve(outcome);
  }

  purgeExpired(nowUs: number, limit: number): Promise<number> {
    if (this.#closed) return Promise.reject(closed());
    let purged = 0;
    for (const [bucket, tatUs] of this.#tats) {
      if (purged >= limit) break;
      if (tatUs <= nowUs) {
        this.#tats.delete(bucket);
        purged++;
      }
    }
    return Promise.resolve(purged);
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#tats.clear();
    return Promise.resolve();
  }
}

function closed(): StoreError {
  return new StoreError("store_closed", "The in-memory rate limit store is closed.");
}
