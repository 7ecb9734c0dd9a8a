/**
 * Retry: runs the function again after a transient failure, with backoff (exponential with full
 * jitter by default), a finite number of attempts (3 by default, never infinite unless asked),
 * the server's `Retry-After` / rate-limit reset honoured up to `maxDelayMs` (and the cap, when it
 * bites, reported), an idempotency gate, an optional shared retry budget, and the deadline
 * respected (no wait that would leave too little time for the next attempt).
 *
 * The decision after each attempt is the pure function `decideRetry`; the policy only carries it
 * out.
 */
import type { Clock, Random } from "../core/ports.ts";
import type { RetryOnRule } from "../core/call.ts";
import {
  backoffOfKind,
  DEFAULT_INITIAL_DELAY_MS,
  DEFAULT_MAX_DELAY_MS,
  type Backoff,
  type BackoffKind,
} from "./backoff.ts";
import {
  classifyError,
  classifyResult,
  isIdempotentMethod,
  retryOnRules,
  type Outcome,
  type Verdict,
} from "./classify.ts";
import type { Context, ExecuteOptions, PolicyContext } from "./context.ts";
import type { Deadline } from "./deadline.ts";
import { Emitter, type EventSource } from "./events.ts";
import { check, executeWith, internal, type Operation, type Policy } from "./policy.ts";
import type { RetryBudget } from "./retry-budget.ts";
import { mathRandom, systemClock } from "./system.ts";

/** Decides whether an outcome is retried. Gets the default verdict to build on. */
export type RetryPredicate = (outcome: Outcome, verdict: Verdict) => boolean;

/** Options of `retry()`. */
export interface RetryOptions {
  /** Attempts in all, the first included. Default 3. `Infinity` only if you mean it. */
  maxAttempts?: number;
  /** A backoff, or its name built with `initialDelayMs` and `maxDelayMs`. Default `exponential`. */
  backoff?: BackoffKind | Backoff;
  /** Base delay for a backoff given by name, in ms. Default 250. */
  initialDelayMs?: number;
  /**
   * Cap on any wait, in ms, the server's `Retry-After` included (a capped wait is reported on
   * `retry:scheduled` as `capped: true`). Default 30,000.
   */
  maxDelayMs?: number;
  /**
   * What is retried: rules as in the HTTP API (`[429, "5xx", "network"]`), or a predicate over
   * the outcome and the default verdict. Default: see `classify.ts` (network errors, 408, 425,
   * 429, 5xx except 501/505, attempt timeouts).
   */
  retryOn?: readonly RetryOnRule[] | RetryPredicate;
  /**
   * Whether the function is safe to repeat after it may have reached the server. Default: decided
   * per execution from `method` and `idempotencyKey` (a non-idempotent method is repeated only
   * with a key); when the execution gives no method, the function is taken as safe.
   */
  idempotent?: boolean;
  /** Shared retry budget; a refused retry ends the execution. Default: none. */
  budget?: RetryBudget;
  /**
   * Releases a result that is being retried (not returned). Default: cancels the body of a
   * `Response`-like value, so its connection goes back to the pool.
   */
  discard?: (value: unknown) => void;
  /** Default: the system clock. */
  clock?: Clock;
  /** Default: `Math.random`. */
  random?: Random;
}

/** Why a retry policy stopped retrying. */
export type GiveUpReason =
  "not-retryable" | "max-attempts" | "not-idempotent" | "budget-exhausted" | "deadline" | "aborted";

/** Events of `retry()`. */
export interface RetryEvents {
  /** A retry is scheduled after `delayMs`. */
  "retry:scheduled": {
    /** The attempt that failed (1-based). */
    attempt: number;
    /** The verdict's reason (`status 503`, `network ECONNRESET`...). */
    reason: string;
    delayMs: number;
    /** Where the delay came from. */
    source: "backoff" | "retry-after" | "ratelimit-reset";
    /** The delay asked for before the cap. */
    requestedDelayMs: number;
    /** True when `maxDelayMs` shortened the delay. */
    capped: boolean;
  };
  /** The policy stopped; the last outcome goes to the caller. */
  "retry:gave-up": { attempts: number; reason: GiveUpReason; detail: string };
  /** An attempt succeeded. */
  "retry:succeeded": { attempts: number };
}

/** Inputs of `decideRetry`. */
export interface RetryDecisionInput<S> {
  /** The attempt that just ended (1-based). */
  attempt: number;
  maxAttempts: number;
  verdict: Verdict;
  /** The verdict after `retryOn`. */
  retryable: boolean;
  /** Whether the function may be repeated after a failure that may have had an effect. */
  safeToRepeat: boolean;
  aborted: boolean;
  backoff: Backoff<S>;
  backoffState: S;
  random: Random;
  maxDelayMs: number;
  /** The execution's deadline, if any. */
  deadline: Deadline | undefined;
}

