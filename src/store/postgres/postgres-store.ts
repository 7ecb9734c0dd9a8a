import type { AttemptRecord, CallRecord, WaitingFor } from "../../core/call.ts";
import type { ApiKeyRecord, NewApiKey } from "../../core/api-key.ts";
import type { ApiKeyId, CallId, RunUid, TenantId, WorkerId } from "../../core/ids.ts";
import { checkPermitRequest, type PermitGrant, type PermitRequest } from "../../core/permits.ts";
import { redactText, redactUrl } from "../../core/redact.ts";
import type {
  AttemptCommit,
  CallbackDelivery,
  Claim,
  CreateRunResult,
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
  ClaimRef,
  ControlResult,
  CreateCallResult,
  DestinationDocument,
  EndedPurge,
  PurgedCalls,
  ListApiKeysQuery,
  ListEventsQuery,
  RecordEventResult,
  RevokeApiKeyOptions,
  RevokeApiKeyResult,
  InitialClaim,
  ListCallsQuery,
  NewCall,
  Store,
  StoredDestination,
  StoredEvent,
  WorkerRecord,
  WorkerRegistration,
} from "../../core/store.ts";
import { ApiKeyQueries } from "./api-key-queries.ts";
import { applyMigrations, POSTGRES_MIGRATIONS_DIR } from "./apply-migrations.ts";
import { AttemptCommits } from "./attempt-commits.ts";
import { CallInserts, type CallInsert } from "./call-inserts.ts";
import { ClaimWrites } from "./claim-writes.ts";
import { ControlWrites } from "./control-writes.ts";
import { DestinationWrites, type Deferral } from "./destination-writes.ts";
import { EventWrites } from "./event-writes.ts";
import { PostgresConnection } from "./postgres-connection.ts";
import { RunClaims } from "./run-claims.ts";
import { RunCommits, runCommitWeight, type RunCommit } from "./run-commits.ts";
import { RunControl } from "./run-control.ts";
import { RunReads } from "./run-reads.ts";
import { CallReads } from "./call-reads.ts";
import { newCallWeight } from "./row-mapping.ts";
import { DEFAULT_SCHEMA, schemaNames, type SchemaNames } from "./schema-names.ts";
import { WorkListener } from "./work-listener.ts";
import { RetentionWrites } from "./retention-writes.ts";
import { WorkerWrites } from "./worker-writes.ts";
import { WriteBatcher } from "./write-batcher.ts";
import { EndedRunInserts, endedRunWeight, type EndedRunInsert } from "./ended-run-inserts.ts";
import { StoreError } from "../../core/errors.ts";
import { asStoreError, storeClosed } from "../store-errors.ts";

/** Options of `PostgresStore.connect`. */
export interface PostgresStoreOptions {
  /** A libpq-style URL, e.g. `postgres://user:password@host:5432/database`. */
  connectionString: string;
  /**
   * The schema holding every table; created by `migrate()` if missing. Lower-case letters,
   * digits and underscores. Default `steadfast`.
   */
  schema?: string;
  /** Most pooled connections (the LISTEN connection comes on top). Default 10. */
  poolSize?: number;
  /** Shown in `pg_stat_activity.application_name`. Default `steadfast`. */
  applicationName?: string;
  /** How long opening a connection may take before the operation fails, in ms. Default 5,000. */
  connectTimeoutMs?: number;
  /** How often the database is probed while unreachable (see `isReady`), in ms. Default 1,000. */
  healthCheckIntervalMs?: number;
  /**
   * How long a statement may go unanswered before it fails and its connection is discarded, in
   * ms (migrations excepted). Bounds the wait when the network dies silently. Default 30,000.
   */
  queryTimeoutMs?: number;
  /**
   * How long a session of this store may sit inside a transaction without a statement before
   * PostgreSQL ends it, in ms (`idle_in_transaction_session_timeout`). A process frozen in the
   * middle of a transaction (a VM pause, SIGSTOP) or cut off from the database would otherwise
   * hold its row locks until its connection dies, and `FOR UPDATE SKIP LOCKED` claims would skip
   * those rows, or writes wait for them, meanwhile. Our transactions send their statements back
   * to back, so only a frozen or cut-off client reaches it. Default 5,000 (the default
   * `workerTimeoutMs`: by the time the fleet finds such a process dead, its locks are gone); 0
   * for none. `?idle_in_transaction_session_timeout=<ms>` in the connection string wins.
   */
  idleInTransactionTimeoutMs?: number;
  /** How often the idle LISTEN connection is checked, in ms. Default 30,000. */
  listenHeartbeatMs?: number;
  /**
   * Most batches of one kind of write (creates, attempt commits) in flight at once. Default:
   * half the pool, at least 1, so that claims and reads keep connections.
   */
  maxBatchesInFlight?: number;
  /** Most writes per batch statement. Default 1,000. */
  maxBatchSize?: number;
  /** Where the migration files are. Default: the shipped `src/store/migrations/postgres/`. */
  migrationsDir?: string;
  /** Told about LISTEN connection errors, which are retried. Default: ignored. */
  onListenError?: (error: Error) => void;
}

