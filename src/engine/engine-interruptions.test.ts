import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { AttemptRecord, CallRecord } from "../core/call.ts";
import { tenantId, type CallId, type WorkerId } from "../core/ids.ts";
import { MAX_CRASHES_IN_A_ROW } from "../core/interruption.ts";
import { createSteadfast, type Steadfast } from "../steadfast.ts";
import { FakeClock } from "../testing/fake-clock.ts";
import {
  startFlakyUpstream,
  type FlakyUpstream,
  type UpstreamBehaviour,
} from "../testing/flaky-upstream.ts";
import { SeededRandom } from "../testing/seeded-random.ts";
import { settle } from "./engine-harness.test-support.ts";

// Issue 10, item 11 (second round): interrupted attempts are recorded but are not the call's
// failures. A graceful stop's or a crash's cut-off attempt does not use up `maxAttempts`; only
// MAX_CRASHES_IN_A_ROW takeovers in a row, with no attempt completing in between, end a call
// (`crash_loop`), without sending it again.

const TENANT = tenantId("default");
const GRACE_MS = 1_000;

let dir: string | undefined;
let upstream: FlakyUpstream | undefined;
let open: Steadfast[] = [];
let clock: FakeClock;
let seed = 0;

afterEach(async () => {
  await upstream?.close();
  upstream = undefined;
  for (const sf of open) await stopGracefully(sf);
  open = [];
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** A database in a temp dir, a fake clock, and an upstream answering `script` in order. */
async function world(script: readonly UpstreamBehaviour[]): Promise<FlakyUpstream> {
  dir = mkdtempSync(join(tmpdir(), "steadfast-interruptions-"));
  clock = new FakeClock(Date.parse("2026-01-01T00:00:00Z"));
  upstream = await startFlakyUpstream(script);
  return upstream;
}

/** A process of the fleet: a Steadfast on the shared database, its engine running unless told. */
async function start(startEngine = true): Promise<Steadfast> {
  const sf = await createSteadfast({
    db: `sqlite:${join(dir!, "steadfast.db")}`,
    clock,
    random: new SeededRandom(++seed),
    allowPrivateNetworks: true,
    shutdownGraceMs: GRACE_MS,
    startEngine,
    // Not about liveness: a stop's steps of the fake clock must not fence the engine (its
    // cut-off attempts would be recorded process_fenced, not process_stopped).
    workerTimeoutMs: 86_400_000,
  });
  open.push(sf);
  return sf;
}

/** `close()` (a graceful stop), moving the fake clock past the shutdown grace until it is done. */
async function stopGracefully(sf: Steadfast): Promise<void> {
  let done = false;
  const closing = sf.close().then(() => (done = true));
  while (!done) {
    await clock.advance(GRACE_MS);
    await settle();
  }
  await closing;
  open = open.filter((s) => s !== sf);
}

/**
 * A process claims the call (due now or later: the clock moves to its `runAt`) and dies: its
 * lease (1 ms) lapses unrenewed, so the next claim takes the call over.
 */
async function crashWith(sf: Steadfast, id: CallId): Promise<void> {
  const call = await sf.store.getCall(TENANT, id);
  if (call?.runAt !== undefined && call.runAt > clock.now()) await clock.set(call.runAt);
  const [claim] = await sf.store.claimDue({
    now: clock.now(),
    limit: 1,
    leaseMs: 1,
    workerId: `worker_dead_${seed}_${clock.now()}` as WorkerId,
  });
  expect(claim?.call.id).toBe(id);
  await clock.advance(1);
}

/** Starts a process and waits until it ends the call; stops it gracefully then. */
async function runToEnd(id: CallId): Promise<CallRecord> {
  const sf = await start();
  const ended = await sf.calls.waitForEnd(TENANT, id, 3_600_000);
  await stopGracefully(sf);
  return ended;
}

function summary(attempts: readonly AttemptRecord[] | undefined): unknown[] {
  return (attempts ?? []).map((a) => [
    a.outcome.type === "response" ? a.outcome.status : `${a.outcome.type}:${a.outcome.code}`,
    a.sent,
  ]);
}

describe("engine: interrupted attempts do not use up maxAttempts", () => {
  it("a maxAttempts: 1 call survives two graceful stops and a crash, and its log matches what the upstream saw", async () => {
    const up = await world(["hang", "hang", { status: 200 }]);
    const first = await start();
    const { id } = await first.fetch({ url: up.url, retry: { maxAttempts: 1 } });
    // Two deploys, each while the slow upstream holds the request.
    await up.waitForRequests(1);
    await stopGracefully(first);
    const second = await start();
    await up.waitForRequests(2);
    await stopGracefully(second);
    // Then a process dies holding it.
    const store = await start(false);
    await crashWith(store, id);
    await stopGracefully(store);

    const ended = await runToEnd(id);
    expect(ended).toMatchObject({ status: "succeeded", attempts: 4 });
    const reader = await start(false);
    expect(summary(await reader.store.listAttempts(TENANT, id))).toEqual([
      ["interrupted:process_stopped", true],
      ["interrupted:process_stopped", true],
      ["interrupted:process_ended", "unknown"],
      [200, true],
    ]);
    expect(up.requests).toHaveLength(3);
  });

  it(`ends a call taken over ${MAX_CRASHES_IN_A_ROW} times in a row as crash_loop, without sending it`, async () => {
    const up = await world([{ status: 200 }]);
    const sf = await start(false);
    const { id } = await sf.fetch({ url: up.url, retry: { maxAttempts: 10 } });
    for (let i = 0; i < MAX_CRASHES_IN_A_ROW; i++) await crashWith(sf, id);
    await stopGracefully(sf);

    const ended = await runToEnd(id);
    expect(ended).toMatchObject({
      status: "failed",
      attempts: MAX_CRASHES_IN_A_ROW + 1,
      error: { code: "crash_loop" },
    });
    expect(ended.error?.message).toContain(`last ${MAX_CRASHES_IN_A_ROW} attempts were cut off`);
    const reader = await start(false);
    expect(summary(await reader.store.listAttempts(TENANT, id))).toEqual([
      ...Array.from({ length: MAX_CRASHES_IN_A_ROW }, () => [
        "interrupted:process_ended",
        "unknown",
      ]),
      ["error:aborted", false],
    ]);
    expect(up.requests).toHaveLength(0);
  });

  it("counts crashes in a row only: an attempt that completes ends the run, a graceful stop neither adds to it nor ends it", async () => {
    const up = await world([{ status: 503 }, "hang", { status: 200 }]);
    const sf = await start(false);
    const { id } = await sf.fetch({
      url: up.url,
      retry: { maxAttempts: 2, backoff: "exponential", initialDelayMs: 1_000 },
    });
    await crashWith(sf, id);
    await crashWith(sf, id);
    await stopGracefully(sf);
    // One short of the limit, it is sent: a 503, retried (its first retry: the backoff's first
    // step, as if the crashes had not been).
    const runner = await start();
    const recorded = new Promise<CallRecord>((resolve) =>
      runner.engine.events.on("attempt:recorded", ({ call }) => resolve(call)),
    );
    expect(await recorded).toMatchObject({ status: "waiting", attempts: 3 });
    const [, , retried] = (await runner.store.listAttempts(TENANT, id)) ?? [];
    expect(retried?.decision).toMatchObject({ type: "retry" });
    expect(retried?.decision.type === "retry" && retried.decision.delayMs).toBeLessThan(1_000);
    await stopGracefully(runner);
    // Two more crashes, then a graceful stop: neither the earlier two nor the stop count.
    const store = await start(false);
    await crashWith(store, id);
    await crashWith(store, id);
    await stopGracefully(store);
    const stopped = await start();
    await up.waitForRequests(2);
    await stopGracefully(stopped);

    const ended = await runToEnd(id);
    expect(ended).toMatchObject({ status: "succeeded", attempts: 7 });
    const reader = await start(false);
    expect(summary(await reader.store.listAttempts(TENANT, id))).toEqual([
      ["interrupted:process_ended", "unknown"],
      ["interrupted:process_ended", "unknown"],
      [503, true],
      ["interrupted:process_ended", "unknown"],
      ["interrupted:process_ended", "unknown"],
      ["interrupted:process_stopped", true],
      [200, true],
    ]);
  });
});
