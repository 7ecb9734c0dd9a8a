/**
 * The context a policy hands to the function it runs, and the cancellation scopes behind it.
 *
 * Signals are lazy: a scope creates its `AbortController` only when someone reads `signal`, and
 * links it to the parent's signal with one listener that the scope's owner removes when the
 * attempt ends. A pipeline around a function that never reads the signal creates no controller
 * and adds no listener; a function that does read it leaves no listener behind on the caller's
 * signal, however many attempts run. We never use `AbortSignal.any` or `AbortSignal.timeout`:
 * both have a history of retaining composed signals in Node (nodejs/node#54614, #55328).
 */
import type { Clock } from "../core/ports.ts";
import type { Deadline } from "./deadline.ts";

/** What the caller passes to `execute` besides the function. */
export interface ExecuteOptions {
  /** Cancels the whole execution: retries stop, queued calls leave the queue. */
  signal?: AbortSignal;
  /** An end-to-end deadline, for instance carried in from an incoming request. */
  deadline?: Deadline;
  /**
   * The HTTP method of the request the function sends, if it sends one. With a non-idempotent
   * method (POST, PATCH...) a failure that may have reached the server is retried only when
   * `idempotencyKey` is set. Unset: the caller vouches that the function is safe to repeat.
   */
  method?: string;
  /** The idempotency key that travels with the request on every attempt. */
  idempotencyKey?: string;
}

/** What the function under a policy receives. */
export interface PolicyContext {
  /**
   * Aborts when the caller cancels, or when a policy gives up on this attempt (timeout,
   * deadline, a hedge that lost). The reason is the error that ended the attempt. Created on
   * first read.
   */
  readonly signal: AbortSignal;
  /** True once `signal` has aborted (readable without creating the signal). */
  readonly aborted: boolean;
  /** Attempt number, 1-based (set by `retry` and `hedge`). */
  readonly attempt: number;
  /** The end-to-end deadline, when one applies. */
  readonly deadline: Deadline | undefined;
  /** From `ExecuteOptions.method`. */
  readonly method: string | undefined;
  /** From `ExecuteOptions.idempotencyKey`. */
  readonly idempotencyKey: string | undefined;
  /**
   * Time this attempt has left, in ms: the nearer of its timeout and the deadline. `undefined`
   * when neither applies.
   */
  remainingMs(): number | undefined;
  /**
   * The remaining time as a header for the downstream service, under a name you choose
   * (`{ [name]: "<ms>" }`), or `{}` when no limit applies.
   *
   * @example
   * await fetch(url, { signal: ctx.signal, headers: ctx.deadlineHeader("x-request-timeout-ms") });
   */
  deadlineHeader(name: string): Record<string, string>;
}

const NONE = 0;
const ROOT = 1;
const SCOPE = 2;

/** The concrete context. Policies derive children from it; callers see `PolicyContext`. */
export class Context implements PolicyContext {
  attempt = 1;
  deadline: Deadline | undefined;
  method: string | undefined;
  idempotencyKey: string | undefined;
  /** Nearest limit on this attempt (epoch ms), `Infinity` when none. */
  expiresAt = Infinity;
  /** The clock `expiresAt` was computed with. */
  clock: Clock | undefined;
  /**
   * A reading of `startedAtClock` taken when this attempt's work started, published by an inner
   * timeout so an outer breaker can bucket the outcome without reading the clock again (a clock
   * read costs 40-100 ns on virtual machines). `NaN` when nobody published one.
   */
  startedAt = Number.NaN;
  startedAtClock: Clock | undefined;
  /** The context at the top of this execution. */
  readonly root: Context;
  /** On the root: retry budgets that already counted this execution's request. */
  budgets: object[] | undefined;

  readonly #parent: Context | undefined;
  readonly #kind: number;
  #external: AbortSignal | undefined;
  #controller: AbortController | undefined;
  #aborted = false;
  #reason: unknown;
  #unlink: (() => void) | undefined;
  #disposed = false;

