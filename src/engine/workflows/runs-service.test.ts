import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isSteadfastError } from "../../core/errors.ts";
import { tenantId, type WorkerId } from "../../core/ids.ts";
import { decodeValue } from "../../core/value-codec.ts";
import { SqliteStore } from "../../store/sqlite/sqlite-store.ts";
import { FakeClock } from "../../testing/fake-clock.ts";
import { SeededRandom } from "../../testing/seeded-random.ts";
import { seedRun, type SeededState } from "./run-fixtures.test-support.ts";
import { RunsService } from "./runs-service.ts";

const acme = tenantId("acme");
const other = tenantId("other");

let dir: string;
let store: SqliteStore;
let clock: FakeClock;
let random: SeededRandom;
let notified: number[];
let runs: RunsService;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "steadfast-runs-service-"));
  store = SqliteStore.open({ path: join(dir, "steadfast.db") });
  await store.migrate();
  clock = new FakeClock(Date.parse("2026-01-01T00:00:00Z"));
  random = new SeededRandom(11);
  notified = [];
  runs = new RunsService({
    store,
    clock,
    random,
    engine: { notify: (runAt) => void notified.push(runAt) },
  });
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const seed = (id: string, state: SeededState, extra: { workflow?: string; tenant?: string } = {}) =>
  seedRun({
    store,
    random,
    now: clock.now(),
    tenantId: extra.tenant === undefined ? acme : tenantId(extra.tenant),
    id,
    state,
    ...(extra.workflow === undefined ? {} : { workflow: extra.workflow }),
  });

/** The code of the error `promise` rejects with. */
async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (isSteadfastError(error)) return error.code;
    throw error;
  }
  throw new Error("expected a rejection");
}

describe("RunsService.get", () => {
  it("shows a run with its input, output and steps with their attempts, values projected to JSON", async () => {
    await seed("order-1", "succeeded");
    const view = await runs.get(acme, "order-1");
    expect(view).toMatchObject({
      id: "order-1",
      workflow: "checkout",
      status: "succeeded",
      phase: "forward",
      invocations: 1,
      input: { orderId: "o-42", at: "2026-01-01T00:00:00.000Z", big: "42" },
      output: { receipt: "r-1", at: "2026-01-01T00:00:00.000Z" },
      createdAt: "2026-01-01T00:00:00.000Z",
      endedAt: "2026-01-01T00:00:00.000Z",
    });
    expect(view.steps).toEqual([
      {
        id: "charge",
        kind: "run",
        status: "completed",
        startedAt: "2026-01-01T00:00:00.000Z",
        completedAt: "2026-01-01T00:00:00.000Z",
        attempts: 2,
        output: { id: "ch_1", amount: "42" },
        attemptLog: [
          {
            number: 1,
            startedAt: "2026-01-01T00:00:00.000Z",
            durationMs: 12,
            // The message quoted a URL with credentials: redacted, as in call views.
            outcome: {
              type: "failed",
              error: {
                name: "Error",
                message: "503 from https://[redacted]@pay.example/x",
                terminal: false,
              },
            },
            decision: {
              type: "retry",
              delayMs: 0,
              retryAt: "2026-01-01T00:00:00.000Z",
              reason: "retry 1 of 3",
            },
          },
          {
            number: 2,
            startedAt: "2026-01-01T00:00:00.000Z",
            durationMs: 8,
            outcome: { type: "succeeded" },
            decision: { type: "succeed" },
          },
        ],
      },
    ]);
    expect(view.unreadable).toBeUndefined();
  });

  it("shows a failed run's error and failed step, and a waiting run's wait", async () => {
    await seed("order-2", "failed");
    const failed = await runs.get(acme, "order-2");
    expect(failed).toMatchObject({
      status: "failed",
      failReason: "error",
      error: { name: "StepFailedError", code: "step_failed", terminal: true },
    });
    expect(failed.output).toBeUndefined();
    expect(failed.steps.map((s) => [s.id, s.status, s.error?.code])).toEqual([
      ["charge", "completed", undefined],
      ["notify", "failed", "crm_down"],
    ]);
    await seed("order-3", "waiting_event");
    const waiting = await runs.get(acme, "order-3");
    expect(waiting).toMatchObject({
      status: "waiting",
      waitCode: "event",
      runAt: "2026-01-02T00:00:00.000Z",
    });
    expect(waiting.steps[1]).toMatchObject({
      id: "approval",
      status: "waiting",
      wait: {
        type: "event",
        event: "order.approved",
        match: { orderId: "o-42" },
        timeoutAt: "2026-01-02T00:00:00.000Z",
      },
    });
  });

  it("is not_found for an unknown id and for another tenant's run", async () => {
    await seed("order-1", "queued");
    expect(await codeOf(runs.get(acme, "nope"))).toBe("not_found");
    expect(await codeOf(runs.get(other, "order-1"))).toBe("not_found");
  });
});

