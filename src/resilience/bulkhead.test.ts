import { getEventListeners } from "node:events";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FakeClock } from "../testing/fake-clock.ts";
import { bulkhead } from "./bulkhead.ts";
import { isBulkheadRejectedError } from "./errors.ts";
import { pipeline } from "./pipeline.ts";
import { timeout } from "./timeout.ts";

function deferred<T = string>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((a, b) => {
    resolve = a;
    reject = b;
  });
  return { promise, resolve, reject };
}

const flush = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

describe("bulkhead", () => {
  it("runs maxConcurrent at once, queues maxQueue, refuses the rest with the numbers", async () => {
    const policy = bulkhead({ maxConcurrent: 2, maxQueue: 1 });
    const gates = [deferred(), deferred(), deferred()];
    const started: number[] = [];
    const calls = gates.map((gate, i) =>
      policy.execute(() => {
        started.push(i);
        return gate.promise;
      }),
    );
    await flush();
    expect(started).toEqual([0, 1]);
    expect(policy.queued).toBe(1);
    const error: unknown = await policy
      .execute(() => Promise.resolve("x"))
      .catch((e: unknown) => e);
    expect(isBulkheadRejectedError(error)).toBe(true);
    expect(error).toMatchObject({ maxConcurrent: 2, maxQueue: 1, executing: 2, queued: 1 });
    gates[0]!.resolve("a");
    await flush();
    expect(started).toEqual([0, 1, 2]);
    gates[1]!.resolve("b");
    gates[2]!.resolve("c");
    await expect(Promise.all(calls)).resolves.toEqual(["a", "b", "c"]);
    expect(policy.executing).toBe(0);
  });

  it("hands a freed slot to the queue before any newcomer", async () => {
    const policy = bulkhead({ maxConcurrent: 1, maxQueue: 5 });
    const first = deferred();
    const order: string[] = [];
    void policy.execute(() => first.promise);
    const queued = policy.execute(() => {
      order.push("queued");
      return Promise.resolve("q");
    });
    first.resolve("done");
    const newcomer = policy.execute(() => {
      order.push("newcomer");
      return Promise.resolve("n");
    });
    await Promise.all([queued, newcomer]);
    expect(order).toEqual(["queued", "newcomer"]);
  });

  it("frees the slot when the function throws synchronously", async () => {
    const policy = bulkhead({ maxConcurrent: 1 });
    await expect(
      policy.execute(() => {
        throw new Error("sync");
      }),
    ).rejects.toThrow("sync");
    await expect(policy.execute(() => Promise.resolve("ok"))).resolves.toBe("ok");
  });

  it("lets a queued call leave when its caller aborts, and leaves no listener", async () => {
    const policy = bulkhead({ maxConcurrent: 1, maxQueue: 1 });
    const gate = deferred();
    void policy.execute(() => gate.promise);
    const caller = new AbortController();
    let ran = false;
    const queued = policy.execute(
      () => {
        ran = true;
        return Promise.resolve("x");
      },
      { signal: caller.signal },
    );
    caller.abort(new Error("gave up"));
    await expect(queued).rejects.toThrow("gave up");
    expect(policy.queued).toBe(0);
    expect(getEventListeners(caller.signal, "abort")).toHaveLength(0);
    gate.resolve("done");
    await flush();
    expect(ran).toBe(false);
  });

  it("removes its abort listener when a queued call gets its slot", async () => {
    const policy = bulkhead({ maxConcurrent: 1, maxQueue: 1 });
    const gate = deferred();
    void policy.execute(() => gate.promise);
    const caller = new AbortController();
    const queued = policy.execute(() => Promise.resolve("x"), { signal: caller.signal });
    expect(getEventListeners(caller.signal, "abort")).toHaveLength(1);
    gate.resolve("done");
    await queued;
    expect(getEventListeners(caller.signal, "abort")).toHaveLength(0);
  });

  it("with a timeout outside, a call that waited too long in the queue leaves it", async () => {
    const clock = new FakeClock(0);
    const inner = bulkhead({ maxConcurrent: 1, maxQueue: 1 });
    const policy = pipeline(timeout({ timeoutMs: 100, clock }), inner);
    void inner.execute(() => new Promise(() => {}));
    const queued = policy.execute(() => Promise.resolve("late")).catch((e: unknown) => e);
    await clock.advance(100);
    expect(await queued).toMatchObject({ kind: "TimeoutError" });
    expect(inner.queued).toBe(0);
  });

  it("validates its options", () => {
    expect(() => bulkhead({ maxConcurrent: 0 })).toThrow(/maxConcurrent/);
    expect(() => bulkhead({ maxQueue: -1 })).toThrow(/maxQueue/);
  });
});

