/**
 * The read, control and event use cases of durable workflows (issue 11, "Over HTTP and the CLI"),
 * shared by the HTTP API, the in-process API and the CLI: read a run with its steps, list runs,
 * cancel, retry, and send an event that wakes the runs waiting for it. Every method is scoped to
 * a tenant: another tenant's run is `not_found`. Starting runs is not here: runs execute user
 * code, registered in-process.
 */
import { isDeepStrictEqual } from "node:util";
import { retryAfterSeconds } from "../../core/endpoint/endpoint-exchange.ts";
import { TerminalError } from "../../core/errors.ts";
import { parseEventInput, type EventInput } from "../../core/event-input.ts";
import type { EventLog, StoredEvent } from "../../core/event-log.ts";
import { isRunUid, ulid, type TenantId } from "../../core/ids.ts";
import type { Clock, Random } from "../../core/ports.ts";
import type { RunLog, RunRecord } from "../../core/run-log.ts";
import { toRunView, type RunView } from "../../core/run-view.ts";
import { decodeValue, encodeValue } from "../../core/value-codec.ts";
import { isFinalRunStatus, type RunStatus } from "../../core/workflow/run-state.ts";
import { runIdProblem, workflowNameProblem } from "../../core/workflow/run-names.ts";
import { acceptedAnswer, endedRunAnswer, isEndpointRun } from "../endpoints/endpoint-answers.ts";
import { waitForRunEnd, type RunEndSources } from "./workflow-client.ts";

/** What the service needs of the engine: a nudge when a run becomes due. */
export interface RunsEngineHooks {
  /** A run is due at `runAt` (epoch ms). */
  notify(runAt: number): void;
}

/** Options of `RunsService`. */
export interface RunsServiceOptions {
  store: RunLog & EventLog;
  clock: Clock;
  /** Draws the ids of events sent without one. */
  random: Random;
  /** Nudged after a retry or an event makes runs due. Absent: runs are found by the next poll. */
  engine?: RunsEngineHooks;
  /**
   * This process's run executor: `result` hears the end of a run it runs at once. Absent: `result`
   * reads the store every `pollIntervalMs`.
   */
  executor?: RunEndSources["executor"];
  /** How often `result` reads a run another process runs, ms. Default 1,000. */
  pollIntervalMs?: number;
}

/** A page of runs, newest first. */
export interface RunPage {
  runs: RunRecord[];
  /** Pass as `cursor` for the next page; absent on the last page. */
  nextCursor?: string;
}

/** Query of `RunsService.list`. */
export interface ListRunsOptions {
  /** Only runs of this workflow. */
  workflow?: string;
  status?: RunStatus;
  /** 1 to 500. Default 50. */
  limit?: number;
  /** The `nextCursor` of the previous page. */
  cursor?: string;
}

/** What `RunsService.sendEvent` did. */
export interface SentEvent {
  /** The event's id: the one given, or the `evt_<ULID>` made for it. */
  id: string;
  name: string;
  /** When it was recorded, epoch ms (the first time, for a duplicate). */
  receivedAt: number;
  /** False when the tenant already had an event with this id (and the same name and data). */
  created: boolean;
}

/** Default hold of `result`, seconds. */
export const DEFAULT_RESULT_WAIT_SECONDS = 20;
/**
 * Longest hold of `result`, seconds: under the usual idle timeouts of proxies and load balancers
 * (60 s), so a held request is answered rather than cut.
 */
export const MAX_RESULT_WAIT_SECONDS = 55;

/** Default page size of `list`. */
export const DEFAULT_RUN_PAGE = 50;
/** Largest page size of `list`. */
export const MAX_RUN_PAGE = 500;

/** The run read and control use cases (see the file's comment). */
export class RunsService {
  readonly #store: RunLog & EventLog;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #engine: RunsEngineHooks | undefined;
  readonly #ends: RunEndSources;

