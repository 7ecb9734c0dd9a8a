// A process that runs durable workflows, for the process-level workflow tests (issue 11, "Tests"):
// `node test/workflow-process.ts --db <url> [--label <name>] [--faults <list>] [--lease-ms <n>]
// [--concurrency <n>] [--start <json>]... [--send-event <json>]`.
//
// It opens `createSteadfast` on `--db`, registers the test workflows below, starts the runs given
// as `--start '{"workflow":"counter","id":"c-1","input":{...}}'`, prints `ready <workerId>` (before
// starting them, so a fault that kills it during its first step still lets the test see it was
// up), then runs workflows until it is killed, or until a line `exit` on its standard input makes
// it close gracefully. With `--send-event '{"name":...,"data":...,"id":...}'` it runs no engine:
// it sends that one event, prints `sent <id> <created>`, and exits (the third process of a test).
//
// `--faults` arms crash windows (`parseFaults`, e.g. `after-step-commit@3`): at the Nth hit the
// process SIGKILLs itself. Every step POSTs to the test's upstream at `/<runId>/<step>` with its
// idempotency key and an `x-workflow-process` header naming `--label`, so the upstream can count
// what ran, where, and whether two processes ran one step at once.
import { parseArgs } from "node:util";
import { createInterface } from "node:readline";
import { TerminalError } from "../src/core/errors.ts";
import { parseFaults } from "../src/engine/fault-points.ts";
import type {
  StepRunContext,
  WorkflowContext,
  WorkflowDefinition,
} from "../src/engine/workflows/workflow-definition.ts";
import type { EngineLogger } from "../src/engine/engine.ts";
import { createSteadfast, type Steadfast } from "../src/steadfast.ts";

/** Input of every test workflow: where its steps POST. */
interface UpstreamInput {
  upstream: string;
}

const { values } = parseArgs({
  options: {
    db: { type: "string" },
    label: { type: "string", default: "process" },
    faults: { type: "string" },
    "lease-ms": { type: "string", default: "2000" },
    concurrency: { type: "string", default: "64" },
    start: { type: "string", multiple: true, default: [] },
    "send-event": { type: "string" },
  },
});
if (values.db === undefined) {
  process.stderr.write("usage: node test/workflow-process.ts --db <url> [options]\n");
  process.exit(2);
}
const label = values.label;
const faults = parseFaults(values.faults);
const sendingOnly = values["send-event"] !== undefined;

/** Warnings and errors on standard error, for a failing test's message. */
const logger: EngineLogger = {
  info: () => {},
  warn: (obj, msg) => process.stderr.write(`warn ${msg ?? ""} ${describe(obj)}\n`),
  error: (obj, msg) => process.stderr.write(`error ${msg ?? ""} ${describe(obj)}\n`),
};

function describe(obj: object): string {
  const { err, ...rest } = obj as { err?: unknown };
  const error = err instanceof Error ? (err.stack ?? err.message) : JSON.stringify(err ?? "");
  return `${JSON.stringify(rest)} ${error}`;
}

const sf = await createSteadfast({
  logger,
  db: values.db,
  allowPrivateNetworks: true,
  startEngine: !sendingOnly,
  leaseMs: Number(values["lease-ms"]),
  concurrency: Number(values.concurrency),
  // A SQLite store has no wake-ups between processes: another process's event, a dead process's
  // runs, are seen at the next heartbeat. Short, so the tests do not wait seconds for them.
  heartbeatIntervalMs: 200,
  workerTimeoutMs: 2_000,
  shutdownGraceMs: 1_000,
  ...(faults === undefined ? {} : { faults }),
});

if (sendingOnly) {
  const event = JSON.parse(values["send-event"]!) as { name: string; data?: unknown; id?: string };
  const sent = await sf.sendEvent(
    event.name,
    event.data,
    event.id === undefined ? {} : { id: event.id },
  );
  process.stdout.write(`sent ${sent.id} ${sent.created}\n`);
  await sf.close();
  process.exit(0);
}

/**
 * POSTs `body` to `<upstream>/<runId>/<name>` with `key` as its idempotency key; the upstream's
 * JSON answer. A non-2xx answer throws (the step is retried).
 */
