// A process that serves a durable endpoint over node:http, for the process-level endpoint tests
// (issue 12, "Tests"): `node test/endpoint-process.ts --db <url> [--label <name>]`.
//
// It opens `createSteadfast` on `--db`, registers the endpoint `chat` (two steps, `plan` and
// `answer`, each POSTing to `<upstream>/<runId>/<step>` where `upstream` comes from the request's
// JSON body, with the step's idempotency key and an `x-endpoint-process` header naming `--label`),
// serves it on 127.0.0.1 port 0 and prints `ready <port>`. It runs until killed. An upstream `503`
// is retried after 1.5 s.
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import { RetryableError } from "../src/core/errors.ts";
import type { EngineLogger } from "../src/engine/engine.ts";
import { toNodeHandler } from "../src/endpoints/node-adapter.ts";
import { createSteadfast } from "../src/steadfast.ts";
import { waitUntil } from "../src/testing/wait-until.ts";

const { values } = parseArgs({
  options: {
    db: { type: "string" },
    label: { type: "string", default: "process" },
  },
});
if (values.db === undefined) {
  process.stderr.write("usage: node test/endpoint-process.ts --db <url> [--label <name>]\n");
  process.exit(2);
}
const label = values.label;

const logger: EngineLogger = {
  info: () => {},
  warn: (obj, msg) => process.stderr.write(`warn ${msg ?? ""} ${JSON.stringify(obj)}\n`),
  error: (obj, msg) => process.stderr.write(`error ${msg ?? ""} ${JSON.stringify(obj)}\n`),
};

const sf = await createSteadfast({
  logger,
  db: values.db,
  allowPrivateNetworks: true,
  leaseMs: 2_000,
  // SQLite has no wake-ups between processes: a dead predecessor is found at the next heartbeat.
  heartbeatIntervalMs: 200,
  workerTimeoutMs: 2_000,
  shutdownGraceMs: 1_000,
});

async function post(upstream: string, path: string, key: string, body: unknown): Promise<unknown> {
  const response = await fetch(`${upstream}${path}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "idempotency-key": key,
      "x-endpoint-process": label,
    },
    body: JSON.stringify(body),
  });
  // A 503 is retried after 1.5 s (not the jittered backoff), so a test knows the retry is later.
  if (response.status === 503) {
    throw new RetryableError("upstream_unavailable", `upstream answered 503 to ${path}`, {
      retryAfterMs: 1_500,
    });
  }
  if (!response.ok) throw new Error(`upstream answered ${response.status} to ${path}`);
  return (await response.json()) as unknown;
}

const chat = sf.endpoint(
  "chat",
  async (req, { step, runId }) => {
    const { question, upstream } = (await req.json()) as { question: string; upstream: string };
    const base = `/${encodeURIComponent(runId)}`;
    const plan = await step.run("plan", (context) =>
      post(upstream, `${base}/plan`, context.idempotencyKey, { question }),
    );
    const answer = await step.run("answer", (context) =>
      post(upstream, `${base}/answer`, context.idempotencyKey, { plan }),
    );
    return Response.json({ question, plan, answer, by: label }, { status: 201 });
  },
  // The location answers within the test's patience.
  { resultWaitMs: 15_000 },
);

// Until its engine may act, an endpoint holds a request for the claim loop instead of running it
// inline (a failing step would then be answered after its retry, not with a 202): ready after.
await waitUntil(
  async () =>
    sf.engine.canSend && (await sf.store.listWorkers()).some((w) => w.id === sf.engine.workerId),
  { timeoutMs: 20_000, what: "the engine to register" },
);
const server = createServer(toNodeHandler(chat)).listen(0, "127.0.0.1");
await once(server, "listening");
process.stdout.write(`ready ${(server.address() as AddressInfo).port}\n`);