  constructor(options: RunsServiceOptions) {
    this.#ends = {
      store: options.store,
      executor: options.executor,
      clock: options.clock,
      pollIntervalMs: options.pollIntervalMs,
    };
    this.#store = options.store;
    this.#clock = options.clock;
    this.#random = options.random;
    this.#engine = options.engine;
  }

  /** The tenant's run `id` with its steps and their attempts, as shown. Throws `not_found`. */
  async get(tenantId: TenantId, id: string): Promise<RunView> {
    // No run can have an id that breaks the rule (a NUL, which PostgreSQL text cannot hold).
    if (runIdProblem(id) !== undefined) throw notFound(id);
    const detail = await this.#store.getRun(tenantId, id);
    if (detail === undefined) throw notFound(id);
    const { parent } = detail.run;
    // The parent's id as its starter gave it; the internal uid only if it is gone.
    const parentRun = parent === undefined ? undefined : await this.#store.getRunByUid(parent.uid);
    return toRunView(detail, parentRun?.id);
  }

  /**
   * The answer of the tenant's endpoint run `id` (`steadfast.endpoint`), as its handoff location
   * gives it (`endpoint-answers.ts`): once it has ended, its stored response, or the problem of a
   * failed (`500 run_failed`) or cancelled (`409 run_cancelled`) run; while it runs, held up to
   * `waitMs` (or until `signal` aborts), then `202` with `Location: location` and `Retry-After`.
   * A problem carries the members of `occurrence` besides (the server's `instance` and
   * `correlationId`). Throws
   * `not_found`, or `invalid_state` for a run that is not an endpoint run (it has an output, not
   * a response).
   */
  async result(
    tenantId: TenantId,
    id: string,
    waitMs: number,
    location: string,
    options: { occurrence?: Record<string, string>; signal?: AbortSignal } = {},
  ): Promise<Response> {
    if (runIdProblem(id) !== undefined) throw notFound(id);
    const detail = await this.#store.getRun(tenantId, id);
    if (detail === undefined) throw notFound(id);
    const { run } = detail;
    if (!isEndpointRun(run)) {
      throw new TerminalError(
        "invalid_state",
        `Run ${id} is a run of workflow "${run.workflow}", not of a durable endpoint: it has no stored response; read its output with GET /v1/runs/${encodeURIComponent(id)}`,
      );
    }
    const ended = await waitForRunEnd(this.#ends, run, waitMs, options.signal);
    if (ended !== undefined) return endedRunAnswer(ended, options.occurrence);
    return acceptedAnswer(run.id, location, retryAfterSeconds(run.runAt, this.#clock.now()));
  }

  /**
   * The tenant's runs, newest first, optionally of one workflow and one status. Throws
   * `invalid_request` for a limit out of range or a cursor this API did not return.
   */
  async list(tenantId: TenantId, query: ListRunsOptions = {}): Promise<RunPage> {
    const limit = query.limit ?? DEFAULT_RUN_PAGE;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_RUN_PAGE) {
      throw new TerminalError(
        "invalid_request",
        `limit ${limit} is out of range; pass a whole number from 1 to ${MAX_RUN_PAGE}`,
        { issues: [{ field: "limit", message: `must be an integer from 1 to ${MAX_RUN_PAGE}` }] },
      );
    }
    const workflowProblem =
      query.workflow === undefined ? undefined : workflowNameProblem(query.workflow);
    if (workflowProblem !== undefined) {
      throw new TerminalError(
        "invalid_request",
        `workflow is not a workflow name: ${workflowProblem}`,
        {
          issues: [{ field: "workflow", message: workflowProblem }],
        },
      );
    }
    if (query.cursor !== undefined && !isRunUid(query.cursor)) {
      throw new TerminalError(
        "invalid_request",
        `cursor "${query.cursor}" is not one this API returned; pass the nextCursor of the previous page`,
        { issues: [{ field: "cursor", message: "must be the nextCursor of a previous page" }] },
      );
    }
    const runs = await this.#store.listRuns({
      tenantId,
      limit,
      ...(query.workflow === undefined ? {} : { workflow: query.workflow }),
      ...(query.status === undefined ? {} : { status: query.status }),
      ...(query.cursor === undefined ? {} : { before: query.cursor }),
    });
    const last = runs.at(-1);
    return runs.length === limit && last !== undefined ? { runs, nextCursor: last.uid } : { runs };
  }

  /**
   * Cancels the tenant's run `id` that has not ended: a parked one ends at once, a running one at
   * its next step boundary (its next commit is refused). Returns the run as cancelled. Throws
   * `not_found`, or `invalid_state` when it has ended.
   */
  async cancel(tenantId: TenantId, id: string): Promise<RunView> {
    if (runIdProblem(id) !== undefined) throw notFound(id);
    const result = await this.#store.cancelRun(tenantId, id, this.#clock.now());
    if (result.type === "not_found") throw notFound(id);
    if (result.type === "invalid_state") {
      throw new TerminalError(
        "invalid_state",
        `Run ${id} is ${result.run.status} and can no longer be cancelled`,
      );
    }
    return await this.get(tenantId, id);
  }

  /**
   * Retries the tenant's failed run `id` from its failed step, with the code of whichever process
   * claims it: its completed steps stay memoized. Returns the run as queued again. Throws
   * `not_found`, or `invalid_state` unless it failed without compensating.
   */
  async retry(tenantId: TenantId, id: string): Promise<RunView> {
    if (runIdProblem(id) !== undefined) throw notFound(id);
    const now = this.#clock.now();
    const result = await this.#store.retryRun(tenantId, id, now);
    if (result.type === "not_found") throw notFound(id);
    if (result.type === "invalid_state") throw cannotRetry(id, result.run);
    this.#engine?.notify(now);
    return await this.get(tenantId, id);
  }

  /**
   * Sends an event: validates it (`parseEventInput`), records it and wakes the tenant's runs
   * waiting for an event of its name, in one transaction (`recordEventAndWake`), so no crash
   * between the two leaves them asleep. An id the tenant already used with the same name and
   * data records nothing (`created: false`) but still wakes the waiting runs. Throws
   * `invalid_request` (naming the field), or `event_id_reused` when the id was used with another
   * name or data (the runs waiting for the stored event were woken: harmless, they park again).
   *
   * @example await runs.sendEvent(tenant, { name: "order.approved", data: { orderId: "o-42" } })
   */
  async sendEvent(tenantId: TenantId, input: EventInput): Promise<SentEvent> {
    const { name, id: givenId } = parseEventInput(input);
    const data = input.data === undefined ? null : input.data;
    let text: string;
    try {
      text = encodeValue(data, "data").text;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new TerminalError("invalid_request", `Invalid event: ${message}`, {
        cause: error,
        issues: [{ field: "data", message }],
      });
    }
    const now = this.#clock.now();
    const id = givenId ?? `evt_${ulid(now, this.#random)}`;
    const result = await this.#store.recordEventAndWake(
      { tenantId, id, name, data: text, receivedAt: now },
      now,
    );
    if (result.woken > 0) this.#engine?.notify(now);
    if (!result.created && !sameEvent(result.event, name, text, data)) {
      const differs = result.event.name === name ? "data" : "name";
      throw new TerminalError(
        "event_id_reused",
        `Event id "${id}" was already used for an event with another ${differs}; send a new id for a new event, or the same name and data to repeat it`,
        { issues: [{ field: "id", message: `already used with another ${differs}` }] },
      );
    }
    return { id, name, receivedAt: result.event.receivedAt, created: result.created };
  }
}

// The same event again: same name, and data equal once decoded (`{"a":1,"b":2}` and
// `{"b":2,"a":1}` are one value; devalue writes them differently).
function sameEvent(stored: StoredEvent, name: string, text: string, data: unknown): boolean {
  if (stored.name !== name) return false;
  if (stored.data === text) return true;
  try {
    return isDeepStrictEqual(decodeValue(stored.data, "data"), data);
  } catch {
    return false;
  }
}

function notFound(id: string): TerminalError {
  return new TerminalError("not_found", `No run ${JSON.stringify(id)} for this API key`);
}

function cannotRetry(id: string, run: RunRecord): TerminalError {
  const why =
    run.status === "failed"
      ? "it ran compensations, which undid its completed steps; start a new run instead"
      : isFinalRunStatus(run.status)
        ? "only a failed run can be retried"
        : "it has not ended; only a failed run can be retried";
  return new TerminalError("invalid_state", `Run ${id} is ${run.status}: ${why}`);
}
