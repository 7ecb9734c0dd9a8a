import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Hono } from "hono";
import type { Registry } from "prom-client";
import type { AttemptRecord } from "../core/call.ts";
import { tenantId, type WorkerId } from "../core/ids.ts";
import type { CallTransition } from "../core/store.ts";
import { ApiKeysService } from "../engine/api-keys-service.ts";
import { CallsService } from "../engine/calls-service.ts";
import { DestinationGate } from "../engine/destinations/destination-gate.ts";
import { DestinationsService } from "../engine/destinations/destinations-service.ts";
import { RunsService } from "../engine/workflows/runs-service.ts";
import { createDestinationGuard } from "../http/destination-guard.ts";
import { SqliteStore } from "../store/sqlite/sqlite-store.ts";
import { FakeClock } from "../testing/fake-clock.ts";
import { SeededRandom } from "../testing/seeded-random.ts";
import { createApp, type AppOptions } from "./app.ts";
import type { ServerEnv } from "./server-env.ts";

/** Tenant `acme`'s key. */
export const KEY_ACME = "acme_key_0123456789abcdef";
/** Tenant `other`'s key. */
export const KEY_OTHER = "other_key_0123456789abcdef";

/** The app over a real SqliteStore on a temp file and a CallsService with no engine running. */
export interface AppHarness {
  app: Hono<ServerEnv>;
  store: SqliteStore;
  /** The SQLite file of `store` (open a Steadfast on it: `sqlite:${dbPath}`). */
  dbPath: string;
  calls: CallsService;
  /** Runs and events, with no engine: nudges are counted in `notified`. */
  runs: RunsService;
  /** The times `runs` nudged the engine at. */
  notified: number[];
  /** API keys: tenant acme's `KEY_ACME` and tenant other's `KEY_OTHER`, both `env` keys. */
  keys: ApiKeysService;
  /** The destinations' gate, as an engine would hold it (drive it to open a breaker). */
  gate: DestinationGate;
  destinations: DestinationsService;
  clock: FakeClock;
  /** `app.request` with tenant acme's key (override with `authorization`). */
  request(path: string, init?: RequestInit & { key?: string | null }): Promise<Response>;
  /** Runs one attempt of call `id` through the real store, as an engine would: claim, then commit. */
  recordAttempt(
    id: string,
    outcome: AttemptRecord["outcome"],
    decision: AttemptRecord["decision"],
    transition: CallTransition,
  ): Promise<void>;
  /** Records a `400` attempt that fails call `id`. */
  failCall(id: string): Promise<void>;
  /** POST /v1/fetch with a JSON body. */
  submit(body: unknown, headers?: Record<string, string>): Promise<Response>;
  close(): Promise<void>;
}

