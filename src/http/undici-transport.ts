/**
 * `UndiciTransport`: the production `Transport`. One keep-alive undici `Agent` serves every
 * request; each send is one `dispatch` with an `Exchange` as its handler (no `fetch`, no response
 * stream), which keeps the per-request cost close to a bare undici loop.
 */
import { performance } from "node:perf_hooks";
import { Agent } from "undici";
import type { Clock } from "../core/ports.ts";
import type { TransportErrorCode } from "../core/call.ts";
import { methodProblem } from "../core/http-fields.ts";
import type { OutgoingRequest, SendOptions, SendResult, Transport } from "../core/transport.ts";
import type { DestinationGuard } from "./destination-guard.ts";
import { Exchange } from "./exchange.ts";
import { createGuardedConnector, FreshConnectionSlot } from "./guarded-connector.ts";

/**
 * Upper bound on one TCP and TLS connect, in ms, whatever `connectTimeoutMs` a send asks for.
 * A send's own (shorter) connect timeout is enforced by its exchange timer; this bound stops an
 * abandoned connect attempt from holding a pool slot for the kernel's full SYN retry period.
 */
const CONNECT_ATTEMPT_LIMIT_MS = 60_000;

/** Options of `UndiciTransport`. */
export interface UndiciTransportOptions {
  /** Source of `timings.startedAt` (epoch ms). Durations use `performance.now()`. */
  clock: Clock;
  /** Vets each URL before sending and each resolved address before connecting. */
  guard: DestinationGuard;
  /** Most open connections per origin (scheme, host, port). Default 128. */
  connections?: number;
  /**
   * `User-Agent` sent when the request has none. Default `"steadfast"`; an empty string sends
   * none.
   */
  userAgent?: string;
  /**
   * Where a failure inside our own process (`internal`: a bug, not the request's or the
   * destination's fault) is logged, with its stack. Default: nowhere.
   */
  logger?: { error(obj: object, msg?: string): void };
}

/**
 * Sends HTTP/1.1 requests through undici. `send` never throws: every failure comes back as an
 * error result with a code of ARCHITECTURE.md section 3 and `sent: false` only when the request
 * certainly did not reach the upstream. Redirects are not followed (a 3xx is a response).
 *
 * Timeouts per send: `connectTimeoutMs` until undici hands the request to a connection (a new one
 * or a pooled one; a request still waiting for a free pooled connection when it runs out gets
 * `connect_timeout` too, unsent), `readTimeoutMs` as undici's headers and body timeouts (undici
 * runs those on a coarse clock: they fire up to about one second late), `totalTimeoutMs` for the
 * whole exchange. The first and last share one timer. One TCP and TLS connect attempt is also
 * capped at 60 s, whatever a longer `connectTimeoutMs` asks.
 *
 * @example
 * const transport = new UndiciTransport({ clock: new SystemClock(), guard: createDestinationGuard() });
 * const result = await transport.send(
 *   { url: "https://api.example.com/orders", method: "GET", headers: {} },
 *   { connectTimeoutMs: 10_000, readTimeoutMs: 30_000, totalTimeoutMs: 60_000, maxResponseBytes: 1_048_576 },
 * );
 * if (result.type === "response") console.log(result.status, result.timings.durationMs);
 * await transport.close();
 */
export class UndiciTransport implements Transport {
  #clock: Clock;
  #guard: DestinationGuard;
  #agent: Agent;
  #slot = new FreshConnectionSlot();
  #userAgent: string;
  #onInternalError: ((error: unknown, message: string) => void) | undefined;
  #watched = new WeakMap<AbortSignal, Set<Exchange>>();

  constructor(options: UndiciTransportOptions) {
    this.#clock = options.clock;
    this.#guard = options.guard;
    this.#userAgent = options.userAgent ?? "steadfast";
    const logger = options.logger;
    this.#onInternalError =
      logger === undefined ? undefined : (error, message) => logger.error({ err: error }, message);
    this.#agent = new Agent({
      connections: options.connections ?? 128,
      pipelining: 1,
      connect: createGuardedConnector({
        guard: options.guard,
        slot: this.#slot,
        connectTimeoutMs: CONNECT_ATTEMPT_LIMIT_MS,
      }),
    });
  }

  send(request: OutgoingRequest, options: SendOptions): Promise<SendResult> {
    const startedAt = this.#clock.now();
    const t0 = performance.now();
    const check = this.#guard.checkUrl(request.url);
    if (!check.ok) {
      // An invalid URL is a request our client cannot send: it is never sent, nor retried.
      const code = check.code === "blocked_destination" ? "blocked_destination" : "invalid_request";
      return Promise.resolve(failure(code, check.message, startedAt, t0));
    }
    const url = check.url;
    // undici would send CONNECT as a tunnel request whose answer no exchange reads: refused
    // here too (the door refuses it; a call stored before it did must not reach the upstream).
    const methodRefused = methodProblem(request.method);
    if (methodRefused !== undefined) {
      return Promise.resolve(
        failure(
          "invalid_request",
          `Steadfast's HTTP client refused to send the request to ${url.origin} (method ${JSON.stringify(request.method.slice(0, 20))}: ${methodRefused}); it was not sent`,
          startedAt,
          t0,
        ),
      );
    }
    const signal = options.signal;
    if (signal?.aborted === true) {
      return Promise.resolve(
        failure(
          "aborted",
          `the request to ${url.origin} was aborted before it started`,
          startedAt,
          t0,
        ),
      );
    }
    const exchange = new Exchange({
      ...options,
      origin: url.origin,
      slot: this.#slot,
      startedAt,
      t0,
      ...(this.#onInternalError === undefined ? {} : { onInternalError: this.#onInternalError }),
    });
    if (signal !== undefined) exchange.watch(this.#watchersOf(signal));
    this.#agent.dispatch(
      {
        origin: url.origin,
        path: url.pathname + url.search,
        method: request.method,
        headers: this.#withUserAgent(request.headers),
        body: request.body ?? null,
        headersTimeout: options.readTimeoutMs,
        bodyTimeout: options.readTimeoutMs,
      },
      exchange,
    );
    return exchange.promise;
  }

  /** Waits for requests in flight, then closes every pooled connection. */
  async close(): Promise<void> {
    await this.#agent.close();
  }

  #withUserAgent(headers: Record<string, string>): Record<string, string> {
    if (this.#userAgent === "" || headers["user-agent"] !== undefined) return headers;
    return { ...headers, "user-agent": this.#userAgent };
  }

  /** One abort listener per signal, however many sends share it (no listener-leak warnings). */
  #watchersOf(signal: AbortSignal): Set<Exchange> {
    let watchers = this.#watched.get(signal);
    if (watchers === undefined) {
      const created = new Set<Exchange>();
      watchers = created;
      this.#watched.set(signal, created);
      signal.addEventListener(
        "abort",
        () => {
          for (const exchange of [...created]) exchange.abort(signal.reason);
        },
        { once: true },
      );
    }
    return watchers;
  }
}

function failure(
  code: TransportErrorCode,
  message: string,
  startedAt: number,
  t0: number,
): SendResult {
  return {
    type: "error",
    code,
    message,
    sent: false,
    timings: { startedAt, durationMs: Math.round((performance.now() - t0) * 1000) / 1000 },
  };
}
