/**
 * Concurrency permits: a destination's `maxConcurrency` shared by every process on one store.
 * The limit is split into permits, and each process holds some of them for a while (a lease, so
 * that a dead process's permits lapse); a process sends at most as many requests to the
 * destination at once as it holds permits. Both stores keep the holders of a destination as one
 * JSON document and change it with `grantPermits`, inside a transaction that locks it.
 */

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

/** The holders of one destination's permits: holder -> [permits, lease end (epoch ms)]. */
export type PermitHolders = Record<string, readonly [permits: number, expiresAt: number]>;

/** Checks a request's numbers; throws a RangeError naming the field. */
export function checkPermitRequest(request: PermitRequest): void {
  const { wanted, limit, now, expiresAt } = request;
  if (!(Number.isSafeInteger(wanted) && wanted >= 0)) {
    throw new RangeError(`wanted must be an integer >= 0, got ${wanted}`);
  }
  if (!(Number.isSafeInteger(limit) && limit >= 1)) {
    throw new RangeError(`limit must be an integer >= 1, got ${limit}`);
  }
  if (!(Number.isFinite(now) && Number.isFinite(expiresAt))) {
    throw new RangeError(`now and expiresAt must be finite, got ${now} and ${expiresAt}`);
  }
}

/**
 * The holders after `request`, and the permits it was granted: as many as it wants, up to what
 * `limit` leaves after the live permits of the others. That can be fewer than the holder held
 * (the limit was lowered, or its lease lapsed and others took them). Lapsed and empty entries
 * are dropped.
 *
 * @example
 * grantPermits({ a: [3, 2_000] }, { destination: "https://api.example.com", holder: "b",
 *   wanted: 4, limit: 5, now: 1_000, expiresAt: 31_000 });
 * // { holders: { a: [3, 2_000], b: [2, 31_000] }, granted: 2 }
 */
export function grantPermits(
  holders: PermitHolders,
  request: PermitRequest,
): { holders: PermitHolders; granted: number } {
  checkPermitRequest(request);
  const next: Record<string, readonly [number, number]> = {};
  let others = 0;
  for (const [holder, [permits, expiresAt]] of Object.entries(holders)) {
    if (holder === request.holder || expiresAt <= request.now || !(permits > 0)) continue;
    others += permits;
    next[holder] = [permits, expiresAt];
  }
  const granted = Math.max(0, Math.min(request.wanted, request.limit - others));
  if (granted > 0) next[request.holder] = [granted, request.expiresAt];
  return { holders: next, granted };
}

/** Reads a stored holders document; anything but an object of `[number, number]` pairs is empty. */
export function parsePermitHolders(text: string | undefined): PermitHolders {
  if (text === undefined) return {};
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return {};
  const holders: Record<string, readonly [number, number]> = {};
  for (const [holder, value] of Object.entries(parsed)) {
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      typeof value[0] === "number" &&
      typeof value[1] === "number"
    )
      holders[holder] = [value[0], value[1]];
  }
  return holders;
}
