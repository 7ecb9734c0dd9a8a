/**
 * Step ids: how a workflow's steps are named, and how a name used again within one invocation is
 * told apart.
 *
 * A user's id is a non-empty string of at most `MAX_STEP_ID_LENGTH` characters, without `#` and
 * control characters, not starting with `$`. Those two characters are ours: `#` separates the
 * occurrence suffix, and `$` starts the reserved ids (`$now`, `$random`, `$compensate:<id>`), so
 * no user id can collide with either.
 *
 * The same id called again within one invocation (a loop) gets a suffix by call order: `id`,
 * `id#2`, `id#3`. Allocation is deterministic when the workflow's code is: replaying it calls the
 * ids in the same order and gets the same suffixes.
 *
 * Known limit: an id used again in concurrent branches (`Promise.all` over async functions that
 * each call `step.run("x")` after awaiting steps of their own) is numbered by which branch gets
 * there first, which on the first run is timing and on a replay (earlier steps already recorded)
 * is microtask order: the branches can swap `x` and `x#2`, and so their results. Give each branch
 * its own ids (`x-${item}`). Detecting the swap needs the branch a call came from; not done yet.
 */
import { InvalidOptionError } from "../errors.ts";
import type { Brand } from "../ids.ts";

/** The id a step is recorded under: a user's id, maybe suffixed (`id#2`), or a reserved id. */
export type StepId = Brand<string, "StepId">;

/** Longest user step id, in UTF-16 code units. Long enough for an id built from a key or a URL. */
export const MAX_STEP_ID_LENGTH = 256;

/** The reserved prefix: ids that start with it are Steadfast's own. */
export const RESERVED_PREFIX = "$";
/** Separates an id from its occurrence number (`id#2`). */
export const OCCURRENCE_SEPARATOR = "#";

// C0 controls and DEL: they garble logs and terminals.
function hasControlCharacter(id: string): boolean {
  for (let i = 0; i < id.length; i++) {
    const code = id.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

/** Why `id` is not a valid user step id, or undefined when it is. */
export function stepIdProblem(id: unknown): string | undefined {
  if (typeof id !== "string") return `must be a string, got ${typeof id}`;
  if (id.length === 0) return "must not be empty";
  if (id.length > MAX_STEP_ID_LENGTH) {
    return `is ${id.length} characters long; the limit is ${MAX_STEP_ID_LENGTH}`;
  }
  if (id.startsWith(RESERVED_PREFIX)) return `must not start with "${RESERVED_PREFIX}" (reserved)`;
  if (id.includes(OCCURRENCE_SEPARATOR)) {
    return `must not contain "${OCCURRENCE_SEPARATOR}" (it separates the suffix of an id used again, id#2)`;
  }
  if (hasControlCharacter(id)) return "must not contain control characters";
  return undefined;
}

/**
 * Checks a user's step id, or throws an `InvalidOptionError` naming it and the fix.
 *
 * @example assertStepId("charge") // ok; assertStepId("$now") throws
 */
export function assertStepId(id: unknown): asserts id is string {
  const problem = stepIdProblem(id);
  if (problem === undefined) return;
  const shown = typeof id === "string" ? JSON.stringify(id.slice(0, 80)) : String(id);
  throw new InvalidOptionError(
    `Step id ${shown} ${problem}. Use a short, stable name such as "charge-card"; a name used again in a loop is numbered for you (id, id#2, ...).`,
  );
}

/**
 * Hands out the step ids of one invocation in call order: the first use of an id is the id
 * itself, the n-th `id#n`. Reserved names (`$now`, `$random`) are numbered the same way.
 *
 * @example
 * const ids = new StepIdAllocator();
 * ids.allocate("fetch-page"); // "fetch-page"
 * ids.allocate("fetch-page"); // "fetch-page#2"
 */
export class StepIdAllocator {
  readonly #uses = new Map<string, number>();

  /** The id of the next use of the user id `id`; throws an `InvalidOptionError` if it is invalid. */
  allocate(id: string): StepId {
    assertStepId(id);
    return this.#next(id);
  }

  /** The id of the next use of a reserved name (`$now`). */
  allocateReserved(name: ReservedStepName): StepId {
    return this.#next(name);
  }

  #next(id: string): StepId {
    const uses = (this.#uses.get(id) ?? 0) + 1;
    this.#uses.set(id, uses);
    return (uses === 1 ? id : `${id}${OCCURRENCE_SEPARATOR}${uses}`) as StepId;
  }
}

/** The reserved names of automatic steps. */
export type ReservedStepName = "$now" | "$random";

/** The id of the compensation of step `stepId` (`$compensate:charge`). */
export function compensationStepId(stepId: StepId): StepId {
  return `${RESERVED_PREFIX}compensate:${stepId}` as StepId;
}
