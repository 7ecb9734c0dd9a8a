// Issue 11, "Tests": two processes share the runs of one PostgreSQL database. 500 runs of a
// three-step workflow (each step POSTs to the upstream with its idempotency key `<runId>:<step>`)
// are started by a third party (this test, with no engine); both processes run them. Every run
// ends succeeded with its output, every step reached the upstream, no step was run by two
// processes at once (no two requests of one key overlapped at the upstream), and both processes
// took part. Then again with one of them killed (SIGKILL) a third of the way through and a new
// one started: a step ran twice only when the dead process had sent it and not committed it.
import { afterEach, describe, expect, it } from "vitest";
import { tenantId, type RunUid } from "../src/core/ids.ts";
import type { RunRecord } from "../src/core/run-log.ts";
import { storedValueCodec } from "../src/engine/workflows/stored-value-codec.ts";
import { createSteadfast, type Steadfast } from "../src/steadfast.ts";
import {
  dropSchema,
  TEST_DATABASE_URL,
  testSchemaName,
} from "../src/store/postgres/test-database.test-support.ts";
import { overlappingRequests } from "../src/testing/flaky-upstream.ts";
import { waitUntil } from "../src/testing/wait-until.ts";
import {
  startCountingUpstream,
  startWorkflowProcess,
  type WorkflowProcess,
} from "./workflow-process-harness.ts";

const RUNS = 500;
const STEPS = ["t1", "t2", "t3"] as const;
const tenant = tenantId("default");

let schema: string | undefined;
let observer: Steadfast | undefined;
type CountingUpstream = Awaited<ReturnType<typeof startCountingUpstream>>;
let upstream: CountingUpstream | undefined;
let processes: WorkflowProcess[] = [];

afterEach(async () => {
  for (const p of processes) await p.kill9();
  processes = [];
  await observer?.close();
  observer = undefined;
  await upstream?.close();
  upstream = undefined;
  if (schema !== undefined) await dropSchema(schema);
  schema = undefined;
});

/** Every run of `workflow` in the tenant, through `listRuns`' pages. */
async function allRuns(sf: Steadfast, workflow: string): Promise<RunRecord[]> {
  const runs: RunRecord[] = [];
  let before: RunUid | undefined;
  for (;;) {
    const page = await sf.store.listRuns({
      tenantId: tenant,
      workflow,
      limit: 1_000,
      ...(before === undefined ? {} : { before }),
    });
    runs.push(...page);
    if (page.length < 1_000) return runs;
    before = page.at(-1)!.uid;
  }
}

/**
 * A fresh schema, migrated by a Steadfast of the test's own that runs no engine (it starts the
 * runs and reads them), the upstream, and two workflow processes `one` and `two`.
 */
async function startFleet(): Promise<{ db: string; sf: Steadfast; up: CountingUpstream }> {
  schema = testSchemaName();
  const db = `${TEST_DATABASE_URL}?schema=${schema}`;
  observer = await createSteadfast({ db, startEngine: false });
  // A few ms per answer, so that two processes running one step at once would overlap.
  upstream = await startCountingUpstream(() => ({ delayMs: 5 }));
  processes = await Promise.all(["one", "two"].map((label) => startProcess(db, label)));
  return { db, sf: observer, up: upstream };
}

function startProcess(db: string, label: string): Promise<WorkflowProcess> {
  return startWorkflowProcess(db, { label, concurrency: 32, leaseMs: 5_000 });
}

/** Starts runs `fleet-0` to `fleet-<RUNS - 1>` of `triple`, 16 at a time. */
async function startRuns(sf: Steadfast, up: CountingUpstream): Promise<void> {
  const triple = { name: "triple", fn: () => undefined };
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < RUNS) {
        const i = next++;
        const run = await sf.workflows.start(
          triple,
          { upstream: up.url, from: i },
          { id: `fleet-${i}` },
        );
        expect(run.created).toBe(true);
      }
    }),
  );
}

/**
 * Waits until every run has succeeded, then checks each one's output, that every step reached
 * the upstream and that no two requests of one step overlapped there. Returns how many requests
 * each process sent.
 */
async function expectAllSucceeded(
  sf: Steadfast,
  up: CountingUpstream,
): Promise<Map<string, number>> {
  let runs: RunRecord[] = [];
  await waitUntil(
    async () => {
      runs = await allRuns(sf, "triple");
      return runs.length === RUNS && runs.every((r) => r.status === "succeeded");
    },
    {
      timeoutMs: 45_000,
      intervalMs: 250,
      what: () =>
        `all ${RUNS} runs to succeed (${runs.filter((r) => r.status === "succeeded").length} have)`,
    },
  );
  for (const run of runs) {
    const from = Number(run.id.slice("fleet-".length));
    expect(storedValueCodec.decode(run.output ?? ""), run.id).toEqual({ total: from + 3 });
  }

  const keys = new Set(up.requests.map((r) => String(r.headers["idempotency-key"])));
  for (let i = 0; i < RUNS; i++) {
    for (const step of STEPS)
      expect(keys.has(`fleet-${i}:${step}`), `fleet-${i}:${step}`).toBe(true);
  }
  expect(keys.size).toBe(RUNS * STEPS.length);
  expect(overlappingRequests(up.requests, "idempotency-key")).toEqual([]);
  const byProcess = new Map<string, number>();
  for (const request of up.requests) {
    const label = String(request.headers["x-workflow-process"]);
    byProcess.set(label, (byProcess.get(label) ?? 0) + 1);
  }
  console.log(
    `workflow fleet: ${up.requests.length} step requests for ${RUNS * STEPS.length} steps, by process ${JSON.stringify(Object.fromEntries(byProcess))}`,
  );
  return byProcess;
}

describe("durable workflows on a fleet (PostgreSQL, process level)", () => {
  it("two processes share 500 runs: all succeed with their output, no step runs twice at once", async () => {
    const { sf, up } = await startFleet();
    await startRuns(sf, up);
    const byProcess = await expectAllSucceeded(sf, up);
    expect([...byProcess.keys()].sort()).toEqual(["one", "two"]);
  }, 60_000);

  it("one of them killed mid-way: the survivor (and a replacement) finish, a step twice only if the dead one had sent it", async () => {
    const { db, sf, up } = await startFleet();
    await startRuns(sf, up);
    await up.waitForRequests((RUNS * STEPS.length) / 3);
    await processes[0]!.kill9();
    processes.push(await startProcess(db, "three"));
    const byProcess = await expectAllSucceeded(sf, up);
    // Both first processes took part; the replacement may
    // or may not find work left by the time it is up (on a slow machine `two` can finish it all),
    // so it is allowed, not required.
    expect(byProcess.get("one")).toBeGreaterThan(0);
    expect(byProcess.get("two")).toBeGreaterThan(0);
    expect([...byProcess.keys()].filter((k) => !["one", "two", "three"].includes(k))).toEqual([]);

    // At least once, and more only for the steps the kill cut off: each such step's first request
    // came from the dead process, and there were at most as many as it ran at once.
    const byKey = Map.groupBy(up.requests, (r) => String(r.headers["idempotency-key"]));
    const repeated = [...byKey.values()].filter((requests) => requests.length > 1);
    for (const requests of repeated) {
      expect(requests).toHaveLength(2);
      expect(requests[0]!.headers["x-workflow-process"]).toBe("one");
    }
    expect(repeated.length).toBeLessThanOrEqual(32);
  }, 60_000);
});
