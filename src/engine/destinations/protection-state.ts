/**
 * A destination's protection state: its circuit breaker and its `Retry-After` pause, as data,
 * with pure transitions. This is what is saved (`Store.saveDestination`), so that a restart, or
 * another process sharing the database, sees the same breaker.
 *
 * Breaker states and transitions:
 *
 *   closed    -> open        the failure strategy trips (`tripBreaker`)
 *   open      -> half-open   a call arrives at or after `openUntil` and wins the election of the
 *                            probe (`startProbe`, saved with compare-and-set: one probe in all)
 *   half-open -> half-open   the probe's deadline passed without a verdict (its process died):
 *                            the next call takes over as the probe (`startProbe`)
 *   half-open -> closed      the probe succeeded (`closeBreaker`)
 *   half-open -> open        the probe failed (`tripBreaker`, open for longer)
 *   half-open -> open        the probe ended without a verdict (aborted): due again at once
 *                            (`abandonProbe`)
 *   any       -> closed      an operator reset (`resetProtection`), which also ends a pause
 *
 * Each open without a close in between lasts `openDurationFactor` times longer than the one
 * before, up to `maxOpenDurationMs`. The pauses are independent of the breaker and only ever
 * extend: the destination's own (`pauseUntil`: a 503 with `Retry-After`, the server saying it is
 * overloaded), and one per tenant (`pauseTenant`: a 429, or rate-limit headers, which speak of the
 * quota of the credential that tenant sent, not of the server; issue 10). A tenant's pause holds
 * only that tenant's calls; the list is bounded (`MAX_TENANT_PAUSES`) and sheds the pauses that
 * have ended whenever one is added.
 *
 * The breaker of `steadfast/resilience` (circuit-breaker.ts) is one process's; this one adds what
 * sharing needs: a half-open state names its probe's owner and deadline, so a lost probe is
 * replaced, and only the owner's verdict counts.
 */
import type { Random } from "../../core/ports.ts";
import type { TripReason } from "../../resilience/errors.ts";

/** The breaker, one branch per state, each with only its own fields. */
export type DestinationBreaker =
  | { state: "closed" }
  | { state: "open"; openedAt: number; openUntil: number; reason: TripReason }
  | {
      state: "half-open";
      /** When the probe was elected. Identifies this half-open period. */
      since: number;
      /** The worker id of the engine sending the probe. */
      owner: string;
      /** When the probe counts as lost if it has not decided. */
      probeDeadline: number;
      /** Why the breaker was open before. */
      reason: TripReason;
    };

/** A pause of one tenant's calls to a destination. */
export interface TenantPause {
  /** The tenant id. */
  tenant: string;
  /** Epoch ms. */
  until: number;
  /** `status 429 with rate-limit reset 30 s`. */
  reason: string;
}

/**
 * What is saved for a destination (with its limits, beside it). Documents written before tenant
 * pauses existed have no `tenantPauses` and read as none; one written by a later version with
 * fields this one does not know reads without them.
 */
export interface ProtectionState {
  breaker: DestinationBreaker;
  /** Opens since the breaker last closed; drives the growing open duration. */
  consecutiveOpens: number;
  /** A pause of every call to the destination (a 503 with `Retry-After`). */
  pause?: { until: number; reason: string };
  /**
   * Pauses of one tenant's calls each (a 429, or rate-limit headers), at most
   * `MAX_TENANT_PAUSES`, longest-lasting first. Some may have ended: they are shed when a pause is
   * added, and read as none meanwhile (`tenantPauseOf`). Absent when there is none.
   */
  tenantPauses?: readonly TenantPause[];
}

/**
 * The most tenant pauses one destination keeps (its saved document stays a few kilobytes). Past
 * it, the pauses ending soonest are dropped: those tenants' calls go out again, get their 429
 * again, and are paused again.
 */
export const MAX_TENANT_PAUSES = 100;

