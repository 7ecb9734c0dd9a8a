// Issue 4: PostgreSQL restarted mid-run. The test owns its cluster (test/private-postgres.ts), so
// it can restart it cleanly (`pg_ctl -m fast restart`) and crash it (`-m immediate`, the
// `kill -9` of PostgreSQL) while one `serve` and two `worker` processes execute calls on it.
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import {
  overlappingRequests,
  startFlakyUpstream,
  type FlakyUpstream,
} from "../src/testing/flaky-upstream.ts";
import {
  apiClient,
  startServerProcess,
  startWorkerProcess,
  until,
  type ServerProcess,
} from "./process-harness.ts";
import { startPrivatePostgres, type PrivatePostgres } from "./private-postgres.ts";

const KEY = "restart-test-key-0123456789";
/** Calls submitted at a steady pace, in three batches around the two restarts. */
const BATCHES = [800, 800, 400] as const;
/** Per-request latency of the upstream: keeps calls mid-request when PostgreSQL goes away. */
const UPSTREAM_DELAY_MS = 100;
/** Pace of the submissions made while PostgreSQL is down (load pacing, not a wait). */
const OUTAGE_SUBMIT_EVERY_MS = 25;
/** Claim lease of the processes: a call whose commit was lost runs again after it expires. */
const LEASE_MS = 2_000;

/** One `POST /v1/fetch` and its answer (status 0: the request itself failed). */
interface Submission {
  key: string;
  status: number;
  id?: string;
  /** Submitted while PostgreSQL was being restarted or was down. */
  duringOutage: boolean;
}

let postgres: PrivatePostgres | undefined;
let upstream: FlakyUpstream | undefined;
const processes: ServerProcess[] = [];

afterAll(async () => {
  for (const p of processes.splice(0)) await p.kill9();
  await upstream?.close();
  await postgres?.stop();
});

