import type { Hono } from "hono";
import { parseEventInput } from "../core/event-input.ts";
import { toRunSummaryView, type RunSummaryView } from "../core/run-view.ts";
import { DEFAULT_RESULT_WAIT_SECONDS, type RunsService } from "../engine/workflows/runs-service.ts";
import { nodeIncoming } from "./node-request.ts";
import { redactedPath } from "./problem.ts";
import { readJsonBody } from "./read-json-body.ts";
import { ListRunsQuerySchema, RunResultQuerySchema } from "./run-schemas.ts";
import type { ServerEnv } from "./server-env.ts";
import { validInput } from "./valid-input.ts";

/**
 * The workflow routes of issue 11 ("Over HTTP and the CLI"), all scoped to the caller's tenant
 * (another tenant's run is `404`, and its events wake only its runs):
 *
 * - `GET /v1/runs?workflow=&status=&limit=&cursor=`: `200 { runs, nextCursor? }`, newest first,
 *   without input, output or steps; `422` naming the bad parameter;
 * - `GET /v1/runs/:id`: `200` the run with its input, output and steps with their attempts, `404`;
 * - `GET /v1/runs/:id/result?wait=<seconds>`: an endpoint run's answer, as its handoff location
 *   gives it: the stored response once it has ended (or `500 run_failed`, `409 run_cancelled`),
 *   held up to `wait` (default 20, at most 55), then `202` with `Location` and `Retry-After`;
 *   `404`; `409 invalid_state` for a run that is not an endpoint run;
 * - `POST /v1/runs/:id/cancel`: `200` the cancelled run, `404`, `409` when it has ended;
 * - `POST /v1/runs/:id/retry`: `202` the run queued again from its failed step (with
 *   `Location`), `404`, `409` unless it failed without compensating;
 * - `POST /v1/events`, body `{ name, data?, id? }`: `202 { id, name, receivedAt, created }`, the
 *   event recorded and the runs waiting for it woken (`created: false` for an id sent before
 *   with the same name and data), `409 event_id_reused` for an id sent before with another name
 *   or data, `422` naming the bad field.
 *
 * Run ids are the ones runs were started with: any characters, percent-encoded in the path.
 */
export function registerRunsRoutes(
  app: Hono<ServerEnv>,
  runs: RunsService,
  maxBodyBytes: number,
  /** Aborted on shutdown: a held `GET /v1/runs/:id/result` answers `202` at once. */
  shutdown?: AbortSignal,
): void {
  app.get("/v1/runs", async (c) => {
    const { workflow, status, limit, cursor } = validInput(
      ListRunsQuerySchema,
      c.req.query(),
      "query",
    );
    const page = await runs.list(c.get("tenantId"), {
      ...(workflow === undefined ? {} : { workflow }),
      ...(status === undefined ? {} : { status }),
      ...(limit === undefined ? {} : { limit }),
      ...(cursor === undefined ? {} : { cursor }),
    });
    const body: { runs: RunSummaryView[]; nextCursor?: string } = {
      runs: page.runs.map(toRunSummaryView),
    };
    if (page.nextCursor !== undefined) body.nextCursor = page.nextCursor;
    return c.json(body);
  });

  app.get("/v1/runs/:id", async (c) =>
    c.json(await runs.get(c.get("tenantId"), c.req.param("id"))),
  );

  app.get("/v1/runs/:id/result", async (c) => {
    const { wait } = validInput(RunResultQuerySchema, c.req.query(), "query");
    const id = c.req.param("id");
    const location = `/v1/runs/${encodeURIComponent(id)}/result`;
    const waitMs = (wait ?? DEFAULT_RESULT_WAIT_SECONDS) * 1_000;
    // Held until the run ends, the client goes away, or the server shuts down.
    const signal =
      shutdown === undefined ? c.req.raw.signal : AbortSignal.any([c.req.raw.signal, shutdown]);
    return await runs.result(c.get("tenantId"), id, waitMs, location, {
      occurrence: { instance: redactedPath(c.req.path), correlationId: c.get("requestId") },
      signal,
    });
  });

  app.post("/v1/runs/:id/cancel", async (c) =>
    c.json(await runs.cancel(c.get("tenantId"), c.req.param("id"))),
  );

  app.post("/v1/runs/:id/retry", async (c) => {
    const run = await runs.retry(c.get("tenantId"), c.req.param("id"));
    c.header("Location", `/v1/runs/${encodeURIComponent(run.id)}`);
    return c.json(run, 202);
  });

  app.post("/v1/events", async (c) => {
    const body = await readJsonBody(c.req.raw, maxBodyBytes, nodeIncoming(c.env));
    const sent = await runs.sendEvent(c.get("tenantId"), parseEventInput(body));
    return c.json(
      {
        id: sent.id,
        name: sent.name,
        receivedAt: new Date(sent.receivedAt).toISOString(),
        created: sent.created,
      },
      202,
    );
  });
}