describe("RunsService.list", () => {
  it("lists the tenant's runs newest first, filtered by workflow and status, page by page", async () => {
    await seed("a", "queued");
    await clock.advance(1);
    await seed("b", "succeeded", { workflow: "refund" });
    await clock.advance(1);
    await seed("c", "failed");
    await clock.advance(1);
    await seed("theirs", "queued", { tenant: "other" });

    const all = await runs.list(acme);
    expect(all.runs.map((r) => r.id)).toEqual(["c", "b", "a"]);
    expect(all.nextCursor).toBeUndefined();
    expect((await runs.list(acme, { workflow: "checkout" })).runs.map((r) => r.id)).toEqual([
      "c",
      "a",
    ]);
    expect((await runs.list(acme, { status: "failed" })).runs.map((r) => r.id)).toEqual(["c"]);

    const first = await runs.list(acme, { limit: 2 });
    expect(first.runs.map((r) => r.id)).toEqual(["c", "b"]);
    const second = await runs.list(acme, { limit: 2, cursor: first.nextCursor! });
    expect(second.runs.map((r) => r.id)).toEqual(["a"]);
    expect(second.nextCursor).toBeUndefined();
  });

  it("refuses a limit out of range and a cursor it did not give", async () => {
    expect(await codeOf(runs.list(acme, { limit: 0 }))).toBe("invalid_request");
    expect(await codeOf(runs.list(acme, { limit: 501 }))).toBe("invalid_request");
    expect(await codeOf(runs.list(acme, { cursor: "order-1" }))).toBe("invalid_request");
  });
});

describe("RunsService.cancel and retry", () => {
  it("cancels a parked run at once; an ended one is invalid_state; another tenant's not_found", async () => {
    await seed("sleepy", "sleeping");
    expect(await codeOf(runs.cancel(other, "sleepy"))).toBe("not_found");
    const cancelled = await runs.cancel(acme, "sleepy");
    expect(cancelled).toMatchObject({ id: "sleepy", status: "cancelled" });
    expect(cancelled.endedAt).toBeDefined();
    expect(await codeOf(runs.cancel(acme, "sleepy"))).toBe("invalid_state");
    expect(await codeOf(runs.cancel(acme, "nope"))).toBe("not_found");
  });

  it("retries a failed run from its failed step, and nudges the engine", async () => {
    await seed("broken", "failed");
    await clock.advance(5_000);
    const retried = await runs.retry(acme, "broken");
    expect(retried).toMatchObject({ status: "queued", phase: "forward" });
    expect(retried.error).toBeUndefined();
    // The completed step stays memoized; the failed one goes.
    expect(retried.steps.map((s) => s.id)).toEqual(["charge"]);
    expect(notified).toEqual([clock.now()]);
  });

  it("refuses to retry a run that has not failed, or that compensated", async () => {
    await seed("fine", "succeeded");
    await seed("undone", "compensated");
    await seed("pending", "queued");
    expect(await codeOf(runs.retry(acme, "fine"))).toBe("invalid_state");
    expect(await codeOf(runs.retry(acme, "undone"))).toBe("invalid_state");
    expect(await codeOf(runs.retry(acme, "pending"))).toBe("invalid_state");
    expect(await codeOf(runs.retry(other, "fine"))).toBe("not_found");
    expect(notified).toEqual([]);
  });
});