/** What `decideRetry` decided. */
export type RetryDecision<S> =
  | {
      type: "retry";
      delayMs: number;
      source: "backoff" | "retry-after" | "ratelimit-reset";
      requestedDelayMs: number;
      capped: boolean;
      backoffState: S;
    }
  | {
      type: "give-up";
      reason: GiveUpReason;
      /** For `deadline`: the wait that did not fit, in ms. */
      delayMs?: number;
    };

/** The pure retry decision: give up (and why) or wait how long (and why). */
export function decideRetry<S>(input: RetryDecisionInput<S>): RetryDecision<S> {
  if (input.aborted) return { type: "give-up", reason: "aborted" };
  if (!input.retryable) return { type: "give-up", reason: "not-retryable" };
  if (input.verdict.mayHaveEffect && !input.safeToRepeat) {
    return { type: "give-up", reason: "not-idempotent" };
  }
  if (input.attempt >= input.maxAttempts) return { type: "give-up", reason: "max-attempts" };
  const step = input.backoff.next(input.attempt, input.backoffState, input.random);
  const hint = input.verdict.retryAfter;
  // The server's hint replaces the backoff (RFC 9110 section 10.2.3: "how long the user agent
  // ought to wait"); a shorter jittered backoff would only earn another 429.
  const requestedDelayMs = hint === undefined ? step.delayMs : hint.delayMs;
  const capped = requestedDelayMs > input.maxDelayMs;
  const delayMs = Math.round(capped ? input.maxDelayMs : requestedDelayMs);
  if (input.deadline !== undefined && !input.deadline.allows(delayMs)) {
    return { type: "give-up", reason: "deadline", delayMs };
  }
  return {
    type: "retry",
    delayMs,
    source: hint === undefined ? "backoff" : hint.source,
    requestedDelayMs,
    capped,
    backoffState: step.state,
  };
}

/** The retry policy. */
export class RetryPolicy implements Policy, EventSource<RetryEvents> {
  /** Attempts in all, the first included. */
  readonly maxAttempts: number;
  /** Cap on any wait, in ms, `Retry-After` included. */
  readonly maxDelayMs: number;
  /** The backoff in use. */
  readonly backoff: Backoff;
  readonly #retryOn: RetryPredicate | undefined;
  readonly #idempotent: boolean | undefined;
  readonly #budget: RetryBudget | undefined;
  readonly #discard: (value: unknown) => void;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #events = new Emitter<RetryEvents>();

  constructor(options: RetryOptions = {}) {
    this.maxAttempts = options.maxAttempts ?? 3;
    check(
      this.maxAttempts === Infinity ||
        (Number.isInteger(this.maxAttempts) && this.maxAttempts >= 1),
      "retry",
      `maxAttempts must be an integer >= 1 (or Infinity), got ${this.maxAttempts}`,
    );
    this.maxDelayMs = options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
    check(this.maxDelayMs >= 0, "retry", `maxDelayMs must be >= 0, got ${this.maxDelayMs}`);
    const backoff = options.backoff ?? "exponential";
    this.backoff =
      typeof backoff === "string"
        ? backoffOfKind(
            backoff,
            Math.min(options.initialDelayMs ?? DEFAULT_INITIAL_DELAY_MS, this.maxDelayMs),
            this.maxDelayMs,
          )
        : backoff;
    const retryOn = options.retryOn;
    this.#retryOn =
      retryOn === undefined || typeof retryOn === "function" ? retryOn : retryOnRules(retryOn);
    this.#idempotent = options.idempotent;
    this.#budget = options.budget;
    this.#discard = options.discard ?? discardResponse;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? mathRandom;
  }

  on: EventSource<RetryEvents>["on"] = (name, listener) => this.#events.on(name, listener);

  execute<T>(fn: Operation<T>, options?: ExecuteOptions): Promise<T> {
    return executeWith(this, fn, options);
  }

  run<T>(fn: Operation<T>, context: PolicyContext): Promise<T> {
    const parent = internal(context);
    this.#budget?.recordRequestOnce(parent);
    // The first attempt runs on a `.then` fast path (no async frame): most calls succeed on it.
    // It can use the parent context itself when that already says attempt 1.
    let attemptContext = parent;
    if (parent.attempt !== 1) {
      attemptContext = parent.derive();
      attemptContext.attempt = 1;
    }
    let first: T | PromiseLike<T>;
    try {
      first = fn(attemptContext);
    } catch (error) {
      return this.#retryFrom(fn, parent, { type: "error", error }, 1);
    }
    return Promise.resolve(first).then(
      (value) =>
        this.#retryOn === undefined && (typeof value !== "object" || value === null)
          ? this.#succeeded(value, 1)
          : this.#retryFrom(fn, parent, { type: "result", value }, 1),
      (error: unknown) => this.#retryFrom(fn, parent, { type: "error", error }, 1),
    );
  }

