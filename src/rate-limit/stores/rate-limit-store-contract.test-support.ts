// The contract every RateLimitStore passes (issue 13), run against the in-memory, SQLite,
// PostgreSQL and Redis stores: GCRA steps answered exactly at the edges, refill over fake time,
// 100 concurrent requests against a limit of 10 letting exactly 10 through, independent keys,
// two stores on one database sharing the limit, and the purge. Time is a FakeClock.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isSteadfastError } from "../../core/errors.ts";
import { FakeClock } from "../../testing/fake-clock.ts";
import { gcraTake, type GcraStep } from "../gcra.ts";
import { createQuota, type Quota } from "../quota.ts";
import type { QuotaOptions } from "../rate-limit-options.ts";
import type { RateLimitStore } from "../rate-limit-store.ts";
import { MemoryRateLimitStore } from "./memory-rate-limit-store.ts";
import type { RateLimitTestStore } from "./test-rate-limit-stores.test-support.ts";

/**
 * How a store's full buckets go: `"purge"` (`purgeExpired` deletes them: memory, SQLite,
 * PostgreSQL) or `"ttl"` (the database expires them itself: Redis).
 */
export type BucketExpiry = "purge" | "ttl";

/**
 * Who sees a store's buckets: `"shared"` (every store opened on the same database: SQLite,
 * PostgreSQL, Redis) or `"instance"` (the store object alone: memory).
 */
export type BucketSharing = "shared" | "instance";

const NOW_US = 1_700_000_000_000_000;
// 10 per second, all at once: 100 ms per request.
const STEP: GcraStep = { nowUs: NOW_US, incrementUs: 100_000, capacityUs: 1_000_000 };
const at = (nowUs: number): GcraStep => ({ ...STEP, nowUs });

/**
 * Declares the `RateLimitStore` contract for the stores `makeStore` makes: a fresh one (on empty
 * data) for each test.
 *
 * @example describeRateLimitStoreContract("SqliteRateLimitStore", { expiry: "purge", sharing: "shared" }, sqliteTestStore);
 */
