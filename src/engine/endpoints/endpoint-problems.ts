/**
 * The `application/problem+json` answers (RFC 9457) of a durable endpoint's own making: a key
 * reused for another request, a run that failed or was cancelled, an unknown run. The statuses
 * and titles of codes the server also answers are the server's (`server/problem.ts`); the engine
 * cannot import it, so they are repeated here, checked by the endpoint's tests.
 */
import { isSteadfastError } from "../../core/errors.ts";
import { redactText } from "../../core/redact.ts";

/** Status and title of each problem an endpoint answers. */
export const ENDPOINT_PROBLEMS = {
  invalid_request: { status: 422, title: "Invalid request" },
  idempotency_key_reused: { status: 422, title: "Idempotency key reused" },
  payload_too_large: { status: 413, title: "Payload too large" },
  not_found: { status: 404, title: "Not found" },
  run_failed: { status: 500, title: "Endpoint run failed" },
  run_cancelled: { status: 409, title: "Endpoint run cancelled" },
  internal: { status: 500, title: "Internal server error" },
} as const satisfies Record<string, { status: number; title: string }>;

/** One of `ENDPOINT_PROBLEMS`' codes. */
export type EndpointProblemCode = keyof typeof ENDPOINT_PROBLEMS;

/** The problem answer of `code`, with `detail` and any extra members (`runId`). */
export function problemResponse(
  code: EndpointProblemCode,
  detail: string,
  extra: Record<string, string> = {},
): Response {
  const { status, title } = ENDPOINT_PROBLEMS[code];
  const body = {
    type: `https://steadfast.dev/problems/${code}`,
    title,
    status,
    detail,
    code,
    ...extra,
  };
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/problem+json" },
  });
}

/**
 * The problem answer of an error thrown while taking a request in (before or around its run):
 * ours with a code of the table answer that code with their (actionable) message; anything else
 * is `internal`, its message redacted (`redactText`) rather than echoed.
 */
export function problemForError(error: unknown): Response {
  if (isSteadfastError(error) && error.code in ENDPOINT_PROBLEMS) {
    return problemResponse(error.code as EndpointProblemCode, redactText(error.message));
  }
  return problemResponse(
    "internal",
    "The endpoint could not take the request in; it was not run. Look for the error in the server's log.",
  );
}
