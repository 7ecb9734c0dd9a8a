/**
 * The gate every attempt passes before it is sent (ARCHITECTURE.md section 4, issue 3): per
 * destination (origin), it lets the attempt go, or holds the call until a time without an attempt
 * (`Store.deferCall`), because
 *
 *   - the destination is paused (it answered 503 with `Retry-After`), or the call's tenant is
 *     (the destination answered one of its calls 429, or with rate-limit headers),
 *   - its circuit breaker is open, or half-open with a probe deciding (one probe in all: the
 *     process that wins the compare-and-set of `open -> half-open` sends it),
 *   - it has as many attempts in flight as its slots in this process (a share of the engine's by
 *     default; with a `maxConcurrency`, the permits this process holds of that fleet-wide limit,
 *     asked for as needed: concurrency-permits.ts): the call waits in memory for a slot while the
 *     destination is finishing attempts and the wait looks short (`maxQueueWaitMs`), and is held
 *     in the store otherwise,
 *   - the retry budget of the destination is spent (retries only), or
 *   - its rate limit has no slot now: the call gets the next slot of the fleet's schedule
 *     (`RateSchedule`), reserved for it, and waits for it in memory when it is under a second
 *     away, else is held in the store until then, carrying the slot to whichever process claims it.
 *
 * After the send, `observe` feeds the outcome to the breaker's failure strategy and the health
 * figures, and turns a wait asked by the destination into a pause. What counts is decided by one
 * rule, `destinationVerdict` (core/classify-outcome.ts): an outcome that says nothing about the
 * destination (our abort, a blocked destination, a request our client refuses, a 429, a timeout
 * under a second or under the destination's typical answer time) is not recorded, and the retry
 * budget it took at admission is given back, so one tenant's calls cannot open a breaker or spend
 * a budget other tenants share (issue 10). Likewise for pauses: only a 503 with `Retry-After`
 * (the server overloaded) pauses the whole destination; a 429, or a wait read from rate-limit
 * headers (`X-RateLimit-Reset`, `RateLimit`: the quota of the credential the tenant sent),
 * pauses only the calls of the tenant that got it.
 *
 * The hot path is in memory: a Map lookup and a few comparisons before, a few counter increments
 * after. Only transitions are written (an open, a probe's election and verdict, a pause, a reset,
 * new limits), through the entry's save chain, with compare-and-set on the stored version. Error
 * rate, latency and budget are this process's, in memory; the rate schedule is the store's.
 */
import type { CallRecord, WaitCode, WaitingFor } from "../../core/call.ts";
import { destinationVerdict, type AttemptLimits } from "../../core/classify-outcome.ts";
import type { Clock, Random } from "../../core/ports.ts";
import { retryAfterFromHeaders } from "../../core/retry-after.ts";
import type { DestinationLedger, DestinationLimits } from "../../core/destination-ledger.ts";
import type { WorkQueue } from "../../core/work-queue.ts";
import type { SendResult } from "../../core/transport.ts";
import type { TripReason } from "../../resilience/errors.ts";
import type { TenantId } from "../../core/ids.ts";
import { ConcurrencyPermits, PERMIT_RETRY_MS } from "./concurrency-permits.ts";
import { DestinationEntry } from "./destination-entry.ts";
import { destinationOf } from "./destination-key.ts";
import { destinationSettings, type DestinationSettings } from "./destination-settings.ts";
import type { RateSchedule } from "./rate-schedule.ts";
import * as messages from "./hold-messages.ts";
import {
  ProtectionSaver,
  type DestinationEventSink,
  type DestinationEvents,
} from "./protection-saver.ts";
import {
  abandonProbe,
  closeBreaker,
  isCurrentProbe,
  pauseTenant,
  pauseUntil,
  resetProtection,
  tenantPauseOf,
  tripBreaker,
  type DestinationBreaker,
  type ProtectionState,
} from "./protection-state.ts";

export type { DestinationEventSink, DestinationEvents };

