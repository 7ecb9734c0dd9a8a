/**
 * A destination's `maxConcurrency` held by the whole fleet (issue 4): this process sends at most
 * as many requests to it at once as it holds permits (`Store.holdPermits`), and every process on
 * the store together holds at most `maxConcurrency` of them.
 *
 * - A call that finds the process's permits all in use asks for more (one request at a time per
 *   destination, for what is in flight and waiting plus a quarter of the limit, up to its fair
 *   share); when the store grants fewer than asked, the process does not ask again for
 *   `PERMIT_RETRY_MS`, and its calls wait for a slot or are held as before.
 * - Fair shares: the store tells each request the limit divided among the processes wanting
 *   permits (one that asked and got none counts for a second). A process holding more than its
 *   share gives back each permit it stops using until it is down to it; a process at its share
 *   checks in every `CHECK_IN_MS` while all its permits are in use, to learn when the share grows.
 * - Permits not in use are given back once they have gone unused for `PERMIT_LINGER_MS`, so a
 *   busy process does not give back and take again on every call, and an idle one frees them
 *   for others within a fraction of a second.
 * - Held permits are leased: the engine renews them with its call leases, and a process that dies
 *   holding some leaves them to the others when the lease ends (`leaseMs`, like its calls).
 *
 * Requests for one destination go one after the other (the `chain` of its entry), each deciding
 * what it wants when it runs.
 */
import type { Clock } from "../../core/ports.ts";
import type { DestinationLedger } from "../../core/destination-ledger.ts";
import type { DestinationEntry } from "./destination-entry.ts";

/** After a grant short of the request, the next request waits this long, ms. */
export const PERMIT_RETRY_MS = 50;
/** Permits unused for this long are given back, ms. */
export const PERMIT_LINGER_MS = 200;
/** A process at its fair share with every permit in use asks the store again this often, ms. */
export const CHECK_IN_MS = 200;

/** Options of `ConcurrencyPermits`. */
export interface ConcurrencyPermitsOptions {
  store: DestinationLedger;
  clock: Clock;
  /** This engine's worker id. */
  holder: string;
  /** How long permits are held unless renewed, ms: the engine's lease. */
  leaseMs: number;
  /** Ends the linger timers (the engine is stopping). */
  signal: AbortSignal;
  /** Called when a grant gave `entry` more permits (calls waiting for a slot may go). */
  onGrant: (entry: DestinationEntry) => void;
  logger?: { warn(obj: object, msg?: string): void } | undefined;
}

/** See the file comment. */
export class ConcurrencyPermits {
  readonly #options: ConcurrencyPermitsOptions;

  constructor(options: ConcurrencyPermitsOptions) {
    this.#options = options;
  }

  /** Whether a call finding every slot of `entry` taken should ask for more permits first. */
  mayAsk(entry: DestinationEntry, now: number): boolean {
    const max = entry.limits.maxConcurrency;
    if (max === undefined || entry.permits >= max) return false;
    if (entry.asking !== undefined) return true;
    if (now - entry.shortAt < PERMIT_RETRY_MS) return false;
    return entry.permits < entry.share || now - entry.checkedAt >= CHECK_IN_MS;
  }

