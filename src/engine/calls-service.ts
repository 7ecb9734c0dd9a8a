import type { AttemptRecord, CallRecord, CallStatus } from "../core/call.ts";
import { TerminalStatuses } from "../core/call.ts";
import { toCallView, type CallView } from "../core/call-view.ts";
import { currentDelivery, type CallbackLookup } from "../core/callback-view.ts";
import { TerminalError } from "../core/errors.ts";
import { toCallSpec, type FetchInput } from "../core/fetch-input.ts";
import { checkIdempotencyKey } from "../core/idempotency-key.ts";
import { isCallId, newCallId, type CallId, type TenantId } from "../core/ids.ts";
import type { Clock, Random } from "../core/ports.ts";
import type { CallbackDelivery, CallLog, CreateCallResult, NewCall } from "../core/call-log.ts";
import type { TenantKeys } from "../core/tenant-keys.ts";
import type { WorkQueue } from "../core/work-queue.ts";
import { newSigningSecret } from "./callback-request.ts";
import type { EndWait, ReservedSlot } from "./engine.ts";
import { fingerprint } from "./fingerprint.ts";

/** Checks a destination URL before a call is accepted (the http layer's `DestinationGuard`). */
export interface UrlCheck {
  checkUrl(
    url: string,
  ): { ok: true } | { ok: false; code: "invalid_url" | "blocked_destination"; message: string };
}

/** What the service needs from the engine: a nudge when work is committed, and end-of-call waits. */
export interface EngineHooks {
  /** New work is due at `runAt` (epoch ms). */
  notify(runAt: number): void;
  /**
   * Resolves `"ended"` when this process sees the call end, `"timeout"` after `timeoutMs`,
   * `"stopped"` when the engine is shutting down, or `"aborted"` at once when `signal` aborts (the
   * wait and its timer are then gone).
   */
  waitForEnd(id: CallId, timeoutMs: number, signal?: AbortSignal): Promise<EndWait>;
  /**
   * A slot for a call created already claimed by this process's engine (`Engine.reserveSlot`), so
   * it starts without a claim round trip. Absent, or `undefined`: the call is created queued.
   */
  reserveSlot?(): ReservedSlot | undefined;
}

/** Options of `CallsService`. */
export interface CallsServiceOptions {
  /** The call log; the queue for calls created claimed; the tenant's signing secret. */
  store: CallLog & WorkQueue & TenantKeys;
  engine: EngineHooks;
  clock: Clock;
  random: Random;
  guard: UrlCheck;
  /** How long an idempotency key is kept after its call ends, ms. Default 24 h. */
  idempotencyTtlMs?: number;
}

/** Options of `CallsService.submit`. */
export interface SubmitOptions {
  /** The client's `Idempotency-Key`: the same key and request return the same call. */
  idempotencyKey?: string;
}

/** A page of calls, newest first. */
export interface CallPage {
  calls: CallRecord[];
  /** Pass as `cursor` for the next page; absent on the last page. */
  nextCursor?: string;
}

const DAY_MS = 86_400_000;

/**
 * The durable-call use cases, shared by the HTTP API, the in-process API and the CLI: submit with
 * idempotency, read, list, cancel, redrive, wait. Every method is scoped to a tenant.
 */
export class CallsService {
  readonly #store: CallLog & WorkQueue & TenantKeys;
  readonly #engine: EngineHooks;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #guard: UrlCheck;
  readonly #idempotencyTtlMs: number;

  constructor(options: CallsServiceOptions) {
    this.#store = options.store;
    this.#engine = options.engine;
    this.#clock = options.clock;
    this.#random = options.random;
    this.#guard = options.guard;
    this.#idempotencyTtlMs = options.idempotencyTtlMs ?? DAY_MS;
  }

  /** How long idempotency keys are kept after their call ends, ms. */
  get idempotencyTtlMs(): number {
    return this.#idempotencyTtlMs;
  }