/** How long a breaker stays open. */
export interface OpenDurations {
  /** The first open, ms. */
  openDurationMs: number;
  /** Growth on each re-open without a close. */
  openDurationFactor: number;
  /** Cap, ms. */
  maxOpenDurationMs: number;
  /** Spread in [0, 1): 0.1 draws the duration in [0.9 d, 1.1 d), so processes do not probe together. */
  openDurationJitter: number;
}

/** A destination nothing has happened to. */
export const INITIAL_PROTECTION: ProtectionState = Object.freeze({
  breaker: Object.freeze({ state: "closed" }),
  consecutiveOpens: 0,
});

/** The breaker opened (or re-opened after a failed probe) at `now` for `reason`. */
export function tripBreaker(
  current: ProtectionState,
  now: number,
  reason: TripReason,
  durations: OpenDurations,
  random: Random,
): ProtectionState {
  const consecutiveOpens = current.consecutiveOpens + 1;
  const grown =
    durations.openDurationMs * Math.pow(durations.openDurationFactor, consecutiveOpens - 1);
  let openMs = Math.min(durations.maxOpenDurationMs, grown);
  if (durations.openDurationJitter > 0) {
    openMs *= 1 - durations.openDurationJitter + 2 * durations.openDurationJitter * random.next();
  }
  return {
    ...current,
    consecutiveOpens,
    breaker: { state: "open", openedAt: now, openUntil: now + Math.round(openMs), reason },
  };
}

/**
 * Elects `owner` as the probe, until `probeDeadline`: from `open` once `openUntil` has passed, or
 * from `half-open` once the previous probe's deadline has passed. `undefined` when no probe may
 * start now (still open, or another probe still deciding, or closed).
 */
export function startProbe(
  current: ProtectionState,
  now: number,
  owner: string,
  probeDeadline: number,
): ProtectionState | undefined {
  const { breaker } = current;
  if (breaker.state === "open" && now >= breaker.openUntil) {
    return {
      ...current,
      breaker: { state: "half-open", since: now, owner, probeDeadline, reason: breaker.reason },
    };
  }
  if (breaker.state === "half-open" && now >= breaker.probeDeadline) {
    return {
      ...current,
      breaker: { state: "half-open", since: now, owner, probeDeadline, reason: breaker.reason },
    };
  }
  return undefined;
}

/** True when `probe` (a half-open breaker as elected) is still the breaker's current probe. */
export function isCurrentProbe(current: ProtectionState, probe: DestinationBreaker): boolean {
  const { breaker } = current;
  return (
    probe.state === "half-open" &&
    breaker.state === "half-open" &&
    breaker.since === probe.since &&
    breaker.owner === probe.owner
  );
}

/** The probe succeeded: closed, and the next open starts from the first duration again. */
export function closeBreaker(current: ProtectionState): ProtectionState {
  return { ...current, breaker: { state: "closed" }, consecutiveOpens: 0 };
}

/** The probe ended without a verdict: open, due at once, so the next call probes. */
export function abandonProbe(current: ProtectionState, now: number): ProtectionState {
  const { breaker } = current;
  if (breaker.state !== "half-open") return current;
  return {
    ...current,
    breaker: { state: "open", openedAt: now, openUntil: now, reason: breaker.reason },
  };
}

/**
 * Paused until `until` for `reason`, unless a pause at least that long is already in force.
 * Returns `current` itself when nothing changes.
 */
export function pauseUntil(
  current: ProtectionState,
  until: number,
  reason: string,
): ProtectionState {
  if (current.pause !== undefined && current.pause.until >= until) return current;
  return { ...current, pause: { until, reason } };
}

/**
 * `tenant`'s calls paused until `until` for `reason`, unless a pause of theirs at least that long
 * is in force; the pauses that ended by `now` are shed, and the list kept to `MAX_TENANT_PAUSES`
 * (the longest-lasting). Returns `current` itself when nothing changes.
 */
