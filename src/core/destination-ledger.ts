/**
 * The destinations role of the `Store` port: what every process on one store shares about a
 * destination (origin): its protection state and limits (compare-and-set documents), its rate
 * schedule and its concurrency permits. A rate or concurrency limit holds for the fleet, not for
 * each process.
 */
import type { PermitGrant, PermitRequest } from "./permits.ts";

/**
 * Optional limits of one destination, set by operators (`PUT /v1/destinations/:destination`).
 * Absent means unlimited.
 */
export interface DestinationLimits {
  /** Requests per second, > 0. */
  rateLimitPerSecond?: number;
  /** Requests in flight at once, an integer >= 1. */
  maxConcurrency?: number;
}

/** What is saved for a destination: its protection state and its limits. */
export interface DestinationDocument {
  /**
   * The protection state (breaker, pause) as the engine writes it: a JSON value the store keeps
   * as is and never interprets.
   */
  state: unknown;
  limits: DestinationLimits;
}

/** A saved destination. */
export interface StoredDestination extends DestinationDocument {
  /** The origin, `scheme://host[:port]` as `URL.origin` writes it (`https://api.example.com`). */
  destination: string;
  /** 1 on the first save, incremented by each save (optimistic concurrency). */
  version: number;
  /** Epoch ms of the last save. */
  updatedAt: number;
}

/** Destinations' documents, rate schedules and concurrency permits, shared by the fleet. */
export interface DestinationLedger {
  /** A saved destination, if any. */
  getDestination(destination: string): Promise<StoredDestination | undefined>;
  /** Every saved destination, ordered by `destination`. */
  listDestinations(): Promise<StoredDestination[]>;
  /**
   * Saves a destination's document if its version is still `expectedVersion` (0: not saved yet),
   * making it `expectedVersion + 1`; a compare-and-set, so processes sharing one database agree
   * on every transition (only one wins the election of a half-open probe). Returns false, writing
   * nothing, when the version differs.
   */
  saveDestination(
    destination: string,
    document: DestinationDocument,
    expectedVersion: number,
    now: number,
  ): Promise<boolean>;
  /**
   * Reserves `spanMs` of `destination`'s rate schedule, which every process on this store shares
   * (a rate limit holds for the fleet, not for each process): returns the schedule's end clamped
   * to `now` (where the reserved span starts) and moves the end to that plus `spanMs`. A schedule
   * never reserved starts at `now`. Need not be durable: a reservation lost in a crash only lets
   * one more burst through.
   */
  reserveRate(destination: string, now: number, spanMs: number): Promise<number>;

  /**
   * Sets how many of `destination`'s concurrency permits (its fleet-wide `maxConcurrency`) the
   * holder holds from now until `expiresAt`, and resolves with that number (`granted`): what it
   * wants, up to what the limit leaves after the unexpired permits of other holders; and with
   * the fair `share` of the limit among the holders wanting permits (`grantPermits`). Atomic per
   * destination, so concurrent holders never hold more than the limit between them. Rejects a
   * request whose numbers are invalid (`InvalidOptionError`). Need not be durable: permits lost in a crash
   * are taken again when asked for.
   */
  holdPermits(request: PermitRequest): Promise<PermitGrant>;
}