async function post(
  upstream: string,
  runId: string,
  name: string,
  key: string,
  body: unknown,
): Promise<unknown> {
  const response = await fetch(`${upstream}/${encodeURIComponent(runId)}/${name}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "idempotency-key": key,
      "x-workflow-process": label,
    },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`upstream answered ${response.status} to ${name}`);
  return (await response.json()) as unknown;
}

/** A step function POSTing `body` to its own path with its own idempotency key. */
function posting(upstream: string, runId: string, body: unknown) {
  return (context: StepRunContext) =>
    post(upstream, runId, context.stepId, context.idempotencyKey, body);
}

/** Five steps, each adding one to the total through the upstream (which answers `total + 1`). */
const counter = sf.workflow(
  "counter",
  async ({ input, runId, step }: WorkflowContext<UpstreamInput & { from: number }>) => {
    let total = input.from;
    for (const name of ["s1", "s2", "s3", "s4", "s5"]) {
      const answer = (await step.run(name, posting(input.upstream, runId, { total }))) as {
        total: number;
      };
      total = answer.total;
    }
    return { total };
  },
);

/** Three steps like `counter`'s: the fleet test's short workflow. */
const triple = sf.workflow(
  "triple",
  async ({ input, runId, step }: WorkflowContext<UpstreamInput & { from: number }>) => {
    let total = input.from;
    for (const name of ["t1", "t2", "t3"]) {
      const answer = (await step.run(name, posting(input.upstream, runId, { total }))) as {
        total: number;
      };
      total = answer.total;
    }
    return { total };
  },
);

/** A step, a durable sleep, a step. */
const sleeper = sf.workflow(
  "sleeper",
  async ({ input, runId, step }: WorkflowContext<UpstreamInput & { sleepMs: number }>) => {
    await step.run("before", posting(input.upstream, runId, {}));
    await step.sleep("nap", input.sleepMs);
    await step.run("after", posting(input.upstream, runId, {}));
    return "rested";
  },
);

/** Waits for `order.approved` of its order (or `timeoutMs`), then reports it in a step. */
const waiter = sf.workflow(
  "waiter",
  async ({
    input,
    runId,
    step,
  }: WorkflowContext<UpstreamInput & { orderId: string; timeoutMs: number }>) => {
    const approval = await step.waitForEvent("approval", {
      event: "order.approved",
      match: { orderId: input.orderId },
      timeout: input.timeoutMs,
    });
    await step.run("after", posting(input.upstream, runId, { approval }));
    return { approval };
  },
);

/**
 * A saga: `reserve` and `charge` succeed, each with a compensation that POSTs to
 * `/<runId>/undo-<step>`; `ship` POSTs, then fails for good, so the run compensates `charge`
 * then `reserve` and ends failed.
 */
const saga = sf.workflow("saga", async ({ input, runId, step }: WorkflowContext<UpstreamInput>) => {
  const undo = (name: string) => () =>
    post(input.upstream, runId, `undo-${name}`, `${runId}:undo-${name}`, {});
  await step.run("reserve", posting(input.upstream, runId, {}), { compensate: undo("reserve") });
  await step.run("charge", posting(input.upstream, runId, {}), { compensate: undo("charge") });
  await step.run("ship", async (context) => {
    await posting(input.upstream, runId, {})(context);
    throw new TerminalError("invalid_request", "out of stock");
  });
});

/**
 * `step.fetch`: a durable call POSTs `{ total: from }` to `/<runId>/charge` (the engine sends it,
 * with the key `<runId>:charge`), then a step adds one more.
 */
const fetcher = sf.workflow(
  "fetcher",
  async ({ input, runId, step }: WorkflowContext<UpstreamInput & { from: number }>) => {
    const response = await step.fetch("charge", {
      url: `${input.upstream}/${encodeURIComponent(runId)}/charge`,
      method: "POST",
      body: { total: input.from },
    });
    const charged = JSON.parse(response.body) as { total: number };
    const answer = (await step.run("after", posting(input.upstream, runId, charged))) as {
      total: number;
    };
    return { status: response.status, total: answer.total };
  },
);

/** Invokes `counter` as a child run (id `<runId>:count`), then adds one in a step of its own. */
const parent = sf.workflow(
  "parent",
  async ({ input, runId, step }: WorkflowContext<UpstreamInput & { from: number }>) => {
    const child = await step.invoke("count", counter, input);
    const answer = (await step.run("after", posting(input.upstream, runId, child))) as {
      total: number;
    };
    return { total: answer.total };
  },
);

sf.engine.runs.events.on("run:ended", ({ run }) => {
  process.stdout.write(`ended ${run.id} ${run.status}\n`);
});
process.stdout.write(`ready ${sf.engine.workerId}\n`);

const workflows: Record<string, WorkflowDefinition<never, unknown>> = {
  counter,
  triple,
  sleeper,
  waiter,
  saga,
  fetcher,
  parent,
};
for (const spec of values.start) {
  const { workflow, id, input } = JSON.parse(spec) as {
    workflow: string;
    id: string;
    input: unknown;
  };
  const definition = workflows[workflow];
  if (definition === undefined) throw new Error(`--start: no workflow "${workflow}" here`);
  const handle = await sf.workflows.start(
    definition as WorkflowDefinition<unknown, unknown>,
    input,
    {
      id,
    },
  );
  process.stdout.write(`started ${handle.id} ${handle.created}\n`);
}

await closeOnExitLine(sf);

/** Resolves once `exit` is read on standard input (then closes `sf` gracefully) or it ends. */
async function closeOnExitLine(steadfast: Steadfast): Promise<void> {
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (line.trim() === "exit") break;
  }
  lines.close();
  await steadfast.close();
  process.stdout.write("closed\n");
  process.exit(0);
}
