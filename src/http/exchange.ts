/**
 * One request/response exchange: the undici dispatch handler that `UndiciTransport.send` creates
 * per request. It owns the single timer of the exchange (connect deadline, then total deadline),
 * captures the body up to the cap, measures phase timings, and settles exactly once.
 *
 * Phases: `queued` (dispatched, no connection yet: nothing sent) -> `connected` (undici handed
 * the request to a connection: it may have been sent) -> `responding` (headers received) ->
 * settled. Any phase may settle early on a timer, an abort or an error; callbacks that undici
 * delivers after that are ignored, and a request still queued is aborted before it is written.
 */
import { performance } from "node:perf_hooks";
import type { Dispatcher } from "undici";
import type { IncomingHttpHeaders } from "node:http";
import type { TransportErrorCode } from "../core/call.ts";
import type { SendOptions, SendResult, Timings } from "../core/transport.ts";
import { classifyTransportError } from "./classify-transport-error.ts";
import type { FreshConnectionSlot } from "./guarded-connector.ts";

/**
 * Body bytes read and thrown away past `maxResponseBytes` before the connection is dropped
 * instead. Draining a little keeps the connection reusable; draining a large body wastes time.
 */
const MAX_DISCARDED_BYTES = 256 * 1024;

/** Largest delay `setTimeout` honours (2^31 - 1 ms); longer ones fire at once. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * The reason handed to undici when the exchange stops a request itself. A plain `Error`, not a
 * `SteadfastError`: it never leaves the package. The exchange settles (with its response or its
 * own failure) before it aborts, so when undici hands it back to `onResponseError` it is dropped.
 */
class ExchangeStopped extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = "ExchangeStopped";
  }
}

/** Per-send settings an `Exchange` needs. */
export interface ExchangeOptions extends SendOptions {
  origin: string;
  slot: FreshConnectionSlot;
  /** Epoch ms at the start of the send (from the transport's clock). */
  startedAt: number;
  /** `performance.now()` at the start of the send. */
  t0: number;
  /**
   * Told of a failure classified `internal` (a bug on our side), with the error as thrown: the
   * result carries only its message, the log needs its stack.
   */
  onInternalError?: (error: unknown, message: string) => void;
}

/** The dispatch handler of one send; `promise` settles with its result and never rejects. */
export class Exchange implements Dispatcher.DispatchHandler {
  readonly promise: Promise<SendResult>;
  #resolve!: (result: SendResult) => void;
  #options: ExchangeOptions;
  #timer: NodeJS.Timeout | undefined;
  #controller: Dispatcher.DispatchController | undefined;
  #settled = false;
  #connected = false;
  #openedAt: number | undefined;
  #firstByteAt: number | undefined;
  #status = 0;
  #headers: Record<string, string> | undefined;
  #chunks: Buffer[] = [];
  #keptBytes = 0;
  #receivedBytes = 0;
  #watchers: Set<Exchange> | undefined;

  constructor(options: ExchangeOptions) {
    this.#options = options;
    this.promise = new Promise((resolve) => {
      this.#resolve = resolve;
    });
    const first = Math.min(options.connectTimeoutMs, options.totalTimeoutMs);
    this.#timer = setTimeout(Exchange.#onTimer, clampDelay(first), this);
  }

  /** undici handed the request to a connection; it is written right after this returns. */
  onRequestStart(controller: Dispatcher.DispatchController): void {
    if (this.#settled) {
      // Timed out or aborted while queued: stop it before a byte is written.
      controller.abort(new ExchangeStopped("abandoned before it was sent"));
      return;
    }
    this.#controller = controller;
    this.#connected = true;
    const openedAt = this.#options.slot.openedAt;
    if (openedAt !== undefined) {
      this.#openedAt = openedAt;
      this.#options.slot.openedAt = undefined;
    }
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: IncomingHttpHeaders,
  ): void {
    this.#firstByteAt ??= performance.now();
    if (statusCode < 200) return; // 1xx informational (103 Early Hints): the real one follows
    this.#status = statusCode;
    this.#headers = flattenHeaders(headers);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#settled) return;
    const size = chunk.length;
    this.#receivedBytes += size;
    const room = this.#options.maxResponseBytes - this.#keptBytes;
    if (room > 0) {
      const kept = size <= room ? chunk : chunk.subarray(0, room);
      this.#chunks.push(kept);
      this.#keptBytes += kept.length;
    }
    if (this.#receivedBytes - this.#options.maxResponseBytes > MAX_DISCARDED_BYTES) {
      this.#respond();
      controller.abort(new ExchangeStopped("response body over the capture cap"));
    }
  }

