/**
 * Durable endpoints (issue 12, first slice): `steadfast.endpoint(name, handler)` turns an HTTP
 * handler made of steps into a web-standard `(Request) => Promise<Response>` whose request
 * cannot be lost once it is taken in.
 *
 * An endpoint is a workflow whose input is the request (`EndpointRequest`) and whose output is
 * the handler's response (`EndpointResponse`), registered with the run executor under the
 * endpoint's name, so any process that registered the name resumes its runs. A request:
 *
 * 1. is stored as a new run, created claimed by this process (committed before the handler runs);
 * 2. is driven inline: the executor's invocation (the same `runInvocation` and commit hook as
 *    every workflow) runs at once, and the request waits for it;
 * 3. is answered, on the happy path, by the handler's response as soon as the handler returns
 *    it (`readResponse` hands it over: a complete body as bytes, a stream as it is produced,
 *    while the run keeps a copy and ends when the body ends); else by how the invocation ended:
 *    a problem when it failed, or, when it parked (a step's retry backoff, a sleep, an event wait),
 *    `202 Accepted` with `Location: <its URL>?steadfast_run=<runId>` and `Retry-After`: the
 *    engine finishes the run in the background, and a `GET` of that location (the same handler)
 *    answers its stored response, holding up to `resultWaitMs` for it.
 *
 * An `Idempotency-Key` names the run (`<endpoint>:<key>`): the same key and request (method, path
 * and query, body; not the origin, as a retry may reach another instance) is answered as the
 * location would be; another request with it gets `422`.
 */
import {
  endpointRunId,
  handoffLocation,
  isEndpointRequest,
  requestedRun,
  retryAfterSeconds,
} from "../../core/endpoint/endpoint-exchange.ts";
import { SteadfastError } from "../../core/errors.ts";
import { parseIdempotencyKeyHeader } from "../../core/idempotency-key.ts";
import { newRunUid, tenantId as toTenantId, type TenantId } from "../../core/ids.ts";
import { monotonicNow, type Clock, type Random } from "../../core/ports.ts";
import type { NewRun, RunRecord } from "../../core/run-log.ts";
import type { Store } from "../../core/store.ts";
import { NonRetriableError } from "../../core/workflow/workflow-errors.ts";
import type { EngineLogger } from "../engine.ts";
import type {
  FlightEnd,
  InlineFlight,
  RunExecutor,
  WorkflowOptions,
} from "../workflows/run-executor.ts";
import { storedValueCodec } from "../workflows/stored-value-codec.ts";
import { waitForRunEnd } from "../workflows/workflow-client.ts";
import { defineWorkflow, type Steps } from "../workflows/workflow-definition.ts";
import {
  endpointRequestFingerprint,
  readRequest,
  readResponse,
  toRequest,
} from "./endpoint-messages.ts";
import { acceptedAnswer, endedRunAnswer } from "./endpoint-answers.ts";
import { problemForError, problemResponse } from "./endpoint-problems.ts";

/** What an endpoint's handler is given besides its request. */
export interface EndpointContext {
  /** The step API, as in workflows: `run`, `fetch`, `sleep`, `waitForEvent`, `invoke`, `now`, `random`. */
  step: Steps;
  /** The run's id: `<endpoint>:<Idempotency-Key>`, or a new `run_...` without a key. */
  runId: string;
}

/**
 * An endpoint's handler: an ordinary web handler whose work is made of steps. It runs again from
 * the top on every invocation of its run (after a handoff, a crash), each time with a fresh
 * `Request` rebuilt from the stored one, so `await req.json()` works on every replay; completed
 * steps return their recorded results.
 */
export type EndpointHandler = (
  request: Request,
  context: EndpointContext,
) => Response | Promise<Response>;

/**
 * A durable endpoint: a web-standard handler for any framework (`toNodeHandler`,
 * `toExpressHandler` and `toFastifyHandler` for node:http, Express and Fastify).
 */