/** An attempt let through: hand it back to `observe` and `release`. */
export interface Ticket {
  readonly entry?: DestinationEntry;
  /** The tenant of the call: a 429 it gets pauses that tenant's calls. */
  readonly tenant?: TenantId;
  /** The half-open state this attempt probes, when it is the probe. */
  readonly probe?: DestinationBreaker;
  /** Set once the probe's verdict is recorded. */
  decided: boolean;
  /** Set by `release`: its slot is free (a second release does nothing). */
  released?: boolean;
  /**
   * What this attempt took of the destination's retry budget at admission (a first attempt or a
   * retry, and when), given back on release unless `observe` found it spent.
   */
  budgeted?: { kind: "request" | "retry"; at: number };
  /** Set by `observe` when the attempt spent its budget (see `spendsBudget`). */
  spent?: boolean;
}

/** What the gate decided for a claimed call. */
export type Admission =
  /** `atLimit`: this admission took the destination's last concurrency slot. */
  | { type: "proceed"; ticket: Ticket; atLimit?: boolean }
  | { type: "hold"; until: number; waitingFor: WaitingFor };

/** What `admit` knows of a claimed call beyond its record. */
export interface AdmitOptions {
  /** Aborting it ends a wait in memory (for a concurrency or rate slot) with a hold. */
  signal?: AbortSignal;
  /** Why the call was waiting when it was claimed (`Claim.heldFor`). */
  heldFor?: WaitCode;
  /**
   * The claim took the call over from a dead process (`Claim.takenOver`): its attempt resumes the
   * one cut off, which was counted when sent, so it is no retry for the retry budget (a process
   * that dies with hundreds of calls in flight must not find them held for the budget).
   */
  takenOver?: boolean;
}

/**
 * Whether an attempt spent the retry budget it took: it may have reached the destination (the
 * budget protects the destination from retry storms, so a request its health ignores, such as a
 * timeout shorter than the destination's typical answer, still loads it), unless the destination
 * answered 429: those retries are paced by the tenant's own pause, and one tenant's exhausted
 * quota must not spend the retries every tenant shares.
 */
function spendsBudget(result: SendResult): boolean {
  if (result.type === "response") return result.status !== 429;
  return result.sent;
}

/** Whether `call`'s attempt counts as a retry for its destination's retry budget. */
function isRetry(call: CallRecord, options: AdmitOptions): boolean {
  return call.attempts > call.attemptBase && options.takenOver !== true;
}

/** Options of `DestinationGate`. */
export interface DestinationGateOptions {
  store: DestinationLedger & WorkQueue;
  clock: Clock;
  random: Random;
  /** This engine's worker id: the owner of the probes it sends. */
  owner: string;
  /** The engine's concurrency, of which one destination gets `shareOfConcurrency` by default. */
  engineConcurrency: number;
  /** How long concurrency permits are held unless renewed, ms: the engine's lease. Default 30 s. */
  leaseMs?: number;
  settings?: Partial<DestinationSettings>;
  events?: DestinationEventSink;
  logger?: { warn(obj: object, msg?: string): void };
  /** Called when held calls were made due at `runAt` (the engine claims them). */
  onWake?: (runAt: number) => void;
}

/** What the API shows of one destination. */
export interface DestinationInfo {
  destination: string;
  state: ProtectionState;
  limits: DestinationLimits;
  /** Stored version, 0 when never saved. */
  version: number;
  inFlight: number;
  entry: DestinationEntry;
}

const PASS_THROUGH: Admission = { type: "proceed", ticket: Object.freeze({ decided: true }) };
// A non-closed breaker is re-read from the store at most this often before holding a call, so a
// process sees another's verdict at once rather than at the next refresh.
const FRESHEN_MS = 500;
// The furthest a call is held for a concurrency slot before it is looked at again.
const MAX_QUEUE_MS = 60_000;
// The furthest a rate-limited call waits in memory for its slot; further, it is held in the store.
const RATE_WAIT_MS = 1_000;

/** Per-destination protection in front of every attempt. See the file comment. */
export class DestinationGate {
  readonly settings: DestinationSettings;
  readonly #store: DestinationLedger & WorkQueue;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #saver: ProtectionSaver;
  readonly #share: number;
  readonly #engineConcurrency: number;
  /** Aborted by `shedQueued`: the timers of slot queues end with the engine. */
  readonly #timers = new AbortController();
  readonly #events: DestinationEventSink | undefined;
  readonly #entries = new Map<string, DestinationEntry>();
  readonly #permits: ConcurrencyPermits;
  #loaded: Promise<void> | undefined;

