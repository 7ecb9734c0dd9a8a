// Store contract: per-destination protection. Holding a claimed call without an attempt
// (deferCall), waking the calls a destination holds, and destination documents saved with
// compare-and-set on a version.
import { describe, expect, it } from "vitest";
import type { WaitingFor } from "../../core/call.ts";
import type { DestinationDocument } from "../../core/store.ts";
import {
  claimAll,
  claimOne,
  commitOf,
  LEASE_MS,
  RETENTION_MS,
  succeeded,
  T0,
  TENANT_A,
  waiting,
} from "./fixtures.ts";
import type { GetContext } from "./store-contract.ts";

const API = "https://api.example.com";
const OTHER = "http://127.0.0.1:8080";

const HELD: WaitingFor = {
  reason: "circuit_open",
  message: "circuit open for api.example.com:443 until 00:00:05Z",
  destination: API,
};

const OPEN: DestinationDocument = {
  state: {
    breaker: { state: "open", openedAt: T0, openUntil: T0 + 5_000, reason: { n: [1, null] } },
    consecutiveOpens: 1,
  },
  limits: { rateLimitPerSecond: 2.5, maxConcurrency: 4 },
};

/** Declares the destination tests of the store contract. */
export function describeDestinationContract(context: GetContext): void {
  describe("deferCall", () => {
    it("holds a running call until runAt without an attempt, keeping its attempt count", async () => {
      const { store, calls } = context();
      const call = calls.call();
      await store.createCall(call);
      const claim = await claimOne(store, T0 + 10);
      const ref = { callId: call.id, leaseToken: claim.leaseToken };

      expect(await store.deferCall(ref, T0 + 5_000, HELD, T0 + 20)).toBe(true);
      const held = await store.getCall(TENANT_A, call.id);
      expect(held).toMatchObject({
        status: "waiting",
        attempts: 0,
        runAt: T0 + 5_000,
        waitReason: HELD.message,
        waitCode: "circuit_open",
        waitDestination: API,
        updatedAt: T0 + 20,
      });
      expect(await store.listAttempts(TENANT_A, call.id)).toEqual([]);
      expect(await store.nextWakeAt()).toBe(T0 + 5_000);
      // The lease ended: it can neither be renewed nor committed.
      expect(await store.renewLeases([ref], T0 + LEASE_MS, T0 + 30)).toEqual([ref]);
      expect(await store.commitAttempt(commitOf(claim, T0 + 40, succeeded(T0 + 40)))).toBe(false);

      await claimAll(store, T0 + 4_999, 0);
      const again = await claimOne(store, T0 + 5_000);
      expect(again.call).toMatchObject({ id: call.id, status: "running", attempts: 0 });
      expect(again.call.waitReason).toBeUndefined();
      expect(again.call.waitCode).toBeUndefined();
      expect(again.call.waitDestination).toBeUndefined();
    });

    it("keeps the attempts of a call that already made some", async () => {
      const { store, calls } = context();
      await store.createCall(calls.call());
      const first = await claimOne(store, T0 + 10);
      await store.commitAttempt(commitOf(first, T0 + 20, waiting(T0 + 100)));
      const second = await claimOne(store, T0 + 100);
      const ref = { callId: second.call.id, leaseToken: second.leaseToken };
      const paused: WaitingFor = {
        reason: "destination_paused",
        message: "paused",
        destination: API,
      };
      expect(await store.deferCall(ref, T0 + 2_000, paused, T0 + 110)).toBe(true);
      const held = await store.getCall(TENANT_A, second.call.id);
      expect(held).toMatchObject({
        status: "waiting",
        attempts: 1,
        waitCode: "destination_paused",
      });
      expect(await store.listAttempts(TENANT_A, second.call.id)).toHaveLength(1);
    });

    it("records a wait without a destination", async () => {
      const { store, calls } = context();
      await store.createCall(calls.call());
      const claim = await claimOne(store, T0 + 10);
      const ref = { callId: claim.call.id, leaseToken: claim.leaseToken };
      const limited: WaitingFor = { reason: "rate_limited", message: "slot at 1 s" };
      expect(await store.deferCall(ref, T0 + 1_000, limited, T0 + 20)).toBe(true);
      const held = await store.getCall(TENANT_A, claim.call.id);
      expect(held?.waitCode).toBe("rate_limited");
      expect(held?.waitDestination).toBeUndefined();
    });

    it("refuses a stale lease token, a reclaimed call and a cancelled call", async () => {
      const { store, calls } = context();
      const call = calls.call();
      await store.createCall(call);
      const stale = await claimOne(store, T0 + 10);
      const fresh = await claimOne(store, stale.leaseExpiresAt);
      const staleRef = { callId: call.id, leaseToken: stale.leaseToken };
      expect(await store.deferCall(staleRef, T0 + 99_000, HELD, T0 + 50_000)).toBe(false);
      expect((await store.getCall(TENANT_A, call.id))?.status).toBe("running");

      await store.cancelCall(TENANT_A, call.id, T0 + 50_001, T0 + RETENTION_MS);
      const freshRef = { callId: call.id, leaseToken: fresh.leaseToken };
      expect(await store.deferCall(freshRef, T0 + 99_000, HELD, T0 + 50_002)).toBe(false);
      const cancelled = await store.getCall(TENANT_A, call.id);
      expect(cancelled?.status).toBe("cancelled");
      expect(cancelled?.waitCode).toBeUndefined();
    });

    it("clears the wait code when a held call is cancelled", async () => {
      const { store, calls } = context();
      await store.createCall(calls.call());
      const claim = await claimOne(store, T0 + 10);
      const ref = { callId: claim.call.id, leaseToken: claim.leaseToken };
      await store.deferCall(ref, T0 + 5_000, HELD, T0 + 20);
      const result = await store.cancelCall(TENANT_A, claim.call.id, T0 + 30, T0 + 30);
      expect(result.type).toBe("ok");
      const cancelled = await store.getCall(TENANT_A, claim.call.id);
      expect(cancelled?.waitCode).toBeUndefined();
      expect(cancelled?.waitDestination).toBeUndefined();
      expect(cancelled?.waitReason).toBeUndefined();
    });
  });

  describe("wakeDestination", () => {
    it("tells the claimer what a call was held for; a woken call was held for nothing", async () => {
      const { store, calls } = context();
      await store.createCall(calls.call());
      await store.createCall(calls.call());
      const [a, b] = await claimAll(store, T0 + 10, 2);
      expect(a!.heldFor).toBeUndefined();
      const rate: WaitingFor = { ...HELD, reason: "rate_limited" };
      const ref = (claim: typeof a) => ({ callId: claim!.call.id, leaseToken: claim!.leaseToken });
      await store.deferCall(ref(a), T0 + 500, rate, T0 + 20);
      await store.deferCall(ref(b), T0 + 60_000, rate, T0 + 20);
      const held = await claimOne(store, T0 + 500);
      expect(held).toMatchObject({
        call: { id: a!.call.id, runAt: T0 + 500 },
        heldFor: "rate_limited",
      });
      expect(held.call.waitCode).toBeUndefined();
      expect(await store.wakeDestination(API, T0 + 600)).toBe(1);
      const woken = await claimOne(store, T0 + 600);
      expect(woken.call.id).toBe(b!.call.id);
      expect(woken.heldFor).toBeUndefined();
    });

    it("makes the calls held for one destination due now, and nothing else", async () => {
      const { store, calls } = context();
      const ids = [];
      for (let i = 0; i < 5; i++) {
        const call = calls.call();
        ids.push(call.id);
        await store.createCall(call);
      }
      const claims = await claimAll(store, T0 + 10, 5);
      const [a, b, c, d, e] = claims.map((claim) => ({
        callId: claim.call.id,
        leaseToken: claim.leaseToken,
      }));
      await store.deferCall(a!, T0 + 60_000, HELD, T0 + 20);
      await store.deferCall(b!, T0 + 60_000, { ...HELD, reason: "rate_limited" }, T0 + 20);
      await store.deferCall(c!, T0 + 60_000, { ...HELD, destination: OTHER }, T0 + 20);
      // Already due: left as it is.
      await store.deferCall(d!, T0 + 15, HELD, T0 + 20);
      // A retry backoff is not the destination's to wake.
      await store.commitAttempt(commitOf(claims[4]!, T0 + 20, waiting(T0 + 60_000)));
      expect(e).toBeDefined();

      expect(await store.wakeDestination(API, T0 + 1_000)).toBe(2);
      const runAt = async (i: number): Promise<number | undefined> =>
        (await store.getCall(TENANT_A, claims[i]!.call.id))?.runAt;
      expect(await runAt(0)).toBe(T0 + 1_000);
      expect(await runAt(1)).toBe(T0 + 1_000);
      expect(await runAt(2)).toBe(T0 + 60_000);
      expect(await runAt(3)).toBe(T0 + 15);
      expect(await runAt(4)).toBe(T0 + 60_000);
      expect((await store.getCall(TENANT_A, claims[0]!.call.id))?.status).toBe("waiting");
      expect(await store.wakeDestination(API, T0 + 1_000)).toBe(0);
      expect(await store.wakeDestination("https://unknown.example", T0 + 1_000)).toBe(0);
      expect(ids).toHaveLength(5);
    });
  });

  describe("destinations", () => {
    it("has none on a fresh database", async () => {
      const { store } = context();
      expect(await store.getDestination(API)).toBeUndefined();
      expect(await store.listDestinations()).toEqual([]);
    });

    it("saves a new destination at version 1 and returns its document as saved", async () => {
      const { store } = context();
      expect(await store.saveDestination(API, OPEN, 0, T0 + 5)).toBe(true);
      expect(await store.getDestination(API)).toStrictEqual({
        destination: API,
        ...OPEN,
        version: 1,
        updatedAt: T0 + 5,
      });
    });

    it("saves only over the version it expects (compare-and-set)", async () => {
      const { store } = context();
      await store.saveDestination(API, OPEN, 0, T0);
      const closed: DestinationDocument = {
        state: { breaker: { state: "closed" }, consecutiveOpens: 0 },
        limits: {},
      };
      expect(await store.saveDestination(API, closed, 0, T0 + 1)).toBe(false);
      expect(await store.saveDestination(API, closed, 2, T0 + 1)).toBe(false);
      expect((await store.getDestination(API))?.version).toBe(1);
      expect(await store.saveDestination(API, closed, 1, T0 + 2)).toBe(true);
      expect(await store.getDestination(API)).toStrictEqual({
        destination: API,
        ...closed,
        version: 2,
        updatedAt: T0 + 2,
      });
      expect(await store.saveDestination(API, OPEN, 1, T0 + 3)).toBe(false);
      expect((await store.getDestination(API))?.state).toStrictEqual(closed.state);
    });

    it("lets exactly one of concurrent savers of the same version win", async () => {
      const { store } = context();
      await store.saveDestination(API, OPEN, 0, T0);
      const results = await Promise.all(
        ["w1", "w2", "w3", "w4"].map((owner) =>
          store.saveDestination(
            API,
            { state: { breaker: { state: "half-open", owner } }, limits: {} },
            1,
            T0 + 1,
          ),
        ),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = ["w1", "w2", "w3", "w4"][results.indexOf(true)];
      expect(await store.getDestination(API)).toMatchObject({
        version: 2,
        state: { breaker: { owner: winner } },
      });
      const inserts = await Promise.all(
        [1, 2, 3].map((n) => store.saveDestination(OTHER, { state: { n }, limits: {} }, 0, T0 + 2)),
      );
      expect(inserts.filter(Boolean)).toHaveLength(1);
    });

    it("keeps a document's arrays in order, as written (tenant pauses, issue 10)", async () => {
      const { store } = context();
      const tenantPauses = ["zeta", "alpha", "__proto__", "m\u00fcller", 'a"b'].map(
        (tenant, i) => ({
          tenant,
          until: T0 + 60_000 - i * 1_000,
          reason: `status 429 with rate-limit reset ${60 - i} s`,
        }),
      );
      const paused: DestinationDocument = {
        state: { breaker: { state: "closed" }, consecutiveOpens: 0, tenantPauses },
        limits: {},
      };
      expect(await store.saveDestination(API, paused, 0, T0)).toBe(true);
      expect((await store.getDestination(API))?.state).toStrictEqual(paused.state);
      expect((await store.listDestinations())[0]?.state).toStrictEqual(paused.state);
    });

    it("lists every saved destination, ordered by destination", async () => {
      const { store } = context();
      await store.saveDestination("https://b.example", OPEN, 0, T0);
      await store.saveDestination(OTHER, { state: null, limits: {} }, 0, T0 + 1);
      await store.saveDestination(API, OPEN, 0, T0 + 2);
      const listed = await store.listDestinations();
      expect(listed.map((d) => d.destination)).toEqual([OTHER, API, "https://b.example"]);
      expect(listed[0]).toStrictEqual({
        destination: OTHER,
        state: null,
        limits: {},
        version: 1,
        updatedAt: T0 + 1,
      });
    });
  });

  describe("reserveRate", () => {
    it("starts a schedule at now and reserves consecutive spans of it", async () => {
      const { store } = context();
      expect(await store.reserveRate(API, T0, 100)).toBe(T0);
      expect(await store.reserveRate(API, T0, 100)).toBe(T0 + 100);
      expect(await store.reserveRate(API, T0 + 50, 40)).toBe(T0 + 200);
      // Each destination has its own schedule.
      expect(await store.reserveRate(OTHER, T0, 10)).toBe(T0);
      expect(await store.reserveRate(API, T0, 1)).toBe(T0 + 240);
    });

    it("starts again at now once the schedule has fallen behind", async () => {
      const { store } = context();
      await store.reserveRate(API, T0, 100);
      expect(await store.reserveRate(API, T0 + 1_000, 100)).toBe(T0 + 1_000);
      expect(await store.reserveRate(API, T0 + 1_000, 100)).toBe(T0 + 1_100);
    });

    it("keeps fractions of a millisecond (a third of a second per slot)", async () => {
      const { store } = context();
      for (let i = 0; i < 3; i++) await store.reserveRate(API, T0, 1_000 / 3);
      expect(await store.reserveRate(API, T0, 1)).toBeCloseTo(T0 + 1_000, 2);
    });

    it("gives concurrent reservers spans that never overlap", async () => {
      const { store } = context();
      const starts = await Promise.all(
        Array.from({ length: 20 }, () => store.reserveRate(API, T0, 10)),
      );
      expect([...starts].sort((a, b) => a - b)).toEqual(
        Array.from({ length: 20 }, (_, i) => T0 + i * 10),
      );
    });
  });

  describe("holdPermits", () => {
    const ask = (holder: string, wanted: number, limit = 5, now = T0) => ({
      destination: API,
      holder,
      wanted,
      limit,
      now,
      expiresAt: now + LEASE_MS,
    });

    it("grants what the limit leaves after the other holders, and takes back what is given up", async () => {
      const { store } = context();
      expect((await store.holdPermits(ask("a", 3))).granted).toBe(3);
      expect((await store.holdPermits(ask("b", 4))).granted).toBe(2);
      // Renewing keeps them; asking for more finds none free.
      expect((await store.holdPermits(ask("a", 3))).granted).toBe(3);
      expect((await store.holdPermits(ask("b", 3))).granted).toBe(2);
      // a gives one back, b can have it; each destination has its own permits.
      expect((await store.holdPermits(ask("a", 2))).granted).toBe(2);
      expect((await store.holdPermits(ask("b", 3))).granted).toBe(3);
      expect((await store.holdPermits({ ...ask("c", 5), destination: OTHER })).granted).toBe(5);
      // Giving all back frees them all.
      expect((await store.holdPermits(ask("a", 0))).granted).toBe(0);
      expect((await store.holdPermits(ask("b", 0))).granted).toBe(0);
      expect((await store.holdPermits(ask("d", 5))).granted).toBe(5);
    });

    it("lets permits whose lease ended go to others (a dead process's)", async () => {
      const { store } = context();
      expect((await store.holdPermits(ask("a", 5))).granted).toBe(5);
      expect((await store.holdPermits(ask("b", 2, 5, T0 + LEASE_MS - 1))).granted).toBe(0);
      expect((await store.holdPermits(ask("b", 2, 5, T0 + LEASE_MS))).granted).toBe(2);
      // a, back, renews what is left for it.
      expect((await store.holdPermits(ask("a", 5, 5, T0 + LEASE_MS))).granted).toBe(3);
    });

    it("gives a holder fewer than it holds when the limit was lowered", async () => {
      const { store } = context();
      expect((await store.holdPermits(ask("a", 4, 8))).granted).toBe(4);
      expect((await store.holdPermits(ask("b", 4, 8))).granted).toBe(4);
      expect((await store.holdPermits(ask("a", 4, 5))).granted).toBe(1);
    });

    it("never lets concurrent holders hold more than the limit between them", async () => {
      const { store } = context();
      const holders = Array.from({ length: 12 }, (_, i) => `h${i}`);
      const granted = await Promise.all(
        holders.map(async (h, i) => (await store.holdPermits(ask(h, 1 + (i % 3)))).granted),
      );
      expect(granted.reduce((a, b) => a + b, 0)).toBe(5);
      // Every holder renews at once: still 5 in all, and none gained any.
      const renewed = await Promise.all(
        holders.map(async (h, i) => (await store.holdPermits(ask(h, granted[i]!))).granted),
      );
      expect(renewed).toEqual(granted);
    });

    it("tells each holder its fair share while others wait for permits", async () => {
      const { store } = context();
      expect(await store.holdPermits(ask("a", 5))).toEqual({ granted: 5, share: 5 });
      // b wants some and gets none: it is recorded as waiting, and the share halves.
      expect(await store.holdPermits(ask("b", 2))).toEqual({ granted: 0, share: 3 });
      expect(await store.holdPermits(ask("a", 5, 5, T0 + 999))).toEqual({ granted: 5, share: 3 });
      // b stopped asking: a second later it no longer counts.
      expect(await store.holdPermits(ask("a", 5, 5, T0 + 1_000))).toEqual({
        granted: 5,
        share: 5,
      });
    });

    it("refuses invalid numbers, naming them", async () => {
      const { store } = context();
      await expect(store.holdPermits(ask("a", -1))).rejects.toThrow(/wanted/);
      await expect(store.holdPermits(ask("a", 1.5))).rejects.toThrow(/wanted/);
      await expect(store.holdPermits(ask("a", 1, 0))).rejects.toThrow(/limit/);
      expect((await store.holdPermits(ask("a", 5))).granted).toBe(5);
    });
  });
}