export interface DurableEndpoint {
  (request: Request): Promise<Response>;
  /**
   * The endpoint's `maxBodyBytes`: the adapters stop reading a request body as soon as it passes
   * it (at once when its `Content-Length` does) and answer `413`.
   */
  readonly maxBodyBytes: number;
}

/** Options of `steadfast.endpoint`. */
export interface EndpointOptions extends WorkflowOptions {
  /**
   * How long a `GET` of the handoff location (or a request retried with its key) holds the
   * connection waiting for the run to end before answering `202` again, ms. Default 20,000.
   */
  resultWaitMs?: number;
  /** Largest request body stored, bytes; a larger one gets `413`. Default 10 MiB. */
  maxBodyBytes?: number;
  /**
   * Largest response body stored, bytes. Default 10 MiB. A handler's response over it is not
   * stored and its run fails (`ResponseTooLargeError`); the request that started the run still
   * gets the whole body (streamed); a later answer of the run (its location, a retry with its
   * key) is `500 run_failed` naming this option.
   */
  maxResponseBytes?: number;
  /** The tenant the endpoint's runs belong to. Default `default`. */
  tenantId?: string;
  /**
   * Step retries the request waits for before the run is handed to the engine (`202`): a step
   * that fails and will be retried is retried inline this many times (within `maxInlineMs`).
   * Default 0: the first failure hands off.
   */
  inlineRetries?: number;
  /**
   * Longest a request is held before it is answered `202` with the location while its run goes
   * on (here, in the background), ms. Default: no limit (held until the run ends or parks).
   */
  maxInlineMs?: number;
}

/** What a durable endpoint works with. */
export interface EndpointDependencies {
  store: Store;
  executor: RunExecutor;
  clock: Clock;
  random: Random;
  logger?: EngineLogger;
}

const DEFAULT_RESULT_WAIT_MS = 20_000;
const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;
const DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024;

/**
 * Registers endpoint `name` in this process and returns its handler (see the file's comment).
 *
 * @example
 * const chat = createEndpoint(deps, "chat", async (req, { step }) => {
 *   const { question } = await req.json();
 *   const answer = await step.run("answer", () => llm.answer(question));
 *   return Response.json({ answer });
 * });
 * http.createServer(toNodeHandler(chat));
 */
export function createEndpoint(
  dependencies: EndpointDependencies,
  name: string,
  handler: EndpointHandler,
  options: EndpointOptions = {},
): DurableEndpoint {
  const endpoint = new Endpoint(dependencies, name, handler, options);
  return Object.assign((request: Request) => endpoint.answer(request), {
    maxBodyBytes: endpoint.maxBodyBytes,
  });
}

class Endpoint {
  readonly #deps: EndpointDependencies;
  readonly #name: string;
  readonly #tenant: TenantId;
  readonly #resultWaitMs: number;
  readonly maxBodyBytes: number;
  readonly #inlineRetries: number;
  readonly #maxInlineMs: number | undefined;
  /**
   * The secret headers (never stored) of requests whose run this process drives inline, by run
   * id, while it does: that invocation's `Request` has them; later ones do not.
   */
  readonly #secrets = new Map<string, [string, string][]>();
  /**
   * The requests waiting inline for the handler's response of a run this process drives, by run
   * id: its invocation hands the response over (once) as soon as the handler returns it.
   */
  readonly #handOvers = new Map<string, (answer: Response) => void>();

