/**
 * The in-process API and composition root: chooses the concrete store, transport and clock, wires
 * the engine and the calls service. `steadfast serve` builds on the same function.
 */
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { CallStatus } from "./core/call.ts";
import { TerminalStatuses } from "./core/call.ts";
import { toAttemptView, type AttemptView, type CallView } from "./core/call-view.ts";
import { WaitTimeoutError } from "./core/errors.ts";
import { parseFetchInput, type FetchInput } from "./core/fetch-input.ts";
import { tenantId as toTenantId, type CallId, type TenantId } from "./core/ids.ts";
import type { Clock, Random } from "./core/ports.ts";
import type { Store } from "./core/store.ts";
import type { Transport } from "./core/transport.ts";
import { ApiKeysService } from "./engine/api-keys-service.ts";
import { CallsService } from "./engine/calls-service.ts";
import type { DestinationSettings } from "./engine/destinations/destination-settings.ts";
import { DestinationsService } from "./engine/destinations/destinations-service.ts";
import { Engine, type EngineLogger } from "./engine/engine.ts";
import {
  createEndpoint,
  type DurableEndpoint,
  type EndpointHandler,
  type EndpointOptions,
} from "./engine/endpoints/durable-endpoint.ts";
import type { WorkflowOptions } from "./engine/workflows/run-executor.ts";
import { WorkflowClient, type Workflow } from "./engine/workflows/workflow-client.ts";
import type { WorkflowFunction } from "./engine/workflows/workflow-definition.ts";
import type { FaultInjector } from "./engine/fault-points.ts";
import { CryptoRandom, SystemClock } from "./engine/system-clock.ts";
import { RunsService, type SentEvent } from "./engine/workflows/runs-service.ts";
import { createDestinationGuard, type GuardSettingNames } from "./http/destination-guard.ts";
import { UndiciTransport } from "./http/undici-transport.ts";
import { PostgresStore } from "./store/postgres/postgres-store.ts";
import { SqliteStore } from "./store/sqlite/sqlite-store.ts";

/** Where the embedded database lives unless `db` says otherwise. */
export const DEFAULT_DB = "sqlite:./.steadfast/steadfast.db";

/** Options of `createSteadfast`. */
export interface SteadfastOptions {
  /**
   * `postgres://user:password@host:5432/database`, `sqlite:<path>`, a bare file path, or
   * `:memory:` (also `sqlite::memory:`). Default `sqlite:./.steadfast/steadfast.db`.
   */
  db?: string;
  /** SQLite `synchronous`: `FULL` (default: every commit survives power loss) or `NORMAL`. */
  sqliteSynchronous?: "FULL" | "NORMAL";
  /** Allow destinations on private, loopback and link-local addresses. Default false. */
  allowPrivateNetworks?: boolean;
  /** CIDR ranges allowed even when private, e.g. `10.1.0.0/16`. */
  allowedCidrs?: readonly string[];
  /**
   * How a refused destination's message names the two settings above, so it names the fix that
   * works where they were set. Default: these options (`allowPrivateNetworks: true`,
   * `allowedCidrs`); `steadfast serve` and `worker` name their flags and variables.
   */
  settingNames?: GuardSettingNames;
  /** Attempts in flight at once. Default 256. */
  concurrency?: number;
  /** Claim lease, ms. Default 30,000. */
  leaseMs?: number;
  /**
   * How often the engine's process heartbeats in the store and looks for dead ones, ms. Default
   * 1,000.
   */
  heartbeatIntervalMs?: number;
  /**
   * How long another process may go without a heartbeat before its calls are taken over, ms.
   * Default 5,000. A process gone from this host (a restart) is found at once.
   */
  workerTimeoutMs?: number;
  /** How long idempotency keys are kept after their call ends, ms. Default 24 h. */
  idempotencyTtlMs?: number;
  /** How long events are kept for the runs waiting for them, ms. Default 7 days. */
  eventRetentionMs?: number;
  /**
   * How long ended calls (with their attempts and callback deliveries) and ended runs (with their
   * steps) are kept, ms; then they are deleted in the background. 0 keeps them for ever. Default
   * 7 days (`STEADFAST_RETENTION` for `steadfast serve`). A call is kept at least until its
   * idempotency key expires and while its callback is being delivered; a call or run started by
   * a live run's step stays while that run lives. See docs/retention.md.
   */
  retentionMs?: number;
  /**
   * How often expired idempotency keys are released and events, calls and runs past their
   * retention deleted, ms. Default 60,000.
   */
  purgeIntervalMs?: number;
  /** Most calls (or runs) one retention batch deletes (one transaction). Default 500. */
  purgeBatchSize?: number;
  /** The pause between two retention batches, ms. Default 100. */
  purgePauseMs?: number;
  /**
   * How long a process trusts an API key it has checked before asking the database again, ms:
   * the longest a key revoked by another process keeps working in this one. Default 5,000; at
   * most 60,000.
   */
  authCacheTtlMs?: number;
  /** Response body bytes stored per attempt. Default 1 MiB. */
  maxResponseBytes?: number;
  /** On `close`, how long attempts in flight may finish, ms. Default 10,000. */
  shutdownGraceMs?: number;
  /**
   * Default `SystemClock`. A clock of your own should offer `monotonicNow` (worker liveness
   * measures its durations with it, so that a wall-clock step does not move them).
   */
  clock?: Clock;
  /** Default a CSPRNG-backed random. */
  random?: Random;
  logger?: EngineLogger;
  /** Run the engine in this process. Default true. */
  startEngine?: boolean;
  /**
   * Crash windows, for crash tests only (`parseFaults`). Default none. Never read from the
   * environment: a production process cannot be made to kill itself by a variable.
   */
  faults?: FaultInjector;
  /** Replace the HTTP transport (tests, custom agents). Default `UndiciTransport`. */
  transport?: Transport;
  /**
   * Per-destination protection: when breakers open and for how long, pauses, retry budget, the
   * share of `concurrency` one destination may use. See docs/destinations.md for the defaults.
   */
  destinations?: Partial<DestinationSettings>;
}

