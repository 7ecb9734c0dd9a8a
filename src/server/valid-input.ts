import type { z } from "zod";
import { TerminalError } from "../core/errors.ts";
import { fieldIssues } from "../core/fetch-input.ts";

/**
 * `value` parsed by `schema`, or a `422 invalid_request` naming each invalid field and the fix
 * (`Invalid <what>: limit: must be an integer from 1 to 500`). The one check of the routes'
 * bodies and query strings.
 *
 * @example const query = validInput(ListRunsQuerySchema, c.req.query(), "query");
 */
export function validInput<T extends z.ZodType>(
  schema: T,
  value: unknown,
  what: string,
): z.output<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = fieldIssues(parsed.error);
  throw new TerminalError(
    "invalid_request",
    `Invalid ${what}: ${issues.map((i) => `${i.field}: ${i.message}`).join("; ")}`,
    { issues },
  );
}