describe("PostgreSQL restarted mid-run (process level)", () => {
  it("serve and workers reconnect after a clean restart and a crash, and every accepted call succeeds", async () => {
    // Started here, not in a hook: missing PostgreSQL binaries fail this test, never skip it.
    const db = await startPrivatePostgres();
    postgres = db;
    const target = await startFlakyUpstream(() => ({ status: 200, delayMs: UPSTREAM_DELAY_MS }));
    upstream = target;
    const env = {
      STEADFAST_DB: db.url,
      STEADFAST_API_KEYS: `restart:${KEY}`,
      STEADFAST_ALLOW_PRIVATE_NETWORKS: "true",
      STEADFAST_LEASE_MS: String(LEASE_MS),
      STEADFAST_CONCURRENCY: "16",
    };
    const api = await startServerProcess(env);
    processes.push(api);
    const workers = await Promise.all([1, 2].map(() => startWorkerProcess(env)));
    processes.push(...workers);
    const client = apiClient(api.url, KEY);

    const submissions: Submission[] = [];
    let outage = false;
    const submit = async (key: string): Promise<void> => {
      const duringOutage = outage;
      const res = await client
        .call("POST", "/v1/fetch", { url: `${target.url}/job/${key}` }, { "idempotency-key": key })
        .catch(() => ({ status: 0, body: undefined }));
      submissions.push({
        key,
        status: res.status,
        ...(res.status === 202 ? { id: String(res.body?.id) } : {}),
        duringOutage: duringOutage || outage,
      });
    };
    let nextJob = 0;
    const submitBatch = (count: number): Promise<void> => {
      const end = nextJob + count;
      return Promise.all(
        Array.from({ length: 8 }, async () => {
          while (nextJob < end) await submit(`job-${nextJob++}`);
        }),
      ).then(() => {});
    };
    let nextOutageJob = 0;
    /** Submits one call every `OUTAGE_SUBMIT_EVERY_MS` until the returned `stop` is called. */
    const submitThroughOutage = () => {
      let stopped = false;
      const done = (async () => {
        while (!stopped) {
          await submit(`outage-${nextOutageJob++}`);
          await new Promise((resolve) => setTimeout(resolve, OUTAGE_SUBMIT_EVERY_MS));
        }
      })();
      return async () => {
        stopped = true;
        await done;
      };
    };
    const health = async () => (await client.call("GET", "/healthz")).status;
    const accepted = () => submissions.filter((s) => s.status === 202);
    const upstreamReaches = (count: number) =>
      until(() => Promise.resolve(target.requests.length >= count), 20_000, 20);
    /** Waits until the upstream has seen every call accepted so far (work resumed). */
    const upstreamSawAccepted = () =>
      until(
        () => {
          const paths = new Set(target.requests.map((r) => r.path));
          return Promise.resolve(accepted().every((s) => paths.has(`/job/${s.key}`)));
        },
        20_000,
        20,
      );

    // A clean restart while the first batch is being submitted and executed.
    const first = submitBatch(BATCHES[0]);
    await upstreamReaches(200);
    outage = true;
    let stopOutageSubmits = submitThroughOutage();
    await db.restart("fast");
    await until(async () => (await health()) === 200, 15_000);
    outage = false;
    await stopOutageSubmits();
    await first;
    // Delivery resumed: every call accepted before, during and after the restart reaches the
    // upstream (how many are left by now depends on the machine's pace, so no count).
    await upstreamSawAccepted();

    // A crash while the second batch is being submitted and executed; the outage lasts until
    // the API process has said it is not ready and has turned submissions away.
    const second = submitBatch(BATCHES[1]);
    await upstreamReaches(target.requests.length + 200);
    outage = true;
    stopOutageSubmits = submitThroughOutage();
    await db.halt("immediate");
    await until(async () => (await health()) === 503, 15_000, 50);
    await until(
      () =>
        Promise.resolve(submissions.filter((s) => s.duringOutage && s.status !== 202).length >= 10),
      15_000,
      50,
    );
    const restartedAt = Date.now();
    await db.start();
    await until(async () => (await health()) === 200, 15_000);
    outage = false;
    await stopOutageSubmits();
    await second;

    // After the crash both workers claim work again (not only the API process's engine): each
    // holds a lease taken or renewed after the restart (one from before it ends sooner).
    const workerIds = workers.map((w) => w.url);
    const third = submitBatch(BATCHES[2]);
    const claimedBy = await workersClaimingSince(db.url, workerIds, restartedAt, 20_000);
    await third;
    expect([...claimedBy].sort()).toEqual([...workerIds].sort());

    // Every call that was accepted ends succeeded.
    const acceptedIds = new Set(accepted().map((s) => s.id!));
    let succeeded = new Set<string>();
    const allAcceptedSucceed = () =>
      until(
        async () => {
          succeeded = await callIds(client, "succeeded");
          return [...acceptedIds].every((id) => succeeded.has(id));
        },
        30_000,
        250,
      );
    await allAcceptedSucceed();
    expect(await callIds(client, "failed")).toEqual(new Set());

    // Only submissions made while PostgreSQL was down were refused, with `503 store_unavailable`.
    const refused = submissions.filter((s) => s.status !== 202);
    expect(refused.filter((s) => !s.duringOutage)).toEqual([]);
    expect(refused.filter((s) => s.status !== 503)).toEqual([]);
    // Sent again with the same Idempotency-Key now, each is accepted and succeeds, one call per key.
    for (const s of refused) {
      const res = await client.call(
        "POST",
        "/v1/fetch",
        { url: `${target.url}/job/${s.key}` },
        { "idempotency-key": s.key },
      );
      expect(res.status, `resubmitting ${s.key}`).toBe(202);
      acceptedIds.add(String(res.body?.id));
    }
    await allAcceptedSucceed();
    await client.close();

    const keys = new Set(submissions.map((s) => s.key));
    expect(acceptedIds.size).toBe(keys.size);
    expect(succeeded.size).toBe(keys.size);
    const seenKeys = new Set(target.requests.map((r) => String(r.headers["idempotency-key"])));
    expect([...keys].filter((k) => !seenKeys.has(k))).toEqual([]);
    // A call whose result was lost with the database runs again with the same key, but never
    // while its first run is still in flight.
    expect(overlappingRequests(target.requests, "idempotency-key")).toEqual([]);
    expect(submissions.filter((s) => s.duringOutage).length).toBeGreaterThan(0);
    for (const p of processes) {
      expect(p.child.exitCode, p.output()).toBeNull();
      expect(p.child.signalCode, p.output()).toBeNull();
    }
  }, 90_000);
});

/** Every call id with `status` (the API's listing, all pages). */
async function callIds(
  client: ReturnType<typeof apiClient>,
  status: "succeeded" | "failed",
): Promise<Set<string>> {
  const ids = new Set<string>();
  let cursor: string | undefined;
  do {
    const page = await client.call(
      "GET",
      `/v1/calls?status=${status}&limit=500${cursor === undefined ? "" : `&cursor=${cursor}`}`,
    );
    for (const call of page.body?.calls as { id: string }[]) ids.add(call.id);
    cursor = page.body?.nextCursor as string | undefined;
  } while (cursor !== undefined);
  return ids;
}

/**
 * Which of `workerIds` have been seen holding a lease taken or renewed at `since` or later
 * (`work.worker_id`, `lease_expires_at`), read from the database directly until every one has
 * been seen or `timeoutMs` passes.
 */
async function workersClaimingSince(
  url: string,
  workerIds: readonly string[],
  since: number,
  timeoutMs: number,
): Promise<Set<string>> {
  const seen = new Set<string>();
  const sql = new pg.Client({ connectionString: url });
  await sql.connect();
  try {
    await until(
      async () => {
        const { rows } = await sql.query<{ worker_id: string }>(
          "SELECT DISTINCT worker_id FROM steadfast.work " +
            "WHERE worker_id IS NOT NULL AND lease_expires_at >= $1",
          [since + LEASE_MS],
        );
        for (const row of rows) seen.add(row.worker_id);
        return workerIds.every((id) => seen.has(id));
      },
      timeoutMs,
      20,
      // Timing out is not an error here: the caller asserts on the set returned.
    ).catch(() => {});
    return new Set(workerIds.filter((id) => seen.has(id)));
  } finally {
    await sql.end();
  }
}
