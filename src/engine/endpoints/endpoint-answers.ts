/**
 * The answers about an endpoint run found in the store, one owner for the endpoint's own handoff
 * location (`?steadfast_run=`) and the server's `GET /v1/runs/:id/result`: the stored response of
 * a run that ended, the problem of one that failed or was cancelled, and `202` while it runs.
 */
import {
  isEndpointRequest,
  isEndpointResponse,
  type EndpointResponse,
} from "../../core/endpoint/endpoint-exchange.ts";
import { SteadfastError } from "../../core/errors.ts";
import type { RunRecord } from "../../core/run-log.ts";
import { storedValueCodec } from "../workflows/stored-value-codec.ts";
import { bytesResponse } from "../../exchange/body-bytes.ts";
import { RESPONSE_TOO_LARGE, toResponse } from "./endpoint-messages.ts";
import { problemResponse } from "./endpoint-problems.ts";

/**
 * True when `run` is an endpoint run: its input is a stored request and, once it succeeded, its
 * output a stored response. A value that cannot be read makes it not one.
 */
export function isEndpointRun(run: RunRecord): boolean {
  return isEndpointRequest(decodeOrUndefined(run.input)) && storedResponse(run) !== false;
}

/**
 * The answer of endpoint run `run` that has ended: its stored response (status, kept headers,
 * body) when it succeeded; `409 run_cancelled`; `500 run_failed` naming the error's name and code,
 * never its message (it may quote the request or a secret), and, for a response over the
 * endpoint's `maxResponseBytes`, that option. A problem carries `occurrence`'s members besides
 * (the server's `instance` and `correlationId`).
 */
export function endedRunAnswer(run: RunRecord, occurrence: Record<string, string> = {}): Response {
  if (run.status === "succeeded") {
    const output = storedResponse(run);
    if (output === false || output === undefined) {
      throw new SteadfastError("internal", `Run "${run.id}" holds no stored response.`);
    }
    return toResponse(output);
  }
  if (run.status === "cancelled") {
    return problemResponse(
      "run_cancelled",
      `Run "${run.id}" of endpoint "${run.workflow}" was cancelled before it answered.`,
      { runId: run.id, ...occurrence },
    );
  }
  const error = run.error;
  if (error?.code === RESPONSE_TOO_LARGE) {
    return problemResponse(
      "run_failed",
      `Run "${run.id}" of endpoint "${run.workflow}" failed: its handler's response body was over the endpoint's maxResponseBytes, so it was not stored. Raise maxResponseBytes or return a smaller body; see \`steadfast runs show ${run.id}\`.`,
      { runId: run.id, ...occurrence },
    );
  }
  const named =
    error === undefined
      ? "an error"
      : `${error.name}${error.code === undefined ? "" : ` (${error.code})`}`;
  return problemResponse(
    "run_failed",
    `Run "${run.id}" of endpoint "${run.workflow}" failed with ${named}; see \`steadfast runs show ${run.id}\`.`,
    { runId: run.id, ...occurrence },
  );
}

/**
 * `202 Accepted` for run `runId` that goes on in the background: its answer will be at
 * `location`; come back after `retryAfter` seconds.
 */
export function acceptedAnswer(runId: string, location: string, retryAfter: number): Response {
  return bytesResponse(JSON.stringify({ runId, location }), {
    status: 202,
    headers: {
      "content-type": "application/json",
      location,
      "retry-after": String(retryAfter),
    },
  });
}

// The stored response of a succeeded run; undefined before it succeeded; false when its output
// is not one.
function storedResponse(run: RunRecord): EndpointResponse | false | undefined {
  if (run.status !== "succeeded") return undefined;
  const output = decodeOrUndefined(run.output ?? "");
  return isEndpointResponse(output) ? output : false;
}

function decodeOrUndefined(text: string): unknown {
  try {
    return storedValueCodec.decode(text);
  } catch {
    return undefined;
  }
}
