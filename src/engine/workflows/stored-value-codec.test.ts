import { describe, expect, it } from "vitest";
import { storedValueCodec } from "./stored-value-codec.ts";
import { RunDriver } from "./workflow-driver.test-support.ts";

describe("the runner with the stored-value codec", () => {
  it("gives steps and the output back as they were, live and on replay", async () => {
    const value = () => ({
      at: new Date(Date.UTC(2026, 11, 6)),
      tags: new Set(["a", "b"]),
      totals: new Map<string, bigint>([["eur", 12n ** 30n]]),
      missing: undefined,
      bytes: new Uint8Array([0, 255]),
      ratio: Number.NaN,
      constructor: "data",
    });
    const seen: unknown[] = [];
    let runs = 0;
    const driver = new RunDriver(
      async ({ step }) => {
        const first = await step.run("make", () => {
          runs++;
          return value();
        });
        seen.push(first);
        await step.sleep("pause", 1_000);
        return { first, input: "kept" };
      },
      undefined,
      { codec: storedValueCodec },
    );
    const parked = await driver.invoke();
    expect(parked.outcome.type).toBe("parked");
    await driver.clock.advance(1_000);
    const done = await driver.invoke();
    expect(runs).toBe(1);
    expect(seen).toHaveLength(2);
    for (const got of seen) expect(got).toStrictEqual(value());
    expect(done.outcome).toMatchObject({ type: "completed" });
    if (done.outcome.type === "completed") {
      expect(done.outcome.output).toStrictEqual({ first: value(), input: "kept" });
      expect(done.outcome.encodedOutput.startsWith("dv1:")).toBe(true);
    }
  });

  it("fails a step whose result cannot be stored, naming where, without retrying", async () => {
    let attempts = 0;
    const driver = new RunDriver(
      async ({ step }) =>
        step.run("callback", () => {
          attempts++;
          return { items: [1, 2, { fn: () => 1 }] };
        }),
      undefined,
      { codec: storedValueCodec },
    );
    const result = await driver.invoke();
    expect(attempts).toBe(1);
    expect(result.outcome).toMatchObject({ type: "failed" });
    if (result.outcome.type === "failed") {
      expect(result.outcome.error.message).toContain('Step "callback"');
      expect(result.outcome.error.message).toContain("items[2].fn");
    }
  });

  it("fails a step whose result is over the largest storable value, naming the limit", async () => {
    const driver = new RunDriver(
      async ({ step }) => step.run("huge", () => "x".repeat(33 * 1024 * 1024)),
      undefined,
      { codec: storedValueCodec },
    );
    const result = await driver.invoke();
    expect(result.outcome).toMatchObject({ type: "failed" });
    expect(driver.attempts).toMatchObject([
      { stepId: "huge", decision: { type: "fail", code: "output_not_encodable" } },
    ]);
    const decision = driver.attempts[0]?.decision;
    expect(decision?.type === "fail" ? decision.reason : "").toMatch(/32 MiB.*maxValueBytes/);
  });
});
