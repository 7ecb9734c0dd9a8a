// The registry of engine processes (issue 10, item 10): registration, heartbeats, and stopping
// workers, which ends their claims at once. Each write is synchronous and runs inside the
// group-commit transaction (group-commit.ts), so its statements are atomic together.
import type { WorkerId } from "../../core/ids.ts";
import { parsePermitHolders } from "../../core/permits.ts";
import type { WorkerRegistration } from "../../core/store.ts";
import type { Prepare } from "./statement-cache.ts";

const REGISTER =
  "INSERT INTO workers (id, host, pid_scope, pid, started_at, heartbeat_at) " +
  "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (id) DO UPDATE SET host = ?2, pid_scope = ?3, " +
  "pid = ?4, started_at = ?5, heartbeat_at = ?6, stopped_at = NULL";
const FORGET = "DELETE FROM workers WHERE stopped_at < ?";

/** Registers a worker (live, heartbeat now). See `Store.registerWorker`. */
export function registerWorker(
  sql: Prepare,
  worker: WorkerRegistration,
  now: number,
  forgetStoppedBefore: number,
): void {
  sql(FORGET).run(forgetStoppedBefore);
  sql(REGISTER).run(
    worker.id,
    worker.host,
    worker.pidScope ?? null,
    worker.pid,
    worker.startedAt,
    now,
  );
}

const HEARTBEAT = "UPDATE workers SET heartbeat_at = ? WHERE id = ? AND stopped_at IS NULL";

/** See `Store.heartbeatWorker`. */
export function heartbeatWorker(sql: Prepare, id: WorkerId, now: number): boolean {
  return Number(sql(HEARTBEAT).run(now, id).changes) === 1;
}

/** The live workers, by id. See `Store.listWorkers`. */
export const LIST_WORKERS = "SELECT * FROM workers WHERE stopped_at IS NULL ORDER BY id";

const STOP =
  "UPDATE workers SET stopped_at = ?1 WHERE id = ?2 AND stopped_at IS NULL " +
  "AND (?3 IS NULL OR heartbeat_at = ?3)";
// Walks the worker's running work (work_owner): its calls' and its runs' claims end (a run claimed
// next is `takenOver`), as on PostgreSQL.
const END_CLAIMS =
  "UPDATE work INDEXED BY work_owner SET lease_expires_at = ?1 " +
  "WHERE worker_id = ?2 AND status = 'running' " +
  "AND lease_expires_at > ?1 AND lease_expires_at <= ?3";
const ALL_PERMIT_HOLDERS = "SELECT destination, holders FROM destination_permits";
const SAVE_PERMIT_HOLDERS = "UPDATE destination_permits SET holders = ? WHERE destination = ?";
const DROP_PERMIT_HOLDERS = "DELETE FROM destination_permits WHERE destination = ?";

/** Stops workers and ends their claims and permits. See `Store.stopWorkers`. */
export function stopWorkers(
  sql: Prepare,
  workers: readonly { id: WorkerId; heartbeatAt?: number }[],
  now: number,
  maxLeaseMs: number,
): { stopped: WorkerId[]; claimsEnded: number } {
  const stopped: WorkerId[] = [];
  const owners: WorkerId[] = [];
  let claimsEnded = 0;
  for (const worker of workers) {
    const { changes } = sql(STOP).run(now, worker.id, worker.heartbeatAt ?? null);
    if (Number(changes) === 1) stopped.push(worker.id);
    // A worker naming itself ends its claims even when it was stopped already.
    else if (worker.heartbeatAt !== undefined) continue;
    owners.push(worker.id);
    claimsEnded += Number(sql(END_CLAIMS).run(now, worker.id, now + 2 * maxLeaseMs).changes);
  }
  if (owners.length > 0) dropPermits(sql, owners);
  return { stopped, claimsEnded };
}

// A stopped worker's concurrency permits are free for the others at once, not when their lease
// ends. There are only as many rows as destinations with a concurrency limit.
function dropPermits(sql: Prepare, holders: readonly WorkerId[]): void {
  for (const row of sql(ALL_PERMIT_HOLDERS).all()) {
    const current = parsePermitHolders(String(row.holders));
    const kept = Object.fromEntries(
      Object.entries(current).filter(([holder]) => !holders.includes(holder as WorkerId)),
    );
    if (Object.keys(kept).length === Object.keys(current).length) continue;
    if (Object.keys(kept).length === 0) sql(DROP_PERMIT_HOLDERS).run(row.destination as string);
    else sql(SAVE_PERMIT_HOLDERS).run(JSON.stringify(kept), row.destination as string);
  }
}
