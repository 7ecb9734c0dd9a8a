/**
 * The lease heartbeat of the requests running under the middleware (issue 13): one loop every
 * `leaseRenewIntervalMs` extends the lease of each running request, so that a request costs no
 * timer, abort controller or promise of its own. A lease is extended within one interval of its
 * claim (the first tick after it), as a timer per request would.
 */
import type { Clock } from "../core/ports.ts";
import { startLoop, type BackgroundLoop } from "../resilience/background-loop.ts";
import type { IdempotencyLedger } from "./record-ledger.ts";

/** A running request's lease. */
interface HeldLease {
  readonly scope: string;
  /** Called once when an extension finds the lease taken over. */
  readonly lost: () => void;
}

/** The running requests' leases, extended together. */
export class LeaseHeartbeat {
  readonly #ledger: IdempotencyLedger;
  readonly #clock: Clock;
  readonly #intervalMs: number;
  readonly #onError: (error: unknown) => void;
  readonly #running = new Map<string, HeldLease>();
  #loop: BackgroundLoop | undefined;

  constructor(
    ledger: IdempotencyLedger,
    clock: Clock,
    intervalMs: number,
    onError: (error: unknown) => void,
  ) {
    this.#ledger = ledger;
    this.#clock = clock;
    this.#intervalMs = intervalMs;
    this.#onError = onError;
  }

  /** Keeps `leaseToken`'s lease on `scope` extended until `drop`; the loop starts on first use. */
  hold(scope: string, leaseToken: string, lost: () => void): void {
    this.#running.set(leaseToken, { scope, lost });
    this.#loop ??= startLoop(this.#clock, this.#intervalMs, () => this.#beat(), this.#onError);
  }

  /** Stops extending `leaseToken`'s lease (before its outcome is stored or it is released). */
  drop(leaseToken: string): void {
    this.#running.delete(leaseToken);
  }

  /** Stops the loop; resolves once a tick in progress has ended. */
  async stop(): Promise<void> {
    await this.#loop?.stop();
  }

  async #beat(): Promise<"continue"> {
    await Promise.all(
      [...this.#running].map(async ([leaseToken, lease]) => {
        try {
          const extended = await this.#ledger.extend(lease.scope, leaseToken);
          // A lease dropped meanwhile was completed or released by its holder: not lost.
          if (!extended && this.#running.delete(leaseToken)) lease.lost();
        } catch (error) {
          this.#onError(error);
        }
      }),
    );
    return "continue";
  }
}
