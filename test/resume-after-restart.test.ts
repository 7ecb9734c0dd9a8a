import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  dropSchema,
  TEST_DATABASE_URL,
  testSchemaName,
} from "../src/store/postgres/test-database.test-support.ts";
import {
  holdFirstRequestOfEach,
  startFlakyUpstream,
  type FlakyUpstream,
} from "../src/testing/flaky-upstream.ts";
import { apiClient, startServerProcess, until, type ServerProcess } from "./process-harness.ts";

// Issue 10, items 10 and 11: calls in flight when their process dies are resumed within seconds
// (not when their 60 s lease ends), by the restarted process or by another one of the fleet, and
// each call's attempt log shows the attempt the death cut off, as the upstream saw it.

const KEY = "resume-test-key-0123456789";
/** Far longer than any bound below: resuming must not wait for the lease. */
const LEASE_MS = 60_000;
/** What "within seconds" means here: a quarter of the lease, so a lease expiry cannot pass. */
const RESUMED_WITHIN_MS = 15_000;
const CALLS = 20;

let dir: string | undefined;
let schema: string | undefined;
let upstream: FlakyUpstream | undefined;
let processes: ServerProcess[] = [];

afterEach(async () => {
  for (const p of processes) await p.kill9();
  processes = [];
  await upstream?.close();
  upstream = undefined;
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
  if (schema !== undefined) await dropSchema(schema);
  schema = undefined;
});