type Op =
  | { type: "call"; abortable: boolean }
  | { type: "settle"; pick: number; fail: boolean }
  | { type: "abort"; pick: number };

describe("bulkhead properties", () => {
  it("never runs more than maxConcurrent, never queues more than maxQueue, and never strands a call", async () => {
    const op: fc.Arbitrary<Op> = fc.oneof(
      {
        weight: 3,
        arbitrary: fc.record({ type: fc.constant("call" as const), abortable: fc.boolean() }),
      },
      {
        weight: 2,
        arbitrary: fc.record({
          type: fc.constant("settle" as const),
          pick: fc.nat(),
          fail: fc.boolean(),
        }),
      },
      { weight: 1, arbitrary: fc.record({ type: fc.constant("abort" as const), pick: fc.nat() }) },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 4 }),
        fc.array(op, { minLength: 10, maxLength: 120, size: "max" }),
        async (maxConcurrent, maxQueue, ops) => {
          const policy = bulkhead({ maxConcurrent, maxQueue });
          let running = 0;
          let maxRunning = 0;
          const gates: { settle: (fail: boolean) => void }[] = [];
          const callers: AbortController[] = [];
          const outcomes: Promise<string>[] = [];
          const startOrder: number[] = [];
          for (const o of ops) {
            if (o.type === "call") {
              const id = outcomes.length;
              const caller = new AbortController();
              if (o.abortable) callers.push(caller);
              const queueBefore = policy.queued;
              const runningBefore = policy.executing;
              const outcome = policy
                .execute(
                  () => {
                    running++;
                    maxRunning = Math.max(maxRunning, running);
                    startOrder.push(id);
                    return new Promise<string>((resolve, reject) => {
                      gates.push({
                        settle: (fail) => {
                          running--;
                          if (fail) reject(new Error("failed"));
                          else resolve("ok");
                        },
                      });
                    });
                  },
                  o.abortable ? { signal: caller.signal } : {},
                )
                .catch((e: unknown) => {
                  if (isBulkheadRejectedError(e)) {
                    // Refused only when every slot and queue place was taken.
                    expect(runningBefore).toBe(maxConcurrent);
                    expect(queueBefore).toBe(maxQueue);
                    return "rejected";
                  }
                  return "failed";
                });
              outcomes.push(outcome);
            } else if (o.type === "settle") {
              if (gates.length > 0) gates.splice(o.pick % gates.length, 1)[0]!.settle(o.fail);
            } else if (callers.length > 0) {
              callers.splice(o.pick % callers.length, 1)[0]!.abort(new Error("caller aborted"));
            }
            await flush();
            expect(running).toBeLessThanOrEqual(maxConcurrent);
            expect(policy.executing).toBeLessThanOrEqual(maxConcurrent);
            expect(policy.queued).toBeLessThanOrEqual(maxQueue);
            expect(policy.executing).toBe(running);
          }
          // Drain: every call ends (run, refused, or aborted out of the queue).
          while (gates.length > 0) {
            gates.shift()!.settle(false);
            await flush();
          }
          const results = await Promise.all(outcomes);
          expect(results.every((r) => ["ok", "failed", "rejected"].includes(r))).toBe(true);
          expect(policy.executing).toBe(0);
          expect(policy.queued).toBe(0);
          expect(maxRunning).toBeLessThanOrEqual(maxConcurrent);
        },
      ),
      { numRuns: 150 },
    );
  });
});