export function describeRateLimitStoreContract(
  name: string,
  { expiry, sharing }: { expiry: BucketExpiry; sharing: BucketSharing },
  makeStore: () => Promise<RateLimitTestStore>,
): void {
  describe(`RateLimitStore contract: ${name}`, () => {
    let current: RateLimitTestStore;
    let clock: FakeClock;
    const quotas: Quota[] = [];
    const quota = async (
      options: Partial<QuotaOptions> = {},
      store: RateLimitStore = current.store,
    ): Promise<Quota> => {
      const made = await createQuota({
        store,
        limit: 10,
        window: "1s",
        clock,
        purgeIntervalMs: 0,
        ...options,
      });
      quotas.push(made);
      return made;
    };
    const allowedOf = async (q: Quota, key: string, count: number): Promise<number> => {
      let allowed = 0;
      for (let i = 0; i < count; i++) if ((await q.check(key)).allowed) allowed++;
      return allowed;
    };

    beforeEach(async () => {
      current = await makeStore();
      clock = new FakeClock();
    });
    afterEach(async () => {
      for (const q of quotas.splice(0)) await q.close();
      await current.cleanup();
    });

    describe("take", () => {
      it("answers each step as gcraTake does, to the microsecond at the edge", async () => {
        const { store } = current;
        let tat: number | undefined;
        const steps = [
          ...Array.from({ length: 11 }, () => STEP),
          at(NOW_US + 99_999), // one microsecond short of the next request's room
          at(NOW_US + 100_000), // exactly at it
          at(NOW_US + 100_000),
          at(NOW_US + 5_000_000), // long idle: full again
        ];
        const answers: [boolean, number][] = [];
        for (const step of steps) {
          const expected = gcraTake(tat, step);
          const outcome = await store.take("b", step);
          expect(outcome).toEqual(expected);
          if (outcome.allowed) tat = outcome.tatUs;
          answers.push([outcome.allowed, outcome.tatUs - NOW_US]);
        }
        expect(answers).toEqual([
          ...Array.from({ length: 10 }, (_, i): [boolean, number] => [true, (i + 1) * 100_000]),
          [false, 1_000_000],
          [false, 1_000_000],
          [true, 1_100_000],
          [false, 1_100_000],
          [true, 5_100_000],
        ]);
      });

      it("reads a TAT left far ahead (a clock stepped back, a smaller burst) as an empty bucket", async () => {
        const { store } = current;
        // A burst of 100 at 10 a second leaves the TAT 10 s ahead...
        const wide = { ...STEP, capacityUs: 10_000_000 };
        for (let i = 0; i < 100; i++) await store.take("b", wide);
        // ...which a burst of 10 would never have: it waits one increment, not 9 s more.
        expect(await store.take("b", STEP)).toEqual({
          allowed: false,
          tatUs: NOW_US + 1_000_000,
        });
        expect(await store.take("b", at(NOW_US + 100_000))).toEqual({
          allowed: true,
          tatUs: NOW_US + 1_100_000,
        });
      });

      it("keeps buckets apart", async () => {
        const { store } = current;
        for (let i = 0; i < 10; i++) await store.take("a", STEP);
        expect((await store.take("a", STEP)).allowed).toBe(false);
        expect(await store.take("b", STEP)).toEqual({ allowed: true, tatUs: NOW_US + 100_000 });
      });

      it("refuses a step larger than the capacity without storing anything", async () => {
        const step = { ...STEP, incrementUs: 2_000_000 };
        expect(await current.store.take("big", step)).toEqual({ allowed: false, tatUs: NOW_US });
        expect(await current.store.take("big", STEP)).toEqual({
          allowed: true,
          tatUs: NOW_US + 100_000,
        });
      });
    });

    describe("through createQuota on a fake clock", () => {
      it("allows exactly the burst, then tells when to come back", async () => {
        const q = await quota();
        const decisions = [];
        for (let i = 0; i < 11; i++) decisions.push(await q.check("k"));
        expect(decisions.map((d) => [d.allowed, d.remaining, d.resetSeconds])).toEqual([
          ...Array.from({ length: 10 }, (_, i) => [true, 9 - i, 1]),
          [false, 0, 1],
        ]);
        expect(decisions[10]!.retryAfterSeconds).toBe(1);
        expect(decisions[10]!.headers).toEqual({
          "ratelimit-policy": '"default";q=10;w=1',
          ratelimit: '"default";r=0;t=1',
          "retry-after": "1",
        });
      });

      it("refills over fake time: one request per increment, the burst after a full window", async () => {
        const q = await quota();
        expect(await allowedOf(q, "k", 12)).toBe(10);
        await clock.advance(99);
        expect((await q.check("k")).allowed).toBe(false);
        await clock.advance(1);
        expect(await allowedOf(q, "k", 3)).toBe(1);
        await clock.advance(350);
        expect(await allowedOf(q, "k", 5)).toBe(3);
        await clock.advance(60_000);
        expect(await allowedOf(q, "k", 15)).toBe(10);
      });

      it("counts rates that milliseconds cannot hold exactly (7 per minute)", async () => {
        const q = await quota({ limit: 7, window: "1m" });
        expect(await allowedOf(q, "k", 7)).toBe(7);
        const refused = await q.check("k");
        // 60 s / 7 = 8.571429 s per request, rounded up to whole seconds for the client.
        expect([refused.allowed, refused.retryAfterSeconds]).toEqual([false, 9]);
        await clock.advance(8_571);
        expect((await q.check("k")).allowed).toBe(false);
        await clock.advance(1);
        expect((await q.check("k")).allowed).toBe(true);
      });

      it("lets exactly 10 of 100 concurrent requests through against a limit of 10", async () => {
        const q = await quota();
        const decisions = await Promise.all(Array.from({ length: 100 }, () => q.check("hot")));
        expect(decisions.filter((d) => d.allowed)).toHaveLength(10);
        expect(new Set(decisions.filter((d) => d.allowed).map((d) => d.remaining))).toEqual(
          new Set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
        );
      });

      it("keeps keys independent", async () => {
        const q = await quota({ limit: 3 });
        expect(await allowedOf(q, "alice", 5)).toBe(3);
        expect(await allowedOf(q, "bob", 5)).toBe(3);
        expect(await allowedOf(q, "alice", 1)).toBe(0);
      });

      it("keeps two policies on one store apart, even for the same key", async () => {
        const perSecond = await quota({ name: "per-second", limit: 2 });
        const perMinute = await quota({ name: "per-minute", limit: 5, window: "1m" });
        expect(await allowedOf(perSecond, "k", 4)).toBe(2);
        expect(await allowedOf(perMinute, "k", 8)).toBe(5);
      });

      if (expiry === "purge") {
        it("purges buckets once they are full again, in batches", async () => {
          const q = await quota();
          for (const key of ["a", "b", "c"]) await q.check(key);
          await clock.advance(50);
          await q.check("d"); // still holding a request at the purge below
          const nowUs = clock.now() * 1_000 + 60_000; // past a, b and c, not d
          expect(await current.store.purgeExpired(nowUs, 2)).toBe(2);
          expect(await current.store.purgeExpired(nowUs, 2)).toBe(1);
          expect(await current.store.purgeExpired(nowUs, 2)).toBe(0);
          // "d" was kept: it still holds its request.
          expect((await q.check("d")).remaining).toBe(8);
        });
      } else {
        it("has nothing to purge: the database expires buckets itself", async () => {
          const q = await quota();
          await q.check("a");
          expect(await current.store.purgeExpired(clock.now() * 1_000 + 10_000_000, 10)).toBe(0);
        });
      }
    });

    if (sharing === "shared") {
      it("shares a limit between two stores on one database (two processes)", async () => {
        const one = await quota();
        const two = await quota({}, await current.openTwin!());
        const decisions = await Promise.all(
          Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? one : two).check("shared")),
        );
        expect(decisions.filter((d) => d.allowed)).toHaveLength(10);
        await clock.advance(200);
        expect(await allowedOf(two, "shared", 1)).toBe(1);
        expect(await allowedOf(one, "shared", 2)).toBe(1);
      });
    } else {
      it("keeps its buckets to itself: another instance (process) has its own", async () => {
        const own = new MemoryRateLimitStore();
        const one = await quota();
        const other = await quota({}, own);
        expect(await allowedOf(one, "k", 12)).toBe(10);
        expect(await allowedOf(other, "k", 12)).toBe(10);
        await own.close();
      });
    }

    it("rejects steps after close with store_closed", async () => {
      await current.store.close();
      const error: unknown = await current.store.take("b", STEP).catch((e: unknown) => e);
      expect(isSteadfastError(error) && error.code).toBe("store_closed");
    });
  });
}