  constructor(
    deps: EndpointDependencies,
    name: string,
    handler: EndpointHandler,
    options: EndpointOptions,
  ) {
    const {
      resultWaitMs,
      maxBodyBytes,
      maxResponseBytes,
      tenantId,
      inlineRetries,
      maxInlineMs,
      ...workflowOptions
    } = options;
    this.#deps = deps;
    this.#name = name;
    this.#tenant = toTenantId(tenantId ?? "default");
    for (const [option, value] of Object.entries({
      resultWaitMs,
      maxBodyBytes,
      inlineRetries,
      maxInlineMs,
    })) {
      if (value !== undefined && (!Number.isInteger(value) || value < 0)) {
        throw new SteadfastError(
          "invalid_state",
          `Endpoint "${name}": ${option} must be an integer >= 0, got ${String(value)}.`,
        );
      }
    }
    this.#resultWaitMs = resultWaitMs ?? DEFAULT_RESULT_WAIT_MS;
    this.maxBodyBytes = maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    const maxResponse = maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.#inlineRetries = inlineRetries ?? 0;
    this.#maxInlineMs = maxInlineMs;
    const secrets = this.#secrets;
    const handOvers = this.#handOvers;
    const definition = defineWorkflow(name, async ({ input, runId, step }) => {
      if (!isEndpointRequest(input)) {
        throw new NonRetriableError(
          `Run "${runId}" of endpoint "${name}" has an input that is not a stored request: it was not started by this endpoint.`,
        );
      }
      const response = await handler(toRequest(input, secrets.get(runId)), { step, runId });
      if (!(response instanceof Response)) {
        throw new NonRetriableError(
          `Endpoint "${name}" returned ${typeof response} instead of a Response: return one (Response.json(value), new Response(body, init)).`,
        );
      }
      // The request waiting inline, if this invocation is the one it drives (not a replay).
      const handOver = handOvers.get(runId);
      handOvers.delete(runId);
      return await readResponse(response, maxResponse, handOver);
    });
    deps.executor.register(definition, workflowOptions);
  }

  async answer(request: Request): Promise<Response> {
    try {
      const url = new URL(request.url);
      const asked = requestedRun(request.method, url);
      if (asked !== undefined) return await this.#answerLocation(asked, request.url);
      return await this.#take(request);
    } catch (error) {
      const problem = problemForError(error);
      if (problem.status >= 500) {
        this.#deps.logger?.error(
          { err: error, endpoint: this.#name },
          "a durable endpoint could not answer a request",
        );
      }
      return problem;
    }
  }

