/**
 * Composition. `pipeline(a, b, c)` runs `c` inside `b` inside `a`: the first policy is the
 * outermost. The usual order, outside in:
 *
 *   fallback -> deadline -> retry -> circuitBreaker -> rateLimiter -> bulkhead -> hedge -> timeout
 *
 * so that each retry is a fresh trip through the breaker (which sees every attempt), the bulkhead
 * counts attempts in flight, and the timeout bounds one attempt. A `fallback` must come first,
 * since it changes the result type.
 */
import type { ExecuteOptions, PolicyContext } from "./context.ts";
import { FallbackPolicy } from "./fallback.ts";
import { executeWith, type Operation, type Policy } from "./policy.ts";
import { InvalidOptionError } from "../core/errors.ts";

/** Policies composed into one. */
export class PipelinePolicy implements Policy {
  /** The policies, outermost first. */
  readonly policies: readonly Policy[];

  constructor(policies: readonly Policy[]) {
    this.policies = policies;
  }

  execute<T>(fn: Operation<T>, options?: ExecuteOptions): Promise<T> {
    return executeWith(this, fn, options);
  }

  run<T>(fn: Operation<T>, context: PolicyContext): Promise<T> {
    return runFrom(this.policies, 0, fn, context);
  }
}

function runFrom<T>(
  policies: readonly Policy[],
  index: number,
  fn: Operation<T>,
  context: PolicyContext,
): Promise<T> {
  const policy = policies[index]!;
  if (index === policies.length - 1) return policy.run(fn, context);
  return policy.run((inner) => runFrom(policies, index + 1, fn, inner), context);
}

/**
 * Composes policies, outermost first. With a `fallback` first, the result is a
 * `FallbackResult`.
 *
 * @example
 * const breaker = circuitBreaker();
 * const policy = pipeline(retry({ maxAttempts: 3 }), breaker, timeout(2_000));
 * const user = await policy.execute(({ signal }) => getUser(id, { signal }));
 */
export function pipeline<F>(first: FallbackPolicy<F>, ...rest: Policy[]): FallbackPolicy<F>;
export function pipeline(...policies: Policy[]): PipelinePolicy;
export function pipeline(
  ...policies: (Policy | FallbackPolicy<unknown>)[]
): PipelinePolicy | FallbackPolicy<unknown> {
  const [first, ...rest] = policies;
  if (first instanceof FallbackPolicy) {
    if (rest.length === 0) return first;
    return first.wrap(new PipelinePolicy(checkPolicies(rest)));
  }
  return new PipelinePolicy(checkPolicies(policies));
}

function checkPolicies(policies: readonly (Policy | FallbackPolicy<unknown>)[]): Policy[] {
  if (policies.length === 0) throw new InvalidOptionError("pipeline: give at least one policy");
  return policies.map((policy, index) => {
    if (policy instanceof FallbackPolicy) {
      throw new InvalidOptionError(
        `pipeline: fallback must be the first policy (found at position ${index + 1})`,
      );
    }
    return policy;
  });
}
