import { afterEach, describe, expect, it } from "vitest";
import { TerminalError, WaitTimeoutError } from "../../core/errors.ts";
import { tenantId, type WorkerId } from "../../core/ids.ts";
import type { RunRecord } from "../../core/run-log.ts";
import type { RunStatus } from "../../core/workflow/run-state.ts";
import { waitUntil } from "../../testing/wait-until.ts";
import { harness, type Harness, type HarnessOptions } from "../engine-harness.test-support.ts";
import {
  dropSchema,
  TEST_DATABASE_URL,
  testSchemaName,
} from "../../store/postgres/test-database.test-support.ts";
import {
  RunCancelledError,
  RunFailedError,
  RunIdReusedError,
  type RunHandle,
} from "./workflow-client.ts";
import type { WorkflowContext } from "./workflow-definition.ts";

let h: Harness | undefined;
let schema: string | undefined;
afterEach(async () => {
  await h?.cleanup();
  h = undefined;
  if (schema !== undefined) await dropSchema(schema);
  schema = undefined;
});

/** The harness on the store under test: its SQLite file, or a fresh PostgreSQL schema. */
type Open = (script: Parameters<typeof harness>[0], options?: HarnessOptions) => Promise<Harness>;
const STORES: [string, Open][] = [
  ["SQLite", (script, options) => harness(script, options)],
  [
    "PostgreSQL",
    (script, options) => {
      schema = testSchemaName();
      return harness(script, { ...options, db: `${TEST_DATABASE_URL}?schema=${schema}` });
    },
  ],
];

const tenant = tenantId("default");

async function until(run: RunHandle<unknown>, status: RunStatus): Promise<void> {
  await waitUntil(async () => (await run.status()) === status, {
    what: () => `run ${run.id} to be ${status}`,
  });
}

