import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startFlakyUpstream, type FlakyUpstream } from "../src/testing/flaky-upstream.ts";
import { apiClient, startServerProcess, until, type ServerProcess } from "./process-harness.ts";

// Issue 10, item 11 (second round): a process killed with calls claimed but only queued in its
// memory (here behind a destination's maxConcurrency of 1) must not record them as sent. Their
// cut-off attempts say `sent: "unknown"`, they do not use up maxAttempts, and every call's attempt
// log stays consistent with what the upstream saw: no more requests than the attempts that may
// have been sent, no fewer than those certainly sent.

const KEY = "interrupted-test-key-0123456789";
const TENANT = "ops";
const CALLS = 20;
/** Long enough for the accepting process to stop before any call is due. */
const DELAY_MS = 4_000;

let dir: string | undefined;
let upstream: FlakyUpstream | undefined;
let processes: ServerProcess[] = [];

afterEach(async () => {
  for (const p of processes) await p.kill9();
  processes = [];
  await upstream?.close();
  upstream = undefined;
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

interface Attempt {
  outcome: { type: string; code?: string; status?: number };
  sent: boolean | "unknown";
}

describe("calls claimed but never sent when their process dies (process level)", () => {
  it("records them as sent unknown, not sent, and sends each once after the restart", async () => {
    dir = mkdtempSync(join(tmpdir(), "steadfast-interrupted-"));
    let victim: ChildProcess | undefined;
    // The first request kills its process as it arrives, while the other calls wait for the
    // destination's one slot in that process's memory; every later request is answered.
    upstream = await startFlakyUpstream((request) => {
      if (request.n > 1) return { status: 200 };
      victim?.kill("SIGKILL");
      return "hang";
    });
    const env = {
      STEADFAST_DATA_DIR: dir,
      STEADFAST_API_KEYS: `${TENANT}:${KEY}`,
      STEADFAST_OPERATOR_TENANTS: TENANT,
      STEADFAST_ALLOW_PRIVATE_NETWORKS: "true",
      STEADFAST_LEASE_MS: "60000",
    };

    // A first process accepts the calls, due in a few seconds, and stops before they are due.
    // maxAttempts 1: the crash to come must not use it up.
    const accepting = await startServerProcess(env);
    processes.push(accepting);
    const client = apiClient(accepting.url, KEY);
    const limited = await client.call(
      "PUT",
      `/v1/destinations/${encodeURIComponent(upstream.url)}`,
      { maxConcurrency: 1 },
    );
    expect(limited.status).toBe(200);
    const ids = new Map<string, string>();
    for (let i = 0; i < CALLS; i++) {
      const key = `order-${i}`;
      const res = await client.call(
        "POST",
        "/v1/fetch",
        {
          url: `${upstream.url}/charge`,
          method: "POST",
          body: { key },
          delayMs: DELAY_MS,
          retry: { maxAttempts: 1 },
        },
        { "idempotency-key": key },
      );
      expect(res.status).toBe(202);
      ids.set(key, String(res.body?.id));
    }
    const allDueAt = Date.now() + DELAY_MS;
    await client.close();
    expect(await accepting.terminate()).toBe(0);
    expect(upstream.requests).toHaveLength(0);

    // The next process finds all of them due: one claim takes them all, the destination's slot
    // sends one, the others wait for it in memory, and the upstream kills the process then.
    while (Date.now() <= allDueAt) await new Promise((resolve) => setTimeout(resolve, 50));
    const killed = startServerProcess(env, { onSpawn: (child) => (victim = child) }).then(
      (p) => processes.push(p),
      // Killed before it printed its URL: nothing to clean up.
      () => undefined,
    );
    await until(() => Promise.resolve(victim?.signalCode === "SIGKILL"), 30_000, 20);
    await killed;
    const sentBeforeKill = new Set(upstream.requests.map((r) => r.headers["idempotency-key"]));
    expect(sentBeforeKill.size).toBe(1);

    const restarted = await startServerProcess(env);
    processes.push(restarted);
    const reader = apiClient(restarted.url, KEY);
    const seen = new Map<string, number>();
    for (const [key, id] of ids) {
      await until(
        async () => (await reader.call("GET", `/v1/calls/${id}`)).body?.status === "succeeded",
        30_000,
        20,
      );
      const attempts = (await reader.call("GET", `/v1/calls/${id}/attempts`)).body
        ?.attempts as Attempt[];
      // The attempt the kill cut off, whether it was sent (one call) or only queued (the
      // others): unknown, never true; then the one that succeeded.
      expect(
        attempts.map((a) => [a.outcome.type, a.outcome.code ?? a.outcome.status, a.sent]),
        key,
      ).toEqual([
        ["interrupted", "process_ended", "unknown"],
        ["response", 200, true],
      ]);
      seen.set(key, upstream.requests.filter((r) => r.headers["idempotency-key"] === key).length);
      // What the upstream saw lies between the attempts certainly sent and those maybe sent.
      const certainly = attempts.filter((a) => a.sent === true).length;
      const maybe = attempts.filter((a) => a.sent !== false).length;
      expect(seen.get(key), key).toBeGreaterThanOrEqual(certainly);
      expect(seen.get(key), key).toBeLessThanOrEqual(maybe);
    }
    await reader.close();
    // The 19 only queued were sent once, after the restart; the one sent before it, twice.
    expect([...seen.values()].sort()).toEqual([...Array<number>(CALLS - 1).fill(1), 2]);
  }, 90_000);
});
