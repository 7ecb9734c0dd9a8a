/**
 * Backoff as pure functions: `(attempt, state, random) => { delayMs, state }`. `attempt` is the
 * number of the retry about to happen (1 for the first retry). The same inputs always give the
 * same delay, so a decision can be tested, logged and replayed.
 *
 * Full jitter is the default (ARCHITECTURE.md section 4):
 * `delay = random(0, min(maxDelayMs, initialDelayMs * 2^(attempt - 1)))`. It spreads a crowd of
 * clients best for the least total wait (AWS Architecture Blog, "Exponential Backoff And
 * Jitter", 2015).
 */
import type { Random } from "../core/ports.ts";
import { check } from "./policy.ts";

/** One backoff decision. */
export interface BackoffStep<S> {
  /** Wait before the retry, in ms. */
  delayMs: number;
  /** State to pass to the next decision. */
  state: S;
}

/** A backoff: its starting state and its pure decision function. */
export interface Backoff<S = unknown> {
  /** Name, for events and logs. */
  readonly name: string;
  /** State before the first retry. */
  readonly initialState: S;
  /** The delay before retry number `attempt` (1-based). Pure. */
  next(attempt: number, state: S, random: Random): BackoffStep<S>;
}

/** How jitter spreads a delay: `full` draws in [0, d), `equal` in [d/2, d), `none` keeps d. */
export type Jitter = "full" | "equal" | "none";

/** Options of `exponentialBackoff()`. */
export interface ExponentialBackoffOptions {
  /** Base delay, in ms. Default 250. */
  initialDelayMs?: number;
  /** Cap on any delay, in ms. Default 30,000. */
  maxDelayMs?: number;
  /** Growth per retry. Default 2. */
  factor?: number;
  /** Default `full`. */
  jitter?: Jitter;
}

/** Options of `linearBackoff()`. */
export interface LinearBackoffOptions {
  /** First delay, in ms. Default 250. */
  initialDelayMs?: number;
  /** Added per retry, in ms. Default: `initialDelayMs`. */
  incrementMs?: number;
  /** Cap on any delay, in ms. Default 30,000. */
  maxDelayMs?: number;
  /** Default `full`. */
  jitter?: Jitter;
}

/** Options of `fixedBackoff()`. */
export interface FixedBackoffOptions {
  /** The delay, in ms. Default 250. */
  delayMs?: number;
  /** Default `full`. */
  jitter?: Jitter;
}

/** Options of `decorrelatedBackoff()`. */
export interface DecorrelatedBackoffOptions {
  /** Least delay, in ms. Default 250. */
  initialDelayMs?: number;
  /** Cap on any delay, in ms. Default 30,000. */
  maxDelayMs?: number;
}

/** Default base delay of every backoff, in ms. */
export const DEFAULT_INITIAL_DELAY_MS = 250;
/** Default cap of every backoff, in ms. */
export const DEFAULT_MAX_DELAY_MS = 30_000;

/** Applies `jitter` to `delayMs` with one draw from `random`. */
export function applyJitter(delayMs: number, jitter: Jitter, random: Random): number {
  if (jitter === "none") return delayMs;
  if (jitter === "equal") return delayMs / 2 + random.next() * (delayMs / 2);
  return random.next() * delayMs;
}

/**
 * Exponential backoff, full jitter by default.
 *
 * @example
 * const policy = retry({ backoff: exponentialBackoff({ initialDelayMs: 100, maxDelayMs: 5_000 }) });
 */
export function exponentialBackoff(options: ExponentialBackoffOptions = {}): Backoff<undefined> {
  const initialDelayMs = options.initialDelayMs ?? DEFAULT_INITIAL_DELAY_MS;
  const maxDelayMs = options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
  const factor = options.factor ?? 2;
  const jitter = options.jitter ?? "full";
  checkDelays("exponentialBackoff", initialDelayMs, maxDelayMs);
  check(factor >= 1, "exponentialBackoff", `factor must be >= 1, got ${factor}`);
  return {
    name: "exponential",
    initialState: undefined,
    next: (attempt, state, random) => ({
      delayMs: applyJitter(
        Math.min(maxDelayMs, initialDelayMs * Math.pow(factor, attempt - 1)),
        jitter,
        random,
      ),
      state,
    }),
  };
}