  /** Asks for more permits (or joins the request under way); resolves when it has settled. */
  ask(entry: DestinationEntry): Promise<void> {
    entry.asking ??= this.#request(entry, () => {
      const max = entry.limits.maxConcurrency ?? 0;
      const wanted = entry.inFlight + entry.slotQueue.length + 1 + Math.ceil(max / 4);
      // Beyond the fair share only while nobody else waits (the answer says so).
      return Math.max(entry.permits, Math.min(max, wanted, entry.share));
    }).finally(() => {
      entry.asking = undefined;
    });
    return entry.asking;
  }

  /**
   * An attempt of `entry` ended: beyond the fair share, the permit goes back at once; at the
   * share with calls waiting, the process checks in now and then; permits unused for the linger
   * go back.
   */
  released(entry: DestinationEntry): void {
    if (entry.permits === 0 || this.#options.signal.aborted) return;
    const inUse = entry.inFlight + entry.slotQueue.length;
    if (entry.permits > entry.share && inUse < entry.permits) {
      // Others wait for their share: what this process stops using goes back at once.
      if (entry.shrinking) return;
      entry.shrinking = true;
      void this.#request(entry, () =>
        Math.max(entry.inFlight + entry.slotQueue.length, entry.share),
      ).finally(() => {
        entry.shrinking = false;
      });
      return;
    }
    if (inUse >= entry.permits) {
      // Every permit in use and calls waiting: now and then, ask how the share stands (it may
      // have grown, or others may be waiting for theirs).
      const now = this.#options.clock.now();
      if (
        entry.slotQueue.length > 0 &&
        (this.mayAsk(entry, now) || now - entry.checkedAt >= CHECK_IN_MS)
      )
        void this.ask(entry);
      return;
    }
    if (entry.lingering) return;
    entry.lingering = true;
    entry.permitPeak = entry.inFlight + entry.slotQueue.length;
    this.#options.clock.sleep(PERMIT_LINGER_MS, this.#options.signal).then(
      () => {
        entry.lingering = false;
        const peak = Math.max(entry.permitPeak, entry.inFlight + entry.slotQueue.length);
        if (peak < entry.permits) void this.#request(entry, () => Math.min(entry.permits, peak));
        // Still fewer in use than held: look again after another linger.
        this.released(entry);
      },
      () => {
        entry.lingering = false;
      },
    );
  }

  /** A slot of `entry` was taken: remembered, so the linger keeps what was in use meanwhile. */
  taken(entry: DestinationEntry): void {
    if (entry.permits === 0) return;
    const inUse = entry.inFlight + entry.slotQueue.length;
    if (inUse > entry.permitPeak) entry.permitPeak = inUse;
  }

  /** Renews the permits of every entry holding some (and gives back those of removed limits). */
  renew(entries: Iterable<DestinationEntry>): Promise<void> {
    return this.#requestEach(entries, (entry) =>
      entry.limits.maxConcurrency === undefined ? 0 : entry.permits,
    );
  }

  /** Gives back every permit held (the engine stopped: another process may have them now). */
  returnAll(entries: Iterable<DestinationEntry>): Promise<void> {
    return this.#requestEach(entries, () => 0);
  }

  /** One request per entry holding permits, `wanted` of each; resolves when all have settled. */
  async #requestEach(
    entries: Iterable<DestinationEntry>,
    wanted: (entry: DestinationEntry) => number,
  ): Promise<void> {
    const requests: Promise<void>[] = [];
    for (const entry of entries) {
      if (entry.permits > 0) requests.push(this.#request(entry, () => wanted(entry)));
    }
    await Promise.all(requests);
  }

  /**
   * Queues a request for `entry`: `wanted` is decided when it runs. Giving back takes effect here
   * at once (those permits are no longer used); taking more only once the store has granted them.
   * A failed request leaves the permits as they were (they lapse at the lease's end if the store
   * stays away), is logged, and stops asking for `PERMIT_RETRY_MS`: the promise never rejects.
   */
  #request(entry: DestinationEntry, wanted: () => number): Promise<void> {
    const { store, clock, holder, leaseMs, onGrant, logger } = this.#options;
    const run = async (): Promise<void> => {
      const max = entry.limits.maxConcurrency;
      const want = max === undefined ? 0 : Math.min(wanted(), max);
      if (want < entry.permits) entry.permits = want;
      const now = clock.now();
      entry.checkedAt = now;
      try {
        const { granted, share } = await store.holdPermits({
          destination: entry.destination,
          holder,
          wanted: want,
          limit: max ?? 1,
          now,
          expiresAt: now + leaseMs,
        });
        const before = entry.permits;
        entry.permits = granted;
        entry.share = share;
        if (granted < want) entry.shortAt = clock.now();
        if (granted > before) onGrant(entry);
      } catch (error) {
        entry.shortAt = clock.now();
        logger?.warn(
          { err: error, destination: entry.destination },
          "could not take or renew concurrency permits; trying again later",
        );
      }
    };
    const next = entry.permitChain.then(run);
    entry.permitChain = next;
    return next;
  }
}