/** Options of `Steadfast.fetch`. */
export interface CallOptions {
  /** The same key and request return the same call; a different request with it is refused. */
  idempotencyKey?: string;
  /** Default `default`. */
  tenantId?: string;
}

/** Options of `Steadfast.sendEvent`. */
export interface SendEventOptions {
  /**
   * Deduplicates, per tenant: the same id with the same name and data is recorded once (and not
   * delivered again); with another name or data it is refused (`event_id_reused`).
   */
  id?: string;
  /** Default `default`. */
  tenantId?: string;
}

/** A submitted call. */
export interface CallHandle {
  readonly id: CallId;
  /** True when this submit created the call; false when an idempotency key matched an existing one. */
  readonly created: boolean;
  /** The call's current status. */
  status(): Promise<CallStatus>;
  /** The call as `GET /v1/calls/:id` shows it. */
  call(): Promise<CallView>;
  /** Its attempts so far. */
  attempts(): Promise<AttemptView[]>;
  /**
   * Resolves with the call once it has ended (succeeded, failed or cancelled). Rejects with a
   * `WaitTimeoutError` (code `wait_timeout`) when `timeoutMs` passes first; the call goes on.
   * Default: no time limit.
   */
  result(options?: { timeoutMs?: number }): Promise<CallView>;
}

