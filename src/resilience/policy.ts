/**
 * The shape every policy shares. `execute` is what callers use; `run` is what `pipeline` uses to
 * nest one policy inside another within the same execution.
 */
import { Context, type ExecuteOptions, type PolicyContext } from "./context.ts";
import { InvalidOptionError } from "../core/errors.ts";

/** The function a policy runs. It may return a value or a promise. */
export type Operation<T> = (context: PolicyContext) => T | PromiseLike<T>;

/** A resilience policy. */
export interface Policy {
  /**
   * Runs `fn` under this policy.
   *
   * @example
   * const user = await policy.execute(({ signal }) => fetchUser(id, { signal }));
   */
  execute<T>(fn: Operation<T>, options?: ExecuteOptions): Promise<T>;
  /**
   * Runs `fn` within an existing execution (`pipeline` calls it with the context of the policy
   * outside this one). Prefer `execute`.
   */
  run<T>(fn: Operation<T>, context: PolicyContext): Promise<T>;
}

/** `execute` in terms of `run`: a root context, and sync throws turned into rejections. */
export function executeWith<T>(
  policy: Policy,
  fn: Operation<T>,
  options: ExecuteOptions | undefined,
): Promise<T> {
  try {
    return policy.run(fn, Context.root(options));
  } catch (error) {
    return rejected(error);
  }
}

/** A promise rejected with `reason` as it is: what user code threw passes through untouched. */
export function rejected(reason: unknown): Promise<never> {
  // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- pass-through of a thrown value
  return Promise.reject(reason);
}

/** The internal context behind a `PolicyContext` handed to `run`. */
export function internal(context: PolicyContext): Context {
  if (context instanceof Context) return context;
  throw new InvalidOptionError(
    "run() needs the context a steadfast policy created; call execute() to start an execution",
  );
}

/** Throws an `InvalidOptionError` naming the option, the value and the rule. */
export function check(condition: boolean, policy: string, message: string): void {
  if (!condition) throw new InvalidOptionError(`${policy}: ${message}`);
}

/**
 * `value` if it is a positive whole number (or 0 with `allowZero`), else an `InvalidOptionError`
 * naming `policy` and the option.
 *
 * @example wholeNumberOption(options.limit, "createRateLimit", "limit") // throws "createRateLimit: limit must be a positive whole number, got 0"
 */
export function wholeNumberOption(
  value: number,
  policy: string,
  name: string,
  allowZero = false,
): number {
  check(
    Number.isSafeInteger(value) && (allowZero ? value >= 0 : value > 0),
    policy,
    `${name} must be ${allowZero ? "a whole number of 0 or more" : "a positive whole number"}, got ${String(value)}`,
  );
  return value;
}
