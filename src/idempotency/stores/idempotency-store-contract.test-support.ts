// The contract every IdempotencyStore passes (issue 13), run against SQLite, PostgreSQL and Redis:
// the compare-and-set itself, and the ledger's transitions on it (the race of 50 concurrent
// claims, lease expiry and fencing, release, mismatch, retention). Time is a FakeClock; each
// ledger draws its tokens from its own seeded random.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeClock } from "../../testing/fake-clock.ts";
import { SeededRandom } from "../../testing/seeded-random.ts";
import type { Fingerprint } from "../../exchange/request-fingerprint.ts";
import type { IdempotencyStore, VersionedRecord } from "../idempotency-store.ts";
import { IdempotencyLedger, type LedgerTimes } from "../record-ledger.ts";
import type { CompletedRecord, InFlightRecord } from "../record-state.ts";
import type { StoredResponse } from "../stored-response.ts";

/** A store under test and how to dispose of it. */
export interface IdempotencyStoreUnderTest {
  /** A store on an empty database (table created). */
  store: IdempotencyStore;
  /** Closes the store if still open and removes its data. */
  cleanup: () => Promise<void>;
}

/**
 * How a store's expired records go: `"purge"` (`purgeExpired` deletes them: SQLite, PostgreSQL)
 * or `"ttl"` (the database expires them itself, on its own clock: Redis).
 */
export type StoreExpiry = "purge" | "ttl";

const TIMES: LedgerTimes = { leaseMs: 60_000, retentionMs: 86_400_000 };
const FP_A: Fingerprint = { algorithm: "sha256-jcs-v1", digest: "a".repeat(64) };
const FP_B: Fingerprint = { algorithm: "sha256-jcs-v1", digest: "b".repeat(64) };
const SCOPE = "5".repeat(64);
const RESPONSE: StoredResponse = {
  status: 201,
  headers: [
    ["content-type", "application/json"],
    ["location", "/orders/42"],
  ],
  body: new Uint8Array([0x7b, 0x7d, 0x00, 0xff, 0xfe]),
};

/**
 * Declares the `IdempotencyStore` contract for the stores `makeStore` makes: a fresh store for
 * each test.
 *
 * @example describeIdempotencyStoreContract("SqliteIdempotencyStore", "purge", async () => ({ store, cleanup }));
 */
