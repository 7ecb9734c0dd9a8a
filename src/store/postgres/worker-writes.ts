// The registry of engine processes (issue 10, item 10): registration, heartbeats, and stopping
// workers, which ends their claims at once. Stopping is one statement, so it is atomic.
import type { WorkerId } from "../../core/ids.ts";
import type { WorkerRecord, WorkerRegistration } from "../../core/store.ts";
import type { PostgresConnection } from "./postgres-connection.ts";
import { workerFromRow } from "./row-mapping.ts";
import type { SchemaNames } from "./schema-names.ts";

const WORKER_COLUMNS = "id, host, pid_scope, pid, started_at, heartbeat_at, stopped_at";

/** Worker registry writes and reads of `PostgresStore`. */
export class WorkerWrites {
  readonly #db: PostgresConnection;
  readonly #heartbeats: PostgresConnection;
  readonly #channel: string;
  readonly #register: string;
  readonly #heartbeat: string;
  readonly #list: string;
  readonly #stop: string;

  /** `heartbeats`: the connection heartbeats and registrations go through, outside the pool. */
  constructor(db: PostgresConnection, heartbeats: PostgresConnection, names: SchemaNames) {
    this.#db = db;
    this.#heartbeats = heartbeats;
    this.#channel = names.channel;
    this.#register =
      `WITH forgotten AS (DELETE FROM ${names.workers} WHERE stopped_at < $7) ` +
      `INSERT INTO ${names.workers} (id, host, pid_scope, pid, started_at, heartbeat_at) ` +
      "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE SET host = $2, " +
      "pid_scope = $3, pid = $4, started_at = $5, heartbeat_at = $6, stopped_at = NULL";
    this.#heartbeat = `UPDATE ${names.workers} SET heartbeat_at = $2 WHERE id = $1 AND stopped_at IS NULL`;
    this.#list = `SELECT ${WORKER_COLUMNS} FROM ${names.workers} WHERE stopped_at IS NULL ORDER BY id`;
    // One statement: mark the workers stopped (only if their heartbeat is still the one their
    // judge saw), end the unexpired claims of those and of a worker naming itself (stopped
    // already or not), drop their concurrency permits, and wake the listeners of other
    // processes. Their runs' claims end too (RunClaim.takenOver). The claims are found through
    // work_due (work_runs_by_due for runs): a running row's due_at is its lease expiry, so the
    // walk covers (now, now + 2 * maxLeaseMs], the work due in that window, not
    // every row due in the future (scheduled retries and delayed calls can be millions).
    this.#stop =
      `WITH v AS (SELECT * FROM unnest($2::text[], $3::bigint[]) AS v(id, heartbeat_at)), ` +
      `stopped AS (UPDATE ${names.workers} w SET stopped_at = $1 FROM v WHERE w.id = v.id ` +
      "AND w.stopped_at IS NULL AND (v.heartbeat_at IS NULL OR w.heartbeat_at = v.heartbeat_at) " +
      "RETURNING w.id), " +
      "owners AS (SELECT id FROM stopped UNION SELECT id FROM v WHERE v.heartbeat_at IS NULL), " +
      `ended_calls AS (UPDATE ${names.work} w SET lease_expires_at = $1 FROM owners ` +
      "WHERE w.due_at > $1 AND w.due_at <= $5 AND w.kind <> 'run' AND w.status = 'running' " +
      "AND w.worker_id = owners.id RETURNING w.id), " +
      // Their runs' claims likewise, through work_runs_by_due (migration 0010).
      `ended_runs AS (UPDATE ${names.work} w SET lease_expires_at = $1 FROM owners ` +
      "WHERE w.due_at > $1 AND w.due_at <= $5 AND w.kind = 'run' AND w.status = 'running' " +
      "AND w.worker_id = owners.id RETURNING w.id), " +
      "ended AS (SELECT id FROM ended_calls UNION ALL SELECT id FROM ended_runs), " +
      `permits AS (UPDATE ${names.destinationPermits} p SET holders = ` +
      "(p.holders::jsonb - ARRAY(SELECT id FROM owners))::text " +
      "WHERE p.holders::jsonb ?| ARRAY(SELECT id FROM owners) RETURNING 1), " +
      "note AS (SELECT pg_notify($4, $1::text) FROM ended HAVING count(*) > 0) " +
      "SELECT ARRAY(SELECT id FROM stopped) AS stopped, " +
      "(SELECT count(*) FROM ended)::integer AS ended, " +
      "(SELECT count(*) FROM permits)::integer AS permits, (SELECT count(*) FROM note) AS noted";
  }

  /** See `Store.registerWorker`. */
  async registerWorker(
    worker: WorkerRegistration,
    now: number,
    forgetStoppedBefore: number,
  ): Promise<void> {
    await this.#heartbeats.query({
      name: "steadfast_register_worker",
      text: this.#register,
      values: [
        worker.id,
        worker.host,
        worker.pidScope ?? null,
        worker.pid,
        worker.startedAt,
        now,
        forgetStoppedBefore,
      ],
    });
  }

  /** See `Store.heartbeatWorker`. */
  async heartbeatWorker(id: WorkerId, now: number): Promise<boolean> {
    const { rowCount } = await this.#heartbeats.query({
      name: "steadfast_heartbeat_worker",
      text: this.#heartbeat,
      values: [id, now],
    });
    return rowCount === 1;
  }

  /** See `Store.listWorkers`. */
  async listWorkers(): Promise<WorkerRecord[]> {
    const { rows } = await this.#db.query({ name: "steadfast_list_workers", text: this.#list });
    return rows.map(workerFromRow);
  }

  /** See `Store.stopWorkers`. */
  async stopWorkers(
    workers: readonly { id: WorkerId; heartbeatAt?: number }[],
    now: number,
    maxLeaseMs: number,
  ): Promise<{ stopped: WorkerId[]; claimsEnded: number }> {
    if (workers.length === 0) return { stopped: [], claimsEnded: 0 };
    const { rows } = await this.#db.query({
      name: "steadfast_stop_workers",
      text: this.#stop,
      values: [
        now,
        workers.map((w) => w.id),
        workers.map((w) => w.heartbeatAt ?? null),
        this.#channel,
        now + 2 * maxLeaseMs,
      ],
    });
    const row = rows[0]!;
    return {
      stopped: [...(row.stopped as WorkerId[])].sort(),
      claimsEnded: row.ended as number,
    };
  }
}