  private constructor(parent: Context | undefined, kind: number) {
    this.#parent = parent;
    this.#kind = kind;
    this.root = parent === undefined ? this : parent.root;
    if (parent !== undefined) {
      this.attempt = parent.attempt;
      this.deadline = parent.deadline;
      this.method = parent.method;
      this.idempotencyKey = parent.idempotencyKey;
      this.expiresAt = parent.expiresAt;
      this.clock = parent.clock;
    }
  }

  /** The context at the top of one `execute`. */
  static root(options?: ExecuteOptions): Context {
    const context = new Context(undefined, ROOT);
    if (options !== undefined) {
      context.#external = options.signal;
      context.deadline = options.deadline;
      context.method = options.method;
      context.idempotencyKey = options.idempotencyKey;
      if (options.deadline !== undefined) {
        context.expiresAt = options.deadline.expiresAt;
        context.clock = options.deadline.clock;
      }
    }
    return context;
  }

  /** A child sharing this context's cancellation, with its own attempt and limit fields. */
  derive(): Context {
    return new Context(this, NONE);
  }

  /**
   * A child with its own cancellation scope: `abort` ends it (and only it). The owner must call
   * `dispose` when the attempt ends, so a signal it materialised stops listening to the parent.
   */
  scope(): Context {
    return new Context(this, SCOPE);
  }

  get signal(): AbortSignal {
    if (this.#kind === NONE) return this.#parent!.signal;
    if (this.#kind === ROOT && this.#external !== undefined) return this.#external;
    if (this.#controller === undefined) this.#controller = this.#materialise();
    return this.#controller.signal;
  }

  get aborted(): boolean {
    if (this.#aborted) return true;
    if (this.#kind === ROOT) return this.#external?.aborted ?? false;
    return this.#parent!.aborted;
  }

  /** The abort reason, once aborted. */
  get reason(): unknown {
    if (this.#aborted) return this.#reason;
    if (this.#kind === ROOT) return this.#external?.reason as unknown;
    return this.#parent!.reason;
  }

  /** False when nothing can ever abort this context (a root without a caller's signal). */
  get canAbort(): boolean {
    if (this.#kind === SCOPE) return true;
    if (this.#kind === ROOT) return this.#external !== undefined;
    return this.#parent!.canAbort;
  }

  /** Throws the abort reason if this context has aborted. */
  throwIfAborted(): void {
    if (this.aborted) throw this.reason;
  }

  /** Ends this scope with `reason` (an error). No-op on other contexts or when already aborted. */
  abort(reason: unknown): void {
    if (this.#kind !== SCOPE || this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }

  /** Stops listening to the parent's signal. Safe to call more than once. */
  dispose(): void {
    this.#disposed = true;
    if (this.#unlink !== undefined) {
      this.#unlink();
      this.#unlink = undefined;
    }
  }

  remainingMs(): number | undefined {
    if (this.expiresAt === Infinity || this.clock === undefined) return undefined;
    return Math.max(0, this.expiresAt - this.clock.now());
  }

  deadlineHeader(name: string): Record<string, string> {
    const remaining = this.remainingMs();
    return remaining === undefined ? {} : { [name]: String(Math.floor(remaining)) };
  }

  #materialise(): AbortController {
    const controller = new AbortController();
    if (this.aborted) {
      controller.abort(this.reason);
      return controller;
    }
    // A disposed scope's attempt is over: linking now would leave a listener nobody removes.
    if (this.#kind === ROOT || this.#disposed || !this.#parent!.canAbort) return controller;
    const parentSignal = this.#parent!.signal;
    const onAbort = (): void => {
      this.#aborted = true;
      this.#reason = parentSignal.reason;
      controller.abort(parentSignal.reason);
    };
    parentSignal.addEventListener("abort", onAbort, { once: true });
    this.#unlink = () => parentSignal.removeEventListener("abort", onAbort);
    return controller;
  }
}