export function describeIdempotencyStoreContract(
  name: string,
  expiry: StoreExpiry,
  makeStore: () => Promise<IdempotencyStoreUnderTest>,
): void {
  describe(`IdempotencyStore contract: ${name}`, () => {
    let current: IdempotencyStoreUnderTest;
    let clock: FakeClock;
    let seed = 0;
    const ledger = (times: LedgerTimes = TIMES): IdempotencyLedger =>
      new IdempotencyLedger(current.store, clock, new SeededRandom(++seed), times);

    beforeEach(async () => {
      current = await makeStore();
      clock = new FakeClock();
    });
    afterEach(async () => {
      await current.cleanup();
    });

    describe("compareAndSet", () => {
      const inFlight = (token: string): InFlightRecord => ({
        state: "in-flight",
        fingerprint: FP_A,
        leaseToken: token,
        claimedAt: clock.now(),
        leaseExpiresAt: clock.now() + 60_000,
        purgeAt: clock.now() + 120_000,
      });
      const completed = (): CompletedRecord => ({
        state: "completed",
        fingerprint: FP_B,
        completedAt: clock.now(),
        response: RESPONSE,
        purgeAt: clock.now() + 86_400_000,
      });
      const at = (record: VersionedRecord["record"], version: string): VersionedRecord => ({
        record,
        version,
      });

      it("reads nothing for an unknown scope", async () => {
        expect(await current.store.read(SCOPE)).toBeUndefined();
      });

      it("creates only where there is no record, and only once", async () => {
        const { store } = current;
        const now = clock.now();
        expect(await store.compareAndSet(SCOPE, undefined, at(inFlight("t1"), "v1"), now)).toBe(
          true,
        );
        expect(await store.compareAndSet(SCOPE, undefined, at(inFlight("t2"), "v2"), now)).toBe(
          false,
        );
        expect(await store.read(SCOPE)).toEqual(at(inFlight("t1"), "v1"));
      });

      it("replaces and deletes only at the expected version", async () => {
        const { store } = current;
        const now = clock.now();
        await store.compareAndSet(SCOPE, undefined, at(inFlight("t1"), "v1"), now);
        expect(await store.compareAndSet(SCOPE, "v0", at(completed(), "v2"), now)).toBe(false);
        expect(await store.compareAndSet(SCOPE, "v1", at(completed(), "v2"), now)).toBe(true);
        expect(await store.read(SCOPE)).toEqual(at(completed(), "v2"));
        expect(await store.compareAndSet(SCOPE, "v1", undefined, now)).toBe(false);
        expect(await store.compareAndSet(SCOPE, "v2", undefined, now)).toBe(true);
        expect(await store.read(SCOPE)).toBeUndefined();
        expect(await store.compareAndSet(SCOPE, "v2", at(inFlight("t3"), "v3"), now)).toBe(false);
      });

      it("keeps a stored response's status, headers and bytes as they were", async () => {
        const { store } = current;
        const empty = {
          ...completed(),
          response: { status: 204, headers: [], body: new Uint8Array() },
        };
        await store.compareAndSet(SCOPE, undefined, at(completed(), "v1"), clock.now());
        await store.compareAndSet("6".repeat(64), undefined, at(empty, "v1"), clock.now());
        expect((await store.read(SCOPE))?.record).toEqual(completed());
        expect((await store.read("6".repeat(64)))?.record).toEqual(empty);
      });

      it("keeps scopes apart", async () => {
        const { store } = current;
        await store.compareAndSet(SCOPE, undefined, at(inFlight("t1"), "v1"), clock.now());
        expect(await store.read("7".repeat(64))).toBeUndefined();
      });

      it("claims in one operation only where there is no live record (claimIfAbsent)", async () => {
        const { store } = current;
        if (store.claimIfAbsent === undefined) return; // optional: the ledger reads and sets
        const now = clock.now();
        expect(await store.claimIfAbsent(SCOPE, at(inFlight("t1"), "v1"), now)).toBeUndefined();
        expect(await store.claimIfAbsent(SCOPE, at(inFlight("t2"), "v2"), now)).toEqual(
          at(inFlight("t1"), "v1"),
        );
        expect(await store.read(SCOPE)).toEqual(at(inFlight("t1"), "v1"));
        if (expiry === "ttl") return; // the database expires records on its own clock
        // Past its purgeAt, a record counts as absent: the claim takes its place.
        await clock.advance(120_000);
        expect(
          await store.claimIfAbsent(SCOPE, at(inFlight("t3"), "v3"), clock.now()),
        ).toBeUndefined();
        expect(await store.read(SCOPE)).toEqual(at(inFlight("t3"), "v3"));
      });
    });

    describe("the ledger on this store", () => {
      it("of 50 concurrent claims of one key, exactly one wins; the others see it in flight", async () => {
        const ledgers = Array.from({ length: 50 }, () => ledger());
        const outcomes = await Promise.all(ledgers.map((l) => l.claim(SCOPE, FP_A)));
        const won = outcomes.filter((o) => o.outcome === "claimed");
        expect(won).toHaveLength(1);
        expect(outcomes.filter((o) => o.outcome === "in-flight")).toHaveLength(49);
        const stored = await current.store.read(SCOPE);
        expect(stored?.record).toMatchObject({
          state: "in-flight",
          leaseToken: won[0]!.leaseToken,
        });
      });

      it("of 50 concurrent claims of a key whose lease ran out, exactly one takes it over", async () => {
        const first = await ledger().claim(SCOPE, FP_A);
        await clock.advance(TIMES.leaseMs);
        const outcomes = await Promise.all(
          Array.from({ length: 50 }, () => ledger().claim(SCOPE, FP_A)),
        );
        expect(outcomes.filter((o) => o.outcome === "claimed")).toHaveLength(1);
        expect(outcomes.filter((o) => o.outcome === "in-flight")).toHaveLength(49);
        expect(first.outcome).toBe("claimed");
      });

      it("replays a completed request and refuses its key to another request", async () => {
        const l = ledger();
        const claim = await l.claim(SCOPE, FP_A);
        expect(claim.outcome).toBe("claimed");
        if (claim.outcome !== "claimed") return;
        expect(await ledger().claim(SCOPE, FP_B)).toEqual({
          outcome: "mismatch",
          state: "in-flight",
        });
        expect(await l.complete(SCOPE, claim.leaseToken, RESPONSE)).toBe(true);
        const replay = await ledger().claim(SCOPE, FP_A);
        expect(replay.outcome === "replay" && replay.record.response).toEqual(RESPONSE);
        expect(await ledger().claim(SCOPE, FP_B)).toEqual({
          outcome: "mismatch",
          state: "completed",
        });
      });

      it("makes a key claimable again when its lease runs out, and fences the old holder", async () => {
        const old = ledger();
        const first = await old.claim(SCOPE, FP_A);
        await clock.advance(TIMES.leaseMs - 1);
        expect((await ledger().claim(SCOPE, FP_A)).outcome).toBe("in-flight");
        await clock.advance(1);
        const fresh = ledger();
        const second = await fresh.claim(SCOPE, FP_A);
        expect(second.outcome).toBe("claimed");
        if (first.outcome !== "claimed" || second.outcome !== "claimed") return;
        expect(second.leaseToken).not.toBe(first.leaseToken);
        // The old holder woke up: none of its writes lands.
        expect(await old.extend(SCOPE, first.leaseToken)).toBe(false);
        expect(await old.complete(SCOPE, first.leaseToken, RESPONSE)).toBe(false);
        expect(await old.release(SCOPE, first.leaseToken)).toBe(false);
        expect(await fresh.complete(SCOPE, second.leaseToken, RESPONSE)).toBe(true);
      });

      it("keeps a lease that is extended while its request runs", async () => {
        const l = ledger();
        const claim = await l.claim(SCOPE, FP_A);
        if (claim.outcome !== "claimed") throw new Error("not claimed");
        for (let i = 0; i < 5; i++) {
          await clock.advance(TIMES.leaseMs / 2);
          expect(await l.extend(SCOPE, claim.leaseToken)).toBe(true);
        }
        await clock.advance(TIMES.leaseMs - 1);
        expect((await ledger().claim(SCOPE, FP_A)).outcome).toBe("in-flight");
      });

      it("frees a released key for the next request, whatever its payload", async () => {
        const l = ledger();
        const claim = await l.claim(SCOPE, FP_A);
        if (claim.outcome !== "claimed") throw new Error("not claimed");
        expect(await l.release(SCOPE, claim.leaseToken)).toBe(true);
        expect(await current.store.read(SCOPE)).toBeUndefined();
        expect((await ledger().claim(SCOPE, FP_B)).outcome).toBe("claimed");
      });

      it("forgets a record once its retention is over, and keeps the others", async () => {
        const l = ledger();
        const other = "8".repeat(64);
        const claim = await l.claim(SCOPE, FP_A);
        if (claim.outcome !== "claimed") throw new Error("not claimed");
        await l.complete(SCOPE, claim.leaseToken, RESPONSE);
        await clock.advance(1_000);
        const later = await l.claim(other, FP_A);
        if (later.outcome !== "claimed") throw new Error("not claimed");
        await l.complete(other, later.leaseToken, RESPONSE);
        await clock.advance(TIMES.retentionMs - 1_000 - 1);
        expect(await current.store.purgeExpired(clock.now(), 100)).toBe(0);
        expect((await ledger().claim(SCOPE, FP_A)).outcome).toBe("replay");
        await clock.advance(1);
        const purged = await current.store.purgeExpired(clock.now(), 100);
        if (expiry === "purge") {
          expect(purged).toBe(1);
          expect(await current.store.read(SCOPE)).toBeUndefined();
        }
        expect((await ledger().claim(other, FP_A)).outcome).toBe("replay");
        // Past its retention the key is free, even for another request.
        expect((await ledger().claim(SCOPE, FP_B)).outcome).toBe("claimed");
      });

      // A store that expires records itself has no batches to count.
      if (expiry === "purge") {
        it("purges at most `limit` records a call", async () => {
          const l = ledger();
          for (let i = 0; i < 5; i++) await l.claim(String(i).repeat(64), FP_A);
          await clock.advance(TIMES.leaseMs + TIMES.retentionMs);
          expect(await current.store.purgeExpired(clock.now(), 3)).toBe(3);
          expect(await current.store.purgeExpired(clock.now(), 3)).toBe(2);
        });
      }
    });
  });
}
