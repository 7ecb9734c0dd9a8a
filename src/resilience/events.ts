/**
 * A tiny typed listener API shared by the policies. Event names are `noun:verb`
 * (`breaker:opened`, `retry:scheduled`). Policies ask `has(name)` before building an event, so a
 * call that nobody listens to allocates nothing for events.
 */

/** A listener for one event. */
export type Listener<E> = (event: E) => void;

/** Removes the listener it was returned for. Calling it twice is harmless. */
export type Unsubscribe = () => void;

/** The read side of a policy's events: subscribe with `on`. */
export interface EventSource<M> {
  /**
   * Calls `listener` each time `name` is emitted, synchronously, in subscription order. A listener
   * that throws does not break the policy: the error is rethrown on a microtask, as `EventTarget`
   * does, so it reaches `process.on("uncaughtException")` instead of vanishing.
   *
   * @example
   * const unsubscribe = breaker.on("breaker:opened", (e) => log.warn(e, "circuit opened"));
   */
  on<K extends keyof M & string>(name: K, listener: Listener<M[K]>): Unsubscribe;
}

/** Options of `Emitter`. */
export interface EmitterOptions {
  /**
   * Told when a listener throws (the other listeners still run). Default: the error is rethrown
   * on a microtask, as `EventTarget` does, so it reaches `process.on("uncaughtException")`
   * instead of vanishing. The engine passes one that logs it.
   */
  onListenerError?: (error: unknown, event: string) => void;
}

/**
 * The emitting side, owned by a policy (and by the engine: one emitter for the package). A
 * listener that throws never breaks the emitter's owner; its error goes to `onListenerError`.
 */
export class Emitter<M> implements EventSource<M> {
  #listeners: Map<keyof M, Listener<never>[]> | undefined;
  readonly #onListenerError: ((error: unknown, event: string) => void) | undefined;

  constructor(options: EmitterOptions = {}) {
    this.#onListenerError = options.onListenerError;
  }

  on<K extends keyof M & string>(name: K, listener: Listener<M[K]>): Unsubscribe {
    this.#listeners ??= new Map();
    const list = this.#listeners.get(name) ?? [];
    // A fresh array per change: an emit in progress keeps iterating the old one.
    this.#listeners.set(name, [...list, listener]);
    return () => {
      const current = this.#listeners?.get(name);
      if (current === undefined) return;
      const next = current.filter((l) => l !== listener);
      if (next.length === 0) this.#listeners?.delete(name);
      else this.#listeners?.set(name, next);
    };
  }

  /** True when at least one listener waits for `name`. Cheap: check it before building an event. */
  has(name: keyof M): boolean {
    return this.#listeners !== undefined && this.#listeners.has(name);
  }

  /** Calls every listener of `name` with `event`. */
  emit<K extends keyof M>(name: K, event: M[K]): void {
    const list = this.#listeners?.get(name) as Listener<M[K]>[] | undefined;
    if (list === undefined) return;
    for (const listener of list) {
      try {
        listener(event);
      } catch (error) {
        if (this.#onListenerError === undefined) {
          queueMicrotask(() => {
            throw error;
          });
        } else {
          this.#reportListenerError(error, String(name));
        }
      }
    }
  }

  #reportListenerError(error: unknown, event: string): void {
    try {
      this.#onListenerError?.(error, event);
    } catch {
      // The reporter itself failed (a broken logger): nothing is left to tell.
    }
  }
}