  /** Decides on `outcome` of attempt `attempt`, then runs further attempts as decided. */
  async #retryFrom<T>(
    fn: Operation<T>,
    parent: Context,
    firstOutcome: Outcome<T>,
    firstAttempt: number,
  ): Promise<T> {
    let backoffState: unknown = this.backoff.initialState;
    let outcome = firstOutcome;
    for (let attempt = firstAttempt; ; attempt++) {
      if (attempt > firstAttempt) {
        const attemptContext = parent.derive();
        attemptContext.attempt = attempt;
        try {
          const value = await fn(attemptContext);
          if (this.#retryOn === undefined && (typeof value !== "object" || value === null)) {
            return this.#succeeded(value, attempt);
          }
          outcome = { type: "result", value };
        } catch (error) {
          outcome = { type: "error", error };
        }
      }
      const now = this.#clock.now();
      const verdict =
        outcome.type === "result"
          ? classifyResult(outcome.value, now)
          : classifyError(outcome.error, now);
      const retryable =
        this.#retryOn === undefined ? verdict.retryable : this.#retryOn(outcome, verdict);
      if (outcome.type === "result" && !retryable) return this.#succeeded(outcome.value, attempt);
      const decision = decideRetry({
        attempt,
        maxAttempts: this.maxAttempts,
        verdict,
        retryable,
        safeToRepeat: this.#safeToRepeat(parent),
        aborted: parent.aborted,
        backoff: this.backoff,
        backoffState,
        random: this.#random,
        maxDelayMs: this.maxDelayMs,
        deadline: parent.deadline,
      });
      if (decision.type === "retry" && this.#budget !== undefined && !this.#budget.tryAcquire()) {
        this.#gaveUp(attempt, "budget-exhausted", verdict.reason);
        if (outcome.type === "result") return outcome.value;
        throw this.#budget.exhausted(outcome.error);
      }
      if (decision.type === "give-up") {
        this.#gaveUp(attempt, decision.reason, verdict.reason);
        if (outcome.type === "result") return outcome.value;
        if (decision.reason === "deadline") {
          throw parent.deadline!.exceeded(decision.delayMs, outcome.error);
        }
        throw outcome.error;
      }
      if (outcome.type === "result") this.#discardQuietly(outcome.value);
      backoffState = decision.backoffState;
      if (this.#events.has("retry:scheduled")) {
        this.#events.emit("retry:scheduled", {
          attempt,
          reason: verdict.reason,
          delayMs: decision.delayMs,
          source: decision.source,
          requestedDelayMs: decision.requestedDelayMs,
          capped: decision.capped,
        });
      }
      await this.#sleep(decision.delayMs, parent, attempt);
    }
  }

  #succeeded<T>(value: T, attempts: number): T {
    if (this.#events.has("retry:succeeded")) this.#events.emit("retry:succeeded", { attempts });
    return value;
  }

  async #sleep(delayMs: number, parent: Context, attempt: number): Promise<void> {
    try {
      await this.#clock.sleep(delayMs, parent.signal);
    } catch (error) {
      this.#gaveUp(attempt, "aborted", "aborted while waiting");
      throw parent.aborted ? parent.reason : error;
    }
  }

  #safeToRepeat(context: Context): boolean {
    if (context.idempotencyKey !== undefined) return true;
    if (this.#idempotent !== undefined) return this.#idempotent;
    return context.method === undefined || isIdempotentMethod(context.method);
  }

  #gaveUp(attempts: number, reason: GiveUpReason, detail: string): void {
    if (this.#events.has("retry:gave-up")) {
      this.#events.emit("retry:gave-up", { attempts, reason, detail });
    }
  }

  #discardQuietly(value: unknown): void {
    try {
      this.#discard(value);
    } catch {
      // Releasing a discarded result is best effort; the retry goes ahead regardless.
    }
  }
}

/** Cancels the body of a `Response`-like value, so undici can reuse its connection. */
function discardResponse(value: unknown): void {
  if (typeof value !== "object" || value === null) return;
  const body = (value as { body?: { locked?: boolean; cancel?: () => Promise<void> } | null }).body;
  if (body && body.locked !== true && typeof body.cancel === "function") {
    body.cancel().catch(() => {});
  }
}

/**
 * Retries transient failures. Defaults: 3 attempts, exponential backoff from 250 ms with full
 * jitter, waits capped at 30 s (`Retry-After` included), network errors / 408 / 425 / 429 / 5xx
 * retried, non-idempotent requests that may have reached the server retried only with an
 * idempotency key.
 *
 * @example
 * const policy = retry({ maxAttempts: 5, backoff: "exponential", initialDelayMs: 100 });
 * const res = await policy.execute(({ signal }) => fetch(url, { method: "POST", signal, headers: { "idempotency-key": key } }),
 *   { method: "POST", idempotencyKey: key });
 */
export function retry(options: RetryOptions = {}): RetryPolicy {
  return new RetryPolicy(options);
}
