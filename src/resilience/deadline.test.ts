import { describe, expect, it } from "vitest";
import { FakeClock } from "../testing/fake-clock.ts";
import { Deadline, deadline } from "./deadline.ts";
import { isDeadlineExceededError } from "./errors.ts";
import { pipeline } from "./pipeline.ts";
import { retry } from "./retry.ts";
import { timeout } from "./timeout.ts";

const hang = (): Promise<never> => new Promise<never>(() => {});

describe("Deadline", () => {
  it("knows what is left, what an attempt may start, and carries it as a header", async () => {
    const clock = new FakeClock(0);
    const d = Deadline.after(1_000, { clock, minAttemptMs: 200 });
    expect(d.expiresAt).toBe(1_000);
    expect(d.allows(800)).toBe(true);
    expect(d.allows(801)).toBe(false);
    await clock.advance(250);
    expect(d.remainingMs()).toBe(750);
    expect(d.header("x-deadline-ms")).toEqual({ "x-deadline-ms": "750" });
    await clock.advance(750);
    expect(d.expired).toBe(true);
    expect(d.allows()).toBe(false);
    expect(d.exceeded()).toMatchObject({
      kind: "DeadlineExceededError",
      remainingMs: 0,
      policy: "deadline",
    });
  });

  it("validates its inputs", () => {
    expect(() => Deadline.after(-1)).toThrow(/totalMs/);
    expect(() => Deadline.after(10, { minAttemptMs: -1 })).toThrow(/minAttemptMs/);
  });
});

describe("deadline policy", () => {
  it("abandons the whole execution at the deadline, across retries", async () => {
    const clock = new FakeClock(0);
    let attempts = 0;
    const policy = pipeline(
      deadline({ totalMs: 5_000, clock }),
      retry({ clock, maxAttempts: 10, backoff: "fixed", initialDelayMs: 100 }),
      timeout({ timeoutMs: 2_000, clock }),
    );
    let error: unknown;
    policy
      .execute(() => {
        attempts++;
        return hang();
      })
      .catch((e: unknown) => {
        error = e;
      });
    for (let t = 0; t < 6_000 && error === undefined; t += 50) await clock.advance(50);
    expect(isDeadlineExceededError(error)).toBe(true);
    expect(clock.now()).toBeLessThanOrEqual(5_050);
    // 2 s attempts plus short waits: the third attempt was carved from what was left.
    expect(attempts).toBe(3);
  });

  it("carves each attempt's remaining time, which the function can pass downstream", async () => {
    const clock = new FakeClock(0);
    const seen: Record<string, string>[] = [];
    const policy = pipeline(
      deadline({ totalMs: 3_000, clock }),
      timeout({ timeoutMs: 10_000, clock }),
    );
    const result = policy.execute(async (ctx) => {
      seen.push(ctx.deadlineHeader("x-request-timeout-ms"));
      await clock.sleep(1_000);
      seen.push(ctx.deadlineHeader("x-request-timeout-ms"));
      return "ok";
    });
    await clock.advance(1_000);
    await expect(result).resolves.toBe("ok");
    expect(seen).toEqual([{ "x-request-timeout-ms": "3000" }, { "x-request-timeout-ms": "2000" }]);
  });

  it("keeps a caller's earlier deadline", async () => {
    const clock = new FakeClock(0);
    const policy = deadline({ totalMs: 10_000, clock });
    let error: unknown;
    policy.execute(hang, { deadline: Deadline.after(100, { clock }) }).catch((e: unknown) => {
      error = e;
    });
    await clock.advance(100);
    expect(error).toMatchObject({ kind: "DeadlineExceededError", expiresAt: 100 });
  });

  it("does not start when the deadline leaves less than minAttemptMs", async () => {
    const clock = new FakeClock(0);
    let called = false;
    await expect(
      deadline({ totalMs: 50, minAttemptMs: 100, clock }).execute(() => {
        called = true;
        return 1;
      }),
    ).rejects.toMatchObject({ kind: "DeadlineExceededError", neededMs: 100 });
    expect(called).toBe(false);
  });
});
