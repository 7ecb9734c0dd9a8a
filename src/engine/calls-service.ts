import type { AttemptRecord, CallRecord, CallStatus } from "../core/call.ts";
import { TerminalStatuses } from "../core/call.ts";
import { TerminalError } from "../core/errors.ts";
import { toCallSpec, type FetchInput } from "../core/fetch-input.ts";
import { isCallId, newCallId, type CallId, type TenantId } from "../core/ids.ts";
import type { Clock, Random } from "../core/ports.ts";
import type { CreateCallResult, NewCall, Store } from "../core/store.ts";
import { newSigningSecret } from "./callback-request.ts";
import type { EndWait, ReservedSlot } from "./engine.ts";
import { fingerprint, hashApiKey } from "./fingerprint.ts";

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
  store: Store;
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
const MAX_KEY_LENGTH = 255;

/**
 * The durable-call use cases, shared by the HTTP API, the in-process API and the CLI: submit with
 * idempotency, read, list, cancel, redrive, wait. Every method is scoped to a tenant.
 */
export class CallsService {
  readonly #store: Store;
  readonly #engine: EngineHooks;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #guard: UrlCheck;
  readonly #idempotencyTtlMs: number;
  readonly #authCache = new Map<string, { tenantId: TenantId; until: number }>();

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
    if (key !== undefined && (key.length === 0 || key.length > MAX_KEY_LENGTH)) {
      throw new TerminalError(
        "invalid_request",
        `Idempotency-Key must be 1 to ${MAX_KEY_LENGTH} characters; got ${key.length}`,
        {
          issues: [
            { field: "Idempotency-Key", message: `must be 1 to ${MAX_KEY_LENGTH} characters` },
          ],
        },
      );
    }
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
    // Due now, and this process's engine has a free slot: created claimed, run at once.
    const slot =
      runAt <= now && this.#store.createClaimedCall !== undefined
        ? this.#engine.reserveSlot?.()
        : undefined;
    let result: CreateCallResult;
    try {
      result =
        slot === undefined || this.#store.createClaimedCall === undefined
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

  /** The tenant an API key belongs to, if any. Results are cached for 5 s. */
  async authenticate(apiKey: string): Promise<TenantId | undefined> {
    // Keyed by the key itself, so a cached key costs no hashing: the process holds keys in
    // memory as it reads every request anyway; the store only ever sees the hash.
    const now = this.#clock.now();
    const cached = this.#authCache.get(apiKey);
    if (cached !== undefined && cached.until > now) return cached.tenantId;
    const tenantId = await this.#store.findTenantByKeyHash(hashApiKey(apiKey));
    if (tenantId !== undefined) {
      if (this.#authCache.size > 1_000) this.#authCache.clear();
      this.#authCache.set(apiKey, { tenantId, until: now + 5_000 });
    }
    return tenantId;
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
