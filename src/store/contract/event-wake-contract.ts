// Store contract: no event lost to a waiting run (issue 11). recordEventAndWake records an event
// and wakes the runs waiting for its name in one transaction; a park that names events with
// eventsSeen leaves the run due at once when an event of those names arrived that its invocation
// did not see.
import { describe, expect, it } from "vitest";
import type { RunPark, RunRecord, RunUid, StoredEvent } from "../../core/store.ts";
import { claimRuns, NO_STEPS, runRef, T0, TENANT_A, TENANT_B } from "./fixtures.ts";
import type { GetContext } from "./store-contract.ts";

const HOUR = 3_600_000;

function event(id: string, receivedAt: number, overrides: Partial<StoredEvent> = {}): StoredEvent {
  return {
    tenantId: TENANT_A,
    id,
    name: "order.approved",
    data: `{"orderId":"o-${id}"}`,
    receivedAt,
    ...overrides,
  };
}

function waitFor(events: string[], overrides: Partial<RunPark> = {}): RunPark {
  return {
    status: "waiting",
    waitCode: "event",
    phase: "forward",
    runAt: T0 + HOUR,
    events,
    ...overrides,
  };
}

// `park` without a timeout: only a wake-up makes it due.
function untimed(park: RunPark): RunPark {
  const { runAt: _runAt, ...rest } = park;
  return rest;
}

