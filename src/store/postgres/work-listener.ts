// The LISTEN side of cross-process wake-ups. Writes that create due work send
// `NOTIFY <channel>, '<earliest runAt>'` in their own transaction; one dedicated connection per
// store listens and hands the runAt to the subscribers.
//
// States: stopped (no subscriber) -> connecting -> listening; a dropped connection goes back
// to connecting after a backoff delay (100 ms doubling to 5 s), and so does one that fails its
// periodic heartbeat; the last unsubscribe, or close(), stops it.
import pg from "pg";
import { asStoreError } from "../store-errors.ts";
import { StoreError } from "../../core/errors.ts";

/** Options of `WorkListener`. */
export interface WorkListenerOptions {
  /** How to open the dedicated connection. */
  clientConfig: pg.ClientConfig;
  /** The NOTIFY channel. */
  channel: string;
  /** True for a notification sent by the store's own pool: its writer already knows. */
  isOwnBackend: (pid: number) => boolean;
  /**
   * Work committed while not listening (before the first LISTEN, or during an outage) sent
   * notifications nobody heard: once listening, subscribers get this (the next wake-up time).
   */
  catchUp: () => Promise<number | undefined>;
  /** Told about connection errors (they are retried, never thrown). */
  onError?: (error: Error) => void;
  /** First reconnection delay in ms, doubling on each failure. Default 100. */
  minReconnectDelayMs?: number;
  /** Longest reconnection delay in ms. Default 5,000. */
  maxReconnectDelayMs?: number;
  /**
   * How often the idle LISTEN connection is checked with `SELECT 1`, in ms: a connection whose
   * network died silently receives nothing and reports nothing, so without a check it would go
   * deaf until TCP keepalive gives up (minutes). Default 30,000.
   */
  heartbeatMs?: number;
}

/**
 * One LISTEN connection shared by a store's subscribers, opened on the first subscription and
 * closed after the last. Reconnects with backoff when the connection drops; after each
 * (re)connection, subscribers are handed `catchUp()` so that nothing committed while deaf is
 * missed for long.
 */
export class WorkListener {
  readonly #options: WorkListenerOptions;
  readonly #subscribers = new Set<(runAt: number) => void>();
  #client: pg.Client | undefined;
  #reconnect: NodeJS.Timeout | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #delayMs: number;
  #generation = 0;
  #listening = false;

  constructor(options: WorkListenerOptions) {
    this.#options = options;
    this.#delayMs = options.minReconnectDelayMs ?? 100;
  }

  /** True while the LISTEN is active. */
  get listening(): boolean {
    return this.#listening;
  }

  /** Adds a subscriber; the first one opens the connection. Returns its unsubscribe. */
  add(subscriber: (runAt: number) => void): () => void {
    const wrapped = (runAt: number) => subscriber(runAt);
    this.#subscribers.add(wrapped);
    if (this.#subscribers.size === 1) this.#start();
    return () => {
      if (!this.#subscribers.delete(wrapped)) return;
      if (this.#subscribers.size === 0) this.stop();
    };
  }

  /** Closes the connection and forgets every subscriber. */
  stop(): void {
    this.#subscribers.clear();
    this.#generation++;
    this.#listening = false;
    clearTimeout(this.#reconnect);
    this.#reconnect = undefined;
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    const client = this.#client;
    this.#client = undefined;
    client?.end().catch(() => {});
  }

  #start(): void {
    const generation = ++this.#generation;
    const client = new pg.Client(this.#options.clientConfig);
    this.#client = client;
    let failed = false;
    const fail = (error: unknown) => {
      if (failed || generation !== this.#generation) return;
      failed = true;
      this.#listening = false;
      clearInterval(this.#heartbeat);
      this.#heartbeat = undefined;
      this.#client = undefined;
      this.#options.onError?.(asStoreError(error));
      client.end().catch(() => {});
      this.#scheduleReconnect();
    };
    client.on("error", fail);
    client.on("end", () => fail(new StoreError("store_failed", "The LISTEN connection ended.")));
    client.on("notification", (message) => {
      if (message.channel !== this.#options.channel) return;
      if (this.#options.isOwnBackend(message.processId)) return;
      const runAt = Number(message.payload);
      if (Number.isFinite(runAt)) this.#emit(runAt);
    });
    client
      .connect()
      .then(() => client.query(`LISTEN ${pg.escapeIdentifier(this.#options.channel)}`))
      .then(() => {
        if (generation !== this.#generation) return;
        this.#listening = true;
        this.#delayMs = this.#options.minReconnectDelayMs ?? 100;
        const heartbeatMs = this.#options.heartbeatMs ?? 30_000;
        this.#heartbeat = setInterval(() => {
          client.query(heartbeatQuery(heartbeatMs)).catch(fail);
        }, heartbeatMs);
        this.#heartbeat.unref();
        // A failed catch-up (the pool is down) leaves a good LISTEN connection in place.
        this.#options.catchUp().then(
          (at) => {
            if (at !== undefined && generation === this.#generation) this.#emit(at);
          },
          (error: unknown) => this.#options.onError?.(asStoreError(error)),
        );
      })
      .catch(fail);
  }

  #scheduleReconnect(): void {
    if (this.#subscribers.size === 0 || this.#reconnect !== undefined) return;
    const delayMs = this.#delayMs;
    this.#delayMs = Math.min(this.#delayMs * 2, this.#options.maxReconnectDelayMs ?? 5_000);
    this.#reconnect = setTimeout(() => {
      this.#reconnect = undefined;
      if (this.#subscribers.size > 0) this.#start();
    }, delayMs);
    this.#reconnect.unref();
  }

  #emit(runAt: number): void {
    for (const subscriber of [...this.#subscribers]) {
      try {
        subscriber(runAt);
      } catch {
        // A subscriber's bug must not stop the others or the connection.
      }
    }
  }
}

// The check of the LISTEN connection: an answer within the heartbeat period, or a failure.
function heartbeatQuery(timeoutMs: number): pg.QueryConfig {
  return { text: "SELECT 1", query_timeout: timeoutMs } as pg.QueryConfig;
}