export function pauseTenant(
  current: ProtectionState,
  tenant: string,
  until: number,
  reason: string,
  now: number,
): ProtectionState {
  const existing = current.tenantPauses ?? [];
  const mine = existing.find((p) => p.tenant === tenant);
  if (mine !== undefined && mine.until >= until) return current;
  const kept = existing.filter((p) => p.tenant !== tenant && p.until > now);
  kept.push({ tenant, until, reason });
  kept.sort((a, b) => b.until - a.until);
  return { ...current, tenantPauses: kept.slice(0, MAX_TENANT_PAUSES) };
}

/** `tenant`'s pause in force at `now`, if any. */
export function tenantPauseOf(
  state: ProtectionState,
  tenant: string,
  now: number,
): TenantPause | undefined {
  const pauses = state.tenantPauses;
  if (pauses === undefined) return undefined;
  for (const pause of pauses) if (pause.tenant === tenant && pause.until > now) return pause;
  return undefined;
}

/** The tenant pauses in force at `now`, longest-lasting first. */
export function activeTenantPauses(state: ProtectionState, now: number): TenantPause[] {
  return (state.tenantPauses ?? []).filter((p) => p.until > now);
}

/** Closed, not paused (nor any tenant), as an operator's reset leaves it. */
export function resetProtection(current: ProtectionState): ProtectionState {
  if (
    current.breaker.state === "closed" &&
    current.pause === undefined &&
    current.tenantPauses === undefined
  ) {
    return current.consecutiveOpens === 0 ? current : { ...current, consecutiveOpens: 0 };
  }
  return { breaker: { state: "closed" }, consecutiveOpens: 0 };
}

/**
 * Reads a saved state back. Anything that is not a state this version wrote (a newer or corrupt
 * document) reads as `undefined`; the caller starts from `INITIAL_PROTECTION` and says so.
 */
export function parseProtectionState(value: unknown): ProtectionState | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const doc = value as Record<string, unknown>;
  const breaker = doc.breaker as Record<string, unknown> | undefined;
  if (typeof doc.consecutiveOpens !== "number" || typeof breaker !== "object" || breaker === null)
    return undefined;
  const isNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
  const reason = (breaker.reason ?? { strategy: "restored" }) as TripReason;
  let parsed: DestinationBreaker;
  if (breaker.state === "closed") parsed = { state: "closed" };
  else if (breaker.state === "open" && isNumber(breaker.openedAt) && isNumber(breaker.openUntil))
    parsed = { state: "open", openedAt: breaker.openedAt, openUntil: breaker.openUntil, reason };
  else if (
    breaker.state === "half-open" &&
    isNumber(breaker.since) &&
    typeof breaker.owner === "string" &&
    isNumber(breaker.probeDeadline)
  ) {
    parsed = {
      state: "half-open",
      since: breaker.since,
      owner: breaker.owner,
      probeDeadline: breaker.probeDeadline,
      reason,
    };
  } else return undefined;
  const state: ProtectionState = { breaker: parsed, consecutiveOpens: doc.consecutiveOpens };
  const pause = doc.pause as Record<string, unknown> | undefined;
  if (pause !== undefined && isNumber(pause.until) && typeof pause.reason === "string")
    state.pause = { until: pause.until, reason: pause.reason };
  if (Array.isArray(doc.tenantPauses)) {
    // Entries this version cannot read are dropped, not the whole state: the breaker matters more.
    const tenantPauses: TenantPause[] = [];
    for (const item of doc.tenantPauses as unknown[]) {
      if (typeof item !== "object" || item === null) continue;
      const { tenant, until, reason } = item as Record<string, unknown>;
      if (typeof tenant === "string" && isNumber(until) && typeof reason === "string")
        tenantPauses.push({ tenant, until, reason });
    }
    if (tenantPauses.length > 0) state.tenantPauses = tenantPauses.slice(0, MAX_TENANT_PAUSES);
  }
  return state;
}
