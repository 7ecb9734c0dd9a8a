/**
 * `createQuota` (issue 13): a quota policy (`limit` requests per `window`, `burst` back to back)
 * on a store, answering for a key whether one more request is allowed, and what to tell its
 * client. The decision is GCRA (`gcra.ts`), taken atomically in the store; the fields are the
 * IETF draft's (`ratelimit-fields.ts`). `createRateLimit` puts HTTP around it; Steadfast's own
 * API asks it per tenant. See docs/rate-limit.md.
 */
import { startLoop, type BackgroundLoop } from "../resilience/background-loop.ts";
import { bucketId } from "./bucket-id.ts";
import { allowanceOf, gcraStep } from "./gcra.ts";
import {
  resolveQuotaOptions,
  type QuotaOptions,
  type ResolvedQuotaOptions,
} from "./rate-limit-options.ts";
import type { RateLimitStore } from "./rate-limit-store.ts";
import { rateLimitHeaders, type QuotaPolicy } from "./ratelimit-fields.ts";
import { openRateLimitStore } from "./stores/open-rate-limit-store.ts";

/** Whether a request is allowed, and what its client is told. */
export interface QuotaDecision {
  readonly allowed: boolean;
  /** Requests that would be allowed now, back to back (the `RateLimit` field's `r`). */
  readonly remaining: number;
  /** Seconds until one more request becomes available (`t`); 0 when the allowance is full. */
  readonly resetSeconds: number;
  /** Seconds until a refused request would be allowed (`Retry-After`); absent when allowed. */
  readonly retryAfterSeconds?: number;
  /** `RateLimit-Policy`, `RateLimit`, and `Retry-After` when refused: the response's headers. */
  readonly headers: Readonly<Record<string, string>>;
}

/** A quota on a store. */
export interface Quota {
  /** The policy, as the `RateLimit-Policy` field shows it. */
  readonly policy: QuotaPolicy;
  /**
   * Takes one request from `key`'s allowance if there is one: `allowed: true` and what is left,
   * or `allowed: false` (nothing taken) and when to come back. Rejects with a `StoreError` when
   * the store fails.
   */
  check(key: string): Promise<QuotaDecision>;
  /** Stops the background purge and closes a store opened from a URL. */
  close(): Promise<void>;
}

/**
 * A quota on `options.store`, for requests that are not HTTP (jobs, messages) or for a
 * framework of your own; `createRateLimit` is the HTTP middleware. Opens (and prepares) a store
 * given as a URL: rejects with `InvalidOptionError` for a wrong option, and with `StoreError`
 * `connect_failed` when the store cannot be opened.
 *
 * @example
 * const quota = await createQuota({ store: "redis://127.0.0.1:6379", limit: 10, window: "1s" });
 * const decision = await quota.check(`user:${userId}`);
 * if (!decision.allowed) console.log(`retry in ${decision.retryAfterSeconds} s`);
 */
export async function createQuota(options: QuotaOptions): Promise<Quota> {
  const resolved = resolveQuotaOptions(options);
  const given = options.store ?? "memory";
  const store = typeof given === "string" ? await openRateLimitStore(given) : given;
  return new StoreQuota(store, typeof given === "string", resolved);
}

class StoreQuota implements Quota {
  readonly policy: QuotaPolicy;
  readonly #store: RateLimitStore;
  readonly #owned: boolean;
  readonly #options: ResolvedQuotaOptions;
  readonly #purge: BackgroundLoop | undefined;

  constructor(store: RateLimitStore, owned: boolean, options: ResolvedQuotaOptions) {
    this.policy = options.policy;
    this.#store = store;
    this.#owned = owned;
    this.#options = options;
    this.#purge =
      options.purgeIntervalMs === 0
        ? undefined
        : startLoop(
            options.clock,
            options.purgeIntervalMs,
            () => this.#purgeOnce(),
            (error) => options.onEvent({ type: "rate-limit:purge-failed", error }),
          );
  }

  async check(key: string): Promise<QuotaDecision> {
    const step = gcraStep(this.#options.shape, this.#options.clock.now());
    const outcome = await this.#store.take(bucketId(this.policy.name, key), step);
    const allowance = allowanceOf(outcome, step);
    return {
      allowed: outcome.allowed,
      ...allowance,
      headers: rateLimitHeaders(this.policy, allowance),
    };
  }

  async close(): Promise<void> {
    await this.#purge?.stop();
    if (this.#owned) await this.#store.close();
  }

  async #purgeOnce(): Promise<"continue"> {
    const { clock, purgeBatchSize, onEvent } = this.#options;
    const nowUs = gcraStep(this.#options.shape, clock.now()).nowUs;
    let count = 0;
    for (let batch = 0; batch < 100; batch++) {
      const purged = await this.#store.purgeExpired(nowUs, purgeBatchSize);
      count += purged;
      if (purged < purgeBatchSize) break;
    }
    if (count > 0) onEvent({ type: "rate-limit:purged", count });
    return "continue";
  }
}
