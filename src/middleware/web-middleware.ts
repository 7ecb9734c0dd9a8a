/**
 * The shape every framework adapter of `steadfast/middleware` takes (issue 13): a web-standard
 * middleware, `handle(request, next)`, as `createIdempotency` and `createRateLimit` make. And
 * `aroundRoute`, which lets an adapter whose framework runs the route after the middleware has
 * returned (Express, Fastify, node:http) drive it in two halves: up to the call of `next`, then,
 * once the route has answered, the rest.
 */

/** What a middleware calls to have the request answered by what comes after it (the route). */
export type WebNext = (request: Request) => Promise<Response>;

/**
 * A web-standard middleware: answers `request` itself, or calls `next` (at most once) and
 * answers with what it returns, changed or not.
 */
export interface WebMiddleware {
  handle(request: Request, next: WebNext): Promise<Response>;
}

/** How the first half of a middleware's `handle` ended: with its own answer, or at `next`. */
export type FirstHalf =
  | { readonly kind: "answered"; readonly response: Response }
  | { readonly kind: "next"; readonly request: Request };

/** A middleware's `handle` run in two halves around a route the framework runs. */
export interface AroundRoute {
  /**
   * Resolves when the middleware answers without the route (a replay, a `409`, a `429`), or calls
   * `next` (the route is to run: its answer goes to `routeAnswered`). Rejects when `handle`
   * throws before either.
   */
  readonly firstHalf: Promise<FirstHalf>;
  /**
   * Hands the route's answer (or its failure, as a rejection) to the middleware, whose `next`
   * returns it; resolves with the middleware's final answer.
   */
  routeAnswered(response: Promise<Response>): Promise<Response>;
}

/**
 * Starts `middleware.handle(request, next)`; see `AroundRoute`. A `handle` that throws after
 * `next` rejects `routeAnswered`; one that never calls `next` settles `firstHalf` with its answer.
 *
 * @example
 * const around = aroundRoute(middleware, request);
 * const first = await around.firstHalf;
 * if (first.kind === "answered") return send(first.response);
 * send(await around.routeAnswered(runTheRoute()));
 */
export function aroundRoute(middleware: WebMiddleware, request: Request): AroundRoute {
  let atNext: (request: Request) => void = () => undefined;
  const calledNext = new Promise<Request>((resolve) => (atNext = resolve));
  let answer: (response: Promise<Response>) => void = () => undefined;
  const routeAnswer = new Promise<Response>((resolve) => (answer = resolve));
  const handled = middleware.handle(request, (passed) => {
    atNext(passed);
    return routeAnswer;
  });
  const firstHalf = Promise.race([
    calledNext.then((passed): FirstHalf => ({ kind: "next", request: passed })),
    handled.then((response): FirstHalf => ({ kind: "answered", response })),
  ]);
  // A rejection after `next` is read by `routeAnswered`; keep it from being reported unhandled
  // when the first half already settled.
  handled.catch(() => undefined);
  return {
    firstHalf,
    routeAnswered(response) {
      answer(response);
      return handled;
    },
  };
}