/**
 * Linear backoff: `initialDelayMs + incrementMs * (attempt - 1)`, capped, full jitter by default.
 *
 * @example
 * const policy = retry({ backoff: linearBackoff({ initialDelayMs: 500 }) });
 */
export function linearBackoff(options: LinearBackoffOptions = {}): Backoff<undefined> {
  const initialDelayMs = options.initialDelayMs ?? DEFAULT_INITIAL_DELAY_MS;
  const incrementMs = options.incrementMs ?? initialDelayMs;
  const maxDelayMs = options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
  const jitter = options.jitter ?? "full";
  checkDelays("linearBackoff", initialDelayMs, maxDelayMs);
  check(incrementMs >= 0, "linearBackoff", `incrementMs must be >= 0, got ${incrementMs}`);
  return {
    name: "linear",
    initialState: undefined,
    next: (attempt, state, random) => ({
      delayMs: applyJitter(
        Math.min(maxDelayMs, initialDelayMs + incrementMs * (attempt - 1)),
        jitter,
        random,
      ),
      state,
    }),
  };
}

/**
 * The same delay before every retry, full jitter by default.
 *
 * @example
 * const policy = retry({ backoff: fixedBackoff({ delayMs: 1_000, jitter: "none" }) });
 */
export function fixedBackoff(options: FixedBackoffOptions = {}): Backoff<undefined> {
  const delayMs = options.delayMs ?? DEFAULT_INITIAL_DELAY_MS;
  const jitter = options.jitter ?? "full";
  check(
    delayMs >= 0 && Number.isFinite(delayMs),
    "fixedBackoff",
    `delayMs must be a finite number >= 0, got ${delayMs}`,
  );
  return {
    name: "fixed",
    initialState: undefined,
    next: (_attempt, state, random) => ({ delayMs: applyJitter(delayMs, jitter, random), state }),
  };
}

/**
 * Decorrelated jitter: each delay is drawn in `[initialDelayMs, previous * 3)`, capped. The state
 * is the previous delay, so this is the one backoff whose decisions depend on their history.
 *
 * @example
 * const policy = retry({ backoff: decorrelatedBackoff({ initialDelayMs: 100 }) });
 */
export function decorrelatedBackoff(options: DecorrelatedBackoffOptions = {}): Backoff<number> {
  const initialDelayMs = options.initialDelayMs ?? DEFAULT_INITIAL_DELAY_MS;
  const maxDelayMs = options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
  checkDelays("decorrelatedBackoff", initialDelayMs, maxDelayMs);
  return {
    name: "decorrelated",
    initialState: initialDelayMs,
    next: (_attempt, previous, random) => {
      const upper = Math.max(initialDelayMs, previous * 3);
      const delayMs = Math.min(
        maxDelayMs,
        initialDelayMs + random.next() * (upper - initialDelayMs),
      );
      return { delayMs, state: delayMs };
    },
  };
}

/** The backoff kinds a retry accepts by name. */
export type BackoffKind = "exponential" | "linear" | "fixed" | "decorrelated";

/** A backoff by name, with the given base and cap. */
export function backoffOfKind(
  kind: BackoffKind,
  initialDelayMs: number,
  maxDelayMs: number,
): Backoff {
  switch (kind) {
    case "exponential":
      return exponentialBackoff({ initialDelayMs, maxDelayMs });
    case "linear":
      return linearBackoff({ initialDelayMs, maxDelayMs });
    case "fixed":
      return fixedBackoff({ delayMs: Math.min(initialDelayMs, maxDelayMs) });
    case "decorrelated":
      return decorrelatedBackoff({ initialDelayMs, maxDelayMs });
  }
}

function checkDelays(policy: string, initialDelayMs: number, maxDelayMs: number): void {
  check(
    Number.isFinite(initialDelayMs) && initialDelayMs >= 0,
    policy,
    `initialDelayMs must be a finite number >= 0, got ${initialDelayMs}`,
  );
  check(
    maxDelayMs >= initialDelayMs,
    policy,
    `maxDelayMs (${maxDelayMs}) must be >= initialDelayMs (${initialDelayMs})`,
  );
}
