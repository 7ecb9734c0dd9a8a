/**
 * The `application/problem+json` answers (RFC 9457) of a durable endpoint's own making: a key
 * reused for another request, a run that failed or was cancelled, an unknown run. Codes the
 * server also answers take their status and title from the one table (`core/problem-kinds.ts`).
 */
import { isSteadfastError } from "../../core/errors.ts";
import {
  PROBLEM_KINDS,
  PROBLEM_TYPE_BASE,
  problemJsonResponse,
  type ProblemKind,
} from "../../core/problem-kinds.ts";
import { redactText } from "../../core/redact.ts";

/** Status and title of each problem an endpoint answers. */
export const ENDPOINT_PROBLEMS = {
  invalid_request: PROBLEM_KINDS.invalid_request,
  idempotency_key_reused: PROBLEM_KINDS.idempotency_key_reused,
  payload_too_large: PROBLEM_KINDS.payload_too_large,
  not_found: PROBLEM_KINDS.not_found,
  store_unavailable: PROBLEM_KINDS.store_unavailable,
  run_failed: { status: 500, title: "Endpoint run failed" },
  run_cancelled: { status: 409, title: "Endpoint run cancelled" },
  internal: PROBLEM_KINDS.internal,
} as const satisfies Record<string, ProblemKind>;

/** One of `ENDPOINT_PROBLEMS`' codes. */
export type EndpointProblemCode = keyof typeof ENDPOINT_PROBLEMS;

/** The problem answer of `code`, with `detail` and any extra members (`runId`). */
export function problemResponse(
  code: EndpointProblemCode,
  detail: string,
  extra: Record<string, string> = {},
): Response {
  const { status, title } = ENDPOINT_PROBLEMS[code];
  return problemJsonResponse({
    type: `${PROBLEM_TYPE_BASE}${code}`,
    title,
    status,
    detail,
    code,
    ...extra,
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