  onResponseEnd(): void {
    if (!this.#settled) this.#respond();
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, error: Error): void {
    if (this.#settled) return;
    const failure = classifyTransportError(error, {
      origin: this.#options.origin,
      connected: this.#connected,
      readTimeoutMs: this.#options.readTimeoutMs,
    });
    if (failure.code === "internal") this.#options.onInternalError?.(error, failure.message);
    this.#fail(failure.code, failure.message, failure.sent);
  }

  /** Joins `watchers`, the exchanges a shared abort listener stops; left again on settling. */
  watch(watchers: Set<Exchange>): void {
    watchers.add(this);
    this.#watchers = watchers;
  }

  /** Stops the exchange because `options.signal` aborted. */
  abort(reason: unknown): void {
    if (this.#settled) return;
    const detail = reason instanceof Error ? `: ${reason.message}` : "";
    this.#fail(
      "aborted",
      `the request to ${this.#options.origin} was aborted${detail}`,
      this.#connected,
    );
    this.#controller?.abort(new ExchangeStopped("aborted by the caller"));
  }

  static #onTimer(this: void, exchange: Exchange): void {
    exchange.#onDeadline();
  }

  #onDeadline(): void {
    this.#timer = undefined;
    if (this.#settled) return;
    const { connectTimeoutMs, totalTimeoutMs, origin } = this.#options;
    if (!this.#connected) {
      const message =
        connectTimeoutMs <= totalTimeoutMs
          ? `no connection to ${origin} within ${connectTimeoutMs} ms (connect timeout): the host may be down, a firewall may drop packets, or every pooled connection is busy`
          : `no connection to ${origin} within the ${totalTimeoutMs} ms total timeout`;
      this.#fail(
        connectTimeoutMs <= totalTimeoutMs ? "connect_timeout" : "total_timeout",
        message,
        false,
      );
      return;
    }
    const remaining = this.#options.t0 + totalTimeoutMs - performance.now();
    if (remaining >= 1) {
      // Connected before the connect deadline: the same timer now waits for the total deadline.
      this.#timer = setTimeout(Exchange.#onTimer, clampDelay(remaining), this);
      return;
    }
    this.#fail(
      "total_timeout",
      `${origin} did not complete the exchange within ${totalTimeoutMs} ms (total timeout); raise timeout.totalMs if the upstream is slow`,
      true,
    );
    this.#controller?.abort(new ExchangeStopped("total timeout"));
  }

  #respond(): void {
    const body =
      this.#chunks.length === 0 ? new Uint8Array(0) : Buffer.concat(this.#chunks, this.#keptBytes);
    this.#chunks = [];
    this.#settle({
      type: "response",
      status: this.#status,
      headers: this.#headers ?? {},
      body,
      bodyTruncated: this.#receivedBytes > this.#options.maxResponseBytes,
      bodyBytes: this.#receivedBytes,
      timings: this.#timings(),
    });
  }

  #fail(code: TransportErrorCode, message: string, sent: boolean): void {
    this.#chunks = [];
    this.#settle({ type: "error", code, message, sent, timings: this.#timings() });
  }

  #settle(result: SendResult): void {
    this.#settled = true;
    this.#watchers?.delete(this);
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.#resolve(result);
  }

  #timings(): Timings {
    const { t0, startedAt } = this.#options;
    const timings: Timings = { startedAt, durationMs: roundMs(performance.now() - t0) };
    if (this.#openedAt !== undefined) timings.connectMs = roundMs(Math.max(0, this.#openedAt - t0));
    if (this.#firstByteAt !== undefined) timings.firstByteMs = roundMs(this.#firstByteAt - t0);
    return timings;
  }
}

/** undici parses repeated headers into arrays; the port wants them joined with ", ". */
function flattenHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  for (const name in headers) {
    const value = headers[name];
    if (typeof value !== "string") headers[name] = value === undefined ? "" : value.join(", ");
  }
  return headers as Record<string, string>;
}

function clampDelay(ms: number): number {
  return Math.min(MAX_TIMER_MS, Math.max(1, ms));
}

/** Milliseconds kept to the microsecond. */
function roundMs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
