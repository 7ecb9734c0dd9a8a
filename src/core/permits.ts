/**
 * Concurrency permits: a destination's `maxConcurrency` shared by every process on one store.
 * The limit is split into permits, and each process holds some of them for a while (a lease, so
 * that a dead process's permits lapse); a process sends at most as many requests to the
 * destination at once as it holds permits. Both stores keep the holders of a destination as one
 * JSON document and change it with `grantPermits`, inside a transaction that locks it.
 */
import { InvalidOptionError } from "./errors.ts";

/** What a process asks of a destination's permits (`Store.holdPermits`). */
export interface PermitRequest {
  /** The origin, as in `StoredDestination.destination`. */
  destination: string;
  /** Who holds them: the engine's worker id. */
  holder: string;
  /**
   * How many this holder wants to hold from now on, an integer >= 0: more than it holds to take
   * more, fewer to give some back, 0 to give them all back.
   */
  wanted: number;
  /** The destination's fleet-wide `maxConcurrency`, as this holder knows it: an integer >= 1. */
  limit: number;
  /** Epoch ms. Permits whose lease ended before this are nobody's. */
  now: number;
  /** Epoch ms: when the permits granted lapse unless asked for again (renewed). */
  expiresAt: number;
}

/**
 * The holders of one destination's permits: holder -> [permits, lease end (epoch ms), how many
 * it last wanted]. A holder that wanted some and got none is kept for `DEMAND_MS`, so the others
 * see that it is waiting.
 */
export type PermitHolders = Record<
  string,
  readonly [permits: number, expiresAt: number, wanted: number]
>;

/** What a permit request got: `granted` permits, and the fair `share` of the limit now. */
export interface PermitGrant {
  granted: number;
  /**
   * The limit divided among the holders that want permits (rounded up): a holder with more than
   * this gives back what it stops using, so that the others get their share.
   */
  share: number;
}

/** How long a holder that wanted permits and got none counts as waiting for some, ms. */
export const DEMAND_MS = 1_000;

/** Checks a request's numbers; throws an `InvalidOptionError` naming the field. */
export function checkPermitRequest(request: PermitRequest): void {
  const { wanted, limit, now, expiresAt } = request;
  if (!(Number.isSafeInteger(wanted) && wanted >= 0)) {
    throw new InvalidOptionError(`wanted must be an integer >= 0, got ${wanted}`);
  }
  if (!(Number.isSafeInteger(limit) && limit >= 1)) {
    throw new InvalidOptionError(`limit must be an integer >= 1, got ${limit}`);
  }
  if (!(Number.isFinite(now) && Number.isFinite(expiresAt))) {
    throw new InvalidOptionError(`now and expiresAt must be finite, got ${now} and ${expiresAt}`);
  }
}

/**
 * The holders after `request`, the permits it was granted and the fair share: as many as it
 * wants, up to what `limit` leaves after the live permits of the others. That can be fewer than
 * the holder held (the limit was lowered, or its lease lapsed and others took them). The share is
 * the limit divided among the live holders wanting permits, this one included. Lapsed entries,
 * and entries with no permits that want none, are dropped.
 *
 * @example
 * grantPermits({ a: [3, 2_000, 3] }, { destination: "https://api.example.com", holder: "b",
 *   wanted: 4, limit: 5, now: 1_000, expiresAt: 31_000 });
 * // { holders: { a: [3, 2_000, 3], b: [2, 31_000, 4] }, granted: 2, share: 3 }
 */
export function grantPermits(
  holders: PermitHolders,
  request: PermitRequest,
): PermitGrant & { holders: PermitHolders } {
  checkPermitRequest(request);
  const next: Record<string, readonly [number, number, number]> = {};
  let others = 0;
  let wanting = request.wanted > 0 ? 1 : 0;
  for (const [holder, [permits, expiresAt, wanted]] of Object.entries(holders)) {
    if (holder === request.holder || expiresAt <= request.now) continue;
    if (!(permits > 0) && !(wanted > 0)) continue;
    others += Math.max(0, permits);
    if (wanted > 0) wanting++;
    next[holder] = [permits, expiresAt, wanted];
  }
  const { limit, wanted, now } = request;
  const granted = Math.max(0, Math.min(wanted, limit - others));
  if (granted > 0) next[request.holder] = [granted, request.expiresAt, wanted];
  else if (wanted > 0)
    next[request.holder] = [0, Math.min(request.expiresAt, now + DEMAND_MS), wanted];
  return { holders: next, granted, share: wanting === 0 ? limit : Math.ceil(limit / wanting) };
}

/**
 * Reads a stored holders document; entries that are not `[permits, expiresAt, wanted]` numbers
 * are left out (a `[permits, expiresAt]` pair wanted what it holds).
 */
export function parsePermitHolders(text: string | undefined): PermitHolders {
  if (text === undefined) return {};
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return {};
  const holders: Record<string, readonly [number, number, number]> = {};
  for (const [holder, value] of Object.entries(parsed)) {
    if (!Array.isArray(value) || (value.length !== 2 && value.length !== 3)) continue;
    const [permits, expiresAt, wanted = permits] = value as unknown[];
    if (typeof permits === "number" && typeof expiresAt === "number" && typeof wanted === "number")
      holders[holder] = [permits, expiresAt, wanted];
  }
  return holders;
}
