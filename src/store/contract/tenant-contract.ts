// Store contract: lifecycle (migrate, close) and signing secrets (API keys: api-key-contract.ts).
import { describe, expect, it } from "vitest";
import { tenantId } from "../../core/ids.ts";
import { apiKey, LEASE_MS, T0, TENANT_A, TENANT_B, WORKER } from "./fixtures.ts";
import type { GetContext } from "./store-contract.ts";

const HASH_1 = "a".repeat(64);

/** Declares the lifecycle and signing secret tests of the store contract. */
export function describeTenantContract(context: GetContext): void {
  describe("lifecycle", () => {
    it("starts empty, and migrate() is idempotent", async () => {
      const { store } = context();
      await store.migrate();
      await store.migrate();
      expect(typeof store.dialect).toBe("string");
      expect(await store.countApiKeys()).toBe(0);
      expect(await store.nextWakeAt()).toBeUndefined();
      expect(await store.listCalls(TENANT_A, { limit: 10 })).toEqual([]);
      const claims = await store.claimDue({
        now: T0,
        limit: 10,
        leaseMs: LEASE_MS,
        workerId: WORKER,
      });
      expect(claims).toEqual([]);
    });

    it("close() commits writes that were issued but not awaited", async () => {
      const { store, calls } = context();
      const first = calls.call();
      const second = calls.call();
      const writes = [
        store.createCall(first),
        store.createCall(second),
        store.addApiKey(apiKey(TENANT_A, HASH_1, T0)),
      ];
      await store.close();
      const settled = await Promise.allSettled(writes);
      expect(settled.map((s) => s.status)).toEqual(["fulfilled", "fulfilled", "fulfilled"]);
      // Used after close(): a StoreError saying so, for writes and reads alike.
      for (const after of [store.createCall(calls.call()), store.countApiKeys()]) {
        await expect(after).rejects.toMatchObject({ name: "StoreError", code: "store_closed" });
      }
    });
  });

  describe("signing secrets", () => {
    it("stores the first candidate and returns it to later callers", async () => {
      const { store } = context();
      expect(await store.ensureSigningSecret(TENANT_A, "whsec_first", T0)).toBe("whsec_first");
      expect(await store.ensureSigningSecret(TENANT_A, "whsec_second", T0 + 1)).toBe("whsec_first");
    });

    it("works for a tenant created by addApiKey, and per tenant", async () => {
      const { store } = context();
      await store.addApiKey(apiKey(TENANT_A, HASH_1, T0));
      expect(await store.ensureSigningSecret(TENANT_A, "whsec_a", T0)).toBe("whsec_a");
      expect(await store.ensureSigningSecret(TENANT_B, "whsec_b", T0)).toBe("whsec_b");
      expect(await store.ensureSigningSecret(tenantId("tenant-c"), "whsec_c", T0)).toBe("whsec_c");
      expect(await store.ensureSigningSecret(TENANT_A, "whsec_x", T0)).toBe("whsec_a");
    });

    it("lets concurrent callers agree on one secret (first writer wins)", async () => {
      const { store } = context();
      const secrets = await Promise.all(
        ["whsec_1", "whsec_2", "whsec_3", "whsec_4"].map((candidate) =>
          store.ensureSigningSecret(TENANT_A, candidate, T0),
        ),
      );
      expect(new Set(secrets).size).toBe(1);
      expect(["whsec_1", "whsec_2", "whsec_3", "whsec_4"]).toContain(secrets[0]);
    });
  });
}
