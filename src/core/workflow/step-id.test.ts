import { describe, expect, it } from "vitest";
import { isSteadfastError } from "../errors.ts";
import {
  assertStepId,
  compensationStepId,
  MAX_STEP_ID_LENGTH,
  StepIdAllocator,
  stepIdProblem,
  type StepId,
} from "./step-id.ts";

describe("step ids", () => {
  it("accepts ordinary names, and refuses empty, too long, reserved, # and control characters", () => {
    for (const ok of ["charge", "notify-crm", "page:3", "x".repeat(MAX_STEP_ID_LENGTH), "é ü 中"]) {
      expect(stepIdProblem(ok)).toBeUndefined();
    }
    expect(stepIdProblem("")).toBe("must not be empty");
    expect(stepIdProblem("x".repeat(MAX_STEP_ID_LENGTH + 1))).toMatch(/limit is 256/);
    expect(stepIdProblem("$now")).toMatch(/reserved/);
    expect(stepIdProblem("a$")).toBeUndefined();
    expect(stepIdProblem("a#2")).toMatch(/"#"/);
    expect(stepIdProblem("new\nline")).toMatch(/control/);
    expect(stepIdProblem("del\u007f")).toMatch(/control/);
    expect(stepIdProblem(3)).toMatch(/must be a string/);
  });

  it("throws an InvalidOptionError naming the id and the fix", () => {
    try {
      assertStepId("$now");
      expect.unreachable();
    } catch (error) {
      expect(isSteadfastError(error) && error.code).toBe("invalid_option");
      expect((error as Error).message).toBe(
        'Step id "$now" must not start with "$" (reserved). Use a short, stable name such as "charge-card"; a name used again in a loop is numbered for you (id, id#2, ...).',
      );
    }
  });

  it("numbers an id used again by call order, reserved names too, each name on its own", () => {
    const ids = new StepIdAllocator();
    expect(["a", "b", "a", "a"].map((id) => ids.allocate(id))).toEqual(["a", "b", "a#2", "a#3"]);
    expect([
      ids.allocateReserved("$now"),
      ids.allocateReserved("$random"),
      ids.allocateReserved("$now"),
    ]).toEqual(["$now", "$random", "$now#2"]);
    expect(() => ids.allocate("a#2")).toThrow(/must not contain "#"/);
  });

  it("names compensations in the reserved namespace, so they cannot collide with user ids", () => {
    const id = compensationStepId("charge#2" as StepId);
    expect(id).toBe("$compensate:charge#2");
    expect(stepIdProblem(id)).toBeDefined();
  });
});
