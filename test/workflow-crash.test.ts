// Issue 11, "Tests": durable workflows survive kill -9, on SQLite (a temp file) and PostgreSQL (a
// fresh schema per test). Real processes (`test/workflow-process.ts`) run the workflows; a fault
// point kills one at an exact place (`after-step-commit@k`, `before-step-commit@k`), or the test
// kills it with SIGKILL while a step's request is held at the upstream; a new process resumes.
// The upstream counts every step's requests by path, so each assertion is a count or an output:
//   - a step committed before the kill ran once;
//   - the step cut off by the kill ran again: twice in all when its request had reached the
//     upstream (before-step-commit, a held request), once when its commit had landed
//     (after-step-commit);
//   - sleeps, event waits and their timeouts survive the kill, and an event sent from a third
//     process wakes the waiting run;
//   - a saga killed during its compensations runs each once, the one cut off before its commit
//     twice.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { tenantId } from "../src/core/ids.ts";
import { createSteadfast, type Steadfast } from "../src/steadfast.ts";
import {
  dropSchema,
  TEST_DATABASE_URL,
  testSchemaName,
} from "../src/store/postgres/test-database.test-support.ts";
import type { FlakyUpstream } from "../src/testing/flaky-upstream.ts";
import { waitUntil } from "../src/testing/wait-until.ts";
import {
  runEnded,
  sendEventFromProcess,
  startCountingUpstream,
  startWorkflowProcess,
  type StartSpec,
  type WorkflowProcess,
} from "./workflow-process-harness.ts";

/** A database for one test, and how to remove it. */
interface TestDatabase {
  db: string;
  cleanup(): Promise<void>;
}

const databases: { name: string; open(): TestDatabase }[] = [
  {
    name: "SQLite",
    open() {
      const dir = mkdtempSync(join(tmpdir(), "steadfast-wf-crash-"));
      return {
        db: `sqlite:${join(dir, "steadfast.db")}`,
        cleanup: () => Promise.resolve(rmSync(dir, { recursive: true, force: true })),
      };
    },
  },
  {
    name: "PostgreSQL",
    open() {
      const schema = testSchemaName();
      return { db: `${TEST_DATABASE_URL}?schema=${schema}`, cleanup: () => dropSchema(schema) };
    },
  },
];

const tenant = tenantId("default");

let database: TestDatabase | undefined;
let observer: Steadfast | undefined;
let upstream: (FlakyUpstream & { count(path: string): number }) | undefined;
let processes: WorkflowProcess[] = [];

afterEach(async () => {
  for (const p of processes) await p.kill9();
  processes = [];
  await observer?.close();
  observer = undefined;
  await upstream?.close();
  upstream = undefined;
  await database?.cleanup();
  database = undefined;
});

/**
 * A fresh database, migrated by a Steadfast of the test's own that runs no engine (it reads runs),
 * and the counting upstream (`hold` may hold a request's answer back).
 */
async function setUp(
  open: () => TestDatabase,
  hold?: Parameters<typeof startCountingUpstream>[0],
): Promise<{ db: string; sf: Steadfast; up: NonNullable<typeof upstream> }> {
  database = open();
  observer = await createSteadfast({ db: database.db, startEngine: false });
  upstream = await startCountingUpstream(hold);
  return { db: database.db, sf: observer, up: upstream };
}

/** Starts a workflow process on `db` (killed after the test). */
async function start(
  db: string,
  label: string,
  options: { faults?: string; start?: StartSpec[] } = {},
): Promise<WorkflowProcess> {
  const started = await startWorkflowProcess(db, { label, ...options });
  processes.push(started);
  return started;
}

/** Waits for a process armed with a fault to kill itself there. */
async function killedByFault(p: WorkflowProcess): Promise<void> {
  const signal = await p.exited;
  expect(signal, `${p.label} should have died at its fault point; it printed:\n${p.output()}`).toBe(
    "SIGKILL",
  );
}

/** The ids of the completed checkpoints of run `id`, sorted. */
async function completedSteps(sf: Steadfast, id: string): Promise<string[]> {
  const detail = await sf.store.getRun(tenant, id);
  return (detail?.checkpoints ?? [])
    .filter((c) => c.status === "completed")
    .map((c) => c.stepId)
    .sort();
}

/** Requests per step of the counter run `id`, `s1` to `s5`. */
function counterCounts(up: NonNullable<typeof upstream>, id: string): number[] {
  return ["s1", "s2", "s3", "s4", "s5"].map((step) =>
    up.count(`/${encodeURIComponent(id)}/${step}`),
  );
}

