// Issue 11, "Tests": two processes share the runs of one PostgreSQL database. 500 runs of a
// three-step workflow (each step POSTs to the upstream with its idempotency key `<runId>:<step>`)
// are started by a third party (this test, with no engine); both processes run them. Every run
// ends succeeded with its output, every step reached the upstream, no step was run by two
// processes at once (no two requests of one key overlapped at the upstream), and both processes
// took part.
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
import { overlappingRequests, type FlakyUpstream } from "../src/testing/flaky-upstream.ts";
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
let upstream: FlakyUpstream | undefined;
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

describe("durable workflows on a fleet (PostgreSQL, process level)", () => {
  it("two processes share 500 runs: all succeed with their output, no step runs twice at once", async () => {
    schema = testSchemaName();
    const db = `${TEST_DATABASE_URL}?schema=${schema}`;
    // Migrates the schema before the processes open it; starts the runs, runs none.
    const sf = await createSteadfast({ db, startEngine: false });
    observer = sf;
    // A few ms per answer, so that two processes running one step at once would overlap.
    const up = await startCountingUpstream(() => ({ delayMs: 5 }));
    upstream = up;
    processes = await Promise.all(
      ["one", "two"].map((label) =>
        startWorkflowProcess(db, { label, concurrency: 32, leaseMs: 5_000 }),
      ),
    );

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
    expect([...byProcess.keys()].sort()).toEqual(["one", "two"]);
  }, 60_000);
});
