import { describe, expect, it, vi } from "vitest";
import { StoreUnavailableError } from "../store/postgres/postgres-errors.ts";
import { FakeClock } from "../testing/fake-clock.ts";
import { SeededRandom } from "../testing/seeded-random.ts";
import { fixedBackoff } from "./backoff.ts";
import { classifyError } from "./classify.ts";
import { Deadline } from "./deadline.ts";
import { isDeadlineExceededError, isRetryBudgetExhaustedError } from "./errors.ts";
import { decideRetry, retry, type RetryEvents } from "./retry.ts";
import { retryBudget } from "./retry-budget.ts";

const NOW = 1_700_000_000_000;

function networkError(code: string): Error {
  return Object.assign(new Error(`socket ${code}`), { code });
}
function httpError(status: number, headers: Record<string, string> = {}): Error {
  return Object.assign(new Error(`status ${status}`), { status, headers });
}

/** Runs `promise` to completion, moving the fake clock `stepMs` at a time. */
async function drive<T>(clock: FakeClock, promise: Promise<T>, stepMs = 1_000): Promise<T> {
  let done = false;
  const settled = promise.finally(() => {
    done = true;
  });
  settled.catch(() => {});
  for (let i = 0; i < 10_000 && !done; i++) await clock.advance(stepMs);
  return settled;
}

/** A function failing with `errors` in turn, then returning "ok". */
function flaky(...errors: Error[]) {
  const fn = vi.fn(() => {
    const next = errors.shift();
    return next === undefined ? Promise.resolve("ok") : Promise.reject(next);
  });
  return fn;
}

