import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync } from "node:sqlite";
import type { AttemptRecord, CallRecord, WaitingFor } from "../../core/call.ts";
import type { ApiKeyRecord, NewApiKey } from "../../core/api-key.ts";
import type { ApiKeyId, CallId, RunUid, TenantId, WorkerId } from "../../core/ids.ts";
import { checkPermitRequest, type PermitGrant, type PermitRequest } from "../../core/permits.ts";
import type {
  AttemptCommit,
  CallbackDelivery,
  Claim,
  ClaimRef,
  ControlResult,
  CreateCallResult,
  CreateRunResult,
  DestinationDocument,
  EndedPurge,
  PurgedCalls,
  InitialClaim,
  ListRunsQuery,
  NewRun,
  RunClaim,
  RunControlResult,
  RunDetail,
  RunEnd,
  RunPark,
  RunRecord,
  RunRef,
  StepBatch,
  ListApiKeysQuery,
  ListEventsQuery,
  RecordEventResult,
  RevokeApiKeyOptions,
  RevokeApiKeyResult,
  ListCallsQuery,
  NewCall,
  Store,
  StoredDestination,
  StoredEvent,
  WorkerRecord,
  WorkerRegistration,
} from "../../core/store.ts";
import * as apiKeys from "./api-key-queries.ts";
import { applyMigrations, SQLITE_MIGRATIONS_DIR } from "./apply-migrations.ts";
import { listCallsStatement } from "./call-listing.ts";
import { selectCall, selectLatestCallback } from "./call-select.ts";
import * as calls from "./call-writes.ts";
import * as claims from "./claim-writes.ts";
import * as control from "./control-writes.ts";
import * as destinations from "./destination-writes.ts";
import * as events from "./event-writes.ts";
import { GroupCommit } from "../../sqlite/group-commit.ts";
import * as runControl from "./run-control-writes.ts";
import * as runReads from "./run-reads.ts";
import * as runWakes from "./run-wakes.ts";
import * as runs from "./run-writes.ts";
import * as retention from "./retention-writes.ts";
import { attemptFromRow, callFromRow, destinationFromRow, workerFromRow } from "./row-mapping.ts";
import { StatementCache, type Prepare } from "./statement-cache.ts";
import { WalCheckpointer } from "./wal-checkpointer.ts";
import { WalSync } from "../../sqlite/wal-sync.ts";
import * as workers from "./worker-writes.ts";
import { InvalidOptionError } from "../../core/errors.ts";
import { asStoreError, storeClosed } from "../store-errors.ts";

/** Options of `SqliteStore.open`. */
export interface SqliteStoreOptions {
  /** Database file (its directory is created if missing), or `:memory:` for a private one. */
  path: string;
  /**
   * `FULL` (default): a write is on disk when its promise resolves, even if the machine loses
   * power. `NORMAL`: in WAL mode a process crash loses nothing, but a power loss or OS crash may
   * lose the last transactions; faster, since commits do not wait for fsync (checkpoints do).
   */
  synchronous?: "FULL" | "NORMAL";
  /** How long a write waits for another process's write lock, in ms. Default 5,000. */
  busyTimeoutMs?: number;
  /** Where the migration files are. Default: the shipped `src/store/migrations/sqlite/`. */
  migrationsDir?: string;
  /**
   * Checkpoint the WAL from a worker thread instead of inside COMMIT on the event loop (see
   * `WalCheckpointer`). Default true; ignored for `:memory:`. When false, SQLite checkpoints
   * inside COMMIT every 1,000 pages, as it does by default.
   */
  backgroundCheckpoint?: boolean;
}

/**
 * The embedded `Store`: one SQLite file through Node's built-in `node:sqlite`, in WAL mode.
 *
 * Writes are group-committed (`GroupCommit`): every write method queues its work, and one flush
 * per event loop turn runs all queued writes in a single `BEGIN IMMEDIATE ... COMMIT`, so a burst
 * of writes costs one fsync. A write that throws is rolled back alone and rejects alone (the batch
 * is replayed with a savepoint per write). A write's promise resolves only after COMMIT returned.
 * Reads run directly and see committed data. WAL checkpoints run in a worker thread
 * (`WalCheckpointer`), so the event loop only appends to the WAL.
 *
 * Work is claimed through the narrow `work` table (one row per live call or callback: status,
 * due time, lease and fencing token, wait state, counters); the wide `calls` row is written when
 * the call is created and when it ends, and reads join the two (migration 0009).
 *
 * @example
 * const store = SqliteStore.open({ path: ".steadfast/steadfast.db" });
 * await store.migrate();
 * const { call } = await store.createCall(newCall);
 * await store.close();
 */
