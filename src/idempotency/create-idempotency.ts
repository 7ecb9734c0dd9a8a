/**
 * `createIdempotency` (issue 13): server-side idempotency for a web-standard handler, after
 * draft-ietf-httpapi-idempotency-key-header-06 and Stripe's practice. The first request with a
 * key claims it atomically and runs; a retry after it replays the stored response
 * (`Idempotent-Replayed: true`); a retry while it runs gets `409` (or waits and replays); the
 * same key with another request gets `422`. See docs/idempotency.md.
 */
import { readIdempotencyKeyHeader } from "../core/idempotency-key.ts";
import type { WebMiddleware, WebNext } from "../middleware/web-middleware.ts";
import { monotonicNow } from "../core/ports.ts";
import { startLoop, type BackgroundLoop } from "../resilience/background-loop.ts";
import { requestFingerprint, type Fingerprint } from "../exchange/request-fingerprint.ts";
import { idempotencyProblem, type IdempotencyProblemCode } from "./idempotency-problems.ts";
import {
  resolveIdempotencyOptions,
  type IdempotencyOptions,
  type ResolvedIdempotencyOptions,
} from "./idempotency-options.ts";
import type { IdempotencyStore } from "./idempotency-store.ts";
import { readBodyUpTo, withBody } from "./request-body.ts";
import { IdempotencyLedger, type ClaimOutcome } from "./record-ledger.ts";
import { LeaseHeartbeat } from "./lease-heartbeat.ts";
import { scopeId } from "./scope.ts";
import { replayResponse, responseOf, toStoredResponse } from "./stored-response.ts";
import { openIdempotencyStore } from "./stores/open-idempotency-store.ts";

/** The next handler: what runs when a request is not answered from the record. */
export type NextHandler = WebNext;

/** The middleware: a web-standard core that the framework adapters wrap (`WebMiddleware`). */
export interface Idempotency extends WebMiddleware {
  /**
   * Answers `request`: from its key's record, or by running `next` once and recording the
   * outcome. Requests with other methods, and without a key where none is required, go straight
   * to `next`.
   */
  handle(request: Request, next: NextHandler): Promise<Response>;
  /** Stops the background purge and closes a store opened from a URL. */
  close(): Promise<void>;
}

/**
 * The idempotency middleware on `options.store`. Opens (and prepares) a store given as a URL:
 * rejects with `InvalidOptionError` for a wrong option, and with `StoreError` `connect_failed`
 * when the store cannot be opened.
 *
 * @example
 * const idempotency = await createIdempotency({
 *   store: "sqlite:./.steadfast/idempotency.db",
 *   principal: (req) => req.headers.get("authorization") ?? "anonymous",
 *   required: true,
 * });
 * const response = await idempotency.handle(request, (req) => createOrder(req));
 */
export async function createIdempotency(options: IdempotencyOptions): Promise<Idempotency> {
  const resolved = resolveIdempotencyOptions(options);
  const owned = typeof options.store === "string";
  const store =
    typeof options.store === "string" ? await openIdempotencyStore(options.store) : options.store;
  return new IdempotencyMiddleware(store, owned, resolved);
}

class IdempotencyMiddleware implements Idempotency {
  readonly #store: IdempotencyStore;
  readonly #owned: boolean;
  readonly #options: ResolvedIdempotencyOptions;
  readonly #ledger: IdempotencyLedger;
  readonly #purge: BackgroundLoop | undefined;
  readonly #heartbeat: LeaseHeartbeat;