/** A running Steadfast: engine, store and the calls service. */
export interface Steadfast {
  readonly calls: CallsService;
  /** Workflow runs (read, list, cancel, retry) and events (`sendEvent`), scoped to a tenant. */
  readonly runs: RunsService;
  /** Destinations: their breakers, pauses, limits and health (not scoped to a tenant). */
  readonly destinations: DestinationsService;
  /** API keys: authentication, and the operator's create, list and revoke. */
  readonly keys: ApiKeysService;
  readonly store: Store;
  readonly engine: Engine;
  /**
   * Durable workflows: `workflow` registers one here (as `Steadfast.workflow`); `start` starts a
   * run of a workflow that other processes run.
   */
  readonly workflows: WorkflowClient;
  readonly clock: Clock;
  readonly random: Random;
  /** Submits a durable call, committed before this resolves. */
  fetch(input: FetchInput, options?: CallOptions): Promise<CallHandle>;
  /**
   * Registers a durable workflow in this process (which then runs its runs) and returns its
   * handle: `start(input, { id })` starts a run. See docs/workflows.md.
   *
   * @example
   * const checkout = steadfast.workflow("checkout", async ({ input, step }: WorkflowContext<{ orderId: string }>) => {
   *   const charge = await step.run("charge", () => payments.charge(input.orderId));
   *   return { chargeId: charge.id };
   * });
   * const run = await checkout.start({ orderId: "o-42" }, { id: "order-o-42" });
   */
  workflow<I = unknown, O = unknown>(
    name: string,
    fn: WorkflowFunction<I, O>,
    options?: WorkflowOptions,
  ): Workflow<I, O>;
  /**
   * Registers a durable endpoint in this process (which then runs its runs) and returns its
   * web-standard handler: the request is stored and driven inline, each step checkpointed; a run
   * that parks is handed to the engine and answered `202` with a `Location` the same handler
   * answers. See docs/endpoints.md.
   *
   * @example
   * const chat = steadfast.endpoint("chat", async (req, { step }) => {
   *   const { question } = (await req.json()) as { question: string };
   *   const plan = await step.run("plan", () => llm.plan(question));
   *   const answer = await step.run("answer", () => llm.answer(plan));
   *   return Response.json({ answer });
   * });
   * http.createServer(toNodeHandler(chat)).listen(3000);
   */
  endpoint(name: string, handler: EndpointHandler, options?: EndpointOptions): DurableEndpoint;
  /**
   * Sends an event to the runs waiting for it (`step.waitForEvent`), recorded before this
   * resolves. An `id` deduplicates: the same id again is not delivered twice.
   */
  sendEvent(name: string, data?: unknown, options?: SendEventOptions): Promise<SentEvent>;
  /** Stops the engine gracefully and closes the store. */
  close(): Promise<void>;
}

/**
 * Opens (and migrates) the database and starts the engine.
 *
 * @example
 * const steadfast = await createSteadfast({ db: "sqlite:./data/steadfast.db" });
 * const call = await steadfast.fetch({ url: "https://api.example.com/v1/charges", method: "POST", body: { amount: 2000 } }, { idempotencyKey: "order-42" });
 * const done = await call.result(); // { status: "succeeded", response: { status: 200, ... } }
 */
export async function createSteadfast(options: SteadfastOptions = {}): Promise<Steadfast> {
  const clock = options.clock ?? new SystemClock();
  const random = options.random ?? new CryptoRandom();
  const store = await openStore(options.db ?? DEFAULT_DB, options.sqliteSynchronous);
  await store.migrate();
  const guard = createDestinationGuard({
    allowPrivateNetworks: options.allowPrivateNetworks ?? false,
    allowCidrs: options.allowedCidrs ?? [],
    settingNames: options.settingNames ?? {
      allowPrivateNetworks: "allowPrivateNetworks: true (a createSteadfast option)",
      allowedCidrs: "allowedCidrs (a createSteadfast option)",
    },
  });
  // As many connections per origin as attempts in flight: one destination may be sent a share of
  // `concurrency` at once, and an attempt left waiting for a pooled connection would fail
  // `connect_timeout` without reaching it (the resume benchmark's 500 calls to one origin did).
  const transport =
    options.transport ??
    new UndiciTransport({
      clock,
      guard,
      ...(options.logger === undefined ? {} : { logger: options.logger }),
      connections: Math.max(128, Math.floor(options.concurrency ?? 256)),
    });
  const engine = new Engine({
    store,
    transport,
    clock,
    random,
    guard,
    ...pick(options, [
      "concurrency",
      "leaseMs",
      "heartbeatIntervalMs",
      "workerTimeoutMs",
      "maxResponseBytes",
      "idempotencyTtlMs",
      "eventRetentionMs",
      "retentionMs",
      "purgeIntervalMs",
      "purgeBatchSize",
      "purgePauseMs",
      "shutdownGraceMs",
      "faults",
      "logger",
      "destinations",
    ]),
  });
  const calls = new CallsService({
    store,
    engine,
    clock,
    random,
    guard,
    ...(options.idempotencyTtlMs === undefined
      ? {}
      : { idempotencyTtlMs: options.idempotencyTtlMs }),
  });
  const runs = new RunsService({
    store,
    clock,
    random,
    engine: engine.runs,
    executor: engine.runs,
  });
  const keys = new ApiKeysService({
    store,
    clock,
    random,
    ...(options.authCacheTtlMs === undefined ? {} : { authCacheTtlMs: options.authCacheTtlMs }),
  });
  const destinations = new DestinationsService({ gate: engine.destinations, clock });
  const workflows = new WorkflowClient({ store, executor: engine.runs, clock, random });
  if (options.startEngine !== false) engine.start();
  let closed: Promise<void> | undefined;

  return {
    calls,
    runs,
    destinations,
    keys,
    store,
    engine,
    workflows,
    clock,
    random,
    async fetch(input, callOptions = {}) {
      const tenant = toTenantId(callOptions.tenantId ?? "default");
      const parsed = parseFetchInput(input);
      const { call, created } = await calls.submit(
        tenant,
        parsed,
        callOptions.idempotencyKey === undefined
          ? {}
          : { idempotencyKey: callOptions.idempotencyKey },
      );
      return handle(calls, tenant, call.id, created);
    },
    workflow(name, fn, workflowOptions) {
      return workflows.workflow(name, fn, workflowOptions);
    },
    endpoint(name, handler, endpointOptions) {
      return createEndpoint(
        {
          store,
          executor: engine.runs,
          clock,
          random,
          ...(options.logger === undefined ? {} : { logger: options.logger }),
        },
        name,
        handler,
        endpointOptions,
      );
    },
    sendEvent(name, data, eventOptions = {}) {
      const { tenantId = "default", id } = eventOptions;
      return runs.sendEvent(toTenantId(tenantId), {
        name,
        data,
        ...(id === undefined ? {} : { id }),
      });
    },
    close() {
      closed ??= (async () => {
        await engine.stop();
        await transport.close();
        await store.close();
      })();
      return closed;
    },
  };
}