export class SqliteStore implements Store {
  /** Always `sqlite`. */
  readonly dialect = "sqlite";
  #db: DatabaseSync;
  #sql: Prepare;
  #writes: GroupCommit;
  #migrationsDir: string;
  #checkpointer: WalCheckpointer | undefined;
  #walSync: WalSync | undefined;

  /** Opens (creating if needed) the database at `options.path`. Call `migrate()` before use. */
  static open(options: SqliteStoreOptions): SqliteStore {
    return new SqliteStore(options);
  }

  /** Same as `SqliteStore.open`. */
  constructor(options: SqliteStoreOptions) {
    const { path } = options;
    const inMemory = path === ":memory:" || path === "";
    if (!inMemory) mkdirSync(dirname(path), { recursive: true });
    const synchronous = options.synchronous ?? "FULL";
    if (synchronous !== "FULL" && synchronous !== "NORMAL") {
      throw new InvalidOptionError(
        `synchronous must be "FULL" or "NORMAL", got ${String(synchronous)}.`,
      );
    }
    const busyTimeoutMs = options.busyTimeoutMs ?? 5_000;
    this.#db = new DatabaseSync(path, { timeout: busyTimeoutMs });
    // FULL durability without an fsync on the event loop: the connection commits with NORMAL
    // (the WAL is written, not synced) and GroupCommit acknowledges a write only after an
    // asynchronous fsync of the WAL file (libuv's thread pool) that began after its COMMIT.
    // Same guarantee as synchronous=FULL; the fsync overlaps with the next batches.
    const asyncSync = synchronous === "FULL" && !inMemory;
    this.#db.exec(
      "PRAGMA journal_mode = WAL;" +
        `PRAGMA synchronous = ${asyncSync ? "NORMAL" : synchronous};` +
        `PRAGMA busy_timeout = ${Math.floor(busyTimeoutMs)};` +
        "PRAGMA foreign_keys = ON;" +
        // 64 MiB of page cache (default 2 MiB): index inserts at random keys stay in memory.
        "PRAGMA cache_size = -65536;" +
        // Savepoint sub-journals (the replay path of GroupCommit) in memory, not temp files.
        "PRAGMA temp_store = MEMORY;" +
        // Truncate the WAL file back to 64 MiB when it restarts after a burst.
        "PRAGMA journal_size_limit = 67108864;",
    );
    if (options.backgroundCheckpoint !== false && !inMemory) {
      // 40 MiB backstop: the main connection checkpoints itself only if the worker lags.
      this.#db.exec("PRAGMA wal_autocheckpoint = 10000");
      this.#checkpointer = new WalCheckpointer({ path, synchronous, busyTimeoutMs });
    }
    const checkpointer = this.#checkpointer;
    this.#sql = new StatementCache(this.#db).get;
    this.#walSync = asyncSync ? new WalSync(`${path}-wal`) : undefined;
    const walSync = this.#walSync;
    this.#writes = new GroupCommit(this.#db, {
      ...(checkpointer === undefined ? {} : { onCommit: () => checkpointer.afterCommit() }),
      ...(walSync === undefined ? {} : { sync: () => walSync.sync() }),
    });
    this.#migrationsDir = options.migrationsDir ?? SQLITE_MIGRATIONS_DIR;
  }

  /** Applies pending migrations from the migrations directory. Idempotent. */
  migrate(): Promise<void> {
    return this.#read(() => {
      // Migrations take their own transactions: commit queued writes first.
      this.#writes.flush();
      applyMigrations(this.#db, this.#migrationsDir);
    });
  }

  /** Commits queued writes, then closes the database. Later calls reject. Idempotent. */
  async close(): Promise<void> {
    if (!this.#db.isOpen) return;
    this.#writes.close();
    await this.#writes.settled();
    await this.#walSync?.close();
    // The worker's connection first, so that closing the last connection checkpoints fully.
    await this.#checkpointer?.close();
    if (this.#db.isOpen) this.#db.close();
  }

  /** See `Store.isReady`: a local file is not lost like a connection, so true until closed. */
  isReady(): boolean {
    return this.#db.isOpen;
  }

  /**
   * See `Store.subscribe`: never calls `listener`. Processes opening one SQLite file share no
   * channel to announce their commits through; each engine finds the others' work with its
   * periodic `nextWakeAt` read. Returns an unsubscribe that does nothing.
   */
  subscribe(_listener: (runAt: number) => void): () => void {
    return () => {};
  }

  /** See `Store.addApiKey`. */
  addApiKey(key: NewApiKey): Promise<ApiKeyRecord> {
    return this.#write(() => apiKeys.addApiKey(this.#sql, key));
  }

  /** See `Store.findApiKey`. */
  findApiKey(keyHash: string): Promise<ApiKeyRecord | undefined> {
    return this.#read(() => apiKeys.findApiKey(this.#sql, keyHash));
  }

  /** See `Store.getApiKey`. */
  getApiKey(id: ApiKeyId): Promise<ApiKeyRecord | undefined> {
    return this.#read(() => apiKeys.getApiKey(this.#sql, id));
  }

  /** See `Store.listApiKeys`. */
  listApiKeys(query: ListApiKeysQuery): Promise<ApiKeyRecord[]> {
    return this.#read(() => apiKeys.listApiKeys(this.#sql, query));
  }

  /** See `Store.countApiKeys`. */
  countApiKeys(): Promise<number> {
    return this.#read(() => apiKeys.countApiKeys(this.#sql));
  }

  /** See `Store.revokeApiKey`. */
  revokeApiKey(
    id: ApiKeyId,
    now: number,
    options?: RevokeApiKeyOptions,
  ): Promise<RevokeApiKeyResult> {
    return this.#write(() => apiKeys.revokeApiKey(this.#sql, id, now, options));
  }

  /** See `Store.revokeApiKeysNotIn`. */
  revokeApiKeysNotIn(keepHashes: readonly string[], now: number): Promise<ApiKeyRecord[]> {
    return this.#write(() => apiKeys.revokeApiKeysNotIn(this.#sql, keepHashes, now));
  }

  /** See `Store.adoptGeneratedApiKey`. */
  adoptGeneratedApiKey(keyHash: string, prefix: string): Promise<ApiKeyRecord | undefined> {
    return this.#write(() => apiKeys.adoptGeneratedApiKey(this.#sql, keyHash, prefix));
  }

  /** See `Store.touchApiKey`. */
  touchApiKey(id: ApiKeyId, now: number): Promise<void> {
    return this.#write(() => apiKeys.touchApiKey(this.#sql, id, now));
  }

  /** See `Store.ensureSigningSecret`. */
  ensureSigningSecret(tenantId: TenantId, candidate: string, now: number): Promise<string> {
    return this.#write(() => control.ensureSigningSecret(this.#sql, tenantId, candidate, now));
  }

  /** See `Store.createCall`. Rejects on a duplicate id. */
  createCall(call: NewCall): Promise<CreateCallResult> {
    return this.#write(() => calls.insertCall(this.#sql, call));
  }

  /** See `Store.createClaimedCall`: the insert and the claim in one durable write. */
  createClaimedCall(
    call: NewCall,
    claim: { workerId: WorkerId; leaseExpiresAt: number },
  ): Promise<CreateCallResult> {
    return this.#write(() => calls.insertCall(this.#sql, call, claim));
  }

  /** All or nothing: if one call cannot be inserted (e.g. a duplicate id), none is. */
  createCalls(newCalls: readonly NewCall[]): Promise<CreateCallResult[]> {
    return this.#write(() => newCalls.map((call) => calls.insertCall(this.#sql, call)));
  }

  /** See `Store.getCall`. */
  getCall(tenantId: TenantId, id: CallId): Promise<CallRecord | undefined> {
    return this.#read(() => selectCall(this.#sql, tenantId, id));
  }

  /** See `Store.listCalls`. */
  listCalls(tenantId: TenantId, query: ListCallsQuery): Promise<CallRecord[]> {
    return this.#read(() => {
      const { sql, params } = listCallsStatement(tenantId, query);
      return this.#sql(sql)
        .all(...params)
        .map(callFromRow);
    });
  }

  /** See `Store.getCallbackDelivery`. */
  getCallbackDelivery(tenantId: TenantId, parentId: CallId): Promise<CallbackDelivery | undefined> {
    return this.#read(() => {
      const call = selectLatestCallback(this.#sql, tenantId, parentId);
      if (call === undefined) return undefined;
      const last = this.#sql("SELECT * FROM attempts WHERE call_id = ? AND number = ?").get(
        call.id,
        call.attempts,
      );
      return last === undefined ? { call } : { call, lastAttempt: attemptFromRow(last) };
    });
  }

  /** See `Store.listAttempts`. */
  listAttempts(tenantId: TenantId, id: CallId): Promise<AttemptRecord[] | undefined> {
    return this.#read(() => {
      const owned = this.#sql("SELECT 1 AS owned FROM calls WHERE id = ? AND tenant_id = ?");
      if (owned.get(id, tenantId) === undefined) return undefined;
      const rows = this.#sql("SELECT * FROM attempts WHERE call_id = ? ORDER BY number").all(id);
      return rows.map(attemptFromRow);
    });
  }

  /** See `Store.claimDue`. An expired lease counts as due at its expiry time. */
  claimDue(query: {
    now: number;
    limit: number;
    leaseMs: number;
    workerId: WorkerId;
  }): Promise<Claim[]> {
    // Not waiting for the fsync: a claim lost in a power cut leaves the call due, to be claimed
    // and sent again with the same forwarded key. Saves one fsync on every call's latency.
    return this.#writes.enqueue(() => claims.claimDue(this.#sql, query), { durable: false });
  }

  /** See `Store.nextWakeAt`. */
  nextWakeAt(): Promise<number | undefined> {
    return this.#read(() => {
      const due = this.#sql(
        "SELECT min(run_at) AS at FROM work WHERE status IN ('queued', 'waiting') AND kind <> 'run'",
      ).get()!.at;
      const expiry = this.#sql(
        "SELECT min(lease_expires_at) AS at FROM work WHERE status = 'running' AND kind <> 'run'",
      ).get()!.at;
      const times = [due, expiry].filter((t): t is number => typeof t === "number");
      return times.length === 0 ? undefined : Math.min(...times);
    });
  }

  /** See `Store.commitAttempt`. Rejects (writing nothing) if the attempt number is taken. */
  commitAttempt(commit: AttemptCommit): Promise<boolean> {
    return this.#write(() => calls.commitAttempt(this.#sql, commit));
  }

  /** See `Store.renewLeases`. A lease past its expiry is still renewed if nobody reclaimed it. */
  renewLeases(
    refs: readonly ClaimRef[],
    leaseExpiresAt: number,
    _now: number,
  ): Promise<ClaimRef[]> {
    return this.#writes.enqueue(() => claims.renewLeases(this.#sql, refs, leaseExpiresAt), {
      durable: false,
    });
  }

  /**
   * See `Store.releaseClaims`. A released call that had attempts waits, with reason
   * `lease released`.
   */
  releaseClaims(refs: readonly ClaimRef[], now: number): Promise<void> {
    return this.#write(() => claims.releaseClaims(this.#sql, refs, now));
  }

  /** See `Store.cancelCall`. */
  cancelCall(
    tenantId: TenantId,
    id: CallId,
    now: number,
    idempotencyExpiresAt: number,
  ): Promise<ControlResult> {
    return this.#write(() =>
      control.cancelCall(this.#sql, tenantId, id, now, idempotencyExpiresAt),
    );
  }

  /** See `Store.retryCall`. */
  retryCall(
    tenantId: TenantId,
    id: CallId,
    now: number,
    deadlineAt: number | undefined,
  ): Promise<ControlResult> {
    return this.#write(() => control.retryCall(this.#sql, tenantId, id, now, deadlineAt));
  }

  /** See `Store.purgeExpiredIdempotencyKeys`. */
  purgeExpiredIdempotencyKeys(now: number): Promise<number> {
    return this.#write(() => control.purgeExpiredIdempotencyKeys(this.#sql, now));
  }

  /** See `Store.deferCall`. */
  deferCall(ref: ClaimRef, runAt: number, waitingFor: WaitingFor, now: number): Promise<boolean> {
    return this.#write(() => destinations.deferCall(this.#sql, ref, runAt, waitingFor, now));
  }

  /** See `Store.wakeDestination`. */
  wakeDestination(destination: string, now: number): Promise<number> {
    return this.#write(() => destinations.wakeDestination(this.#sql, destination, now));
  }

  /** See `Store.reserveRate`. Not durable (like claims): a lost reservation allows one burst. */
  reserveRate(destination: string, now: number, spanMs: number): Promise<number> {
    return this.#writes.enqueue(
      () => destinations.reserveRate(this.#sql, destination, now, spanMs),
      { durable: false },
    );
  }

  /**
   * See `Store.holdPermits`. Not durable (like claims): permits lost in a crash are taken again.
   * An invalid request is refused before it is queued.
   */
  async holdPermits(request: PermitRequest): Promise<PermitGrant> {
    checkPermitRequest(request);
    return await this.#writes.enqueue(() => destinations.holdPermits(this.#sql, request), {
      durable: false,
    });
  }

  /** See `Store.getDestination`. */
  getDestination(destination: string): Promise<StoredDestination | undefined> {
    return this.#read(() => {
      const row = this.#sql("SELECT * FROM destinations WHERE destination = ?").get(destination);
      return row === undefined ? undefined : destinationFromRow(row);
    });
  }

  /** See `Store.listDestinations`. */
  listDestinations(): Promise<StoredDestination[]> {
    return this.#read(() =>
      this.#sql("SELECT * FROM destinations ORDER BY destination").all().map(destinationFromRow),
    );
  }

  /** See `Store.saveDestination`. */
  saveDestination(
    destination: string,
    document: DestinationDocument,
    expectedVersion: number,
    now: number,
  ): Promise<boolean> {
    return this.#write(() =>
      destinations.saveDestination(this.#sql, destination, document, expectedVersion, now),
    );
  }

  /** See `Store.registerWorker`. */
  registerWorker(
    worker: WorkerRegistration,
    now: number,
    forgetStoppedBefore: number,
  ): Promise<void> {
    return this.#write(() => workers.registerWorker(this.#sql, worker, now, forgetStoppedBefore));
  }

  /** See `Store.heartbeatWorker`. Not durable: a heartbeat lost in a power cut is harmless. */
  heartbeatWorker(id: WorkerId, now: number): Promise<boolean> {
    return this.#writes.enqueue(() => workers.heartbeatWorker(this.#sql, id, now), {
      durable: false,
    });
  }

  /** See `Store.listWorkers`. */
  listWorkers(): Promise<WorkerRecord[]> {
    return this.#read(() => this.#sql(workers.LIST_WORKERS).all().map(workerFromRow));
  }

  /** See `Store.stopWorkers`. */
  stopWorkers(
    stopping: readonly { id: WorkerId; heartbeatAt?: number }[],
    now: number,
    maxLeaseMs: number,
  ): Promise<{ stopped: WorkerId[]; claimsEnded: number }> {
    return this.#write(() => workers.stopWorkers(this.#sql, stopping, now, maxLeaseMs));
  }

  /** See `Store.recordEvent`. */
  recordEvent(event: StoredEvent): Promise<RecordEventResult> {
    return this.#write(() => events.recordEvent(this.#sql, event));
  }

  /** See `Store.listEvents`. */
  listEvents(query: ListEventsQuery): Promise<StoredEvent[]> {
    return this.#read(() => events.listEvents(this.#sql, query));
  }

  /** See `Store.purgeEventsBefore`. */
  purgeEventsBefore(receivedBefore: number, limit?: number): Promise<number> {
    return this.#write(() => events.purgeEventsBefore(this.#sql, receivedBefore, limit));
  }

  /** See `Store.purgeEndedCalls`. Group-committed with other writes: keep `limit` small. */
  purgeEndedCalls(purge: EndedPurge): Promise<PurgedCalls> {
    return this.#write(() => retention.purgeEndedCalls(this.#sql, purge));
  }

  /** See `Store.purgeEndedRuns`. Group-committed with other writes: keep `limit` small. */
  purgeEndedRuns(purge: EndedPurge): Promise<number> {
    return this.#write(() => retention.purgeEndedRuns(this.#sql, purge));
  }

  /** See `Store.createRun`. */
  createRun(run: NewRun, claim?: InitialClaim): Promise<CreateRunResult> {
    return this.#write(() => runs.createRun(this.#sql, run, claim));
  }

  /** See `Store.createEndedRun`. Group-committed with other writes. */
  createEndedRun(
    run: NewRun,
    end: RunEnd,
    batch: StepBatch,
    now: number,
  ): Promise<CreateRunResult> {
    return this.#write(() => runs.createEndedRun(this.#sql, run, end, batch, now));
  }

  /** See `Store.claimDueRuns`. Not durable, like call claims: a lost claim leaves the run due. */
  claimDueRuns(query: {
    now: number;
    limit: number;
    leaseMs: number;
    workerId: WorkerId;
    workflows: readonly string[];
  }): Promise<RunClaim[]> {
    return this.#writes.enqueue(() => runs.claimDueRuns(this.#sql, query), { durable: false });
  }

  /** See `Store.nextRunWakeAt`. */
  nextRunWakeAt(workflows: readonly string[]): Promise<number | undefined> {
    return this.#read(() => runReads.nextRunWakeAt(this.#sql, workflows));
  }

  /** See `Store.renewRunLeases`. Not durable, like `renewLeases`. */
  renewRunLeases(refs: readonly RunRef[], leaseExpiresAt: number, _now: number): Promise<RunRef[]> {
    return this.#writes.enqueue(() => runs.renewRunLeases(this.#sql, refs, leaseExpiresAt), {
      durable: false,
    });
  }

  /** See `Store.releaseRuns`. */
  releaseRuns(refs: readonly RunRef[], now: number): Promise<void> {
    return this.#write(() => runs.releaseRuns(this.#sql, refs, now));
  }

  /** See `Store.commitSteps`. Group-committed with other writes. */
  commitSteps(ref: RunRef, batch: StepBatch, now: number): Promise<boolean> {
    return this.#write(() => runs.commitSteps(this.#sql, ref, batch, now));
  }

  /** See `Store.parkRun`. */
  parkRun(ref: RunRef, park: RunPark, batch: StepBatch, now: number): Promise<boolean> {
    return this.#write(() => runs.parkRun(this.#sql, ref, park, batch, now));
  }

  /** See `Store.finishRun`. */
  finishRun(ref: RunRef, end: RunEnd, batch: StepBatch, now: number): Promise<boolean> {
    return this.#write(() => runs.finishRun(this.#sql, ref, end, batch, now));
  }

  /** See `Store.wakeRuns`. */
  wakeRuns(uids: readonly RunUid[], now: number): Promise<number> {
    return this.#write(() => runWakes.wakeRuns(this.#sql, uids, now));
  }

  /** See `Store.wakeRunsForEvent`. */
  wakeRunsForEvent(tenantId: TenantId, name: string, now: number): Promise<number> {
    return this.#write(() => runWakes.wakeRunsForEvent(this.#sql, tenantId, name, now));
  }

  /** See `Store.recordEventAndWake`: one group-committed write. */
  recordEventAndWake(
    event: StoredEvent,
    now: number,
  ): Promise<RecordEventResult & { woken: number }> {
    return this.#write(() => runWakes.recordEventAndWake(this.#sql, event, now));
  }

  /** See `Store.getRun`. */
  getRun(tenantId: TenantId, id: string): Promise<RunDetail | undefined> {
    return this.#read(() => runReads.getRun(this.#sql, tenantId, id));
  }

  /** See `Store.getRunByUid`. */
  getRunByUid(uid: RunUid): Promise<RunRecord | undefined> {
    return this.#read(() => runReads.selectRunByUid(this.#sql, uid));
  }

  /** See `Store.listRuns`. */
  listRuns(query: ListRunsQuery): Promise<RunRecord[]> {
    return this.#read(() => runReads.listRuns(this.#sql, query));
  }

  /** See `Store.cancelRun`. */
  cancelRun(tenantId: TenantId, id: string, now: number): Promise<RunControlResult> {
    return this.#write(() => runControl.cancelRun(this.#sql, tenantId, id, now));
  }

  /** See `Store.retryRun`. */
  retryRun(tenantId: TenantId, id: string, now: number): Promise<RunControlResult> {
    return this.#write(() => runControl.retryRun(this.#sql, tenantId, id, now));
  }

  #write<T>(run: () => T): Promise<T> {
    return this.#writes.enqueue(run);
  }

  // Runs synchronous work now, turning a throw into a rejection.
  #read<T>(run: () => T): Promise<T> {
    try {
      if (!this.#db.isOpen) throw storeClosed("SQLite");
      return Promise.resolve(run());
    } catch (error) {
      return Promise.reject(asStoreError(error));
    }
  }
}
