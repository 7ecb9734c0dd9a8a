import type { Hono } from "hono";
import { toAttemptView, toCallView, type CallView } from "../core/call-view.ts";
import { TerminalError } from "../core/errors.ts";
import { fieldIssues } from "../core/fetch-input.ts";
import type { CallsService } from "../engine/calls-service.ts";
import { ListCallsQuerySchema } from "./schemas.ts";
import type { ServerEnv } from "./server-env.ts";

/**
 * The read and control routes of ARCHITECTURE.md section 5, all scoped to the caller's tenant
 * (another tenant's call is `404`):
 *
 * - `GET /v1/calls?status=&limit=&cursor=`: `200 { calls, nextCursor? }`, newest first;
 *   `422` naming the bad parameter;
 * - `GET /v1/calls/:id`: `200` the call, `404`;
 * - `GET /v1/calls/:id/attempts`: `200 { attempts }`, oldest first, `404`;
 * - `POST /v1/calls/:id/cancel`: `200` the cancelled call, `404`, `409` when it has ended;
 * - `POST /v1/calls/:id/retry`: `202` the call queued again (with `Location`), `404`, `409`
 *   unless it is failed or waiting;
 * - `GET /v1/calls/:id/callback/attempts`: `200 { attempts }`, the attempts of the call's callback
 *   delivery (empty until the call ends), `404` also when the call has no callback URL;
 * - `POST /v1/calls/:id/callback/retry`: `202` the call, its failed callback sent again (or a
 *   retrying one sent now), `404`, `409` when there is no failed or retrying delivery;
 * - `GET /v1/signing-secret`: `200 { secret }`, the key that signs the tenant's callbacks.
 *
 * The answers about one call carry its `callback` (`CallsService.view`); lists do not, so a page
 * costs no read per call.
 */
export function registerCallsRoutes(app: Hono<ServerEnv>, calls: CallsService): void {
  app.get("/v1/calls", async (c) => {
    const parsed = ListCallsQuerySchema.safeParse(c.req.query());
    if (!parsed.success) {
      const issues = fieldIssues(parsed.error);
      throw new TerminalError(
        "invalid_request",
        `Invalid query: ${issues.map((i) => `${i.field} ${i.message}`).join("; ")}`,
        { issues },
      );
    }
    const { status, limit, cursor } = parsed.data;
    const page = await calls.list(c.get("tenantId"), {
      ...(status === undefined ? {} : { status }),
      ...(limit === undefined ? {} : { limit }),
      ...(cursor === undefined ? {} : { cursor }),
    });
    const body: { calls: CallView[]; nextCursor?: string } = {
      calls: page.calls.map((call) => toCallView(call)),
    };
    if (page.nextCursor !== undefined) body.nextCursor = page.nextCursor;
    return c.json(body);
  });

  app.get("/v1/calls/:id", async (c) =>
    c.json(await calls.view(await calls.get(c.get("tenantId"), c.req.param("id")))),
  );

  app.get("/v1/calls/:id/attempts", async (c) => {
    const attempts = await calls.attempts(c.get("tenantId"), c.req.param("id"));
    return c.json({ attempts: attempts.map(toAttemptView) });
  });

  app.get("/v1/calls/:id/callback/attempts", async (c) => {
    const attempts = await calls.callbackAttempts(c.get("tenantId"), c.req.param("id"));
    return c.json({ attempts: attempts.map(toAttemptView) });
  });

  app.post("/v1/calls/:id/callback/retry", async (c) => {
    const view = await calls.retryCallback(c.get("tenantId"), c.req.param("id"));
    c.header("Location", `/v1/calls/${view.id}`);
    return c.json(view, 202);
  });

  app.post("/v1/calls/:id/cancel", async (c) =>
    c.json(await calls.view(await calls.cancel(c.get("tenantId"), c.req.param("id")))),
  );

  app.get("/v1/signing-secret", async (c) => {
    c.header("Cache-Control", "no-store");
    return c.json({ secret: await calls.signingSecret(c.get("tenantId")) });
  });

  app.post("/v1/calls/:id/retry", async (c) => {
    const call = await calls.retry(c.get("tenantId"), c.req.param("id"));
    c.header("Location", `/v1/calls/${call.id}`);
    return c.json(await calls.view(call), 202);
  });
}