function requestsPerKey(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const request of upstream!.requests) {
    const key = String(request.headers["idempotency-key"]);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

/** Submits `CALLS` calls through `server` and waits until the upstream holds all of them. */
async function callsInFlight(server: ServerProcess): Promise<Map<string, string>> {
  const client = apiClient(server.url, KEY);
  const ids = new Map<string, string>();
  for (let i = 0; i < CALLS; i++) {
    const key = `order-${i}`;
    const res = await client.call(
      "POST",
      "/v1/fetch",
      { url: `${upstream!.url}/charge`, method: "POST", body: { key } },
      { "idempotency-key": key },
    );
    expect(res.status).toBe(202);
    ids.set(key, String(res.body?.id));
  }
  await client.close();
  await upstream!.waitForRequests(CALLS);
  return ids;
}

/** Waits until every call was sent a second time; resolves with how long that took, ms. */
async function resumed(since: number): Promise<number> {
  await until(
    () => Promise.resolve([...requestsPerKey().values()].filter((n) => n >= 2).length === CALLS),
    RESUMED_WITHIN_MS,
    20,
  );
  return Date.now() - since;
}

/** Every call succeeded, with the cut-off attempt then the answered one: what the upstream saw. */
async function expectAttemptLogsMatchUpstream(
  server: ServerProcess,
  ids: Map<string, string>,
): Promise<void> {
  const client = apiClient(server.url, KEY);
  const perKey = requestsPerKey();
  for (const [key, id] of ids) {
    await until(
      async () => (await client.call("GET", `/v1/calls/${id}`)).body?.status === "succeeded",
      10_000,
      20,
    );
    const { body } = await client.call("GET", `/v1/calls/${id}/attempts`);
    const attempts = body?.attempts as {
      outcome: { type: string; code?: string };
      sent: boolean | "unknown";
    }[];
    expect(
      attempts.map((a) => [a.outcome.type, a.outcome.code, a.sent]),
      key,
    ).toEqual([
      ["interrupted", "process_ended", "unknown"],
      ["response", undefined, true],
    ]);
    expect(perKey.get(key), key).toBe(attempts.length);
  }
  await client.close();
}

describe("resuming after kill -9 (process level)", () => {
  it("a restarted process resumes the calls its predecessor had in flight within seconds, not at the end of their lease", async () => {
    dir = mkdtempSync(join(tmpdir(), "steadfast-resume-"));
    upstream = await startFlakyUpstream(holdFirstRequestOfEach("idempotency-key"));
    const env = {
      STEADFAST_DATA_DIR: dir,
      STEADFAST_API_KEYS: `resume:${KEY}`,
      STEADFAST_ALLOW_PRIVATE_NETWORKS: "true",
      STEADFAST_LEASE_MS: String(LEASE_MS),
    };
    const first = await startServerProcess(env);
    processes.push(first);
    const ids = await callsInFlight(first);
    await first.kill9();

    const restartedAt = Date.now();
    const second = await startServerProcess(env);
    processes.push(second);
    const tookMs = await resumed(restartedAt);
    expect(tookMs).toBeLessThan(RESUMED_WITHIN_MS);
    await expectAttemptLogsMatchUpstream(second, ids);
  }, 60_000);
});

describe("a PostgreSQL fleet taking over a dead process's calls (process level)", () => {
  async function fleet(): Promise<{ env: Record<string, string>; first: ServerProcess }> {
    schema = testSchemaName();
    upstream = await startFlakyUpstream(holdFirstRequestOfEach("idempotency-key"));
    const env = {
      STEADFAST_DB: `${TEST_DATABASE_URL}?schema=${schema}`,
      STEADFAST_API_KEYS: `resume:${KEY}`,
      STEADFAST_ALLOW_PRIVATE_NETWORKS: "true",
      STEADFAST_LEASE_MS: String(LEASE_MS),
    };
    const first = await startServerProcess(env);
    processes.push(first);
    return { env, first };
  }

  it("another process takes over the calls of a process killed on its host within seconds", async () => {
    const { env, first } = await fleet();
    const ids = await callsInFlight(first);
    const peer = await startServerProcess(env);
    processes.push(peer);
    const killedAt = Date.now();
    await first.kill9();
    expect(await resumed(killedAt)).toBeLessThan(RESUMED_WITHIN_MS);
    await expectAttemptLogsMatchUpstream(peer, ids);
  }, 60_000);

  it("another process takes over the calls of a process that stopped heartbeating (frozen, or on a lost host) after its timeout, not at the end of the lease", async () => {
    const { env, first } = await fleet();
    const ids = await callsInFlight(first);
    const peer = await startServerProcess(env);
    processes.push(peer);
    // Frozen, its process still exists: only its silence tells (as for a host that vanished).
    const frozenAt = Date.now();
    first.child.kill("SIGSTOP");
    const tookMs = await resumed(frozenAt);
    // workerTimeoutMs (5 s) passes first: a live process's claims are never cut short sooner.
    expect(tookMs).toBeGreaterThanOrEqual(5_000);
    expect(tookMs).toBeLessThan(RESUMED_WITHIN_MS);
    await expectAttemptLogsMatchUpstream(peer, ids);
  }, 60_000);

  it("a process frozen longer than workerTimeoutMs sends nothing, once thawed, for the calls taken over meanwhile", async () => {
    schema = testSchemaName();
    upstream = await startFlakyUpstream([{ status: 200 }]);
    const env = {
      STEADFAST_DB: `${TEST_DATABASE_URL}?schema=${schema}`,
      STEADFAST_API_KEYS: `resume:${KEY}`,
      STEADFAST_OPERATOR_TENANTS: "resume",
      STEADFAST_ALLOW_PRIVATE_NETWORKS: "true",
      STEADFAST_LEASE_MS: String(LEASE_MS),
      STEADFAST_LOG_LEVEL: "info",
    };
    const first = await startServerProcess(env);
    processes.push(first);
    const client = apiClient(first.url, KEY);
    // Four a second: a call whose slot is under a second away waits for it in memory (a gate
    // queue), the others wait in the store.
    const destination = `/v1/destinations/${encodeURIComponent(upstream.url)}`;
    expect((await client.call("PUT", destination, { rateLimitPerSecond: 4 })).status).toBe(200);
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const key = `frozen-${i}`;
      const res = await client.call(
        "POST",
        "/v1/fetch",
        { url: `${upstream.url}/work`, method: "POST", body: { key } },
        { "idempotency-key": key },
      );
      expect(res.status).toBe(202);
      ids.push(String(res.body?.id));
    }
    await client.close();
    await upstream.waitForRequests(1);
    // Frozen with calls in its gate queue; another process takes them over and ends them all.
    first.child.kill("SIGSTOP");
    // What it wrote before the stop is already in the kernel's buffers; under load this process
    // may read it a while later. Those arrivals count as before the freeze: let a few turns of
    // the event loop take them in first (the peer, started next, sends nothing sooner).
    await new Promise((resolve) => setTimeout(resolve, 300));
    const frozenAt = performance.now();
    const peer = await startServerProcess(env);
    processes.push(peer);
    const peerClient = apiClient(peer.url, KEY);
    for (const id of ids) {
      await until(
        async () => (await peerClient.call("GET", `/v1/calls/${id}`)).body?.status === "succeeded",
        30_000,
        50,
      );
    }
    await peerClient.close();

    // Thawed: it finds out at its next heartbeat (or its fence, before that) that it may have
    // been found dead. Whatever it would still send for those calls leaves before that line,
    // and reaches the upstream within the second after it.
    first.child.kill("SIGCONT");
    await until(
      () => Promise.resolve(/registered again|found dead by another process/.test(first.output())),
      10_000,
      20,
    );
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const sentAfterFreeze = new Map<string, number>();
    for (const request of upstream.requests) {
      if (request.receivedAt <= frozenAt) continue;
      const key = String(request.headers["idempotency-key"]);
      sentAfterFreeze.set(key, (sentAfterFreeze.get(key) ?? 0) + 1);
    }
    // The upstream saw each call's request at most once after the takeover: the peer's.
    expect([...sentAfterFreeze].filter(([, n]) => n > 1)).toEqual([]);
    expect(first.output()).toContain("this process stops sending");
  }, 90_000);
});