/** A promise and its resolver: held upstream answers are let go in the end. */
function gate(): { promise: Promise<void>; open(): void } {
  let open = (): void => {};
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe.each(databases)("durable workflows survive kill -9 ($name, process level)", ({ open }) => {
  it("resumes a five-step run killed right after its third step's commit: every step once", async () => {
    const { db, sf, up } = await setUp(open);
    const first = await start(db, "first", {
      faults: "after-step-commit@3",
      start: [{ workflow: "counter", id: "count-1", input: { upstream: up.url, from: 10 } }],
    });
    await killedByFault(first);
    expect(await completedSteps(sf, "count-1")).toEqual(["s1", "s2", "s3"]);
    expect(counterCounts(up, "count-1")).toEqual([1, 1, 1, 0, 0]);

    await start(db, "second");
    const ended = await runEnded(sf, "count-1");
    expect(ended.run.status).toBe("succeeded");
    expect(ended.output).toEqual({ total: 15 });
    expect(counterCounts(up, "count-1")).toEqual([1, 1, 1, 1, 1]);
    expect(ended.attempts.map((a) => [a.stepId, a.number, a.outcome.type])).toEqual(
      ["s1", "s2", "s3", "s4", "s5"].map((step) => [step, 1, "succeeded"]),
    );
  });

  it("runs the step cut off before its commit again (twice in all), every other step once", async () => {
    const { db, sf, up } = await setUp(open);
    const first = await start(db, "first", {
      faults: "before-step-commit@3",
      start: [{ workflow: "counter", id: "count-2", input: { upstream: up.url, from: 0 } }],
    });
    await killedByFault(first);
    expect(await completedSteps(sf, "count-2")).toEqual(["s1", "s2"]);
    // Its request reached the upstream; its result was never committed.
    expect(counterCounts(up, "count-2")).toEqual([1, 1, 1, 0, 0]);

    await start(db, "second");
    const ended = await runEnded(sf, "count-2");
    expect(ended.output).toEqual({ total: 5 });
    expect(counterCounts(up, "count-2")).toEqual([1, 1, 2, 1, 1]);
    // The second s3 was sent by the new process.
    const s3 = up.requests.filter((r) => r.path === "/count-2/s3");
    expect(s3.map((r) => r.headers["x-workflow-process"])).toEqual(["first", "second"]);
  });

  it("resumes a run whose process was killed from outside while a step's request was in flight", async () => {
    const held = gate();
    let heldOnce = false;
    const { db, sf, up } = await setUp(open, (request) => {
      if (request.path !== "/count-3/s3" || heldOnce) return {};
      heldOnce = true;
      return { after: held.promise };
    });
    const first = await start(db, "first", {
      start: [{ workflow: "counter", id: "count-3", input: { upstream: up.url, from: 100 } }],
    });
    await waitUntil(() => up.count("/count-3/s3") === 1, {
      timeoutMs: 30_000,
      what: "s3's request",
    });
    await first.kill9();
    held.open();

    await start(db, "second");
    const ended = await runEnded(sf, "count-3");
    expect(ended.output).toEqual({ total: 105 });
    expect(counterCounts(up, "count-3")).toEqual([1, 1, 2, 1, 1]);
  });

  it("resumes a parent and its child run killed mid-child: the child's steps once, the cut-off one twice", async () => {
    const held = gate();
    let heldOnce = false;
    const childS3 = `/${encodeURIComponent("parent-1:count")}/s3`;
    const { db, sf, up } = await setUp(open, (request) => {
      if (request.path !== childS3 || heldOnce) return {};
      heldOnce = true;
      return { after: held.promise };
    });
    const first = await start(db, "first", {
      start: [{ workflow: "parent", id: "parent-1", input: { upstream: up.url, from: 1 } }],
    });
    await waitUntil(() => up.count(childS3) === 1, { timeoutMs: 30_000, what: "the child's s3" });
    await first.kill9();
    held.open();

    await start(db, "second");
    const ended = await runEnded(sf, "parent-1");
    expect(ended.output).toEqual({ total: 7 });
    expect((await sf.store.getRun(tenant, "parent-1:count"))?.run.status).toBe("succeeded");
    expect(counterCounts(up, "parent-1:count")).toEqual([1, 1, 2, 1, 1]);
    expect(up.count("/parent-1/after")).toBe(1);
  });

  it("sends a step.fetch's request again, with the same key, when killed after it was sent and before its commit", async () => {
    const { db, sf, up } = await setUp(open);
    const first = await start(db, "first", {
      faults: "after-request-sent@1",
      start: [{ workflow: "fetcher", id: "fetch-1", input: { upstream: up.url, from: 41 } }],
    });
    await killedByFault(first);
    expect(up.count("/fetch-1/charge")).toBe(1);

    await start(db, "second");
    const ended = await runEnded(sf, "fetch-1");
    expect(ended.output).toEqual({ status: 200, total: 43 });
    const charges = up.requests.filter((r) => r.path === "/fetch-1/charge");
    expect(charges.map((r) => r.headers["idempotency-key"])).toEqual([
      "fetch-1:charge",
      "fetch-1:charge",
    ]);
    expect(up.count("/fetch-1/after")).toBe(1);
  });

  it("keeps a sleeping and two waiting runs through kill -9: the sleep ends, an event from a third process wakes one, the other times out to null", async () => {
    const { db, sf, up } = await setUp(open);
    // Four commits: the sleeper's first step, then each run's park. The process dies right after
    // the last, so all three are parked in the store when it goes.
    const first = await start(db, "first", {
      faults: "after-step-commit@4",
      start: [
        { workflow: "sleeper", id: "sleeper-1", input: { upstream: up.url, sleepMs: 300 } },
        {
          workflow: "waiter",
          id: "waiter-1",
          input: { upstream: up.url, orderId: "o-1", timeoutMs: 3_600_000 },
        },
        {
          workflow: "waiter",
          id: "waiter-2",
          input: { upstream: up.url, orderId: "o-2", timeoutMs: 300 },
        },
      ],
    });
    await killedByFault(first);
    const statuses = await Promise.all(
      ["sleeper-1", "waiter-1", "waiter-2"].map(
        async (id) => (await sf.store.getRun(tenant, id))?.run.status,
      ),
    );
    expect(statuses).toEqual(["sleeping", "waiting", "waiting"]);
    expect(up.requests.map((r) => r.path)).toEqual(["/sleeper-1/before"]);

    await start(db, "second");
    expect((await runEnded(sf, "sleeper-1")).output).toBe("rested");
    expect((await runEnded(sf, "waiter-2")).output).toEqual({ approval: null });
    // Still waiting for its event: only the event ends it.
    expect((await sf.store.getRun(tenant, "waiter-1"))?.run.status).toBe("waiting");
    expect(
      await sendEventFromProcess(db, {
        name: "order.approved",
        data: { orderId: "o-1", by: "ann" },
        id: "approval-o-1",
      }),
    ).toMatch(/^sent approval-o-1 true$/m);
    expect((await runEnded(sf, "waiter-1")).output).toEqual({
      approval: { orderId: "o-1", by: "ann" },
    });

    const sentBy = (path: string) =>
      up.requests.filter((r) => r.path === path).map((r) => r.headers["x-workflow-process"]);
    expect(sentBy("/sleeper-1/before")).toEqual(["first"]);
    expect(sentBy("/sleeper-1/after")).toEqual(["second"]);
    expect(sentBy("/waiter-1/after")).toEqual(["second"]);
    expect(sentBy("/waiter-2/after")).toEqual(["second"]);
  });

  it("compensates a failed saga's steps once each when killed after the first compensation's commit", async () => {
    const { db, sf, up } = await setUp(open);
    // Commits: reserve, charge, ship (failed for good), undo charge (the 4th), undo reserve.
    const first = await start(db, "first", {
      faults: "after-step-commit@4",
      start: [{ workflow: "saga", id: "saga-1", input: { upstream: up.url } }],
    });
    await killedByFault(first);
    expect(sagaCounts(up, "saga-1")).toEqual([1, 1, 1, 1, 0]);
    expect(await completedSteps(sf, "saga-1")).toEqual(["$compensate:charge", "charge", "reserve"]);

    await start(db, "second");
    const ended = await runEnded(sf, "saga-1");
    expectCompensated(ended);
    expect(sagaCounts(up, "saga-1")).toEqual([1, 1, 1, 1, 1]);
  });

  it("runs a compensation cut off before its commit again, and no other step again", async () => {
    const { db, sf, up } = await setUp(open);
    // The 5th commit is undo reserve's: its request was answered, its record never written.
    const first = await start(db, "first", {
      faults: "before-step-commit@5",
      start: [{ workflow: "saga", id: "saga-2", input: { upstream: up.url } }],
    });
    await killedByFault(first);
    expect(sagaCounts(up, "saga-2")).toEqual([1, 1, 1, 1, 1]);
    expect(await completedSteps(sf, "saga-2")).toEqual(["$compensate:charge", "charge", "reserve"]);

    await start(db, "second");
    const ended = await runEnded(sf, "saga-2");
    expectCompensated(ended);
    expect(sagaCounts(up, "saga-2")).toEqual([1, 1, 1, 1, 2]);
  });
});

/** Requests of saga `id`'s steps: reserve, charge, ship, undo charge, undo reserve. */
function sagaCounts(up: NonNullable<typeof upstream>, id: string): number[] {
  return ["reserve", "charge", "ship", "undo-charge", "undo-reserve"].map((step) =>
    up.count(`/${id}/${step}`),
  );
}

/** The saga failed with its step's error and compensated charge, then reserve. */
function expectCompensated(ended: Awaited<ReturnType<typeof runEnded>>): void {
  expect(ended.run.status).toBe("failed");
  expect(ended.run.error?.message).toMatch(/out of stock/);
  expect(ended.run.compensation?.outcomes.map((o) => [o.stepId, o.status])).toEqual([
    ["charge", "compensated"],
    ["reserve", "compensated"],
  ]);
}