describe("retry", () => {
  it("retries a transient failure, 3 attempts in all by default", async () => {
    const clock = new FakeClock(NOW);
    const fn = flaky(
      networkError("ECONNRESET"),
      networkError("ECONNRESET"),
      networkError("ECONNRESET"),
    );
    const error = await drive(clock, retry({ clock }).execute(fn)).catch((e: unknown) => e);
    expect(fn).toHaveBeenCalledTimes(3);
    expect((error as Error).message).toBe("socket ECONNRESET");
  });

  it("retries a StoreUnavailableError, which renames itself (issue 10, item 14)", async () => {
    const clock = new FakeClock(NOW);
    const fn = flaky(new StoreUnavailableError(new Error("Connection terminated unexpectedly")));
    await expect(drive(clock, retry({ clock }).execute(fn), 100)).resolves.toBe("ok");
    expect(fn).toHaveBeenCalledTimes(2);
  });

  it("waits the exponential, fully jittered delays a seeded random gives", async () => {
    const clock = new FakeClock(NOW);
    const policy = retry({ clock, random: new SeededRandom(1), initialDelayMs: 100 });
    const scheduled: RetryEvents["retry:scheduled"][] = [];
    policy.on("retry:scheduled", (e) => scheduled.push(e));
    const fn = flaky(networkError("ECONNRESET"), networkError("ECONNRESET"));
    await expect(drive(clock, policy.execute(fn), 1)).resolves.toBe("ok");
    // random(0, min(maxDelayMs, initialDelayMs * 2^(n - 1))), one draw per decision.
    const draws = new SeededRandom(1);
    const expected = [Math.round(draws.next() * 100), Math.round(draws.next() * 200)];
    expect(scheduled.map((e) => e.delayMs)).toEqual(expected);
    expect(scheduled.every((e) => e.source === "backoff" && !e.capped)).toBe(true);
  });

  it("does not retry what is not transient (404, unknown errors)", async () => {
    const clock = new FakeClock(NOW);
    const policy = retry({ clock });
    const gaveUp: RetryEvents["retry:gave-up"][] = [];
    policy.on("retry:gave-up", (e) => gaveUp.push(e));
    const notFound = flaky(httpError(404));
    await expect(policy.execute(notFound)).rejects.toThrow("status 404");
    expect(notFound).toHaveBeenCalledOnce();
    const bug = flaky(new TypeError("x is undefined"));
    await expect(policy.execute(bug)).rejects.toThrow(TypeError);
    expect(bug).toHaveBeenCalledOnce();
    expect(gaveUp.map((e) => e.reason)).toEqual(["not-retryable", "not-retryable"]);
  });

  it("retries a returned 503 response, and returns the last one when attempts run out", async () => {
    const clock = new FakeClock(NOW);
    const cancel = vi.fn(async () => {});
    const responses = [1, 2, 3].map((n) => ({ status: 503, n, body: { locked: false, cancel } }));
    const fn = vi.fn(() => Promise.resolve(responses.shift()!));
    const result = await drive(clock, retry({ clock }).execute(fn));
    expect(result).toMatchObject({ status: 503, n: 3 });
    expect(fn).toHaveBeenCalledTimes(3);
    // The two responses retried over were released, the returned one was not.
    expect(cancel).toHaveBeenCalledTimes(2);
  });

  it("honours Retry-After, capped at maxDelayMs, and says so", async () => {
    const clock = new FakeClock(NOW);
    const policy = retry({ clock, maxDelayMs: 5_000 });
    const scheduled: RetryEvents["retry:scheduled"][] = [];
    policy.on("retry:scheduled", (e) => scheduled.push(e));
    const fn = flaky(
      httpError(429, { "retry-after": "2" }),
      httpError(503, { "retry-after": "120" }),
    );
    await expect(drive(clock, policy.execute(fn), 100)).resolves.toBe("ok");
    expect(scheduled).toEqual([
      expect.objectContaining({
        delayMs: 2_000,
        source: "retry-after",
        capped: false,
        requestedDelayMs: 2_000,
      }),
      expect.objectContaining({
        delayMs: 5_000,
        source: "retry-after",
        capped: true,
        requestedDelayMs: 120_000,
      }),
    ]);
  });

  it("honours RateLimit-Reset", async () => {
    const clock = new FakeClock(NOW);
    const policy = retry({ clock });
    const scheduled: RetryEvents["retry:scheduled"][] = [];
    policy.on("retry:scheduled", (e) => scheduled.push(e));
    await drive(clock, policy.execute(flaky(httpError(429, { "ratelimit-reset": "3" }))), 100);
    expect(scheduled[0]).toMatchObject({ delayMs: 3_000, source: "ratelimit-reset" });
  });

  describe("idempotency gate", () => {
    it("does not repeat a POST that may have reached the server without an idempotency key", async () => {
      const clock = new FakeClock(NOW);
      const policy = retry({ clock });
      const gaveUp: string[] = [];
      policy.on("retry:gave-up", (e) => gaveUp.push(e.reason));
      const fn = flaky(networkError("ECONNRESET"));
      await expect(policy.execute(fn, { method: "POST" })).rejects.toThrow("ECONNRESET");
      expect(fn).toHaveBeenCalledOnce();
      expect(gaveUp).toEqual(["not-idempotent"]);
    });

    it("repeats it when an idempotency key travels with it", async () => {
      const clock = new FakeClock(NOW);
      const fn = flaky(networkError("ECONNRESET"), httpError(502));
      const keys: (string | undefined)[] = [];
      await expect(
        drive(
          clock,
          retry({ clock }).execute(
            (ctx) => {
              keys.push(ctx.idempotencyKey);
              return fn();
            },
            { method: "POST", idempotencyKey: "order-42" },
          ),
        ),
      ).resolves.toBe("ok");
      expect(keys).toEqual(["order-42", "order-42", "order-42"]);
    });

    it("always repeats a POST that certainly did not reach the server (refused, 429, 503)", async () => {
      const clock = new FakeClock(NOW);
      const fn = flaky(networkError("ECONNREFUSED"), httpError(429), httpError(503));
      await expect(
        drive(clock, retry({ clock, maxAttempts: 4 }).execute(fn, { method: "POST" })),
      ).resolves.toBe("ok");
    });

    it("can be told the function is safe to repeat", async () => {
      const clock = new FakeClock(NOW);
      const fn = flaky(httpError(500));
      await expect(
        drive(clock, retry({ clock, idempotent: true }).execute(fn, { method: "PATCH" })),
      ).resolves.toBe("ok");
    });
  });

  it("stops when the shared retry budget is spent, with the figures and the last failure", async () => {
    const clock = new FakeClock(NOW);
    const budget = retryBudget({ clock, ratio: 0, minRetriesPerSecond: 0.1, windowMs: 10_000 });
    const policy = retry({ clock, budget, maxAttempts: 5 });
    const last = networkError("ECONNRESET");
    const error = await drive(
      clock,
      policy.execute(flaky(networkError("ECONNRESET"), last, networkError("ECONNRESET"))),
      1,
    ).catch((e: unknown) => e);
    expect(isRetryBudgetExhaustedError(error)).toBe(true);
    expect(error).toMatchObject({
      policy: "retry-budget",
      allowed: 1,
      retries: 1,
      requests: 1,
      cause: last,
    });
  });

  it("does not wait past the deadline: gives up with DeadlineExceededError and the cause", async () => {
    const clock = new FakeClock(NOW);
    const deadline = Deadline.after(1_000, { clock, minAttemptMs: 100 });
    const cause = httpError(503, { "retry-after": "1" });
    const fn = flaky(cause);
    const error = await drive(clock, retry({ clock }).execute(fn, { deadline })).catch(
      (e: unknown) => e,
    );
    expect(fn).toHaveBeenCalledOnce();
    expect(isDeadlineExceededError(error)).toBe(true);
    expect(error).toMatchObject({ remainingMs: 1_000, neededMs: 1_100, cause });
  });

  it("stops waiting when the caller aborts, with the caller's reason", async () => {
    const clock = new FakeClock(NOW);
    const caller = new AbortController();
    const fn = flaky(networkError("ECONNRESET"), networkError("ECONNRESET"));
    const promise = retry({ clock }).execute(fn, { signal: caller.signal });
    await clock.advance(0);
    caller.abort(new Error("user left"));
    await expect(promise).rejects.toThrow("user left");
    expect(fn).toHaveBeenCalledOnce();
  });

  it("numbers attempts on the context", async () => {
    const clock = new FakeClock(NOW);
    const seen: number[] = [];
    await drive(
      clock,
      retry({ clock, backoff: fixedBackoff({ delayMs: 10 }) }).execute((ctx) => {
        seen.push(ctx.attempt);
        return ctx.attempt < 3 ? Promise.reject(networkError("ECONNRESET")) : Promise.resolve("ok");
      }),
      10,
    );
    expect(seen).toEqual([1, 2, 3]);
  });

  it("accepts HTTP API style rules and a predicate", async () => {
    const clock = new FakeClock(NOW);
    const byRule = flaky(httpError(409));
    await expect(drive(clock, retry({ clock, retryOn: [409] }).execute(byRule))).resolves.toBe(
      "ok",
    );
    const byPredicate = flaky(new Error("db deadlock"));
    await expect(
      drive(
        clock,
        retry({
          clock,
          retryOn: (o) => o.type === "error" && /deadlock/.test(String(o.error)),
        }).execute(byPredicate),
      ),
    ).resolves.toBe("ok");
  });

  it("is never infinite by default, and rejects nonsense options", () => {
    expect(retry().maxAttempts).toBe(3);
    expect(() => retry({ maxAttempts: 0 })).toThrow(/maxAttempts must be an integer >= 1/);
    expect(() => retry({ maxAttempts: 1.5 })).toThrow(/maxAttempts/);
    expect(retry({ maxAttempts: Infinity }).maxAttempts).toBe(Infinity);
  });
});

