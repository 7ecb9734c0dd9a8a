/**
 * The `application/problem+json` answers (RFC 9457) of the idempotency middleware. Codes the
 * server also answers take their status and title from the one table (`core/problem-kinds.ts`);
 * the `type` is the app's idempotency documentation when configured (`docsUrl`), with the code as
 * its fragment, else Steadfast's problem type. The draft (section 2.7) asks for a link to the
 * documentation: it is also sent as `Link: <docsUrl>; rel="help"`.
 */
import {
  docsHelpLink,
  docsProblemType,
  PROBLEM_KINDS,
  problemJsonResponse,
  type ProblemKind,
} from "../core/problem-kinds.ts";

/** Status and title of each problem the middleware answers. */
export const IDEMPOTENCY_PROBLEMS = {
  idempotency_key_missing: { status: 400, title: "Idempotency-Key missing" },
  idempotency_key_invalid: { status: 400, title: "Invalid Idempotency-Key" },
  idempotency_key_in_use: { status: 409, title: "Idempotency-Key in use" },
  idempotency_key_reused: PROBLEM_KINDS.idempotency_key_reused,
  payload_too_large: PROBLEM_KINDS.payload_too_large,
  store_unavailable: PROBLEM_KINDS.store_unavailable,
} as const satisfies Record<string, ProblemKind>;

/** One of `IDEMPOTENCY_PROBLEMS`' codes. */
export type IdempotencyProblemCode = keyof typeof IDEMPOTENCY_PROBLEMS;

/** The problem type URI of `code`: `<docsUrl>#<code>`, or `https://steadfast.dev/problems/<code>`. */
export function idempotencyProblemType(
  code: IdempotencyProblemCode,
  docsUrl: string | undefined,
): string {
  return docsProblemType(code, docsUrl);
}

/** The problem answer of `code` with `detail`, and `headers` (`Retry-After`) added. */
export function idempotencyProblem(
  code: IdempotencyProblemCode,
  detail: string,
  docsUrl: string | undefined,
  headers: Readonly<Record<string, string>> = {},
): Response {
  const { status, title } = IDEMPOTENCY_PROBLEMS[code];
  const type = idempotencyProblemType(code, docsUrl);
  const link = docsHelpLink(docsUrl);
  return problemJsonResponse({ type, title, status, detail, code }, { ...headers, ...link });
}