describe("RunsService.sendEvent", () => {
  it("records an event with a made id, data null by default, and wakes the runs waiting for it", async () => {
    await seed("waiting", "waiting_event");
    await seed("theirs", "waiting_event", { tenant: "other" });
    await clock.advance(1_000);
    const sent = await runs.sendEvent(acme, { name: "order.approved" });
    expect(sent).toMatchObject({ name: "order.approved", created: true, receivedAt: clock.now() });
    expect(sent.id).toMatch(/^evt_[0-9A-HJKMNP-TV-Z]{26}$/);
    const [stored] = await store.listEvents({
      tenantId: acme,
      name: "order.approved",
      since: 0,
      limit: 10,
    });
    expect(decodeValue(stored!.data, "data")).toBeNull();
    expect(notified).toEqual([clock.now()]);
    // Woken: due now, so a claim finds it; the other tenant's run still waits.
    const claims = await store.claimDueRuns({
      now: clock.now(),
      limit: 10,
      leaseMs: 30_000,
      workerId: "w" as WorkerId,
      workflows: ["checkout"],
    });
    expect(claims.map((c) => c.run.id)).toEqual(["waiting"]);
  });

  it("deduplicates by id: the same event again is created false, another name or data is event_id_reused", async () => {
    const first = await runs.sendEvent(acme, {
      name: "order.approved",
      data: { orderId: "o-42", by: "ann" },
      id: "approval-42",
    });
    expect(first).toMatchObject({ id: "approval-42", created: true });
    await clock.advance(10);
    // Key order does not make it another event.
    const again = await runs.sendEvent(acme, {
      name: "order.approved",
      data: { by: "ann", orderId: "o-42" },
      id: "approval-42",
    });
    expect(again).toEqual({ ...first, created: false });
    expect(
      await codeOf(
        runs.sendEvent(acme, {
          name: "order.approved",
          data: { orderId: "o-43" },
          id: "approval-42",
        }),
      ),
    ).toBe("event_id_reused");
    expect(await codeOf(runs.sendEvent(acme, { name: "order.rejected", id: "approval-42" }))).toBe(
      "event_id_reused",
    );
    // Ids are per tenant.
    expect((await runs.sendEvent(other, { name: "x", id: "approval-42" })).created).toBe(true);
  });

  it("refuses a bad event with invalid_request naming the field", async () => {
    const issuesOf = async (input: unknown): Promise<string[]> => {
      try {
        await runs.sendEvent(acme, input as never);
      } catch (error) {
        if (isSteadfastError(error) && error.code === "invalid_request")
          return error.issues.map((i) => i.field);
        throw error;
      }
      throw new Error("expected a refusal");
    };
    expect(await issuesOf({ name: "" })).toEqual(["name"]);
    expect(await issuesOf({ name: "x".repeat(257) })).toEqual(["name"]);
    expect(await issuesOf({ name: "a", id: "" })).toEqual(["id"]);
    expect(await issuesOf({ name: "a", id: "i".repeat(257) })).toEqual(["id"]);
    expect(await issuesOf({ name: "a", nmae: "b" })).toEqual(["nmae"]);
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(await issuesOf({ name: "a", data: deep })).toEqual(["data"]);
    // In-process callers may send values JSON has no form for; what cannot be stored is refused.
    expect(await issuesOf({ name: "a", data: { f: () => 1 } })).toEqual(["data"]);
  });
});