  /**
   * A new request: a run driven inline with its writes behind it (or found by its key). Without
   * a key the run's creation is held with its first writes (`WriteBehind`): a handler that
   * answers at once is written whole in one group-committed write after its answer. With a key,
   * the run is created first (one write, waited for), since another request may hold the key.
   */
  async #take(request: Request): Promise<Response> {
    const { store, executor, clock, random } = this.#deps;
    const key = parseIdempotencyKeyHeader(request.headers.get("idempotency-key") ?? undefined);
    const { stored, secrets } = await readRequest(request, this.maxBodyBytes);
    const now = clock.now();
    const uid = newRunUid(now, random);
    const newRun: NewRun = {
      uid,
      tenantId: this.#tenant,
      id: key === undefined ? uid : endpointRunId(this.#name, key),
      workflow: this.#name,
      input: storedValueCodec.encode(stored),
      inputFingerprint: endpointRequestFingerprint(this.#name, stored),
      createdAt: now,
    };
    const slot = executor.reserve(this.#name);
    let start: { run: NewRun } | { created: RunRecord };
    if (key === undefined && slot !== undefined) start = { run: newRun };
    else {
      let created: { created: boolean; run: RunRecord };
      try {
        created = await store.createRun(newRun, slot);
      } catch (error) {
        slot?.release();
        throw error;
      }
      const { run } = created;
      if (!created.created) {
        slot?.release();
        if (run.workflow !== this.#name || run.inputFingerprint !== newRun.inputFingerprint) {
          return problemResponse(
            "idempotency_key_reused",
            `Idempotency-Key "${key ?? ""}" was used before for another request to endpoint "${this.#name}" (method, path, query or body differ): send a new key for a new request.`,
            { runId: run.id },
          );
        }
        return await this.#answerRun(run, stored.url);
      }
      if (slot === undefined) {
        // No slot here (all taken, or the engine cannot act yet: it has just started): the claim
        // loop of a process with the endpoint runs it; the request is held for it as the location
        // would hold it.
        executor.notify(now);
        return await this.#answerRun(run, stored.url);
      }
      start = { created: run };
    }
    if (secrets.length > 0) this.#secrets.set(newRun.id, secrets);
    const handedOver = new Promise<Response>((resolve) => this.#handOvers.set(newRun.id, resolve));
    const startedAt = monotonicNow(clock);
    const inline = slot.launchInline(start, {
      input: { value: stored },
      retries: this.#inlineRetries,
      ...(this.#maxInlineMs === undefined ? {} : { until: now + this.#maxInlineMs }),
    });
    void inline.done.finally(() => {
      this.#secrets.delete(newRun.id);
      this.#handOvers.delete(newRun.id);
    });
    // Streaming: the handler's response as soon as it returns one (its body may still be coming;
    // the run ends once it has been read), else how the invocation ended.
    const holding = new AbortController();
    const first = await Promise.race([handedOver, this.#held(inline, startedAt, holding.signal)]);
    holding.abort();
    if (first instanceof Response) return first;
    // Answered without the handler's response: a response it returns later is the run's alone.
    this.#handOvers.delete(newRun.id);
    const end = first;
    if (end?.type === "ended") return endedRunAnswer(end.run);
    // Handed off (parked, or held past maxInlineMs) or not run here: the run must be stored
    // before a location to it is given.
    if (!inline.created() && !(await inline.flush())) {
      return problemResponse(
        "store_unavailable",
        `Endpoint "${this.#name}" could not store this request: send it again.`,
      );
    }
    const runAt = end?.type === "parked" ? end.runAt : undefined;
    return accepted(stored.url, newRun.id, retryAfterSeconds(runAt, clock.now()));
  }

  /**
   * How the inline invocation ended, or undefined once the request has been held `maxInlineMs`
   * (the invocation goes on here; the client is handed the location). `signal`: the request was
   * answered otherwise (the handler's response was handed over): the timer goes.
   */
  async #held(
    inline: InlineFlight,
    startedAt: number,
    signal: AbortSignal,
  ): Promise<FlightEnd | undefined> {
    if (this.#maxInlineMs === undefined) return await inline.end;
    const waited = new AbortController();
    const stop = (): void => waited.abort();
    signal.addEventListener("abort", stop, { once: true });
    const left = Math.max(0, this.#maxInlineMs - (monotonicNow(this.#deps.clock) - startedAt));
    const timeout = this.#deps.clock.sleep(left, waited.signal).then(
      () => undefined,
      () => undefined,
    );
    try {
      return await Promise.race([inline.end, timeout]);
    } finally {
      signal.removeEventListener("abort", stop);
      waited.abort();
    }
  }

  /**
   * A `GET` of a handoff location (`url`, perhaps reaching another instance than the one that
   * gave it): the run's stored response, once it has ended.
   */
  async #answerLocation(runId: string, url: string): Promise<Response> {
    const detail = await this.#deps.store.getRun(this.#tenant, runId);
    if (detail === undefined || detail.run.workflow !== this.#name) {
      return problemResponse(
        "not_found",
        `Endpoint "${this.#name}" has no run "${runId}": use the Location its 202 answer gave.`,
      );
    }
    return await this.#answerRun(detail.run, url);
  }

  /**
   * A run found in the store: its response once it has ended (held up to `resultWaitMs`), else
   * `202` with the location on `url` (the URL this request came in on).
   */
  async #answerRun(run: RunRecord, url: string): Promise<Response> {
    const ended = await waitForRunEnd(this.#deps, run, this.#resultWaitMs);
    if (ended !== undefined) return endedRunAnswer(ended);
    return accepted(url, run.id, retryAfterSeconds(run.runAt, this.#deps.clock.now()));
  }
}

/** `202 Accepted`: the run goes on in the background; its response will be at `Location`. */
function accepted(url: string, runId: string, retryAfter: number): Response {
  return acceptedAnswer(runId, handoffLocation(url, runId), retryAfter);
}