  constructor(options: DestinationGateOptions) {
    this.settings = destinationSettings(options.settings);
    this.#store = options.store;
    this.#clock = options.clock;
    this.#random = options.random;
    this.#share = Math.max(
      1,
      Math.floor(options.engineConcurrency * this.settings.shareOfConcurrency),
    );
    this.#engineConcurrency = options.engineConcurrency;
    this.#events = options.events;
    this.#permits = new ConcurrencyPermits({
      store: options.store,
      clock: options.clock,
      holder: options.owner,
      leaseMs: options.leaseMs ?? 30_000,
      signal: this.#timers.signal,
      onGrant: (entry) => this.#dispatch(entry, this.#clock.now()),
      logger: options.logger,
    });
    this.#saver = new ProtectionSaver({
      store: options.store,
      clock: options.clock,
      owner: options.owner,
      ...(options.events === undefined ? {} : { events: options.events }),
      ...(options.logger === undefined ? {} : { logger: options.logger }),
      ...(options.onWake === undefined ? {} : { onWake: options.onWake }),
    });
  }

  /** Reads every saved destination into memory (once; again after a failure). */
  load(): Promise<void> {
    this.#loaded ??= this.#store.listDestinations().then(
      (records) => {
        const now = this.#clock.now();
        for (const record of records)
          this.#saver.adopt(this.#entry(record.destination, now), record);
      },
      (error: unknown) => {
        this.#loaded = undefined;
        throw error;
      },
    );
    return this.#loaded;
  }

  /**
   * Decides whether `call` may be sent now. Usually synchronous; a probe election, or a wait in
   * memory for a concurrency slot, is not. Aborting `signal` ends such a wait with a hold.
   */
  admit(call: CallRecord, now: number, options: AdmitOptions = {}): Admission | Promise<Admission> {
    // A call past its deadline is failed without a send: nothing to protect.
    if (call.deadlineAt !== undefined && call.deadlineAt <= now) return PASS_THROUGH;
    let destination: string;
    try {
      destination = destinationOf(call.spec.request.url);
    } catch {
      return PASS_THROUGH;
    }
    const entry = this.#entry(destination, now);
    entry.lastUsedAt = now;
    return this.#protecting(entry, now, call.tenantId)
      ? this.#admitHeld(entry, call, now, options)
      : this.#admitClosed(entry, call, now, options);
  }

  /** Whether the breaker, a pause, or a pause of `tenant` holds `tenant`'s calls to `entry` at `now`. */
  #protecting(entry: DestinationEntry, now: number, tenant: TenantId): boolean {
    const { pause, breaker, tenantPauses } = entry.state;
    return (
      breaker.state !== "closed" ||
      (pause !== undefined && pause.until > now) ||
      (tenantPauses !== undefined && tenantPauseOf(entry.state, tenant, now) !== undefined)
    );
  }

  /**
   * Records what the attempt of `ticket` produced, sent with `limits` (not called for attempts
   * never sent). Only outcomes `destinationVerdict` counts reach the breaker and the health figures.
   */
  observe(ticket: Ticket, result: SendResult, now: number, limits: AttemptLimits): void {
    const entry = ticket.entry;
    if (entry === undefined) return;
    const verdict = destinationVerdict(result, limits, entry.health.answerMedianMs(now));
    ticket.spent = spendsBudget(result);
    if (verdict !== "ignore") {
      const answered = result.type === "response";
      entry.health.record(now, result.timings.durationMs, verdict === "failure", answered);
    }
    // Before the breaker's verdict, which may return early: a probe's 429 pauses its tenant too.
    if (result.type === "response" && (result.status === 429 || result.status === 503))
      this.#pauseFor(entry, ticket.tenant, result.status, result.headers, now);
    if (ticket.probe !== undefined) {
      if (verdict === "ignore") return;
      ticket.decided = true;
      const probe = ticket.probe;
      if (!isCurrentProbe(entry.state, probe)) return;
      if (verdict === "success") {
        entry.strategy.reset();
        this.#saver.change(
          entry,
          now,
          (s) => (isCurrentProbe(s, probe) ? closeBreaker(s) : undefined),
          true,
        );
      } else {
        const failed: TripReason = { strategy: "half-open-probe-failed" };
        this.#saver.change(
          entry,
          now,
          (s) =>
            isCurrentProbe(s, probe)
              ? tripBreaker(s, now, failed, this.settings, this.#random)
              : undefined,
          true,
        );
      }
    } else if (verdict !== "ignore" && entry.state.breaker.state === "closed") {
      const trip = entry.strategy.record(verdict === "failure", result.timings.durationMs, now);
      if (trip !== undefined) {
        entry.strategy.reset();
        this.#saver.change(entry, now, (s) =>
          s.breaker.state === "closed"
            ? tripBreaker(s, now, trip, this.settings, this.#random)
            : undefined,
        );
      }
    }
  }

  /**
   * Turns the wait a 429 or 503 asks for (`Retry-After`, or rate-limit headers: core/retry-after.ts)
   * into a pause, at most `maxPauseMs`. Only a 503 with `Retry-After`, the server saying it is
   * overloaded, pauses the whole destination. A 429 says the client sends too much, and rate-limit
   * headers count the quota of the credential it sent (GitHub's is per token): those pause the
   * calls of `tenant` only, so one tenant's spent API key does not hold every tenant's calls
   * (issue 10). Many answers asking for about the same pause make one save, not one each.
   */
  #pauseFor(
    entry: DestinationEntry,
    tenant: TenantId | undefined,
    status: number,
    headers: Record<string, string>,
    now: number,
  ): void {
    const hint = retryAfterFromHeaders(headers, now);
    if (hint === undefined || hint.delayMs <= 0) return;
    const askedMs = hint.delayMs;
    const maxMs = this.settings.maxPauseMs;
    const until = now + Math.min(askedMs, maxMs);
    const from = hint.source === "retry-after" ? "Retry-After" : "rate-limit reset";
    const reason = `status ${status} with ${from} ${Math.round(askedMs / 1_000)} s${askedMs > maxMs ? `, capped at ${maxMs / 1_000} s` : ""}`;
    if (status === 503 && hint.source === "retry-after") {
      const current = entry.state.pause;
      if (current === undefined || current.until <= now || until > current.until + 1_000)
        this.#saver.change(entry, now, (s) => pauseUntil(s, until, reason));
    } else if (tenant !== undefined) {
      const current = tenantPauseOf(entry.state, tenant, now);
      if (current === undefined || until > current.until + 1_000)
        this.#saver.change(entry, now, (s) => pauseTenant(s, tenant, until, reason, now));
    }
  }

  /**
   * Ends the attempt of `ticket` at the destination: frees its slot; a probe without a verdict is
   * abandoned. Called as soon as the exchange ends (the destination is done with it; recording
   * the attempt in the store is ours), and again in a `finally`, which then does nothing.
   */
  release(ticket: Ticket): void {
    const entry = ticket.entry;
    if (entry === undefined || ticket.released === true) return;
    ticket.released = true;
    // Not sent (or never observed), or a 429: it spent none of its budget.
    if (ticket.budgeted !== undefined && ticket.spent !== true)
      entry.budget.giveBack(ticket.budgeted.kind, ticket.budgeted.at);
    entry.inFlight--;
    const now = this.#clock.now();
    entry.progressAt = now;
    this.#permits.released(entry);
    const probe = ticket.probe;
    if (probe !== undefined && !ticket.decided && isCurrentProbe(entry.state, probe)) {
      this.#saver.change(entry, now, (s) =>
        isCurrentProbe(s, probe) ? abandonProbe(s, now) : undefined,
      );
    }
    if (entry.slotQueue.length > 0) this.#dispatch(entry, now);
  }

  /**
   * Ends every wait for a slot with a hold due at once (the engine is stopping: another process,
   * or the next start, runs those calls).
   */
  shedQueued(): void {
    this.#timers.abort();
    const now = this.#clock.now();
    for (const entry of this.#entries.values()) {
      for (const waiter of entry.slotQueue.splice(0))
        waiter.settle(hold(waiter.call, now, now, this.#concurrencyLimited(entry)));
    }
  }

  /** Re-reads saved destinations (changes by other processes) and drops idle ones from memory. */
  async refresh(): Promise<void> {
    const records = await this.#store.listDestinations();
    const now = this.#clock.now();
    for (const record of records) {
      const entry = this.#entry(record.destination, now);
      if (record.version > entry.version && entry.pendingSaves === 0 && !entry.electing)
        this.#saver.adopt(entry, record);
    }
    for (const [destination, entry] of this.#entries) {
      entry.rate?.forgetBefore(now - 60_000);
      if (entry.isDefault(now) && now - entry.lastUsedAt > this.settings.idleEvictMs)
        this.#entries.delete(destination);
    }
  }

  /** Renews the concurrency permits this process holds (with its call leases). */
  renewPermits(): Promise<void> {
    return this.#permits.renew(this.#entries.values());
  }

  /** Gives back every concurrency permit this process holds (its engine has stopped). */
  returnPermits(): Promise<void> {
    return this.#permits.returnAll(this.#entries.values());
  }

  /** Resolves once every save and permit request started so far has settled. */
  async idle(): Promise<void> {
    await Promise.all(
      [...this.#entries.values()].flatMap((entry) => [entry.chain, entry.permitChain]),
    );
  }

  /** The destinations in memory (known from the store or from calls), ordered by destination. */
  list(): DestinationInfo[] {
    return [...this.#entries.values()]
      .sort((a, b) => (a.destination < b.destination ? -1 : a.destination > b.destination ? 1 : 0))
      .map((entry) => this.#info(entry));
  }

  /** One destination, after reading it from the store; `undefined` if neither knows it. */
  async get(destination: string): Promise<DestinationInfo | undefined> {
    await this.load();
    const record = await this.#store.getDestination(destination);
    const known = this.#entries.get(destination);
    if (record === undefined && known === undefined) return undefined;
    const entry = known ?? this.#entry(destination, this.#clock.now());
    if (record !== undefined && record.version > entry.version && entry.pendingSaves === 0)
      this.#saver.adopt(entry, record);
    return this.#info(entry);
  }

  /**
   * Sets limits (`null` removes one, absent keeps it), saved before this resolves; calls held by
   * the destination are woken so they see the new limits.
   */
  async setLimits(
    destination: string,
    patch: { rateLimitPerSecond?: number | null; maxConcurrency?: number | null },
  ): Promise<DestinationInfo> {
    await this.load();
    const now = this.#clock.now();
    const entry = this.#entry(destination, now);
    const apply = (limits: DestinationLimits): DestinationLimits => {
      const next: DestinationLimits = { ...limits };
      for (const key of ["rateLimitPerSecond", "maxConcurrency"] as const) {
        const value = patch[key];
        if (value === null) delete next[key];
        else if (value !== undefined) next[key] = value;
      }
      return next;
    };
    entry.setLimits(apply(entry.limits));
    entry.concurrencyQueueAt = 0;
    this.#dispatch(entry, now);
    await this.#saver.persist(entry, now, undefined, apply);
    await this.#saver.wake(entry);
    return this.#info(entry);
  }

  /** Closes the breaker and ends any pause, saved before this resolves; wakes held calls. */
  async reset(destination: string): Promise<DestinationInfo> {
    await this.load();
    const now = this.#clock.now();
    const entry = this.#entry(destination, now);
    entry.strategy.reset();
    entry.concurrencyQueueAt = 0;
    const previous = entry.state;
    entry.state = resetProtection(previous);
    if (entry.state !== previous) this.#events?.emit("destination:reset", { destination, at: now });
    await this.#saver.persist(entry, now, resetProtection);
    await this.#saver.wake(entry);
    return this.#info(entry);
  }

  /** The destination's concurrency limit: its `maxConcurrency` (the fleet's), else the share. */
  #limitOf(entry: DestinationEntry): number {
    return entry.limits.maxConcurrency ?? this.#share;
  }

  /** The destination's slots in this process: the share, or the permits held of its limit. */
  #slotsOf(entry: DestinationEntry): number {
    const max = entry.limits.maxConcurrency;
    return max === undefined ? this.#share : Math.min(entry.permits, max);
  }

  #admitClosed(
    entry: DestinationEntry,
    call: CallRecord,
    now: number,
    options: AdmitOptions,
    askedForPermits = false,
  ): Admission | Promise<Admission> {
    const destination = entry.destination;
    const limit = this.#slotsOf(entry);
    if (entry.inFlight >= limit) {
      if (!askedForPermits && this.#permits.mayAsk(entry, now)) {
        // Decided again once the store answers: the breaker may have opened meanwhile.
        return this.#permits.ask(entry).then(() => {
          const at = this.#clock.now();
          return this.#protecting(entry, at, call.tenantId)
            ? this.#admitHeld(entry, call, at, options)
            : this.#admitClosed(entry, call, at, options, true);
        });
      }
      if (this.#mayWaitForSlot(entry, limit, now))
        return this.#waitForSlot(entry, call, now, options);
      return this.#holdForSlot(entry, call, now);
    }
    if (isRetry(call, options)) {
      const stats = entry.budget.stats;
      if (stats.retries >= stats.allowed) {
        // The budget's window moves in tenths: a tenth from now, some retries have left it.
        const holdMs = (this.settings.retryBudgetWindowMs / 10) * (0.5 + this.#random.next());
        return hold(call, now, now + Math.ceil(holdMs), {
          reason: "retry_budget_exhausted",
          message: messages.budgetSpentMessage(destination, stats),
          destination,
        });
      }
    }
    if (entry.rate !== undefined) {
      const rate = entry.rate;
      if (options.heldFor === "rate_limited" && now - (call.runAt ?? now) <= RATE_WAIT_MS) {
        // Held until a slot reserved for it (by whichever process): that slot is now.
        rate.forget(call.id);
      } else {
        const slot = rate.take(call.id, now, () => this.#clock.now());
        if (slot instanceof Promise)
          return slot.then((at) => this.#admitAtSlot(entry, call, rate, at, options));
        if (slot > now) return this.#admitAtSlot(entry, call, rate, slot, options);
      }
    }
    return this.#proceed(entry, call, now, limit, isRetry(call, options));
  }

  /**
   * A rate-limited call and its slot: sent now when the slot is due; when it is less than
   * `RATE_WAIT_MS` away, it waits in memory (counted in flight, so concurrency limits hold) and is
   * sent then; else it is held in the store until then.
   */
  async #admitAtSlot(
    entry: DestinationEntry,
    call: CallRecord,
    rate: RateSchedule,
    slot: number,
    options: AdmitOptions,
  ): Promise<Admission> {
    const { signal } = options;
    const now = this.#clock.now();
    const destination = entry.destination;
    const held = (): Admission =>
      hold(call, this.#clock.now(), slot, {
        reason: "rate_limited",
        message: messages.rateLimitedMessage(destination, rate.ratePerSecond, slot),
        destination,
      });
    if (slot - now > RATE_WAIT_MS) return held();
    const limit = this.#slotsOf(entry);
    if (slot <= now) return this.#proceed(entry, call, now, limit, isRetry(call, options));
    // Counted in flight while it waits, so the destination's concurrency limit holds.
    entry.inFlight++;
    try {
      const stop =
        signal === undefined ? this.#timers.signal : AbortSignal.any([signal, this.#timers.signal]);
      await this.#clock.sleep(slot - now, stop);
    } catch {
      // The claim was lost or the engine is stopping: the call keeps its slot, in the store.
      return held();
    } finally {
      entry.inFlight--;
    }
    // Sent on its slot: a later attempt of the same call (a retry) takes a new one.
    rate.forget(call.id);
    return this.#proceed(entry, call, this.#clock.now(), limit, isRetry(call, options));
  }

  #proceed(
    entry: DestinationEntry,
    call: CallRecord,
    now: number,
    limit: number,
    retry: boolean,
  ): Admission {
    const at = this.#clock.now();
    let budgeted: Ticket["budgeted"];
    if (!retry) {
      entry.budget.recordRequest(at);
      budgeted = { kind: "request", at };
    } else if (entry.budget.tryAcquire(at)) {
      budgeted = { kind: "retry", at };
    }
    // A call going ahead took a slot one queued for a slot would have had: the queue is shorter.
    if (entry.concurrencyQueueAt > now) entry.concurrencyQueueAt -= entry.concurrencySpacingMs;
    if (entry.inFlight++ === 0) entry.progressAt = Math.max(entry.progressAt, now);
    this.#permits.taken(entry);
    const ticket: Ticket = {
      entry,
      tenant: call.tenantId,
      decided: false,
      ...(budgeted === undefined ? {} : { budgeted }),
    };
    return { type: "proceed", ticket, atLimit: entry.inFlight >= limit };
  }

  /**
   * Whether a call claimed while `entry` is at its concurrency limit should wait in memory: the
   * destination finished an attempt (or started its first) within `maxQueueWaitMs`, the calls
   * ahead should be through within that time at its median latency, and the waiting calls and
   * the destination's slots together fit in the engine, so a destination that stops answering
   * holds claimed calls of others back for at most that long.
   */
  #mayWaitForSlot(entry: DestinationEntry, limit: number, now: number): boolean {
    const maxWaitMs = this.settings.maxQueueWaitMs;
    if (maxWaitMs <= 0 || now - entry.progressAt > maxWaitMs) return false;
    const ahead = entry.slotQueue.length + 1;
    if (ahead > this.#engineConcurrency - limit) return false;
    return (ahead * (entry.health.medianMs(now) ?? 0)) / limit <= maxWaitMs;
  }

  #waitForSlot(
    entry: DestinationEntry,
    call: CallRecord,
    now: number,
    options: AdmitOptions,
  ): Promise<Admission> {
    const { signal } = options;
    if (signal?.aborted === true) return Promise.resolve(this.#holdForSlot(entry, call, now));
    return new Promise<Admission>((resolve) => {
      const onAbort = (): void => {
        const index = entry.slotQueue.indexOf(waiter);
        if (index >= 0) entry.slotQueue.splice(index, 1);
        resolve(this.#holdForSlot(entry, call, this.#clock.now()));
      };
      const waiter = {
        call,
        options,
        queuedAt: now,
        settle: (admission: Admission | Promise<Admission>): void => {
          signal?.removeEventListener("abort", onAbort);
          resolve(admission);
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      entry.slotQueue.push(waiter);
      this.#armSlotQueueTimer(entry, now);
    });
  }

  /** Admits waiting calls while `entry` has free slots (a slot freed, or the limit rose). */
  #dispatch(entry: DestinationEntry, now: number): void {
    while (entry.slotQueue.length > 0 && entry.inFlight < this.#slotsOf(entry)) {
      const waiter = entry.slotQueue.shift();
      if (waiter === undefined) break;
      // Decided again from scratch: the breaker may have opened or a pause begun meanwhile.
      waiter.settle(this.admit(waiter.call, now, waiter.options));
    }
    // Calls still waiting: more permits of the fleet's limit may be free now.
    if (entry.slotQueue.length > 0 && this.#permits.mayAsk(entry, now))
      void this.#permits.ask(entry);
  }

  /** Holds, in the store, the calls that waited in memory `maxQueueWaitMs` for a slot. */
  #armSlotQueueTimer(entry: DestinationEntry, now: number): void {
    const head = entry.slotQueue[0];
    if (entry.slotQueueTimer || head === undefined || this.#timers.signal.aborted) return;
    entry.slotQueueTimer = true;
    const dueAt = head.queuedAt + this.settings.maxQueueWaitMs;
    this.#clock.sleep(Math.max(0, dueAt - now), this.#timers.signal).then(
      () => {
        entry.slotQueueTimer = false;
        const at = this.#clock.now();
        for (;;) {
          const first = entry.slotQueue[0];
          if (first === undefined || first.queuedAt + this.settings.maxQueueWaitMs > at) break;
          entry.slotQueue.shift();
          first.settle(this.#holdForSlot(entry, first.call, at));
        }
        this.#armSlotQueueTimer(entry, at);
      },
      () => {
        entry.slotQueueTimer = false;
      },
    );
  }

  /**
   * Holds `call` in the store for a concurrency slot. Held calls come back at the pace the
   * destination frees slots (`limit` per typical latency; a second when nothing has finished
   * yet), one after the other instead of all at once, again and again, while a destination hangs.
   * A process holding none of a fleet-wide limit's permits has seen no latency of its own while
   * others send: its calls come back at the pace it may ask for permits again, for whichever
   * process claims them then.
   */
  #holdForSlot(entry: DestinationEntry, call: CallRecord, now: number): Admission {
    const unseen =
      entry.limits.maxConcurrency !== undefined && entry.permits === 0 ? PERMIT_RETRY_MS : 1_000;
    const typicalMs = entry.health.medianMs(now) ?? unseen;
    const spacingMs = Math.max(1, typicalMs / this.#limitOf(entry));
    entry.concurrencySpacingMs = spacingMs;
    const queuedUntil = Math.max(now, entry.concurrencyQueueAt) + spacingMs;
    entry.concurrencyQueueAt = Math.min(queuedUntil, now + MAX_QUEUE_MS);
    return hold(call, now, Math.ceil(entry.concurrencyQueueAt), this.#concurrencyLimited(entry));
  }

  /** Why a call waits for one of `entry`'s concurrency slots. */
  #concurrencyLimited(entry: DestinationEntry): WaitingFor {
    return {
      reason: "concurrency_limited",
      message: messages.concurrencyLimitedMessage(
        entry.destination,
        entry.inFlight,
        this.#limitOf(entry),
        entry.limits.maxConcurrency !== undefined,
      ),
      destination: entry.destination,
    };
  }

  async #admitHeld(
    entry: DestinationEntry,
    call: CallRecord,
    now: number,
    options: AdmitOptions,
  ): Promise<Admission> {
    if (entry.readAt + FRESHEN_MS <= now) {
      entry.readAt = now;
      const record = await this.#store.getDestination(entry.destination);
      if (record !== undefined && record.version > entry.version && entry.pendingSaves === 0)
        this.#saver.adopt(entry, record);
    }
    const destination = entry.destination;
    const { pause, breaker } = entry.state;
    if (pause !== undefined && pause.until > now) {
      return hold(call, now, pause.until, {
        reason: "destination_paused",
        message: messages.pausedMessage(destination, pause.until, pause.reason),
        destination,
      });
    }
    const tenantPause = tenantPauseOf(entry.state, call.tenantId, now);
    if (tenantPause !== undefined) {
      return hold(call, now, tenantPause.until, {
        reason: "destination_paused",
        message: messages.tenantPausedMessage(destination, tenantPause.until, tenantPause.reason),
        destination,
      });
    }
    if (breaker.state === "closed") return this.#admitClosed(entry, call, now, options);
    if (breaker.state === "open" && now < breaker.openUntil) {
      return hold(call, now, breaker.openUntil, {
        reason: "circuit_open",
        message: messages.circuitOpenMessage(destination, breaker.openUntil, breaker.reason),
        destination,
      });
    }
    const probeHoldUntil = (): number =>
      entry.state.breaker.state === "half-open"
        ? entry.state.breaker.probeDeadline
        : entry.electing
          ? entry.electingUntil
          : now + this.settings.maxProbeMs;
    const deciding = (until: number): Admission =>
      hold(call, now, until, {
        reason: "circuit_open",
        message: messages.probeDecidingMessage(destination, until),
        destination,
      });
    if (breaker.state === "half-open" && now < breaker.probeDeadline)
      return deciding(breaker.probeDeadline);
    if (entry.electing) return deciding(probeHoldUntil());
    const probeDeadline =
      now + Math.min(this.settings.maxProbeMs, call.spec.timeout.totalMs + 1_000);
    const probe = await this.#saver.elect(entry, now, probeDeadline);
    if (probe !== undefined) {
      entry.inFlight++;
      return { type: "proceed", ticket: { entry, tenant: call.tenantId, probe, decided: false } };
    }
    // Lost the election, or the state changed meanwhile: decide again from what it is now.
    const current = entry.state.breaker;
    if (current.state === "closed") return this.#admitClosed(entry, call, now, options);
    if (current.state === "open" && now < current.openUntil) {
      return hold(call, now, current.openUntil, {
        reason: "circuit_open",
        message: messages.circuitOpenMessage(destination, current.openUntil, current.reason),
        destination,
      });
    }
    return deciding(probeHoldUntil());
  }

  #entry(destination: string, now: number): DestinationEntry {
    let entry = this.#entries.get(destination);
    if (entry === undefined) {
      entry = new DestinationEntry(destination, this.settings, this.#clock, (now, spanMs) =>
        this.#store.reserveRate(destination, now, spanMs),
      );
      entry.lastUsedAt = now;
      this.#entries.set(destination, entry);
    }
    return entry;
  }

  #info(entry: DestinationEntry): DestinationInfo {
    return {
      destination: entry.destination,
      state: entry.state,
      limits: entry.limits,
      version: entry.version,
      inFlight: entry.inFlight,
      entry,
    };
  }
}

function hold(call: CallRecord, now: number, until: number, waitingFor: WaitingFor): Admission {
  // Held past its deadline, the call would only fail later than it must: due at the deadline.
  const capped = call.deadlineAt === undefined ? until : Math.min(until, call.deadlineAt);
  return { type: "hold", until: Math.max(now + 1, capped), waitingFor };
}
