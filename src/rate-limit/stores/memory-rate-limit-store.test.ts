import { describe, expect, it } from "vitest";
import { MemoryRateLimitStore } from "./memory-rate-limit-store.ts";
import { describeRateLimitStoreContract } from "./rate-limit-store-contract.test-support.ts";
import { memoryTestStore } from "./test-rate-limit-stores.test-support.ts";

describeRateLimitStoreContract(
  "MemoryRateLimitStore",
  { expiry: "purge", sharing: "instance" },
  memoryTestStore,
);

describe("MemoryRateLimitStore", () => {
  it("holds only buckets that still hold a request once purged", async () => {
    const store = new MemoryRateLimitStore();
    const step = { nowUs: 0, incrementUs: 10, capacityUs: 100 };
    await store.take("a", step);
    await store.take("b", { ...step, nowUs: 50 });
    expect(store.size).toBe(2);
    expect(await store.purgeExpired(10, 100)).toBe(1);
    expect(store.size).toBe(1);
    await store.close();
  });
});
