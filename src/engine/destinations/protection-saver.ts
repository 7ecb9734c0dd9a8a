/**
 * Saving a destination's protection state: every change is applied in memory first (so the next
 * call already sees it), emitted as an event, then saved after the saves before it, with
 * compare-and-set on the stored version. On a conflict (another process saved first), the stored
 * document is read back and the change applied to it again. The election of a half-open probe is
 * the one change that waits for its save: only the winner of the compare-and-set sends the probe.
 */
import { StoreError } from "../../core/errors.ts";
import type { Clock } from "../../core/ports.ts";
import type {
  DestinationLedger,
  DestinationLimits,
  StoredDestination,
} from "../../core/destination-ledger.ts";
import type { WorkQueue } from "../../core/work-queue.ts";
import type { TripReason } from "../../resilience/errors.ts";
import type { DestinationEntry } from "./destination-entry.ts";
import {
  INITIAL_PROTECTION,
  parseProtectionState,
  startProbe,
  type DestinationBreaker,
  type ProtectionState,
} from "./protection-state.ts";

/** Events of the gate, named noun:verb; emitted by the process that made the change. */
export interface DestinationEvents {
  "breaker:opened": {
    destination: string;
    openedAt: number;
    openUntil: number;
    reason: TripReason;
    consecutiveOpens: number;
  };
  "breaker:half-opened": { destination: string; at: number; probeDeadline: number };
  "breaker:closed": { destination: string; at: number };
  /** The whole destination paused (a 503 with `Retry-After`). */
  "destination:paused": { destination: string; until: number; reason: string };
  /** One tenant's calls to the destination paused (a 429, or rate-limit headers). */
  "tenant:paused": { destination: string; tenantId: string; until: number; reason: string };
  "destination:reset": { destination: string; at: number };
}

/** Where the gate emits its events (the engine's `events`). */
export interface DestinationEventSink {
  emit<K extends keyof DestinationEvents>(event: K, payload: DestinationEvents[K]): void;
}

/** Options of `ProtectionSaver`. */
export interface ProtectionSaverOptions {
  store: DestinationLedger & WorkQueue;
  clock: Clock;
  /** This engine's worker id: the owner of the probes it elects. */
  owner: string;
  events?: DestinationEventSink;
  logger?: { warn(obj: object, msg?: string): void };
  /** Called when held calls were made due at `runAt`. */
  onWake?: (runAt: number) => void;
}

/** Applies, announces and saves the changes of destination entries. */
export class ProtectionSaver {
  readonly #store: DestinationLedger & WorkQueue;
  readonly #clock: Clock;
  readonly #owner: string;
  readonly #events: DestinationEventSink | undefined;
  readonly #logger: ProtectionSaverOptions["logger"];
  readonly #onWake: ((runAt: number) => void) | undefined;

  constructor(options: ProtectionSaverOptions) {
    this.#store = options.store;
    this.#clock = options.clock;
    this.#owner = options.owner;
    this.#events = options.events;
    this.#logger = options.logger;
    this.#onWake = options.onWake;
  }

