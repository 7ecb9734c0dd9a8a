import { describe, expect, it } from "vitest";
import { stepDurationMs } from "./step-duration.ts";

describe("stepDurationMs (the stand-in for core/duration.ts)", () => {
  it("reads ms and unit strings", () => {
    expect(stepDurationMs(1_500, "x")).toBe(1_500);
    expect(stepDurationMs(0.2, "x")).toBe(1);
    expect(stepDurationMs("250ms", "x")).toBe(250);
    expect(stepDurationMs("30s", "x")).toBe(30_000);
    expect(stepDurationMs("10m", "x")).toBe(600_000);
    expect(stepDurationMs("1.5h", "x")).toBe(5_400_000);
    expect(stepDurationMs("1d", "x")).toBe(86_400_000);
    expect(stepDurationMs(" 2 w ", "x")).toBe(1_209_600_000);
  });

  it("refuses what it does not understand, naming the step and the value", () => {
    for (const bad of [-1, Number.NaN, Infinity, "", "10", "ten minutes", "-5s", "1y"]) {
      expect(() => stepDurationMs(bad, 'step.sleep("nap")')).toThrow(
        /^step\.sleep\("nap"\): duration .* is not understood/,
      );
    }
  });
});