/**
 * The scale-out `Store`: PostgreSQL through a `pg.Pool`, shared by any number of processes
 * (ARCHITECTURE.md section 2). Every table lives in one schema (`steadfast` by default).
 *
 * - Live work is claimed through a narrow queue table (`work`, migration 0008), one row per
 *   queued, running or waiting call; the wide `calls` row is written at create and at the end.
 *   Claims are one `UPDATE ... FROM (SELECT ... FOR UPDATE SKIP LOCKED)` statement, so processes
 *   claim concurrently without blocking each other or claiming a call twice; each claim
 *   increments the work's lease token, and every write about a claim is conditional on it.
 * - Group commit: `createCall` and `commitAttempt` queue their writes, and the writes of one
 *   event loop turn go out as one multi-row statement (`WriteBatcher`), several batches in
 *   flight at once. A write's promise resolves after its statement committed; a write that
 *   PostgreSQL refuses fails alone (the batch is replayed write by write).
 * - Wake-ups: writes that create due work send `NOTIFY` in their transaction, and `subscribe`
 *   listens on a dedicated connection (reconnecting with backoff), so an idle engine in another
 *   process starts new work within milliseconds.
 * - Outages: a lost database never crashes the process; operations reject meanwhile,
 *   `isReady()` turns false until a probe gets through, and everything works again once the
 *   database is back.
 *
 * @example
 * const store = await PostgresStore.connect({ connectionString: "postgres://localhost/app" });
 * await store.migrate();
 * const { call } = await store.createCall(newCall);
 * await store.close();
 */
export class PostgresStore implements Store {
  /** Always `postgres`. */
  readonly dialect = "postgres";
  readonly #db: PostgresConnection;
  /** A connection of its own for heartbeats, so that commits queued in the pool cannot delay them. */
  readonly #heartbeats: PostgresConnection;
  readonly #names: SchemaNames;
  readonly #migrationsDir: string;
  readonly #inserts: CallInserts;
  readonly #claims: ClaimWrites;
  readonly #control: ControlWrites;
  readonly #destinations: DestinationWrites;
  readonly #creates: WriteBatcher<CallInsert, CreateCallResult>;
  readonly #commits: WriteBatcher<AttemptCommit, boolean>;
  readonly #deferrals: WriteBatcher<Deferral, boolean>;
  readonly #listener: WorkListener;
  readonly #reads: CallReads;
  readonly #apiKeys: ApiKeyQueries;
  readonly #workers: WorkerWrites;
  readonly #events: EventWrites;
  readonly #runClaims: RunClaims;
  readonly #runCommits: WriteBatcher<RunCommit, boolean>;
  readonly #endedRuns: WriteBatcher<EndedRunInsert, CreateRunResult>;
  readonly #runReads: RunReads;
  readonly #runControl: RunControl;
  readonly #retention: RetentionWrites;
  #closed = false;

  /**
   * Opens a pool on `options.connectionString` and checks that the database answers, so that a
   * wrong URL fails here with a clear message. Call `migrate()` before use.
   */
  static async connect(options: PostgresStoreOptions): Promise<PostgresStore> {
    const store = new PostgresStore(options);
    try {
      await store.#db.query({ text: "SELECT 1" });
    } catch (error) {
      await store.close();
      throw new StoreError(
        "connect_failed",
        `Cannot reach PostgreSQL at ${redactUrl(options.connectionString)}: ${redactText(String(error))}. ` +
          "Check that it is running and that the URL (STEADFAST_DB) is right.",
        { cause: error },
      );
    }
    return store;
  }

