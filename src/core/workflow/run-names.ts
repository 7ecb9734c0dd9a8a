/**
 * The rules for the names of workflows and the ids of runs, applied wherever one comes in: a
 * workflow's registration, a run's start, a child run's id, and the routes that take either.
 */

/** Longest run id, characters: a child's id is `<runId>:<stepId>`, so ids nest. */
export const MAX_RUN_ID_LENGTH = 1_024;

const WORKFLOW_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
// eslint-disable-next-line no-control-regex -- control characters are what it refuses
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Why `name` is not a valid workflow name (1 to 128 letters, digits, `_`, `.`, `:` or `-`,
 * starting with a letter or digit), or undefined when it is.
 *
 * @example workflowNameProblem("checkout") // undefined
 */
export function workflowNameProblem(name: unknown): string | undefined {
  if (typeof name === "string" && WORKFLOW_NAME.test(name)) return undefined;
  return `use 1 to 128 letters, digits, "_", ".", ":" or "-", starting with a letter or digit (such as "checkout")`;
}

/**
 * Why `id` is not a valid run id (1 to 1,024 characters, no control characters), or undefined
 * when it is. Child runs' ids (`<runId>:<stepId>`) follow the same rule.
 *
 * @example runIdProblem("order-o-42") // undefined
 */
export function runIdProblem(id: unknown): string | undefined {
  if (
    typeof id === "string" &&
    id.length >= 1 &&
    id.length <= MAX_RUN_ID_LENGTH &&
    !CONTROL.test(id)
  ) {
    return undefined;
  }
  return `use 1 to ${MAX_RUN_ID_LENGTH} characters without control characters (such as "order-o-42")`;
}

/**
 * Why `name` is not a valid event name or id (1 to 256 characters, no control characters), or
 * undefined when it is.
 */
export function eventNameProblem(name: unknown): string | undefined {
  if (typeof name === "string" && name.length >= 1 && name.length <= 256 && !CONTROL.test(name)) {
    return undefined;
  }
  return `must be 1 to 256 characters without control characters, such as "order.approved"`;
}
