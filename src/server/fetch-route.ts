import type { Hono } from "hono";
import { TerminalStatuses } from "../core/call.ts";
import { TerminalError } from "../core/errors.ts";
import { parseFetchInput } from "../core/fetch-input.ts";
import type { CallsService } from "../engine/calls-service.ts";
import { nodeIncoming, requestHeader } from "./node-request.ts";
import { readJsonBody } from "./read-json-body.ts";
import { parseIdempotencyKeyHeader } from "../core/idempotency-key.ts";
import { parsePreferWait } from "./request-headers.ts";
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
 * seconds pass (`202`); `Preference-Applied: wait=N` says the wait was honoured. A `wait` that is
 * not whole seconds is refused (`422`, see `parsePreferWait`).
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
    const idempotencyKey = parseIdempotencyKeyHeader(requestHeader(c, "idempotency-key"));
    const wait = parsePreferWait(requestHeader(c, "prefer"), options.maxWaitSeconds);
    const { call, created } = await calls.submit(
      tenantId,
      input,
      idempotencyKey === undefined ? {} : { idempotencyKey },
    );
    if (created) options.onAccepted?.();

    let current = call;
    if (wait !== undefined) {
      // The client going away (or the server shutting down) ends the wait at once, and leaves no
      // waiter or timer behind.
      const signal =
        options.signal === undefined
          ? c.req.raw.signal
          : AbortSignal.any([c.req.raw.signal, options.signal]);
      current = await calls.waitForEnd(tenantId, call.id, wait.seconds * 1_000, signal);
      c.header("Preference-Applied", wait.applied);
    }
    c.header("Location", `/v1/calls/${call.id}`);
    if (!created) c.header("Idempotent-Replayed", "true");
    const ended = wait !== undefined && TerminalStatuses.has(current.status);
    return c.json(await calls.view(current), ended ? 200 : 202);
  });
}
