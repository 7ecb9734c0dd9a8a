/**
 * The `Store` port: everything the engine, the API and the CLI persist. `SqliteStore` and
 * `PostgresStore` implement it and pass one contract suite (`describeStoreContract`).
 *
 * It is the sum of the roles it plays, each in a file of its own, so that a part of the engine or
 * a service depends on the roles it uses and no more:
 *   - `WorkQueue` (work-queue.ts): claim due work, lease, release, defer, wake, subscribe;
 *   - `CallLog` (call-log.ts): calls and their attempts, cancel, redrive, key retention;
 *   - `DestinationLedger` (destination-ledger.ts): destinations' documents, rate schedules and
 *     concurrency permits;
 *   - `TenantKeys` (tenant-keys.ts): API keys and webhook signing secrets;
 *   - `WorkerRegistry` (worker-registry.ts): the engine processes and their heartbeats;
 *   - `EventLog` (event-log.ts): the events tenants send, for the steps waiting for them;
 *   - `RunLog` (run-log.ts): workflow runs, their steps and attempts, claimed through the same
 *     queue table as calls;
 *   - `RetentionLog` (retention-log.ts): deleting ended calls and runs past their retention;
 *   - `StoreLifecycle` (store-lifecycle.ts): dialect, migrations, readiness, close.
 * Every method of every role is required: no caller tests whether a store offers one.
 *
 * Time is always passed in (`now`, `runAt`...: whole epoch milliseconds): a store never reads a
 * clock, so the contract suite is deterministic. Writes that return are committed (durable); implementations are free to group
 * concurrent writes into one transaction (group commit) as long as each caller's promise resolves
 * only after its write is durable, and one failing write does not fail the others.
 */
import type { CallLog } from "./call-log.ts";
import type { DestinationLedger } from "./destination-ledger.ts";
import type { EventLog } from "./event-log.ts";
import type { RetentionLog } from "./retention-log.ts";
import type { RunLog } from "./run-log.ts";
import type { StoreLifecycle } from "./store-lifecycle.ts";
import type { TenantKeys } from "./tenant-keys.ts";
import type { WorkQueue } from "./work-queue.ts";
import type { WorkerRegistry } from "./worker-registry.ts";

export type {
  AttemptCommit,
  CallbackDelivery,
  CallLog,
  CallTransition,
  ControlResult,
  CreateCallResult,
  ListCallsQuery,
  NewCall,
} from "./call-log.ts";
export type {
  DestinationDocument,
  DestinationLedger,
  DestinationLimits,
  StoredDestination,
} from "./destination-ledger.ts";
export type { EventLog, ListEventsQuery, RecordEventResult, StoredEvent } from "./event-log.ts";
export type {
  ChildCall,
  CreateRunResult,
  ListRunsQuery,
  NewRun,
  RunClaim,
  RunControlResult,
  RunDetail,
  RunEnd,
  RunFailReason,
  RunLog,
  RunPark,
  RunRecord,
  RunRef,
  RunUid,
  StepBatch,
} from "./run-log.ts";
export type { EndedPurge, PurgedCalls, RetentionLog } from "./retention-log.ts";
export type { StoreLifecycle } from "./store-lifecycle.ts";
export type {
  ListApiKeysQuery,
  RevokeApiKeyOptions,
  RevokeApiKeyResult,
  TenantKeys,
} from "./tenant-keys.ts";
export type { Claim, ClaimRef, InitialClaim, WorkQueue } from "./work-queue.ts";
export type { WorkerRecord, WorkerRegistration, WorkerRegistry } from "./worker-registry.ts";

/** The persistence port: every role a store plays, implemented together on one database. */
export interface Store
  extends
    StoreLifecycle,
    TenantKeys,
    CallLog,
    WorkQueue,
    DestinationLedger,
    WorkerRegistry,
    EventLog,
    RunLog,
    RetentionLog {}
