import { describe, expect, it } from "vitest";
import { RetryableError, TerminalError } from "../../core/errors.ts";
import { DEFAULT_STEP_RETRY } from "../../core/workflow/step-attempt.ts";
import { NonRetriableError } from "../../core/workflow/workflow-errors.ts";
import { RunDriver } from "./workflow-driver.test-support.ts";

const START = 1_000_000;

describe("runInvocation: step retries", () => {
  it("retries a failing step after a durable, jittered backoff, recording every attempt", async () => {
    const attemptsSeen: number[] = [];
    const driver = new RunDriver(async ({ step }) => {
      return step.run("flaky", (context) => {
        attemptsSeen.push(context.attempt);
        if (context.attempt < 3) throw new Error(`fail ${context.attempt}`);
        return "ok";
      });
    }, undefined);

    const first = await driver.invoke();
    expect(first.outcome.type).toBe("parked");
    if (first.outcome.type !== "parked") return;
    const [wait] = first.outcome.waits;
    expect(wait).toMatchObject({ stepId: "flaky", type: "retry" });
    // Full jitter within the first backoff window (1 s); no timer was set in memory.
    expect(first.outcome.wakeAt).toBeGreaterThanOrEqual(START);
    expect(first.outcome.wakeAt).toBeLessThan(START + DEFAULT_STEP_RETRY.initialDelayMs);
    expect(driver.clock.pendingSleeps).toBe(0);
    expect(driver.store.get("flaky")).toMatchObject({
      status: "retrying",
      attempts: 1,
      lastError: { name: "Error", message: "fail 1", terminal: false },
    });

    const end = await driver.runToEnd();
    expect(end.outcome).toMatchObject({ type: "completed", output: "ok" });
    expect(attemptsSeen).toEqual([1, 2, 3]);
    expect(driver.store.get("flaky")).toMatchObject({ status: "completed", attempts: 3 });
    expect(driver.attempts.map((a) => [a.number, a.outcome.type, a.decision.type])).toEqual([
      [1, "failed", "retry"],
      [2, "failed", "retry"],
      [3, "succeeded", "succeed"],
    ]);
    const [one, two] = driver.attempts;
    if (one?.decision.type !== "retry" || two?.decision.type !== "retry")
      throw new Error("retries expected");
    expect(one.decision.reason).toBe("exponential backoff");
    expect(two.decision.delayMs).toBeLessThan(2_000);
    expect(two.startedAt).toBe(one.decision.retryAt);
  });

  it("an early wake-up neither runs an attempt nor moves the due time (the count survives a crash)", async () => {
    let calls = 0;
    const driver = new RunDriver(
      async ({ step }) =>
        step.run(
          "flaky",
          () => {
            calls++;
            throw new Error("down");
          },
          { retry: { maxAttempts: 3, backoff: "fixed", initialDelayMs: 5_000 } },
        ),
      undefined,
    );
    const first = await driver.invoke();
    expect(first.outcome).toMatchObject({ type: "parked", wakeAt: START + 5_000 });
    // A new process (a crash, a restart) replays before the retry is due: nothing runs.
    const again = await driver.invoke();
    expect(again.outcome).toMatchObject({ type: "parked", wakeAt: START + 5_000 });
    expect(again.checkpoints).toEqual([]);
    expect(again.attempts).toEqual([]);
    expect(calls).toBe(1);
    const end = await driver.runToEnd();
    expect(calls).toBe(3);
    expect(end.outcome).toMatchObject({
      type: "failed",
      error: { name: "StepFailedError", code: "step_failed" },
    });
    expect(driver.attempts.at(-1)?.decision).toEqual({
      type: "fail",
      code: "attempts_exhausted",
      reason: "maxAttempts (3) reached",
    });
  });

  it("fails a step at once on a TerminalError or NonRetriableError, and rethrows it on replay", async () => {
    for (const error of [
      new NonRetriableError("card declined"),
      new TerminalError("invalid_request", "no"),
    ]) {
      let calls = 0;
      const caught: unknown[] = [];
      const driver = new RunDriver(async ({ step }) => {
        try {
          await step.run("charge", () => {
            calls++;
            throw error;
          });
        } catch (thrown) {
          caught.push(thrown);
          throw thrown;
        }
      }, undefined);
      const first = await driver.invoke();
      expect(calls).toBe(1);
      expect(first.outcome).toMatchObject({
        type: "failed",
        error: { name: "StepFailedError", terminal: true },
      });
      expect(driver.attempts).toMatchObject([{ decision: { type: "fail", code: "terminal" } }]);
      expect(driver.store.get("charge")).toMatchObject({
        status: "failed",
        error: { name: error.name, code: error.code, message: error.message, terminal: true },
      });
      await driver.invoke();
      expect(calls).toBe(1);
      expect(caught).toHaveLength(2);
      expect((caught[1] as Error).message).toBe((caught[0] as Error).message);
    }
  });

  it("waits as long as a RetryableError asks, capped at maxDelayMs", async () => {
    const driver = new RunDriver(
      async ({ step }) =>
        step.run(
          "limited",
          (context) => {
            if (context.attempt === 1)
              throw new RetryableError("internal", "slow down", { retryAfterMs: 90_000 });
            if (context.attempt === 2)
              throw new RetryableError("internal", "again", { retryAfterMs: 2_500 });
            return "done";
          },
          { retry: { maxDelayMs: 60_000 } },
        ),
      undefined,
    );
    await driver.runToEnd();
    expect(driver.attempts.map((a) => a.decision)).toEqual([
      {
        type: "retry",
        delayMs: 60_000,
        retryAt: START + 60_000,
        reason: "the error asked to wait 90000 ms, capped at maxDelayMs 60000",
      },
      {
        type: "retry",
        delayMs: 2_500,
        retryAt: START + 62_500,
        reason: "the error asked to wait 2500 ms",
      },
      { type: "succeed" },
    ]);
  });

  it("records each attempt's start and duration on the injected clock", async () => {
    const driver = new RunDriver(
      async ({ step }) =>
        step.run("timed", async () => {
          await driver.clock.sleep(250);
          return 1;
        }),
      undefined,
    );
    const pending = driver.invoke();
    await driver.clock.advance(250);
    await pending;
    expect(driver.attempts).toMatchObject([{ number: 1, startedAt: START, durationMs: 250 }]);
  });

  it("fails a step whose output cannot be stored, without retrying", async () => {
    let calls = 0;
    const driver = new RunDriver(
      async ({ step }) =>
        step.run("big", () => {
          calls++;
          return 10n;
        }),
      undefined,
    );
    const result = await driver.invoke();
    expect(calls).toBe(1);
    expect(result.outcome).toMatchObject({ type: "failed" });
    expect(driver.attempts[0]?.decision).toMatchObject({
      type: "fail",
      code: "output_not_encodable",
    });
    expect(driver.store.get("big")).toMatchObject({
      status: "failed",
      error: { code: "invalid_option" },
    });
  });

  it("refuses a retry option out of range, naming the step and field", async () => {
    const driver = new RunDriver(
      async ({ step }) => step.run("x", () => 1, { retry: { maxAttempts: 0 } }),
      undefined,
    );
    const result = await driver.invoke();
    expect(result.outcome).toMatchObject({ type: "failed", error: { code: "invalid_option" } });
    if (result.outcome.type === "failed") {
      expect(result.outcome.error.message).toBe(
        'Step "x": retry.maxAttempts must be an integer >= 1 (1: no retry), got 0.',
      );
    }
  });
});
