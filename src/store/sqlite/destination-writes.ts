// Writes of per-destination protection: holding a claimed call without an attempt and waking the
// calls a destination holds (both on the call's `work` row), and saving a destination's document
// with compare-and-set. Each function is synchronous and runs inside the group-commit transaction
// (group-commit.ts).
import type { WaitingFor } from "../../core/call.ts";
import {
  grantPermits,
  parsePermitHolders,
  type PermitGrant,
  type PermitRequest,
} from "../../core/permits.ts";
import type { ClaimRef, DestinationDocument } from "../../core/store.ts";
import type { Prepare } from "./statement-cache.ts";

// Fenced like every write about a claim: status = 'running' AND the claim's lease token.
const DEFER =
  "UPDATE work SET status = 'waiting', run_at = ?, wait_reason = ?, wait_code = ?, " +
  "wait_destination = ?, lease_expires_at = NULL, worker_id = NULL, updated_at = ? " +
  "WHERE id = ? AND status = 'running' AND lease_token = ?";

const RESERVE_RATE =
  "INSERT INTO rate_schedules (destination, tat) VALUES (?1, ?2 + ?3) " +
  "ON CONFLICT (destination) DO UPDATE SET tat = max(tat, ?2) + ?3 RETURNING tat - ?3 AS start";

/** Reserves a span of a destination's rate schedule. See `Store.reserveRate`. */
export function reserveRate(
  sql: Prepare,
  destination: string,
  now: number,
  spanMs: number,
): number {
  return Number(sql(RESERVE_RATE).get(destination, now, spanMs)!.start);
}

const PERMIT_HOLDERS = "SELECT holders FROM destination_permits WHERE destination = ?";
const SAVE_PERMIT_HOLDERS =
  "INSERT INTO destination_permits (destination, holders) VALUES (?1, ?2) " +
  "ON CONFLICT (destination) DO UPDATE SET holders = ?2";
const DROP_PERMIT_HOLDERS = "DELETE FROM destination_permits WHERE destination = ?";

/**
 * Sets a holder's share of a destination's concurrency permits. See `Store.holdPermits`. The
 * read and the write run in one write transaction, which SQLite serialises across processes.
 */
export function holdPermits(sql: Prepare, request: PermitRequest): PermitGrant {
  const row = sql(PERMIT_HOLDERS).get(request.destination);
  const { holders, granted, share } = grantPermits(
    parsePermitHolders(row === undefined ? undefined : String(row.holders)),
    request,
  );
  if (Object.keys(holders).length === 0) sql(DROP_PERMIT_HOLDERS).run(request.destination);
  else sql(SAVE_PERMIT_HOLDERS).run(request.destination, JSON.stringify(holders));
  return { granted, share };
}

/** Holds a claimed call until `runAt` without an attempt. See `Store.deferCall`. */
export function deferCall(
  sql: Prepare,
  ref: ClaimRef,
  runAt: number,
  waitingFor: WaitingFor,
  now: number,
): boolean {
  const { changes } = sql(DEFER).run(
    runAt,
    waitingFor.message,
    waitingFor.reason,
    waitingFor.destination ?? null,
    now,
    ref.callId,
    ref.leaseToken,
  );
  return Number(changes) === 1;
}

// Woken calls lose their wait code: one held for a rate slot must take a new one.
const WAKE =
  "UPDATE work SET run_at = ?, updated_at = ?, wait_code = NULL " +
  "WHERE status = 'waiting' AND wait_destination = ? AND run_at > ?";

/** Makes the calls held for `destination` due at `now`. See `Store.wakeDestination`. */
export function wakeDestination(sql: Prepare, destination: string, now: number): number {
  return Number(sql(WAKE).run(now, now, destination, now).changes);
}

const INSERT_DESTINATION =
  "INSERT INTO destinations (destination, state, limits, version, updated_at) " +
  "VALUES (?, ?, ?, 1, ?) ON CONFLICT (destination) DO NOTHING";

const UPDATE_DESTINATION =
  "UPDATE destinations SET state = ?, limits = ?, version = version + 1, updated_at = ? " +
  "WHERE destination = ? AND version = ?";

/** Saves `document` if the version is still `expectedVersion`. See `Store.saveDestination`. */
export function saveDestination(
  sql: Prepare,
  destination: string,
  document: DestinationDocument,
  expectedVersion: number,
  now: number,
): boolean {
  const state = JSON.stringify(document.state ?? null);
  const limits = JSON.stringify(document.limits);
  const { changes } =
    expectedVersion === 0
      ? sql(INSERT_DESTINATION).run(destination, state, limits, now)
      : sql(UPDATE_DESTINATION).run(state, limits, now, destination, expectedVersion);
  return Number(changes) === 1;
}