/** Builds an `AppHarness`. Destinations: private networks refused (the production default). */
export async function appHarness(
  options: Partial<Omit<AppOptions, "calls" | "keys" | "runs">> & { metrics?: Registry } = {},
): Promise<AppHarness> {
  const dir = mkdtempSync(join(tmpdir(), "steadfast-server-"));
  const dbPath = join(dir, "steadfast.db");
  const store = SqliteStore.open({ path: dbPath });
  await store.migrate();
  const clock = new FakeClock(Date.parse("2026-01-01T00:00:00Z"));
  const calls = new CallsService({
    store,
    // No engine: nothing runs, and a Prefer: wait sleeps on the fake clock.
    engine: {
      notify() {},
      waitForEnd: (_id, ms, signal) =>
        clock.sleep(ms, signal).then(
          () => "timeout" as const,
          () => "aborted" as const,
        ),
    },
    clock,
    random: new SeededRandom(7),
    guard: createDestinationGuard({ allowPrivateNetworks: false }),
  });
  const keys = new ApiKeysService({ store, clock, random: new SeededRandom(9) });
  const notified: number[] = [];
  const runs = new RunsService({
    store,
    clock,
    random: new SeededRandom(10),
    engine: { notify: (runAt) => void notified.push(runAt) },
  });
  await keys.configure([
    { tenantId: tenantId("acme"), key: KEY_ACME },
    { tenantId: tenantId("other"), key: KEY_OTHER },
  ]);
  const gate = new DestinationGate({
    store,
    clock,
    random: new SeededRandom(8),
    owner: "test-engine",
    engineConcurrency: 16,
  });
  const destinations = new DestinationsService({ gate, clock });
  let n = 0;
  const app = createApp({
    calls,
    runs,
    keys,
    destinations,
    newRequestId: () => `req-${++n}`,
    ...options,
  });
  const request = (
    path: string,
    init: RequestInit & { key?: string | null } = {},
  ): Promise<Response> => {
    const { key, ...rest } = init;
    const headers = new Headers(rest.headers);
    if (key !== null && !headers.has("authorization"))
      headers.set("authorization", `Bearer ${key ?? KEY_ACME}`);
    return Promise.resolve(app.request(path, { ...rest, headers }));
  };
  const recordAttempt: AppHarness["recordAttempt"] = async (id, outcome, decision, transition) => {
    const now = clock.now();
    const claims = await store.claimDue({
      now,
      limit: 100,
      leaseMs: 30_000,
      workerId: "test" as WorkerId,
    });
    const claim = claims.find((c) => c.call.id === id);
    await store.releaseClaims(
      claims
        .filter((c) => c !== claim)
        .map((c) => ({ callId: c.call.id, leaseToken: c.leaseToken })),
      now,
    );
    if (claim === undefined) throw new Error(`call ${id} was not due`);
    const attempt: AttemptRecord = {
      callId: claim.call.id,
      number: claim.call.attempts + 1,
      startedAt: now,
      durationMs: 12.5,
      connectMs: 1,
      firstByteMs: 10,
      outcome,
      sent: true,
      decision,
    };
    if (
      !(await store.commitAttempt({
        callId: claim.call.id,
        leaseToken: claim.leaseToken,
        now,
        attempt,
        transition,
      }))
    ) {
      throw new Error(`lost the lease of ${id}`);
    }
  };
  return {
    app,
    dbPath,
    recordAttempt,
    failCall: (id) =>
      recordAttempt(
        id,
        { type: "response", status: 400 },
        { type: "fail", code: "not_retryable", reason: "400 is not retried" },
        {
          status: "failed",
          error: { code: "http_400", message: "upstream answered 400" },
          idempotencyExpiresAt: clock.now() + 86_400_000,
        },
      ),
    store,
    calls,
    runs,
    notified,
    keys,
    gate,
    destinations,
    clock,
    request,
    submit: (body, headers = {}) =>
      request("/v1/fetch", {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify(body),
      }),
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Checks `response` is `application/problem+json` with this status and code; returns its body. */
export async function expectProblem(
  response: Response,
  status: number,
  code: string,
): Promise<{
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  correlationId: string;
  instance: string;
  errors?: { field: string; message: string }[];
}> {
  const text = await response.text();
  const where = `${response.status} ${text}`;
  if (response.status !== status) throw new Error(`expected status ${status}, got ${where}`);
  if (response.headers.get("content-type") !== "application/problem+json") {
    throw new Error(
      `expected application/problem+json, got ${response.headers.get("content-type")}: ${where}`,
    );
  }
  const body = JSON.parse(text) as Awaited<ReturnType<typeof expectProblem>>;
  if (body.code !== code) throw new Error(`expected code ${code}, got ${where}`);
  if (body.status !== status || body.type !== `https://steadfast.dev/problems/${code}`)
    throw new Error(`inconsistent problem: ${where}`);
  if (body.correlationId !== response.headers.get("x-request-id"))
    throw new Error(`correlationId does not match X-Request-Id: ${where}`);
  return body;
}
