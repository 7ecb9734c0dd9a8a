// Store contract: creating, reading and listing calls; idempotency keys and their purge.
import { describe, expect, it } from "vitest";
import type { CallRecord, CallStatus } from "../../core/call.ts";
import type { CallId } from "../../core/ids.ts";
import type { NewCall } from "../../core/store.ts";
import {
  claimAll,
  claimOne,
  commitOf,
  LEASE_MS,
  RETENTION_MS,
  succeeded,
  T0,
  TENANT_A,
  TENANT_B,
  WORKER,
} from "./fixtures.ts";
import type { GetContext } from "./store-contract.ts";

/** The record a freshly created call must have. */
function queuedRecord(call: NewCall): CallRecord {
  const { runAt, createdAt, ...rest } = call;
  return {
    ...rest,
    status: "queued",
    attempts: 0,
    attemptBase: 0,
    crashesInARow: 0,
    runAt,
    createdAt,
    updatedAt: createdAt,
  };
}

function ids(records: readonly { id: CallId }[]): CallId[] {
  return records.map((r) => r.id);
}

/** Declares the create, read, list and idempotency tests of the store contract. */
export function describeCallContract(context: GetContext): void {
  describe("createCall and getCall", () => {
    it("creates a queued call and reads it back, absent optional fields omitted", async () => {
      const { store, calls } = context();
      const call = calls.call();
      const result = await store.createCall(call);
      expect(result).toStrictEqual({ created: true, call: queuedRecord(call) });
      expect(await store.getCall(TENANT_A, call.id)).toStrictEqual(queuedRecord(call));
    });

    it("round-trips every optional field", async () => {
      const { store, calls } = context();
      const parent = calls.call();
      const call = calls.call({
        kind: "callback",
        parentId: parent.id,
        idempotencyKey: "order-42",
        fingerprint: "f".repeat(64),
        deadlineAt: T0 + 3_600_000,
        runAt: T0 + 5_000,
      });
      await store.createCall(parent);
      expect(await store.createCall(call)).toStrictEqual({
        created: true,
        call: queuedRecord(call),
      });
      expect(await store.getCall(TENANT_A, call.id)).toStrictEqual(queuedRecord(call));
    });

    it("hides a call from other tenants and answers undefined for unknown ids", async () => {
      const { store, calls } = context();
      const call = calls.call();
      await store.createCall(call);
      expect(await store.getCall(TENANT_B, call.id)).toBeUndefined();
      expect(await store.getCall(TENANT_A, calls.id(T0))).toBeUndefined();
    });

    it("rejects a duplicate id and leaves the existing call unchanged", async () => {
      const { store, calls } = context();
      const call = calls.call();
      await store.createCall(call);
      await expect(store.createCall({ ...call, forwardedKey: "other" })).rejects.toThrow();
      expect(await store.getCall(TENANT_A, call.id)).toStrictEqual(queuedRecord(call));
    });

    it("commits concurrent writes independently: one failing write fails alone", async () => {
      const { store, calls } = context();
      const existing = calls.call();
      await store.createCall(existing);
      const batch = Array.from({ length: 20 }, () => calls.call());
      batch[7] = { ...existing, forwardedKey: "duplicate id" };
      const settled = await Promise.allSettled(batch.map((call) => store.createCall(call)));
      expect(settled.map((s) => s.status)).toEqual(
        batch.map((_, i) => (i === 7 ? "rejected" : "fulfilled")),
      );
      for (const [i, call] of batch.entries()) {
        const expected = i === 7 ? queuedRecord(existing) : queuedRecord(call);
        expect(await store.getCall(TENANT_A, call.id)).toStrictEqual(expected);
      }
    });
  });

  describe("idempotency keys", () => {
    it("returns the call holding the key and writes nothing", async () => {
      const { store, calls } = context();
      const first = calls.call({ idempotencyKey: "k1", fingerprint: "fp-1" });
      const second = calls.call({ idempotencyKey: "k1", fingerprint: "fp-2" });
      await store.createCall(first);
      const result = await store.createCall(second);
      expect(result).toStrictEqual({ created: false, call: queuedRecord(first) });
      expect(await store.getCall(TENANT_A, second.id)).toBeUndefined();
      expect(ids(await store.listCalls(TENANT_A, { limit: 10 }))).toEqual([first.id]);
    });

    it("scopes keys per tenant", async () => {
      const { store, calls } = context();
      const a = calls.call({ idempotencyKey: "shared" });
      const b = calls.call({ idempotencyKey: "shared", tenantId: TENANT_B });
      expect((await store.createCall(a)).created).toBe(true);
      expect((await store.createCall(b)).created).toBe(true);
    });

    it("lets exactly one of concurrent creates with one key win", async () => {
      const { store, calls } = context();
      const contenders = Array.from({ length: 5 }, () => calls.call({ idempotencyKey: "race" }));
      const results = await Promise.all(contenders.map((call) => store.createCall(call)));
      const winners = results.filter((r) => r.created);
      expect(winners).toHaveLength(1);
      for (const result of results) expect(result.call.id).toBe(winners[0]!.call.id);
    });

    it("keeps the key of an ended call until its retention ends, then releases it", async () => {
      const { store, calls } = context();
      const call = calls.call({ idempotencyKey: "k" });
      await store.createCall(call);
      const claim = await claimOne(store, T0 + 100);
      expect(await store.commitAttempt(commitOf(claim, T0 + 200, succeeded(T0 + 200)))).toBe(true);
      const expiresAt = T0 + 200 + RETENTION_MS;

      const again = calls.call({ idempotencyKey: "k" });
      expect((await store.createCall(again)).call.id).toBe(call.id);
      expect(await store.purgeExpiredIdempotencyKeys(expiresAt)).toBe(0);
      expect(await store.purgeExpiredIdempotencyKeys(expiresAt + 1)).toBe(1);
      expect(await store.purgeExpiredIdempotencyKeys(expiresAt + 2)).toBe(0);

      const released = await store.getCall(TENANT_A, call.id);
      expect(released?.idempotencyKey).toBeUndefined();
      expect(released?.status).toBe("succeeded");
      expect(await store.createCall(again)).toStrictEqual({
        created: true,
        call: queuedRecord(again),
      });
    });

    it("never purges the keys of calls that have not ended", async () => {
      const { store, calls } = context();
      await store.createCall(calls.call({ idempotencyKey: "running" }));
      await store.createCall(calls.call({ idempotencyKey: "queued" }));
      await store.createCall(calls.call({ idempotencyKey: "later", runAt: T0 + 1_000_000 }));
      await store.claimDue({ now: T0 + 10, limit: 1, leaseMs: LEASE_MS, workerId: WORKER });
      expect(await store.purgeExpiredIdempotencyKeys(T0 + 10 * RETENTION_MS)).toBe(0);
      const held = (await store.listCalls(TENANT_A, { limit: 10 })).map((c) => c.idempotencyKey);
      expect(held.sort()).toEqual(["later", "queued", "running"]);
    });
  });

  describe("createCalls", () => {
    it("creates many calls in order with per-call idempotency semantics", async () => {
      const { store, calls } = context();
      const held = calls.call({ idempotencyKey: "held" });
      await store.createCall(held);
      const a = calls.call();
      const b = calls.call({ idempotencyKey: "held" });
      const c = calls.call({ idempotencyKey: "fresh" });
      const d = calls.call({ idempotencyKey: "fresh" });
      const results = await store.createCalls([a, b, c, d]);
      expect(results).toStrictEqual([
        { created: true, call: queuedRecord(a) },
        { created: false, call: queuedRecord(held) },
        { created: true, call: queuedRecord(c) },
        { created: false, call: queuedRecord(c) },
      ]);
      expect(await store.createCalls([])).toEqual([]);
    });
  });

  describe("listCalls", () => {
    it("lists newest first, pages with an exclusive cursor, and respects the limit", async () => {
      const { store, calls } = context();
      const created = Array.from({ length: 7 }, () => calls.call());
      await store.createCalls(created);
      const newestFirst = ids(created).reverse();
      expect(ids(await store.listCalls(TENANT_A, { limit: 100 }))).toEqual(newestFirst);

      const pages: CallId[][] = [];
      let before: CallId | undefined;
      for (;;) {
        const page = await store.listCalls(
          TENANT_A,
          before === undefined ? { limit: 3 } : { limit: 3, before },
        );
        if (page.length === 0) break;
        pages.push(ids(page));
        before = page.at(-1)!.id;
      }
      expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
      expect(pages.flat()).toEqual(newestFirst);
      expect(await store.listCalls(TENANT_A, { limit: 2, before: newestFirst[1]! })).toStrictEqual([
        queuedRecord(created[4]!),
        queuedRecord(created[3]!),
      ]);
    });

    it("filters by status and by kind (calls by default), per tenant", async () => {
      const { store, calls } = context();
      const a = calls.call();
      const b = calls.call();
      const callback = calls.call({ kind: "callback", parentId: a.id });
      const other = calls.call({ tenantId: TENANT_B });
      await store.createCalls([a, b, callback, other]);
      const claim = await claimOne(store, a.createdAt);
      expect(claim.call.id).toBe(a.id);

      expect(ids(await store.listCalls(TENANT_A, { limit: 10 }))).toEqual([b.id, a.id]);
      expect(ids(await store.listCalls(TENANT_A, { limit: 10, kind: "call" }))).toEqual([
        b.id,
        a.id,
      ]);
      expect(ids(await store.listCalls(TENANT_A, { limit: 10, kind: "callback" }))).toEqual([
        callback.id,
      ]);
      expect(ids(await store.listCalls(TENANT_A, { limit: 10, status: "queued" }))).toEqual([b.id]);
      expect(ids(await store.listCalls(TENANT_A, { limit: 10, status: "running" }))).toEqual([
        a.id,
      ]);
      expect(await store.listCalls(TENANT_A, { limit: 10, status: "failed" })).toEqual([]);
      expect(ids(await store.listCalls(TENANT_B, { limit: 10 }))).toEqual([other.id]);
    });

    it("lists each status newest first and pages it, as calls move between statuses", async () => {
      const { store, calls } = context();
      const other = calls.call({ tenantId: TENANT_B });
      const created = Array.from({ length: 5 }, () => calls.call());
      await store.createCalls([other, ...created]);
      const now = created[3]!.createdAt;
      // Claimed in due order (oldest first): tenant B's call and the four oldest of tenant A.
      const claims = await claimAll(store, now, 5);
      const ofA = claims.filter((claim) => claim.call.tenantId === TENANT_A);
      expect(ofA).toHaveLength(4);
      await store.commitAttempt(commitOf(ofA[0]!, now + 1, succeeded(now + 1)));
      await store.commitAttempt(commitOf(ofA[1]!, now + 1, succeeded(now + 1)));
      const [c0, c1, c2, c3, c4] = created.map((call) => call.id);

      const list = async (status: CallStatus, before?: CallId): Promise<CallId[]> =>
        ids(
          await store.listCalls(
            TENANT_A,
            before === undefined ? { limit: 10, status } : { limit: 10, status, before },
          ),
        );
      expect(await list("running")).toEqual([c3, c2]);
      expect(await list("running", c3)).toEqual([c2]);
      expect(ids(await store.listCalls(TENANT_A, { limit: 1, status: "running" }))).toEqual([c3]);
      expect(await list("succeeded")).toEqual([c1, c0]);
      expect(await list("succeeded", c1)).toEqual([c0]);
      expect(await list("queued")).toEqual([c4]);
      expect(ids(await store.listCalls(TENANT_B, { limit: 10, status: "running" }))).toEqual([
        other.id,
      ]);
    });
  });
}