  /**
   * Accepts a call: validates the destination, and commits it before resolving. With an
   * idempotency key already used by this tenant, returns that call (`created: false`) when the
   * request is the same, and throws `idempotency_key_reused` when it differs.
   */
  async submit(
    tenantId: TenantId,
    input: FetchInput,
    options: SubmitOptions = {},
  ): Promise<{ call: CallRecord; created: boolean }> {
    const spec = toCallSpec(input);
    this.#checkUrl(spec.request.url, "url");
    if (spec.callbackUrl !== undefined) this.#checkUrl(spec.callbackUrl, "callback.url");
    const key = options.idempotencyKey;
    // One rule (core/idempotency-key.ts) for every entry point: the key is forwarded upstream.
    if (key !== undefined) checkIdempotencyKey(key);
    const now = this.#clock.now();
    const id = newCallId(now, this.#random);
    const runAt = now + (input.delayMs ?? 0);
    const requestPrint = key === undefined ? undefined : fingerprint(input);
    const newCall: NewCall = {
      id,
      tenantId,
      kind: "call",
      spec,
      ...(key === undefined || requestPrint === undefined
        ? {}
        : { idempotencyKey: key, fingerprint: requestPrint }),
      // The upstream sees one key for every attempt: the one in the request's own headers, else
      // the client's Idempotency-Key, else one derived from the call id.
      forwardedKey: spec.request.headers["idempotency-key"] ?? key ?? `steadfast-${id}`,
      runAt,
      ...(spec.deadlineMs === undefined ? {} : { deadlineAt: now + spec.deadlineMs }),
      createdAt: now,
    };
    // Due now, and this process's engine runs and has a free slot: created claimed, run at once.
    // A process whose engine is not started (an API-only process of a fleet) gets no slot: its
    // calls are created queued, for the workers.
    const slot = runAt <= now ? this.#engine.reserveSlot?.() : undefined;
    let result: CreateCallResult;
    try {
      result =
        slot === undefined
          ? await this.#store.createCall(newCall)
          : await this.#store.createClaimedCall(newCall, slot);
    } catch (error) {
      slot?.release();
      throw error;
    }
    if (slot !== undefined) {
      if (result.created) slot.run(result.call);
      else slot.release();
    }
    if (!result.created && result.call.fingerprint !== requestPrint) {
      throw new TerminalError(
        "idempotency_key_reused",
        `Idempotency-Key "${key}" was already used for call ${result.call.id} with a different request; use a new key for a new request`,
        {
          issues: [{ field: "Idempotency-Key", message: "already used with a different request" }],
        },
      );
    }
    if (result.created && slot === undefined) this.#engine.notify(runAt);
    return result;
  }

  /** A tenant's call. Throws `not_found`. */
  async get(tenantId: TenantId, id: string): Promise<CallRecord> {
    const call = isCallId(id) ? await this.#store.getCall(tenantId, id) : undefined;
    if (call === undefined || call.kind !== "call") throw notFound(id);
    return call;
  }

  /**
   * The view of one call, with its callback's delivery when it has a callback URL (ARCHITECTURE.md
   * section 5). One indexed read more, only for a call with a callback URL that has ended.
   */
  async view(call: CallRecord): Promise<CallView> {
    return toCallView(call, await this.#callbackLookup(call));
  }

  /**
   * The attempts of the tenant call's newest callback delivery, in order: empty until the call
   * has ended. Throws `not_found` when there is no such call or it has no callback URL.
   */
  async callbackAttempts(tenantId: TenantId, id: string): Promise<AttemptRecord[]> {
    const call = await this.get(tenantId, id);
    const delivery = await this.#delivery(call);
    if (delivery === undefined) return [];
    return (await this.#store.listAttempts(tenantId, delivery.call.id)) ?? [];
  }

  /**
   * Sends the tenant call's callback again: a failed delivery gets a fresh attempt budget and
   * deadline (same `webhook-id`, so a receiver that got it after all can tell), and a delivery
   * waiting for a retry is made due now. Returns the call's view as the redrive left it. Throws
   * `not_found` (no such call, or no callback URL) or `invalid_state` (the call has not ended,
   * was cancelled, or its callback was delivered or is in flight).
   */
  async retryCallback(tenantId: TenantId, id: string): Promise<CallView> {
    const call = await this.get(tenantId, id);
    const delivery = await this.#delivery(call);
    if (delivery === undefined) {
      throw new TerminalError(
        "invalid_state",
        call.status === "cancelled"
          ? `Call ${id} was cancelled: a cancelled call sends no callback`
          : `Call ${id} is ${call.status}: its callback is sent when it ends`,
      );
    }
    const now = this.#clock.now();
    const { spec } = delivery.call;
    const deadlineAt = spec.deadlineMs === undefined ? undefined : now + spec.deadlineMs;
    const result = await this.#store.retryCall(tenantId, delivery.call.id, now, deadlineAt);
    if (result.type === "not_found") throw notFound(id);
    if (result.type === "invalid_state") {
      const why = result.call.status === "succeeded" ? "was delivered" : "is being delivered";
      throw new TerminalError(
        "invalid_state",
        `The callback of call ${id} ${why}: only a failed callback can be sent again, or a retrying one sent now`,
      );
    }
    // Built before the engine is woken, so the answer shows the redrive, not a later attempt.
    const view = toCallView(call, { delivery: { ...delivery, call: result.call } });
    this.#engine.notify(now);
    return view;
  }

  /** The delivery of the call's latest end, if any; `not_found` without a callback URL. */
  async #delivery(call: CallRecord): Promise<CallbackDelivery | undefined> {
    if (call.spec.callbackUrl === undefined) {
      throw new TerminalError(
        "not_found",
        `Call ${call.id} has no callback: it was submitted without callback.url`,
      );
    }
    const lookup = await this.#callbackLookup(call);
    return lookup === undefined ? undefined : currentDelivery(call, lookup);
  }

  async #callbackLookup(call: CallRecord): Promise<CallbackLookup | undefined> {
    if (call.spec.callbackUrl === undefined) return undefined;
    if (!TerminalStatuses.has(call.status)) return {};
    const delivery = await this.#store.getCallbackDelivery(call.tenantId, call.id);
    return delivery === undefined ? {} : { delivery };
  }

  /** A tenant call's attempts, in order. Throws `not_found`. */
  async attempts(tenantId: TenantId, id: string): Promise<AttemptRecord[]> {
    const attempts = isCallId(id) ? await this.#store.listAttempts(tenantId, id) : undefined;
    if (attempts === undefined) throw notFound(id);
    return attempts;
  }

  /** A tenant's calls, newest first. `limit` 1 to 500, default 50. */
  async list(
    tenantId: TenantId,
    query: { status?: CallStatus; limit?: number; cursor?: string } = {},
  ): Promise<CallPage> {
    const limit = query.limit ?? 50;
    if (query.cursor !== undefined && !isCallId(query.cursor)) {
      throw new TerminalError(
        "invalid_request",
        `cursor "${query.cursor}" is not one this API returned; pass the nextCursor of the previous page`,
        {
          issues: [{ field: "cursor", message: "must be the nextCursor of a previous page" }],
        },
      );
    }
    const calls = await this.#store.listCalls(tenantId, {
      limit,
      ...(query.status === undefined ? {} : { status: query.status }),
      ...(query.cursor === undefined ? {} : { before: query.cursor }),
    });
    const last = calls.at(-1);
    return calls.length === limit && last !== undefined
      ? { calls, nextCursor: last.id }
      : { calls };
  }

  /** Cancels a call that has not ended. Throws `not_found` or `invalid_state`. */
  async cancel(tenantId: TenantId, id: string): Promise<CallRecord> {
    if (!isCallId(id)) throw notFound(id);
    const now = this.#clock.now();
    const result = await this.#store.cancelCall(tenantId, id, now, now + this.#idempotencyTtlMs);
    if (result.type === "not_found") throw notFound(id);
    if (result.type === "invalid_state") {
      throw new TerminalError(
        "invalid_state",
        `Call ${id} is ${result.call.status} and can no longer be cancelled`,
      );
    }
    return result.call;
  }

  /**
   * Redrives a failed call (a fresh attempt budget and deadline) or makes a waiting call due now.
   * Throws `not_found` or `invalid_state`.
   */
  async retry(tenantId: TenantId, id: string): Promise<CallRecord> {
    if (!isCallId(id)) throw notFound(id);
    const now = this.#clock.now();
    const current = await this.get(tenantId, id);
    const deadlineAt =
      current.spec.deadlineMs === undefined ? undefined : now + current.spec.deadlineMs;
    const result = await this.#store.retryCall(tenantId, id, now, deadlineAt);
    if (result.type === "not_found") throw notFound(id);
    if (result.type === "invalid_state") {
      throw new TerminalError(
        "invalid_state",
        `Call ${id} is ${result.call.status}: only a failed call can be redriven, or a waiting one retried now`,
      );
    }
    this.#engine.notify(now);
    return result.call;
  }

  /**
   * The call once it has ended, or as it is after `timeoutMs`, when the engine stops, or when
   * `signal` aborts (a client that went away: nothing of the wait is left behind). Throws
   * `not_found`. The store is read again at least every second, so a call ended by another
   * process is seen too.
   */
  async waitForEnd(
    tenantId: TenantId,
    id: string,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<CallRecord> {
    const deadline = this.#clock.now() + timeoutMs;
    for (;;) {
      const call = await this.get(tenantId, id);
      const remaining = deadline - this.#clock.now();
      if (TerminalStatuses.has(call.status) || remaining <= 0 || signal?.aborted === true)
        return call;
      const why = await this.#engine.waitForEnd(call.id, Math.min(remaining, 1_000), signal);
      if (why === "stopped" || why === "aborted") return await this.get(tenantId, id);
    }
  }

  /**
   * The secret that signs the tenant's callbacks (Standard Webhooks `whsec_...`), created on first
   * use; the engine signs with the same one.
   */
  signingSecret(tenantId: TenantId): Promise<string> {
    return this.#store.ensureSigningSecret(
      tenantId,
      newSigningSecret(this.#random),
      this.#clock.now(),
    );
  }

  #checkUrl(url: string, field: string): void {
    const check = this.#guard.checkUrl(url);
    if (!check.ok)
      throw new TerminalError(check.code, check.message, {
        issues: [{ field, message: check.message }],
      });
  }
}

function notFound(id: string): TerminalError {
  return new TerminalError("not_found", `No call ${id} for this API key`);
}