describe("decideRetry (pure)", () => {
  const base = {
    attempt: 1,
    maxAttempts: 3,
    retryable: true,
    safeToRepeat: true,
    aborted: false,
    backoff: fixedBackoff({ delayMs: 100, jitter: "none" }),
    backoffState: undefined,
    random: new SeededRandom(1),
    maxDelayMs: 1_000,
    deadline: undefined,
  };
  const verdict = classifyError(networkError("ECONNRESET"), NOW);

  it("retries after the backoff delay", () => {
    expect(decideRetry({ ...base, verdict })).toMatchObject({
      type: "retry",
      delayMs: 100,
      source: "backoff",
    });
  });

  it("gives up in a fixed order: aborted, not retryable, not idempotent, max attempts", () => {
    expect(decideRetry({ ...base, verdict, aborted: true, retryable: false })).toEqual({
      type: "give-up",
      reason: "aborted",
    });
    expect(decideRetry({ ...base, verdict, retryable: false, safeToRepeat: false })).toEqual({
      type: "give-up",
      reason: "not-retryable",
    });
    expect(decideRetry({ ...base, verdict, safeToRepeat: false, attempt: 3 })).toEqual({
      type: "give-up",
      reason: "not-idempotent",
    });
    expect(decideRetry({ ...base, verdict, attempt: 3 })).toEqual({
      type: "give-up",
      reason: "max-attempts",
    });
  });

  it("lets the idempotency gate pass failures that had no effect", () => {
    const refused = classifyError(networkError("ECONNREFUSED"), NOW);
    expect(decideRetry({ ...base, verdict: refused, safeToRepeat: false }).type).toBe("retry");
  });

  it("uses the server's hint over the backoff and caps it", () => {
    const hinted = { ...verdict, retryAfter: { delayMs: 5_000, source: "retry-after" as const } };
    expect(decideRetry({ ...base, verdict: hinted })).toMatchObject({
      delayMs: 1_000,
      requestedDelayMs: 5_000,
      capped: true,
      source: "retry-after",
    });
  });

  it("gives up when the wait would leave the deadline too little", () => {
    const clock = new FakeClock(0);
    const deadline = Deadline.after(150, { clock, minAttemptMs: 60 });
    expect(decideRetry({ ...base, verdict, deadline })).toEqual({
      type: "give-up",
      reason: "deadline",
      delayMs: 100,
    });
    expect(
      decideRetry({ ...base, verdict, deadline: Deadline.after(160, { clock, minAttemptMs: 60 }) })
        .type,
    ).toBe("retry");
  });
});
