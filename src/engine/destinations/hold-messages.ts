/**
 * The messages a held call shows in `waitingFor.message` (ARCHITECTURE.md section 4: "waiting:
 * circuit open for api.example.com until 12:04:31"). Times are UTC, to the second.
 */
import { describeTrip, type TripReason } from "../../resilience/errors.ts";
import { hostPort } from "./destination-key.ts";

/** `12:04:31Z`, or with milliseconds when they matter (`12:04:31.250Z`). */
export function clockTime(epochMs: number, withMs = false): string {
  const iso = new Date(epochMs).toISOString();
  return withMs ? iso.slice(11, 23) + "Z" : iso.slice(11, 19) + "Z";
}

/** `circuit open for api.example.com:443 until 12:04:31Z (failure-rate 100% over 20 calls ...)`. */
export function circuitOpenMessage(destination: string, until: number, reason: TripReason): string {
  return `circuit open for ${hostPort(destination)} until ${clockTime(until)} (${describeTrip(reason)})`;
}

/** A half-open breaker: one probe is deciding, the call waits for its verdict. */
export function probeDecidingMessage(destination: string, until: number): string {
  return `circuit half-open for ${hostPort(destination)}: one probe is deciding; waiting for it until ${clockTime(until)} at the latest`;
}

/** `api.example.com:443 paused until 12:04:31Z (status 503 with Retry-After 30 s)`. */
export function pausedMessage(destination: string, until: number, reason: string): string {
  return `${hostPort(destination)} paused until ${clockTime(until)} (${reason})`;
}

/**
 * A pause of the calls of one tenant, shown only on that tenant's calls (it names no tenant):
 * `api.github.com:443 paused for this tenant's calls until 12:04:31Z (status 429 with rate-limit
 * reset 30 s); other tenants' calls go on`.
 */
export function tenantPausedMessage(destination: string, until: number, reason: string): string {
  return `${hostPort(destination)} paused for this tenant's calls until ${clockTime(until)} (${reason}); other tenants' calls go on`;
}

/** `rate limit 2/s for api.example.com:443: next slot at 12:04:31.500Z`. */
export function rateLimitedMessage(destination: string, rate: number, slot: number): string {
  return `rate limit ${rate}/s for ${hostPort(destination)}: next slot at ${clockTime(slot, true)}`;
}

/** `api.example.com:443 has 4 attempts in flight, its limit (maxConcurrency 4)`. */
export function concurrencyLimitedMessage(
  destination: string,
  inFlight: number,
  limit: number,
  explicit: boolean,
): string {
  if (explicit) {
    return `${hostPort(destination)} is at its limit (maxConcurrency ${limit}, shared by every process): ${inFlight} attempts in flight in this one`;
  }
  return `${hostPort(destination)} has ${inFlight} attempts in flight, its share of this engine's slots (${limit})`;
}

/** `retry budget of api.example.com:443 spent: 12 retries for 20 first attempts in 10 s`. */
export function budgetSpentMessage(
  destination: string,
  stats: { retries: number; requests: number; allowed: number; windowMs: number },
): string {
  return `retry budget of ${hostPort(destination)} spent: ${stats.retries} retries for ${stats.requests} first attempts in ${stats.windowMs / 1_000} s (${stats.allowed} allowed); retries wait, first attempts go on`;
}