  /** Elects this process's probe with compare-and-set; the elected half-open state, or `undefined`. */
  async elect(
    entry: DestinationEntry,
    now: number,
    probeDeadline: number,
  ): Promise<DestinationBreaker | undefined> {
    entry.electing = true;
    entry.electingUntil = probeDeadline;
    entry.pendingSaves++;
    const run = entry.chain.then(async () => {
      for (let round = 0; round < 5; round++) {
        const next = startProbe(entry.state, now, this.#owner, probeDeadline);
        if (next === undefined) return undefined;
        const document = { state: next, limits: entry.limits };
        if (await this.#store.saveDestination(entry.destination, document, entry.version, now)) {
          entry.version++;
          entry.saved = document;
          entry.state = next;
          this.#events?.emit("breaker:half-opened", {
            destination: entry.destination,
            at: now,
            probeDeadline,
          });
          return next.breaker;
        }
        await this.reload(entry);
      }
      return undefined;
    });
    entry.chain = run.then(
      () => undefined,
      () => undefined,
    );
    try {
      return await run;
    } catch (error) {
      this.#logger?.warn({ err: error, destination: entry.destination }, "probe election failed");
      return undefined;
    } finally {
      entry.electing = false;
      entry.pendingSaves--;
    }
  }

  /**
   * Applies `mutate` to the entry's state now (in memory), emits what changed, and saves it.
   * `wake`: make the calls the destination holds due once saved (its breaker left half-open).
   */
  change(
    entry: DestinationEntry,
    now: number,
    mutate: (state: ProtectionState) => ProtectionState | undefined,
    wake = false,
  ): void {
    const previous = entry.state;
    const next = mutate(previous);
    if (next === undefined || next === previous) return;
    entry.state = next;
    this.#emitChange(entry.destination, previous, next, now);
    const saved = this.persist(entry, now, mutate).then(() =>
      wake ? this.wake(entry) : undefined,
    );
    saved.catch((error: unknown) =>
      this.#logger?.warn(
        { err: error, destination: entry.destination },
        "saving a destination's state failed; it is kept in memory and saved with the next change",
      ),
    );
  }

  /**
   * Saves the entry's state and limits after the saves before it, with compare-and-set. On a
   * conflict, reads the stored document and applies `mutate` (state) and `apply` (limits) to it
   * again. Rejects when the store fails.
   */
  persist(
    entry: DestinationEntry,
    now: number,
    mutate?: (state: ProtectionState) => ProtectionState | undefined,
    apply?: (limits: DestinationLimits) => DestinationLimits,
  ): Promise<void> {
    entry.pendingSaves++;
    const run = entry.chain.then(async () => {
      for (let round = 0; round < 5; round++) {
        const document = { state: entry.state, limits: entry.limits };
        if (document.state === entry.saved.state && document.limits === entry.saved.limits) return;
        if (await this.#store.saveDestination(entry.destination, document, entry.version, now)) {
          entry.version++;
          entry.saved = document;
          return;
        }
        await this.reload(entry);
        const state = mutate?.(entry.state);
        if (state !== undefined) entry.state = state;
        if (apply !== undefined) entry.setLimits(apply(entry.limits));
      }
      throw new StoreError(
        "write_conflict",
        `Could not save destination ${entry.destination}: its stored version kept changing (5 compare-and-set conflicts in a row)`,
      );
    });
    const settled = run.finally(() => {
      entry.pendingSaves--;
    });
    entry.chain = settled.then(
      () => undefined,
      () => undefined,
    );
    return settled;
  }

  /** Reads the entry's saved document and adopts it. */
  async reload(entry: DestinationEntry): Promise<void> {
    const record = await this.#store.getDestination(entry.destination);
    if (record !== undefined) this.adopt(entry, record);
  }

  /** Makes the calls the destination holds due now, and tells the engine. */
  async wake(entry: DestinationEntry): Promise<void> {
    const now = this.#clock.now();
    const woken = await this.#store.wakeDestination(entry.destination, now);
    if (woken > 0) this.#onWake?.(now);
  }

  /** Takes a saved document as the entry's state, limits and version. */
  adopt(entry: DestinationEntry, record: StoredDestination): void {
    let state = parseProtectionState(record.state);
    if (state === undefined) {
      this.#logger?.warn(
        { destination: record.destination, version: record.version },
        "a saved destination state is not one this version reads; starting it closed",
      );
      state = INITIAL_PROTECTION;
    }
    if (state.breaker.state === "closed" && entry.state.breaker.state !== "closed")
      entry.strategy.reset();
    entry.state = state;
    entry.setLimits(record.limits);
    entry.version = record.version;
    entry.saved = { state, limits: entry.limits };
    entry.readAt = this.#clock.now();
  }

  #emitChange(
    destination: string,
    previous: ProtectionState,
    next: ProtectionState,
    now: number,
  ): void {
    const events = this.#events;
    if (events === undefined) return;
    const breaker = next.breaker;
    if (breaker.state === "open" && previous.breaker.state !== "open") {
      events.emit("breaker:opened", {
        destination,
        openedAt: breaker.openedAt,
        openUntil: breaker.openUntil,
        reason: breaker.reason,
        consecutiveOpens: next.consecutiveOpens,
      });
    } else if (breaker.state === "closed" && previous.breaker.state !== "closed") {
      events.emit("breaker:closed", { destination, at: now });
    }
    if (next.pause !== undefined && next.pause !== previous.pause) {
      events.emit("destination:paused", {
        destination,
        until: next.pause.until,
        reason: next.pause.reason,
      });
    }
    if (next.tenantPauses !== previous.tenantPauses) {
      const before = previous.tenantPauses ?? [];
      for (const pause of next.tenantPauses ?? []) {
        if (before.includes(pause)) continue;
        events.emit("tenant:paused", {
          destination,
          tenantId: pause.tenant,
          until: pause.until,
          reason: pause.reason,
        });
      }
    }
  }
}