/** Declares the event wake-up tests of the store contract. */
export function describeEventWakeContract(context: GetContext): void {
  let workflows = 0;

  async function runOf(uid: RunUid): Promise<RunRecord> {
    const run = await context().store.getRunByUid(uid);
    if (run === undefined) throw new Error(`Run ${uid} not found.`);
    return run;
  }

  // A new run (of a workflow of its own, so that claims never pick another test run), claimed at
  // T0 + 10 and parked at `now` with `park`; returns it as parked.
  async function parked(park: RunPark, now: number, tenantId = TENANT_A): Promise<RunRecord> {
    const { store, runs } = context();
    const workflow = `wf-${++workflows}`;
    const run = runs.run({ workflow, tenantId });
    await store.createRun(run);
    const [claim] = await claimRuns(store, T0 + 10, 1, [workflow]);
    expect(await store.parkRun(runRef(claim!), park, NO_STEPS, now)).toBe(true);
    return await runOf(run.uid);
  }

  describe("recordEventAndWake", () => {
    it("records an event and wakes the tenant's runs waiting for its name, and no others", async () => {
      const { store } = context();
      const approved = await parked(waitFor(["order.approved"]), T0 + 11);
      const twoNames = await parked(untimed(waitFor(["order.shipped", "order.approved"])), T0 + 11);
      const otherName = await parked(waitFor(["order.shipped"]), T0 + 11);
      const otherTenant = await parked(waitFor(["order.approved"]), T0 + 11, TENANT_B);
      const sent = event("evt_1", T0 + 20);
      expect(await store.recordEventAndWake(sent, T0 + 20)).toStrictEqual({
        created: true,
        event: sent,
        woken: 2,
      });
      expect(
        await store.listEvents({
          tenantId: TENANT_A,
          name: "order.approved",
          since: T0,
          limit: 10,
        }),
      ).toStrictEqual([sent]);
      expect(await runOf(approved.uid)).toMatchObject({ status: "waiting", runAt: T0 + 20 });
      expect(await runOf(twoNames.uid)).toMatchObject({ status: "waiting", runAt: T0 + 20 });
      expect((await runOf(otherName.uid)).runAt).toBe(T0 + HOUR);
      expect((await runOf(otherTenant.uid)).runAt).toBe(T0 + HOUR);
    });

    it("wakes the waiting runs again when the id is recorded already, and gives the stored event back", async () => {
      const { store } = context();
      const approved = await parked(waitFor(["order.approved"]), T0 + 11);
      const shipped = await parked(waitFor(["order.shipped"]), T0 + 11);
      // Recorded by a sender that crashed before it woke anyone.
      const first = event("evt_1", T0 + 20);
      expect((await store.recordEvent(first)).created).toBe(true);
      expect((await runOf(approved.uid)).runAt).toBe(T0 + HOUR);

      expect(
        await store.recordEventAndWake({ ...first, receivedAt: T0 + 30 }, T0 + 30),
      ).toStrictEqual({
        created: false,
        event: first,
        woken: 1,
      });
      expect((await runOf(approved.uid)).runAt).toBe(T0 + 30);
      // The id used for another event: the runs waiting for the stored event's name are woken
      // (none now: due already), not those of the name sent.
      const reused = event("evt_1", T0 + 40, { name: "order.shipped", data: "{}" });
      expect(await store.recordEventAndWake(reused, T0 + 40)).toStrictEqual({
        created: false,
        event: first,
        woken: 0,
      });
      expect((await runOf(shipped.uid)).runAt).toBe(T0 + HOUR);
      expect((await runOf(approved.uid)).runAt).toBe(T0 + 30);
    });

    it("records an event the same whether or not a run waits for it, per tenant", async () => {
      const { store } = context();
      const a = event("evt_1", T0 + 20);
      const b = event("evt_1", T0 + 21, { tenantId: TENANT_B });
      expect(await store.recordEventAndWake(a, T0 + 20)).toStrictEqual({
        created: true,
        event: a,
        woken: 0,
      });
      expect(await store.recordEventAndWake(b, T0 + 21)).toStrictEqual({
        created: true,
        event: b,
        woken: 0,
      });
    });
  });

  describe("parkRun with eventsSeen", () => {
    const SINCE = T0 + 100;
    const PARK_AT = T0 + 200;

    it("makes the run due now when an event of a name it waits for arrived unseen since `since`", async () => {
      const { store } = context();
      await store.recordEvent(event("evt_seen", T0 + 150));
      await store.recordEvent(event("evt_new", T0 + 160));
      const unseen = await parked(
        waitFor(["order.approved"], { eventsSeen: { since: SINCE, ids: ["evt_seen"] } }),
        PARK_AT,
      );
      expect(unseen).toMatchObject({ status: "waiting", waitCode: "event", runAt: PARK_AT });

      // At `since` itself, of its second name, and with no timeout.
      await store.recordEvent(event("evt_shipped", SINCE, { name: "order.shipped" }));
      const atSince = await parked(
        untimed(
          waitFor(["order.approved", "order.shipped"], {
            eventsSeen: { since: SINCE, ids: ["evt_seen", "evt_new"] },
          }),
        ),
        PARK_AT,
      );
      expect(atSince).toMatchObject({ status: "waiting", runAt: PARK_AT });
    });

    it("leaves it parked for seen events, older ones, other names and other tenants", async () => {
      const { store } = context();
      await store.recordEvent(event("evt_seen", T0 + 150));
      await store.recordEvent(event("evt_old", SINCE - 1));
      await store.recordEvent(event("evt_other", T0 + 150, { name: "order.cancelled" }));
      await store.recordEvent(event("evt_b", T0 + 150, { tenantId: TENANT_B }));
      const park = waitFor(["order.approved", "order.shipped"], {
        eventsSeen: { since: SINCE, ids: ["evt_seen", "evt_unknown"] },
      });
      expect((await parked(park, PARK_AT)).runAt).toBe(T0 + HOUR);
      const noTimeout = await parked(untimed(park), PARK_AT);
      expect(noTimeout.status).toBe("waiting");
      expect(noTimeout.runAt).toBeUndefined();
      // The same park, one more event arrived unseen: due now.
      await store.recordEvent(event("evt_late", T0 + 190, { name: "order.shipped" }));
      expect((await parked(park, PARK_AT)).runAt).toBe(PARK_AT);
    });

    it("is ignored when the park names no events, and nothing is checked without it", async () => {
      const { store } = context();
      await store.recordEvent(event("evt_new", T0 + 150));
      const seen = { since: SINCE, ids: [] };
      const sleep = { status: "sleeping", phase: "forward", runAt: T0 + HOUR } as const;
      expect((await parked({ ...sleep, eventsSeen: seen }, PARK_AT)).runAt).toBe(T0 + HOUR);
      expect((await parked(waitFor([], { eventsSeen: seen }), PARK_AT)).runAt).toBe(T0 + HOUR);
      expect((await parked(waitFor(["order.approved"]), PARK_AT)).runAt).toBe(T0 + HOUR);
      expect((await parked(waitFor(["order.approved"], { eventsSeen: seen }), PARK_AT)).runAt).toBe(
        PARK_AT,
      );
    });

    it("still wakes the run through recordEventAndWake once it is parked on the name", async () => {
      const { store } = context();
      const run = await parked(
        waitFor(["order.approved"], { eventsSeen: { since: SINCE, ids: [] } }),
        PARK_AT,
      );
      expect(run.runAt).toBe(T0 + HOUR);
      expect((await store.recordEventAndWake(event("evt_1", T0 + 300), T0 + 300)).woken).toBe(1);
      expect((await runOf(run.uid)).runAt).toBe(T0 + 300);
    });
  });
}