function handle(calls: CallsService, tenant: TenantId, id: CallId, created: boolean): CallHandle {
  return {
    id,
    created,
    async status() {
      return (await calls.get(tenant, id)).status;
    },
    async call() {
      return await calls.view(await calls.get(tenant, id));
    },
    async attempts() {
      return (await calls.attempts(tenant, id)).map(toAttemptView);
    },
    async result(resultOptions = {}) {
      const timeoutMs = resultOptions.timeoutMs ?? Number.MAX_SAFE_INTEGER;
      const call = await calls.waitForEnd(tenant, id, timeoutMs);
      if (!TerminalStatuses.has(call.status)) {
        throw new WaitTimeoutError(id, call.status, timeoutMs);
      }
      return await calls.view(call);
    },
  };
}

/**
 * Opens the store named by `db`: `postgres://...[?schema=name]` (a `PostgresStore`, schema
 * `steadfast` unless named),
 * `sqlite:<path>`, a bare path, or `:memory:`.
 */
export async function openStore(db: string, synchronous?: "FULL" | "NORMAL"): Promise<Store> {
  const location = databaseLocation(db);
  if (location.type === "postgres") {
    // `?schema=name` chooses the schema (default `steadfast`); pg never sees the parameter.
    const url = new URL(db);
    const schema = url.searchParams.get("schema");
    url.searchParams.delete("schema");
    return await PostgresStore.connect({
      connectionString: url.toString(),
      ...(schema === null ? {} : { schema }),
    });
  }
  const { path } = location;
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  return SqliteStore.open({ path, ...(synchronous === undefined ? {} : { synchronous }) });
}

/**
 * Where the database `db` (as `openStore` takes it) lives: PostgreSQL, or a SQLite file (its
 * absolute path) or `:memory:`.
 */
export function databaseLocation(
  db: string,
): { type: "postgres" } | { type: "sqlite"; path: string } {
  if (/^postgres(ql)?:\/\//i.test(db)) return { type: "postgres" };
  const location = db.startsWith("sqlite:") ? db.slice("sqlite:".length) : db;
  return { type: "sqlite", path: location === ":memory:" ? ":memory:" : resolve(location) };
}

function pick<T extends object, K extends keyof T>(source: T, keys: readonly K[]): Pick<T, K> {
  const out = {} as Pick<T, K>;
  for (const key of keys) if (source[key] !== undefined) out[key] = source[key];
  return out;
}