  constructor(store: IdempotencyStore, owned: boolean, options: ResolvedIdempotencyOptions) {
    this.#store = store;
    this.#owned = owned;
    this.#options = options;
    this.#ledger = new IdempotencyLedger(store, options.clock, options.random, options);
    this.#heartbeat = new LeaseHeartbeat(
      this.#ledger,
      options.clock,
      options.leaseRenewIntervalMs,
      (error) => options.onEvent({ type: "idempotency:store-failed", error }),
    );
    this.#purge =
      options.purgeIntervalMs === 0
        ? undefined
        : startLoop(
            options.clock,
            options.purgeIntervalMs,
            () => this.#purgeOnce(),
            (error) => options.onEvent({ type: "idempotency:purge-failed", error }),
          );
  }

  async handle(request: Request, next: NextHandler): Promise<Response> {
    const o = this.#options;
    const method = request.method.toUpperCase();
    if (!o.methods.has(method)) return await next(request);
    const reading = readIdempotencyKeyHeader(request.headers.get("idempotency-key"), o);
    if (reading.kind === "invalid") {
      return this.#problem("idempotency_key_invalid", `Idempotency-Key ${reading.problem}.`);
    }
    const route = o.route(request);
    if (reading.kind === "absent") {
      if (!o.required(request)) return await next(request);
      return this.#problem(
        "idempotency_key_missing",
        `${method} ${route} requires an Idempotency-Key header: send a unique value per operation (a UUID), and the same value on each retry of it.`,
      );
    }
    const body = await readBodyUpTo(request, o.maxBodyBytes);
    if (body.kind === "too-large") {
      const size = body.declaredBytes === undefined ? "over" : `${body.declaredBytes} bytes,`;
      return this.#problem(
        "payload_too_large",
        `The request body is ${size} more than the ${o.maxBodyBytes} bytes an idempotent request may have; send a smaller body.`,
      );
    }
    const url = new URL(request.url);
    const fingerprint = requestFingerprint({
      method,
      route,
      target: url.pathname + url.search,
      contentType: request.headers.get("content-type"),
      body: body.bytes,
    });
    const scope = scopeId({
      principal: await o.principal(request),
      method,
      route,
      key: reading.key,
    });
    let claim: ClaimOutcome;
    try {
      claim = await this.#claim(scope, fingerprint);
    } catch (error) {
      o.onEvent({ type: "idempotency:store-failed", error });
      return this.#problem(
        "store_unavailable",
        "The idempotency store could not be reached, so the request was not run; retry it with the same Idempotency-Key.",
        { "retry-after": "1" },
      );
    }
    switch (claim.outcome) {
      case "replay":
        return replayResponse(claim.record.response);
      case "mismatch":
        return this.#problem(
          "idempotency_key_reused",
          `This Idempotency-Key was used with a different request (method, path, query or body) to ${method} ${route}: send a new key for a new request.`,
        );
      case "in-flight":
        return this.#problem(
          "idempotency_key_in_use",
          "A request with this Idempotency-Key is still being processed: retry after it finishes to get its response.",
          { "retry-after": String(o.inFlightRetryAfterSeconds) },
        );
      case "claimed":
        return await this.#run(scope, claim.leaseToken, withBody(request, body.bytes), next);
    }
  }

  async close(): Promise<void> {
    await this.#purge?.stop();
    await this.#heartbeat.stop();
    if (this.#owned) await this.#store.close();
  }

  /** Claims `scope`; while it is in flight, claims again every poll until the wait runs out. */
  async #claim(scope: string, fingerprint: Fingerprint): Promise<ClaimOutcome> {
    const { clock, waitForInFlightMs, waitPollIntervalMs } = this.#options;
    const deadline = monotonicNow(clock) + waitForInFlightMs;
    for (;;) {
      const claim = await this.#ledger.claim(scope, fingerprint);
      const left = deadline - monotonicNow(clock);
      if (claim.outcome !== "in-flight" || left <= 0) return claim;
      await clock.sleep(Math.min(waitPollIntervalMs, left));
    }
  }

  /** Runs `next` under the lease, then stores its outcome (or releases the key). */
  async #run(
    scope: string,
    leaseToken: string,
    request: Request,
    next: NextHandler,
  ): Promise<Response> {
    const o = this.#options;
    let leaseLost = false;
    const lost = (): void => {
      if (!leaseLost) o.onEvent({ type: "idempotency:lease-lost", scope });
      leaseLost = true;
    };
    this.#heartbeat.hold(scope, leaseToken, lost);
    let response: Response;
    let body: Uint8Array;
    try {
      response = await next(request);
      body = new Uint8Array(await response.arrayBuffer());
    } catch (error) {
      this.#heartbeat.drop(leaseToken);
      // No outcome to keep: the key is freed so that a retry runs the handler again.
      await this.#ledger.release(scope, leaseToken).catch((storeError: unknown) => {
        o.onEvent({ type: "idempotency:store-failed", error: storeError });
      });
      throw error;
    }
    this.#heartbeat.drop(leaseToken);
    try {
      if (!o.stores(response.status)) {
        await this.#ledger.release(scope, leaseToken);
      } else {
        const stored = toStoredResponse(response, body, o.replayedHeaders);
        if (!(await this.#ledger.complete(scope, leaseToken, stored))) lost();
      }
    } catch (error) {
      // The caller still gets its response; the record stays in flight until its lease runs out.
      o.onEvent({ type: "idempotency:store-failed", error });
    }
    return responseOf(response.status, response.headers, body);
  }

  async #purgeOnce(): Promise<"continue"> {
    const { clock, purgeBatchSize, onEvent } = this.#options;
    let count = 0;
    for (let batch = 0; batch < 100; batch++) {
      const purged = await this.#store.purgeExpired(clock.now(), purgeBatchSize);
      count += purged;
      if (purged < purgeBatchSize) break;
    }
    if (count > 0) onEvent({ type: "idempotency:purged", count });
    return "continue";
  }

  #problem(
    code: IdempotencyProblemCode,
    detail: string,
    headers: Record<string, string> = {},
  ): Response {
    return idempotencyProblem(code, detail, this.#options.docsUrl, headers);
  }
}