describe.each(STORES)("durable workflows on the engine (%s)", (_name, open) => {
  it("runs a workflow of five steps to its output, each step once, recording every step", async () => {
    h = await open([]);
    const ran: string[] = [];
    const five = h.sf.workflow("five", async ({ input, step }: WorkflowContext<{ n: number }>) => {
      let total = input.n;
      for (const name of ["a", "b", "c", "d", "e"]) {
        total = await step.run(name, () => {
          ran.push(name);
          return total + 1;
        });
      }
      return { total, at: new Date(0) };
    });
    const run = await five.start({ n: 10 }, { id: "five-1" });
    expect(run).toMatchObject({ id: "five-1", created: true });
    expect(await run.result()).toEqual({ total: 15, at: new Date(0) });
    expect(ran).toEqual(["a", "b", "c", "d", "e"]);
    const detail = await h.sf.store.getRun(tenant, "five-1");
    expect(detail?.run.status).toBe("succeeded");
    expect(detail?.checkpoints.map((c) => [c.stepId, c.status])).toEqual([
      ["a", "completed"],
      ["b", "completed"],
      ["c", "completed"],
      ["d", "completed"],
      ["e", "completed"],
    ]);
    expect(detail?.attempts).toHaveLength(5);
  });

  it("returns the existing run for the same id and input, and refuses another input", async () => {
    h = await open([]);
    const echo = h.sf.workflow("echo", ({ input }: WorkflowContext<string>) => input);
    const first = await echo.start("x", { id: "echo-1" });
    expect(await first.result()).toBe("x");
    const again = await echo.start("x", { id: "echo-1" });
    expect(again.created).toBe(false);
    expect(await again.result()).toBe("x");
    await expect(echo.start("y", { id: "echo-1" })).rejects.toBeInstanceOf(RunIdReusedError);
  });

  it("retries a failing step after a durable backoff, the run parked meanwhile", async () => {
    h = await open([]);
    let calls = 0;
    const flaky = h.sf.workflow("flaky", async ({ step }) =>
      step.run("call", () => {
        calls++;
        if (calls < 3) throw new Error(`boom ${calls}`);
        return "ok";
      }),
    );
    const run = await flaky.start(undefined, { id: "flaky-1" });
    await until(run, "waiting");
    expect(
      (await h.sf.store.getRunByUid((await h.sf.store.getRun(tenant, "flaky-1"))!.run.uid))
        ?.waitCode,
    ).toBe("retry_backoff");
    await h.clock.advance(1_000);
    await waitUntil(() => calls === 2, { what: "the second attempt" });
    await until(run, "waiting");
    await h.clock.advance(2_000);
    expect(await run.result()).toBe("ok");
    const detail = await h.sf.store.getRun(tenant, "flaky-1");
    expect(detail?.attempts.map((a) => [a.number, a.outcome.type, a.decision.type])).toEqual([
      [1, "failed", "retry"],
      [2, "failed", "retry"],
      [3, "succeeded", "succeed"],
    ]);
  });

  it("sleeps in the store and resumes when the time comes", async () => {
    h = await open([]);
    let after = 0;
    const nap = h.sf.workflow("nap", async ({ step }) => {
      await step.sleep("cool-off", "10m");
      after++;
      return "rested";
    });
    const run = await nap.start(undefined, { id: "nap-1" });
    await until(run, "sleeping");
    await h.clock.advance(9 * 60_000);
    expect(await run.status()).toBe("sleeping");
    await h.clock.advance(60_000);
    expect(await run.result()).toBe("rested");
    expect(after).toBe(1);
  });

  it("delivers an event to a waiting run, one sent before the wait started too, and times out to null", async () => {
    h = await open([]);
    const approval = h.sf.workflow(
      "approval",
      async ({ input, step }: WorkflowContext<{ orderId: string }>) => {
        await step.run("prepare", () => "ready");
        const first = await step.waitForEvent<{ orderId: string; by: string }>("approved", {
          event: "order.approved",
          match: { orderId: input.orderId },
          timeout: "1d",
        });
        const second = await step.waitForEvent("approved", {
          event: "order.approved",
          match: { orderId: input.orderId },
          timeout: "1h",
        });
        return { first, second };
      },
    );
    // Sent before the run waits (the run exists): delivered, not lost.
    const run = await approval.start({ orderId: "o-1" }, { id: "approval-1" });
    await h.sf.sendEvent("order.approved", { orderId: "o-2", by: "someone else" });
    await h.sf.sendEvent("order.approved", { orderId: "o-1", by: "ann" });
    // The event delivered to the first wait is not delivered again to the loop's second one.
    await waitUntil(
      async () =>
        (await h!.sf.store.getRun(tenant, "approval-1"))?.checkpoints.some(
          (c) => c.stepId === "approved#2" && c.status === "waiting",
        ) === true,
      { what: "the second wait" },
    );
    await h.clock.advance(3_600_000);
    expect(await run.result()).toEqual({ first: { orderId: "o-1", by: "ann" }, second: null });
  });

  it("wakes a waiting run when its event is sent", async () => {
    h = await open([]);
    const wait = h.sf.workflow("wait", async ({ step }) =>
      step.waitForEvent("signal", { event: "go" }),
    );
    const run = await wait.start(undefined, { id: "wait-1" });
    await until(run, "waiting");
    const sent = await h.sf.sendEvent("go", { n: 1n }, { id: "evt-1" });
    expect(sent).toMatchObject({ id: "evt-1", created: true });
    expect(await h.sf.sendEvent("go", { n: 1n }, { id: "evt-1" })).toMatchObject({
      id: "evt-1",
      created: false,
    });
    expect(await run.result()).toEqual({ n: 1n });
  });

  it("loses no event sent between the invocation's read of the events and its park", async () => {
    h = await open([]);
    const store = h.sf.store;
    const park = store.parkRun.bind(store);
    let sent = false;
    // The event arrives just before the park that names it is committed: its wake-up finds no
    // run waiting for it yet.
    store.parkRun = async (ref, parked, batch, now) => {
      if (!sent) {
        sent = true;
        await h!.sf.sendEvent("late", { ok: true });
      }
      return park(ref, parked, batch, now);
    };
    const wait = h.sf.workflow("late-wait", async ({ step }) =>
      step.waitForEvent("signal", { event: "late" }),
    );
    const run = await wait.start(undefined, { id: "late-1" });
    expect(await run.result()).toEqual({ ok: true });
  });

  it("makes step.fetch a durable call that forwards <runId>:<stepId> and returns the response", async () => {
    h = await open([{ status: 503 }, { status: 200, body: "charged" }]);
    const pay = h.sf.workflow("pay", async ({ step }) => {
      const response = await step.fetch("charge", {
        url: `${h!.upstream.url}/charge`,
        method: "POST",
        body: { amount: 5 },
      });
      return { status: response.status, body: response.body };
    });
    const retry = h.next("call:retry-scheduled");
    const run = await pay.start(undefined, { id: "pay-1" });
    await h.clock.set((await retry).runAt);
    expect(await run.result()).toEqual({ status: 200, body: "charged" });
    expect(h.upstream.requests.map((r) => r.headers["idempotency-key"])).toEqual([
      "pay-1:charge",
      "pay-1:charge",
    ]);
  });

  it("fails a step.fetch whose destination the guard refuses, naming why", async () => {
    h = await open([], { allowPrivateNetworks: false });
    const blocked = h.sf.workflow("blocked", async ({ step }) =>
      step.fetch("internal", { url: "http://127.0.0.1:1/admin" }),
    );
    const run = await blocked.start(undefined, { id: "blocked-1" });
    const error = await run.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RunFailedError);
    expect((error as RunFailedError).failure.message).toMatch(
      /blocked_destination|private|loopback/i,
    );
  });

  it("invokes a child workflow and returns its output; a failed child fails the step", async () => {
    h = await open([]);
    const child = h.sf.workflow("child", ({ input }: WorkflowContext<number>) => {
      if (input < 0) throw new TerminalError("invalid_request", "negative");
      return input * 2;
    });
    const parent = h.sf.workflow("parent", async ({ input, step }: WorkflowContext<number>) => {
      const doubled = await step.invoke("double", child, input);
      return doubled + 1;
    });
    expect(await (await parent.start(20, { id: "parent-1" })).result()).toBe(41);
    expect((await h.sf.store.getRun(tenant, "parent-1:double"))?.run.status).toBe("succeeded");
    const failing = await parent.start(-1, { id: "parent-2" });
    await expect(failing.result()).rejects.toBeInstanceOf(RunFailedError);
  });

  it("compensates completed steps in reverse order when a later step fails for good", async () => {
    h = await open([]);
    const undone: string[] = [];
    const saga = h.sf.workflow("saga", async ({ step }) => {
      await step.run("reserve", () => "r1", {
        compensate: (r) => void undone.push(`release ${r}`),
      });
      await step.run("charge", () => "c1", { compensate: (c) => void undone.push(`refund ${c}`) });
      await step.run("ship", () => {
        throw new TerminalError("invalid_request", "no stock");
      });
    });
    const run = await saga.start(undefined, { id: "saga-1" });
    const error = (await run.result().catch((e: unknown) => e)) as RunFailedError;
    expect(error).toBeInstanceOf(RunFailedError);
    expect(undone).toEqual(["refund c1", "release r1"]);
    expect(error.compensation?.outcomes.map((o) => [o.stepId, o.status])).toEqual([
      ["charge", "compensated"],
      ["reserve", "compensated"],
    ]);
  });

  it("cancels a sleeping run at once", async () => {
    h = await open([]);
    const nap = h.sf.workflow("long-nap", async ({ step }) => step.sleep("nap", "1d"));
    const run = await nap.start(undefined, { id: "nap-2" });
    await until(run, "sleeping");
    const cancelled = await h.sf.store.cancelRun(tenant, "nap-2", h.clock.now());
    expect(cancelled.type).toBe("ok");
    await expect(run.result()).rejects.toBeInstanceOf(RunCancelledError);
  });

  it("retries a failed run from its failed step with the current code", async () => {
    h = await open([]);
    let broken = true;
    const ran: string[] = [];
    const fixable = h.sf.workflow("fixable", async ({ step }) => {
      await step.run("first", () => void ran.push("first"));
      return step.run(
        "second",
        () => {
          ran.push("second");
          if (broken) throw new TerminalError("invalid_request", "bug");
          return "fixed";
        },
        { retry: { maxAttempts: 1 } },
      );
    });
    const run = await fixable.start(undefined, { id: "fixable-1" });
    await expect(run.result()).rejects.toBeInstanceOf(RunFailedError);
    broken = false;
    expect((await h.sf.store.retryRun(tenant, "fixable-1", h.clock.now())).type).toBe("ok");
    h.sf.engine.runs.notify(h.clock.now());
    await until(run, "succeeded");
    expect(await run.result()).toBe("fixed");
    expect(ran).toEqual(["first", "second", "second"]);
  });

  it("claims only runs of workflows this process registered", async () => {
    h = await open([]);
    const elsewhere = { name: "elsewhere", fn: () => "never here" };
    const run = await h.sf.workflows.start(elsewhere, undefined, { id: "elsewhere-1" });
    const local = h.sf.workflow("local", () => "here");
    expect(await (await local.start(undefined)).result()).toBe("here");
    expect(await run.status()).toBe("queued");
  });

  it("retries a failed child run when its parent is retried from the invoking step", async () => {
    h = await open([]);
    let broken = true;
    const child = h.sf.workflow("flaky-child", async ({ step }) =>
      step.run(
        "work",
        () => {
          if (broken) throw new TerminalError("invalid_request", "child bug");
          return "child ok";
        },
        { retry: { maxAttempts: 1 } },
      ),
    );
    const parent = h.sf.workflow("retried-parent", async ({ step }) =>
      step.invoke("child", child, undefined),
    );
    const run = await parent.start(undefined, { id: "rp-1" });
    await expect(run.result()).rejects.toBeInstanceOf(RunFailedError);
    broken = false;
    expect((await h.sf.store.retryRun(tenant, "rp-1", h.clock.now())).type).toBe("ok");
    h.sf.engine.runs.notify(h.clock.now());
    await until(run, "succeeded");
    expect(await run.result()).toBe("child ok");
  });

  it("holds a workflow's own concurrency limit for runs started in this process", async () => {
    h = await open([]);
    let inside = 0;
    let peak = 0;
    const gates: (() => void)[] = [];
    const limited = h.sf.workflow(
      "limited",
      async ({ step }) =>
        step.run("work", async () => {
          inside++;
          peak = Math.max(peak, inside);
          await new Promise<void>((resolve) => gates.push(resolve));
          inside--;
          return "done";
        }),
      { concurrency: 1 },
    );
    const runs = await Promise.all(
      [1, 2, 3, 4, 5].map((n) => limited.start(undefined, { id: `limited-${n}` })),
    );
    for (let ended = 0; ended < runs.length; ended++) {
      await waitUntil(() => gates.length > 0, { what: "a run to be working" });
      expect(peak).toBe(1);
      gates.shift()?.();
    }
    for (const run of runs) expect(await run.result()).toBe("done");
    expect(peak).toBe(1);
  });

  it("fails a run taken over again and again without a commit (crash_loop) instead of retrying it for ever", async () => {
    h = await open([]);
    const store = h.sf.store;
    const ghost = { name: "crashy", fn: () => "never" };
    await h.sf.workflows.start(ghost, undefined, { id: "crashy-1" });
    // A process that claims it and dies each time, before committing anything.
    for (let claim = 0; claim < 3; claim++) {
      const claims = await store.claimDueRuns({
        now: h.clock.now(),
        limit: 1,
        leaseMs: 30_000,
        workerId: "ghost" as WorkerId,
        workflows: ["crashy"],
      });
      expect(claims).toHaveLength(1);
      await h.clock.advance(30_000);
    }
    const crashy = h.sf.workflow("crashy", () => "ran");
    const run = await crashy.start(undefined, { id: "crashy-1" });
    const error = (await run.result().catch((e: unknown) => e)) as RunFailedError;
    expect(error).toBeInstanceOf(RunFailedError);
    expect(error.failure).toMatchObject({ code: "crash_loop" });
  });

  it("parks a new wait for good when an event of its name came just before the run was created", async () => {
    h = await open([]);
    const store = h.sf.store;
    const park = store.parkRun.bind(store);
    const parked: (RunRecord | undefined)[] = [];
    store.parkRun = async (ref, parking, batch, now) => {
      const done = await park(ref, parking, batch, now);
      parked.push(await store.getRunByUid(ref.uid));
      return done;
    };
    // Another order's event, then the run 1 ms later: not its event, nor a reason to wake it.
    await h.sf.sendEvent("order.paid", { orderId: "other" });
    await h.clock.advance(1);
    const paid = h.sf.workflow("pay-wait", async ({ step }) =>
      step.waitForEvent("paid", { event: "order.paid", match: { orderId: "mine" } }),
    );
    const run = await paid.start(undefined, { id: "pw-1" });
    await waitUntil(() => parked.length > 0, { what: "the park" });
    expect(parked[0]).toMatchObject({ status: "waiting", waitCode: "event" });
    expect(parked[0]?.runAt).toBeUndefined();
    await h.sf.sendEvent("order.paid", { orderId: "mine" });
    expect(await run.result()).toEqual({ orderId: "mine" });
  });

  it("gives up waiting for a result after timeoutMs, naming the run, which goes on", async () => {
    h = await open([]);
    const nap = h.sf.workflow("timed-nap", async ({ step }) => step.sleep("nap", "1h"));
    const run = await nap.start(undefined, { id: "timed-1" });
    await until(run, "sleeping");
    const waited = run.result({ timeoutMs: 1_000 }).catch((error: unknown) => error);
    await h.clock.advance(1_000);
    const error = await waited;
    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect((error as Error).message).toMatch(/^Run timed-1 is still sleeping after 1000 ms/);
    expect(await run.status()).toBe("sleeping");
  });
});
