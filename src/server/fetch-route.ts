import type { Hono } from "hono";
import { TerminalStatuses, type CallRecord } from "../core/call.ts";
import { TerminalError } from "../core/errors.ts";
import { parseFetchInput } from "../core/fetch-input.ts";
import type { TenantId } from "../core/ids.ts";
import type { CallsService } from "../engine/calls-service.ts";
import { nodeIncoming, requestHeader } from "./node-request.ts";
import { readJsonBody } from "./read-json-body.ts";
import { parseIdempotencyKey, parsePreferWait } from "./request-headers.ts";
import type { ServerEnv } from "./server-env.ts";

/** What `POST /v1/fetch` needs. */
export interface FetchRouteOptions {
  calls: CallsService;
  /** Request body limit, bytes. */
  maxBodyBytes: number;
  /** Cap on `Prefer: wait`, seconds. */
  maxWaitSeconds: number;
  /** Called once per call created (not for idempotent replays). */
  onAccepted?: () => void;
  /** Aborted on shutdown: a `Prefer: wait` in progress answers at once with the call as it is. */
  signal?: AbortSignal;
}

/**
 * `POST /v1/fetch` (ARCHITECTURE.md section 5): reads and validates the body, submits the call
 * (committed before the answer), and answers `202` with the call and `Location: /v1/calls/<id>`.
 * A replay of an idempotent request answers the same way with `Idempotent-Replayed: true`.
 * With `Prefer: wait=N` the answer is held until the call ends (`200` with the final call) or N
 * seconds pass (`202`); `Preference-Applied: wait=N` says the wait was honoured.
 */
export function registerFetchRoute(app: Hono<ServerEnv>, options: FetchRouteOptions): void {
  const { calls } = options;
  app.post("/v1/fetch", async (c) => {
    const tenantId = c.get("tenantId");
    const body = await readJsonBody(c.req.raw, options.maxBodyBytes, nodeIncoming(c.env));
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      const got = body === null ? "null" : Array.isArray(body) ? "an array" : `a ${typeof body}`;
      throw new TerminalError(
        "invalid_request",
        `Request body must be a JSON object such as {"url": "https://api.example.com/"}; got ${got}`,
        {
          issues: [{ field: "(body)", message: `must be a JSON object; got ${got}` }],
        },
      );
    }
    const input = parseFetchInput(body);
    const idempotencyKey = parseIdempotencyKey(requestHeader(c, "idempotency-key"));
    const wait = parsePreferWait(requestHeader(c, "prefer"), options.maxWaitSeconds);
    const { call, created } = await calls.submit(
      tenantId,
      input,
      idempotencyKey === undefined ? {} : { idempotencyKey },
    );
    if (created) options.onAccepted?.();

    let current = call;
    if (wait !== undefined) {
      const signals =
        options.signal === undefined ? [c.req.raw.signal] : [c.req.raw.signal, options.signal];
      current = await waitForEnd(
        calls,
        tenantId,
        call,
        wait.seconds * 1_000,
        AbortSignal.any(signals),
      );
      c.header("Preference-Applied", wait.applied);
    }
    c.header("Location", `/v1/calls/${call.id}`);
    if (!created) c.header("Idempotent-Replayed", "true");
    const ended = wait !== undefined && TerminalStatuses.has(current.status);
    return c.json(await calls.view(current), ended ? 200 : 202);
  });
}

/**
 * The call once it ends, or as it is when `timeoutMs` runs out or `signal` aborts (the client went
 * away or the server is shutting down).
 */
async function waitForEnd(
  calls: CallsService,
  tenantId: TenantId,
  call: CallRecord,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<CallRecord> {
  if (TerminalStatuses.has(call.status) || timeoutMs <= 0) return call;
  if (signal.aborted) return calls.get(tenantId, call.id);
  let onAbort: () => void = () => undefined;
  const aborted = new Promise<void>((resolve) => {
    onAbort = resolve;
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([
      calls.waitForEnd(tenantId, call.id, timeoutMs),
      aborted.then(() => calls.get(tenantId, call.id)),
    ]);
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}