  private constructor(options: PostgresStoreOptions) {
    this.#names = schemaNames(options.schema ?? DEFAULT_SCHEMA);
    const poolSize = Math.max(1, Math.floor(options.poolSize ?? 10));
    const connection = {
      connectionString: options.connectionString,
      applicationName: options.applicationName ?? "steadfast",
      connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
      healthCheckIntervalMs: options.healthCheckIntervalMs ?? 1_000,
      queryTimeoutMs: options.queryTimeoutMs ?? 30_000,
      idleInTransactionTimeoutMs: options.idleInTransactionTimeoutMs ?? 5_000,
    };
    this.#db = new PostgresConnection({ ...connection, poolSize });
    // A heartbeat unanswered for seconds is of no use (the engine stops sending after four):
    // its connection is given up sooner than the pool's and opened again.
    this.#heartbeats = new PostgresConnection({
      ...connection,
      poolSize: 1,
      applicationName: `${connection.applicationName} heartbeat`,
      queryTimeoutMs: Math.min(connection.queryTimeoutMs, 5_000),
    });
    this.#migrationsDir = options.migrationsDir ?? POSTGRES_MIGRATIONS_DIR;
    this.#inserts = new CallInserts(this.#db, this.#names);
    this.#claims = new ClaimWrites(this.#db, this.#names);
    this.#control = new ControlWrites(this.#db, this.#names);
    this.#destinations = new DestinationWrites(this.#db, this.#names);
    const commits = new AttemptCommits(this.#db, this.#names);
    const batching = {
      maxInFlight: options.maxBatchesInFlight ?? Math.max(1, Math.floor(poolSize / 2)),
      maxBatchSize: options.maxBatchSize ?? 1_000,
    };
    this.#creates = new WriteBatcher({
      run: this.#inserts.runBatch,
      weigh: (insert) => newCallWeight(insert.call),
      ...batching,
    });
    this.#commits = new WriteBatcher({ run: commits.run, weigh: commitWeight, ...batching });
    this.#deferrals = new WriteBatcher({ run: this.#destinations.runDeferrals, ...batching });
    this.#listener = new WorkListener({
      clientConfig: {
        ...this.#db.clientConfig,
        application_name: `${options.applicationName ?? "steadfast"} listener`,
      },
      channel: this.#names.channel,
      isOwnBackend: (pid) => this.#db.isOwnBackend(pid),
      catchUp: () => this.#claims.nextAnyWakeAt(),
      heartbeatMs: options.listenHeartbeatMs ?? 30_000,
      ...(options.onListenError === undefined ? {} : { onError: options.onListenError }),
    });
    this.#reads = new CallReads(this.#db, this.#names);
    this.#apiKeys = new ApiKeyQueries(this.#db, this.#names);
    this.#workers = new WorkerWrites(this.#db, this.#heartbeats, this.#names);
    this.#events = new EventWrites(this.#db, this.#names);
    this.#runClaims = new RunClaims(this.#db, this.#names);
    this.#runCommits = new WriteBatcher({
      run: new RunCommits(this.#db, this.#names).run,
      weigh: runCommitWeight,
      ...batching,
    });
    this.#endedRuns = new WriteBatcher({
      run: new EndedRunInserts(this.#db, this.#names).run,
      weigh: endedRunWeight,
      ...batching,
    });
    this.#runReads = new RunReads(this.#db, this.#names);
    this.#runControl = new RunControl(this.#db, this.#names);
    this.#retention = new RetentionWrites(this.#db, this.#names);
  }

  /** The schema holding the tables. */
  get schema(): string {
    return this.#names.schema;
  }

  /**
   * Applies pending migrations, creating the schema if needed. Idempotent, and safe when many
   * processes start at once: an advisory lock lets exactly one migrate.
   */
  async migrate(): Promise<void> {
    this.#assertOpen();
    await applyMigrations(this.#db, this.#names, this.#migrationsDir);
  }

  /**
   * Commits queued writes, waits for operations in flight, stops listening and closes every
   * connection. Later calls reject. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listener.stop();
    await Promise.all([
      this.#creates.drain(),
      this.#commits.drain(),
      this.#deferrals.drain(),
      this.#runCommits.drain(),
      this.#endedRuns.drain(),
    ]);
    await Promise.all([this.#db.close(), this.#heartbeats.close()]);
  }

  /**
   * Whether the database is reachable: false from a connection error until a statement or a
   * `SELECT 1` probe (every `healthCheckIntervalMs`) succeeds again. See `Store.isReady`.
   */
  isReady(): boolean {
    return !this.#closed && this.#db.isReady();
  }

  /**
   * See `Store.subscribe`. `listener` gets the earliest `runAt` of work committed by other
   * processes (this store's own writes are not echoed back: their caller already knows), and,
   * after each (re)connection of the LISTEN connection, the next wake-up time. The first
   * subscriber opens the connection, the last unsubscribe closes it.
   */
  subscribe(listener: (runAt: number) => void): () => void {
    if (this.#closed) return () => {};
    return this.#listener.add(listener);
  }

  /** See `Store.addApiKey`. */
  addApiKey(key: NewApiKey): Promise<ApiKeyRecord> {
    return this.#open(() => this.#apiKeys.addApiKey(key));
  }

  /** See `Store.findApiKey`. */
  findApiKey(keyHash: string): Promise<ApiKeyRecord | undefined> {
    return this.#open(() => this.#apiKeys.findApiKey(keyHash));
  }

  /** See `Store.getApiKey`. */
  getApiKey(id: ApiKeyId): Promise<ApiKeyRecord | undefined> {
    return this.#open(() => this.#apiKeys.getApiKey(id));
  }

  /** See `Store.listApiKeys`. */
  listApiKeys(query: ListApiKeysQuery): Promise<ApiKeyRecord[]> {
    return this.#open(() => this.#apiKeys.listApiKeys(query));
  }

  /** See `Store.countApiKeys`. */
  countApiKeys(): Promise<number> {
    return this.#open(() => this.#apiKeys.countApiKeys());
  }

  /** See `Store.revokeApiKey`. */
  revokeApiKey(
    id: ApiKeyId,
    now: number,
    options?: RevokeApiKeyOptions,
  ): Promise<RevokeApiKeyResult> {
    return this.#open(() => this.#apiKeys.revokeApiKey(id, now, options));
  }

  /** See `Store.revokeApiKeysNotIn`. */
  revokeApiKeysNotIn(keepHashes: readonly string[], now: number): Promise<ApiKeyRecord[]> {
    return this.#open(() => this.#apiKeys.revokeApiKeysNotIn(keepHashes, now));
  }

  /** See `Store.adoptGeneratedApiKey`. */
  adoptGeneratedApiKey(keyHash: string, prefix: string): Promise<ApiKeyRecord | undefined> {
    return this.#open(() => this.#apiKeys.adoptGeneratedApiKey(keyHash, prefix));
  }

  /** See `Store.touchApiKey`. */
  touchApiKey(id: ApiKeyId, now: number): Promise<void> {
    return this.#open(() => this.#apiKeys.touchApiKey(id, now));
  }

  /** See `Store.ensureSigningSecret`. */
  ensureSigningSecret(tenantId: TenantId, candidate: string, now: number): Promise<string> {
    return this.#open(() => this.#control.ensureSigningSecret(tenantId, candidate, now));
  }

  /**
   * See `Store.createCall`. Group-committed with the other creates of this event loop turn.
   * Rejects on a duplicate id.
   */
  createCall(call: NewCall): Promise<CreateCallResult> {
    return this.#open(() => this.#creates.enqueue({ call }));
  }

  /**
   * See `Store.createClaimedCall`. Group-committed with the other creates of this event loop
   * turn, without a notification. Rejects on a duplicate id.
   */
  createClaimedCall(call: NewCall, claim: InitialClaim): Promise<CreateCallResult> {
    return this.#open(() => this.#creates.enqueue({ call, claim }));
  }

  /** All or nothing, in one statement: if one call cannot be inserted (a duplicate id), none is. */
  createCalls(calls: readonly NewCall[]): Promise<CreateCallResult[]> {
    return this.#open(() => this.#inserts.insert(calls.map((call) => ({ call }))));
  }

  /** See `Store.getCallbackDelivery`. */
  getCallbackDelivery(tenantId: TenantId, parentId: CallId): Promise<CallbackDelivery | undefined> {
    return this.#open(() => this.#reads.getCallbackDelivery(tenantId, parentId));
  }

  /** See `Store.getCall`. */
  getCall(tenantId: TenantId, id: CallId): Promise<CallRecord | undefined> {
    return this.#open(() => this.#reads.getCall(tenantId, id));
  }

  /** See `Store.listCalls`. */
  listCalls(tenantId: TenantId, query: ListCallsQuery): Promise<CallRecord[]> {
    return this.#open(() => this.#reads.listCalls(tenantId, query));
  }

  /** See `Store.listAttempts`. */
  listAttempts(tenantId: TenantId, id: CallId): Promise<AttemptRecord[] | undefined> {
    return this.#open(() => this.#reads.listAttempts(tenantId, id));
  }

  /** See `Store.claimDue`. An expired lease counts as due at its expiry time. */
  claimDue(query: {
    now: number;
    limit: number;
    leaseMs: number;
    workerId: WorkerId;
  }): Promise<Claim[]> {
    return this.#open(() => this.#claims.claimDue(query));
  }

  /** See `Store.nextWakeAt`. */
  nextWakeAt(): Promise<number | undefined> {
    return this.#open(() => this.#claims.nextWakeAt());
  }

  /**
   * See `Store.commitAttempt`. Group-committed with the other commits of this event loop turn.
   * Rejects (writing nothing) if the attempt number is taken.
   */
  commitAttempt(commit: AttemptCommit): Promise<boolean> {
    return this.#open(() => this.#commits.enqueue(commit));
  }

  /** See `Store.renewLeases`. A lease past its expiry is still renewed if nobody reclaimed it. */
  renewLeases(
    refs: readonly ClaimRef[],
    leaseExpiresAt: number,
    _now: number,
  ): Promise<ClaimRef[]> {
    return this.#open(() => this.#claims.renewLeases(refs, leaseExpiresAt));
  }

  /**
   * See `Store.releaseClaims`. A released call that had attempts waits, with reason
   * `lease released`.
   */
  releaseClaims(refs: readonly ClaimRef[], now: number): Promise<void> {
    return this.#open(() => this.#claims.releaseClaims(refs, now));
  }

  /** See `Store.cancelCall`. */
  cancelCall(
    tenantId: TenantId,
    id: CallId,
    now: number,
    idempotencyExpiresAt: number,
  ): Promise<ControlResult> {
    return this.#open(() => this.#control.cancelCall(tenantId, id, now, idempotencyExpiresAt));
  }

  /** See `Store.retryCall`. */
  retryCall(
    tenantId: TenantId,
    id: CallId,
    now: number,
    deadlineAt: number | undefined,
  ): Promise<ControlResult> {
    return this.#open(() => this.#control.retryCall(tenantId, id, now, deadlineAt));
  }

  /** See `Store.purgeExpiredIdempotencyKeys`. */
  purgeExpiredIdempotencyKeys(now: number): Promise<number> {
    return this.#open(() => this.#control.purgeExpiredIdempotencyKeys(now));
  }

  /**
   * See `Store.deferCall`. Group-committed with the other deferrals of this event loop turn (a
   * breaker opening holds many calls at once).
   */
  deferCall(ref: ClaimRef, runAt: number, waitingFor: WaitingFor, now: number): Promise<boolean> {
    return this.#open(() => this.#deferrals.enqueue({ ref, runAt, waitingFor, now }));
  }

  /** See `Store.wakeDestination`. Wakes the listeners of other processes when calls were woken. */
  wakeDestination(destination: string, now: number): Promise<number> {
    return this.#open(() => this.#destinations.wakeDestination(destination, now));
  }

  /** See `Store.reserveRate`. */
  reserveRate(destination: string, now: number, spanMs: number): Promise<number> {
    return this.#open(() => this.#destinations.reserveRate(destination, now, spanMs));
  }

  /** See `Store.holdPermits`. An invalid request is refused before a connection is taken. */
  async holdPermits(request: PermitRequest): Promise<PermitGrant> {
    checkPermitRequest(request);
    return await this.#open(() => this.#destinations.holdPermits(request));
  }

  /** See `Store.getDestination`. */
  getDestination(destination: string): Promise<StoredDestination | undefined> {
    return this.#open(() => this.#destinations.getDestination(destination));
  }

  /** See `Store.listDestinations`. */
  listDestinations(): Promise<StoredDestination[]> {
    return this.#open(() => this.#destinations.listDestinations());
  }

  /** See `Store.saveDestination`. */
  saveDestination(
    destination: string,
    document: DestinationDocument,
    expectedVersion: number,
    now: number,
  ): Promise<boolean> {
    return this.#open(() =>
      this.#destinations.saveDestination(destination, document, expectedVersion, now),
    );
  }

  /** See `Store.registerWorker`. On the heartbeat connection (a registration is a heartbeat). */
  registerWorker(
    worker: WorkerRegistration,
    now: number,
    forgetStoppedBefore: number,
  ): Promise<void> {
    return this.#open(() => this.#workers.registerWorker(worker, now, forgetStoppedBefore));
  }

  /**
   * See `Store.heartbeatWorker`. On a connection of its own, outside the pool: a saturated pool
   * (commits queued behind each other) must not make a live process look dead.
   */
  heartbeatWorker(id: WorkerId, now: number): Promise<boolean> {
    return this.#open(() => this.#workers.heartbeatWorker(id, now));
  }

  /** See `Store.listWorkers`. */
  listWorkers(): Promise<WorkerRecord[]> {
    return this.#open(() => this.#workers.listWorkers());
  }

  /** See `Store.stopWorkers`. Wakes the listeners of other processes when claims were ended. */
  stopWorkers(
    workers: readonly { id: WorkerId; heartbeatAt?: number }[],
    now: number,
    maxLeaseMs: number,
  ): Promise<{ stopped: WorkerId[]; claimsEnded: number }> {
    return this.#open(() => this.#workers.stopWorkers(workers, now, maxLeaseMs));
  }

  /** See `Store.recordEvent`. */
  recordEvent(event: StoredEvent): Promise<RecordEventResult> {
    return this.#open(() => this.#events.recordEvent(event));
  }

  /** See `Store.listEvents`. */
  listEvents(query: ListEventsQuery): Promise<StoredEvent[]> {
    return this.#open(() => this.#events.listEvents(query));
  }

  /** See `Store.purgeEventsBefore`. */
  purgeEventsBefore(receivedBefore: number, limit?: number): Promise<number> {
    return this.#open(() => this.#events.purgeEventsBefore(receivedBefore, limit));
  }

  /** See `Store.purgeEndedCalls`. */
  purgeEndedCalls(purge: EndedPurge): Promise<PurgedCalls> {
    return this.#open(() => this.#retention.purgeEndedCalls(purge));
  }

  /** See `Store.purgeEndedRuns`. */
  purgeEndedRuns(purge: EndedPurge): Promise<number> {
    return this.#open(() => this.#retention.purgeEndedRuns(purge));
  }

  /**
   * See `RunLog.createRun`. One statement; a concurrent create of the same id waits for the
   * first to commit and finds its run. Wakes the listeners of other processes unless claimed.
   */
  createRun(run: NewRun, claim?: InitialClaim): Promise<CreateRunResult> {
    return this.#open(() => this.#runClaims.createRun(run, claim));
  }

  /** See `RunLog.createEndedRun`. Group-committed with the other ended runs of this turn. */
  createEndedRun(
    run: NewRun,
    end: RunEnd,
    batch: StepBatch,
    now: number,
  ): Promise<CreateRunResult> {
    return this.#open(() => this.#endedRuns.enqueue({ run, end, batch, now }));
  }

  /** See `RunLog.claimDueRuns`. One statement, then one read of every claim's checkpoints. */
  claimDueRuns(query: {
    now: number;
    limit: number;
    leaseMs: number;
    workerId: WorkerId;
    workflows: readonly string[];
  }): Promise<RunClaim[]> {
    return this.#open(() => this.#runClaims.claimDueRuns(query));
  }

  /** See `RunLog.nextRunWakeAt`. */
  nextRunWakeAt(workflows: readonly string[]): Promise<number | undefined> {
    return this.#open(() => this.#runClaims.nextRunWakeAt(workflows));
  }

  /** See `RunLog.renewRunLeases`. A lease past its expiry is still renewed if nobody reclaimed it. */
  renewRunLeases(refs: readonly RunRef[], leaseExpiresAt: number, _now: number): Promise<RunRef[]> {
    return this.#open(() => this.#runClaims.renewRunLeases(refs, leaseExpiresAt));
  }

  /** See `RunLog.releaseRuns`. Wakes the listeners of other processes. */
  releaseRuns(refs: readonly RunRef[], now: number): Promise<void> {
    return this.#open(() => this.#runClaims.releaseRuns(refs, now));
  }

  /** See `RunLog.commitSteps`. Group-committed with the other run commits of this turn. */
  commitSteps(ref: RunRef, batch: StepBatch, now: number): Promise<boolean> {
    return this.#open(() => this.#runCommits.enqueue({ type: "steps", ref, batch, now }));
  }

  /** See `RunLog.parkRun`. Group-committed with the other run commits of this turn. */
  parkRun(ref: RunRef, park: RunPark, batch: StepBatch, now: number): Promise<boolean> {
    return this.#open(() => this.#runCommits.enqueue({ type: "park", ref, park, batch, now }));
  }

  /** See `RunLog.finishRun`. Group-committed with the other run commits of this turn. */
  finishRun(ref: RunRef, end: RunEnd, batch: StepBatch, now: number): Promise<boolean> {
    return this.#open(() => this.#runCommits.enqueue({ type: "finish", ref, end, batch, now }));
  }

  /** See `RunLog.wakeRuns`. Wakes the listeners of other processes when runs became due. */
  wakeRuns(uids: readonly RunUid[], now: number): Promise<number> {
    return this.#open(() => this.#runClaims.wakeRuns(uids, now));
  }

  /** See `RunLog.wakeRunsForEvent`. Wakes the listeners of other processes likewise. */
  wakeRunsForEvent(tenantId: TenantId, name: string, now: number): Promise<number> {
    return this.#open(() => this.#runClaims.wakeRunsForEvent(tenantId, name, now));
  }

  /**
   * See `RunLog.recordEventAndWake`: the record (as `recordEvent`) and the wake-up (as
   * `wakeRunsForEvent`, waking the listeners of other processes at commit) in one transaction,
   * under the event name's shared lock (event-locks.ts) so that no park checking for unseen
   * events of that name commits between them unseen.
   */
  recordEventAndWake(
    event: StoredEvent,
    now: number,
  ): Promise<RecordEventResult & { woken: number }> {
    return this.#open(() =>
      this.#db.transaction(async (query) => {
        await this.#events.lockEventWith(query, event.tenantId, event.name);
        const result = await this.#events.recordEventWith(query, event);
        const woken = await this.#runClaims.wakeRunsForEventWith(
          query,
          event.tenantId,
          result.event.name,
          now,
        );
        return { ...result, woken };
      }),
    );
  }

  /** See `RunLog.getRun`. */
  getRun(tenantId: TenantId, id: string): Promise<RunDetail | undefined> {
    return this.#open(() => this.#runReads.getRun(tenantId, id));
  }

  /** See `RunLog.getRunByUid`. */
  getRunByUid(uid: RunUid): Promise<RunRecord | undefined> {
    return this.#open(() => this.#runReads.getRunByUid(uid));
  }

  /** See `RunLog.listRuns`. */
  listRuns(query: ListRunsQuery): Promise<RunRecord[]> {
    return this.#open(() => this.#runReads.listRuns(query));
  }

  /** See `RunLog.cancelRun`. */
  cancelRun(tenantId: TenantId, id: string, now: number): Promise<RunControlResult> {
    return this.#open(() => this.#runControl.cancelRun(tenantId, id, now));
  }

  /** See `RunLog.retryRun`. */
  retryRun(tenantId: TenantId, id: string, now: number): Promise<RunControlResult> {
    return this.#open(() => this.#runControl.retryRun(tenantId, id, now));
  }

  #assertOpen(): void {
    if (this.#closed) throw storeClosed("PostgreSQL");
  }

  // Runs `operation` unless the store is closed, turning a synchronous throw into a rejection.
  #open<T>(operation: () => Promise<T>): Promise<T> {
    try {
      this.#assertOpen();
      return operation();
    } catch (error) {
      return Promise.reject(asStoreError(error));
    }
  }
}

// Approximate parameter bytes of a commit: the response body and a follow-up's request body.
function commitWeight(commit: AttemptCommit): number {
  const { transition, followUp } = commit;
  const response = transition.status === "waiting" ? undefined : transition.response;
  return (
    1_024 + (response?.body.length ?? 0) + (followUp === undefined ? 0 : newCallWeight(followUp))
  );
}
