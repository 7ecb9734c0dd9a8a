// Store contract: lifecycle (migrate, close), API keys and signing secrets.
import { describe, expect, it } from "vitest";
import { isApiKeyId, tenantId, type ApiKeyId } from "../../core/ids.ts";
import type { Store } from "../../core/store.ts";
import { apiKey, LEASE_MS, T0, TENANT_A, TENANT_B, WORKER } from "./fixtures.ts";
import type { GetContext } from "./store-contract.ts";

const HASH_1 = "a".repeat(64);
const HASH_2 = "b".repeat(64);
const HASH_3 = "c".repeat(64);
const HASH_4 = "d".repeat(64);
const HASH_5 = "e".repeat(64);

/** The hash of a key stored before keys had ids (SQLite 0006, PostgreSQL 0005), for upgrade tests. */
export const LEGACY_KEY_HASH = "0123456789abcdef".repeat(4);

/**
 * Checks, on a store just migrated from a schema whose `api_keys` held `LEGACY_KEY_HASH` for
 * `TENANT_A` at `T0`, that the key still works, with an id derived from its hash, no prefix and
 * source `env` (so that STEADFAST_API_KEYS manages it).
 */
export async function expectLegacyApiKeyUpgraded(store: Store): Promise<void> {
  const key = await store.findApiKey(LEGACY_KEY_HASH);
  expect(key).toStrictEqual({
    id: "key_0123456789ABCDEF0123456789",
    tenantId: TENANT_A,
    source: "env",
    createdAt: T0,
  });
  expect(isApiKeyId(key!.id)).toBe(true);
  expect(await store.countApiKeys()).toBe(1);
  expect(await store.revokeApiKeysNotIn([], T0 + 1)).toStrictEqual([
    { ...key, revokedAt: T0 + 1, revokedBy: "env" },
  ]);
  expect(await store.findApiKey(LEGACY_KEY_HASH)).toBeUndefined();
}

/** Declares the lifecycle, API key and signing secret tests of the store contract. */
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
    });
  });

  describe("API keys", () => {
    it("stores a key by its hash and finds it, with every field, never the hash", async () => {
      const { store } = context();
      const added = await store.addApiKey(
        apiKey(TENANT_A, HASH_1, T0, { name: "billing", source: "cli" }),
      );
      const expected = {
        id: `key_${HASH_1.slice(0, 26).toUpperCase()}`,
        tenantId: TENANT_A,
        prefix: "pre_aa",
        name: "billing",
        source: "cli",
        createdAt: T0,
      };
      expect(added).toStrictEqual(expected);
      await store.addApiKey(apiKey(TENANT_A, HASH_2, T0 + 1));
      await store.addApiKey(apiKey(TENANT_B, HASH_3, T0 + 2, { source: "env" }));
      expect(await store.findApiKey(HASH_1)).toStrictEqual(expected);
      expect((await store.findApiKey(HASH_2))?.tenantId).toBe(TENANT_A);
      expect(await store.findApiKey(HASH_3)).toMatchObject({ tenantId: TENANT_B, source: "env" });
      expect(await store.findApiKey("f".repeat(64))).toBeUndefined();
      expect(await store.getApiKey(expected.id as ApiKeyId)).toStrictEqual(expected);
      expect(await store.getApiKey("key_00000000000000000000000000" as ApiKeyId)).toBeUndefined();
      expect(await store.countApiKeys()).toBe(3);
    });

    it("re-adding a tenant's own key returns the stored one unchanged (configured keys are added at every start)", async () => {
      const { store } = context();
      const first = await store.addApiKey(apiKey(TENANT_A, HASH_1, T0, { source: "env" }));
      const again = await store.addApiKey(
        apiKey(TENANT_A, HASH_1, T0 + 1_000, { id: "key_1111111111111111111111111X" as ApiKeyId }),
      );
      expect(again).toStrictEqual(first);
      expect(await store.countApiKeys()).toBe(1);
    });

    it("refuses a key already held by another tenant, keeping the owner", async () => {
      const { store } = context();
      await store.addApiKey(apiKey(TENANT_A, HASH_1, T0));
      await expect(
        store.addApiKey(apiKey(TENANT_B, HASH_1, T0 + 1, { id: "key_2" as ApiKeyId })),
      ).rejects.toThrow(/already belongs to tenant tenant-a/);
      expect((await store.findApiKey(HASH_1))?.tenantId).toBe(TENANT_A);
      expect(await store.countApiKeys()).toBe(1);
    });

    it("lists keys oldest first, per tenant, revoked ones only when asked", async () => {
      const { store } = context();
      const c = await store.addApiKey(apiKey(TENANT_A, HASH_3, T0 + 2));
      const a = await store.addApiKey(apiKey(TENANT_A, HASH_1, T0));
      const b = await store.addApiKey(apiKey(TENANT_B, HASH_2, T0 + 1));
      const revoked = await store.revokeApiKey(a.id, T0 + 5);
      expect(await store.listApiKeys({})).toStrictEqual([b, c]);
      expect(await store.listApiKeys({ includeRevoked: true })).toStrictEqual([revoked, b, c]);
      expect(await store.listApiKeys({ tenantId: TENANT_A })).toStrictEqual([c]);
      expect(await store.listApiKeys({ tenantId: TENANT_A, includeRevoked: true })).toStrictEqual([
        revoked,
        c,
      ]);
      expect(await store.listApiKeys({ tenantId: tenantId("nobody") })).toStrictEqual([]);
    });

    it("revokes a key for good (by operator): not found, not counted, kept with its first revocation time", async () => {
      const { store } = context();
      const key = await store.addApiKey(apiKey(TENANT_A, HASH_1, T0, { source: "env" }));
      await store.addApiKey(apiKey(TENANT_A, HASH_2, T0));
      const revoked = { ...key, revokedAt: T0 + 10, revokedBy: "operator" };
      expect(await store.revokeApiKey(key.id, T0 + 10)).toStrictEqual(revoked);
      expect(await store.findApiKey(HASH_1)).toBeUndefined();
      expect(await store.countApiKeys()).toBe(1);
      expect(await store.revokeApiKey(key.id, T0 + 20)).toStrictEqual(revoked);
      expect(await store.getApiKey(key.id)).toStrictEqual(revoked);
      // Listed again (STEADFAST_API_KEYS): it comes back revoked, and stays refused.
      expect(
        await store.addApiKey(apiKey(TENANT_A, HASH_1, T0 + 30, { source: "env" })),
      ).toStrictEqual(revoked);
      expect(await store.findApiKey(HASH_1)).toBeUndefined();
      expect(
        await store.revokeApiKey("key_00000000000000000000000000" as ApiKeyId, T0),
      ).toBeUndefined();
    });

    it("revokes (by env) the active env keys a list no longer names, and only those", async () => {
      const { store } = context();
      const kept = await store.addApiKey(apiKey(TENANT_A, HASH_1, T0, { source: "env" }));
      const dropped = await store.addApiKey(apiKey(TENANT_B, HASH_2, T0 + 1, { source: "env" }));
      const generated = await store.addApiKey(
        apiKey(TENANT_A, HASH_3, T0 + 2, { source: "generated" }),
      );
      const created = await store.addApiKey(apiKey(TENANT_A, HASH_4, T0 + 3, { source: "api" }));
      const gone = await store.addApiKey(apiKey(TENANT_A, HASH_5, T0 + 4, { source: "env" }));
      await store.revokeApiKey(gone.id, T0 + 5);

      expect(await store.revokeApiKeysNotIn([HASH_1, HASH_3], T0 + 10)).toStrictEqual([
        { ...dropped, revokedAt: T0 + 10, revokedBy: "env" },
      ]);
      expect(await store.listApiKeys({})).toStrictEqual([kept, generated, created]);
      expect(await store.revokeApiKeysNotIn([HASH_1], T0 + 20)).toStrictEqual([]);
      expect((await store.revokeApiKeysNotIn([], T0 + 30)).map((k) => k.id)).toEqual([kept.id]);
      expect(await store.listApiKeys({})).toStrictEqual([generated, created]);
    });

    it("restores an env key revoked by env when it is listed again, never one an operator revoked", async () => {
      const { store } = context();
      const key = await store.addApiKey(apiKey(TENANT_A, HASH_1, T0, { source: "env" }));
      await store.revokeApiKeysNotIn([], T0 + 10);
      // Added again as something else than an env key: still revoked.
      expect(await store.addApiKey(apiKey(TENANT_A, HASH_1, T0 + 15))).toStrictEqual({
        ...key,
        revokedAt: T0 + 10,
        revokedBy: "env",
      });
      expect(
        await store.addApiKey(apiKey(TENANT_A, HASH_1, T0 + 20, { source: "env" })),
      ).toStrictEqual(key);
      expect(await store.findApiKey(HASH_1)).toStrictEqual(key);

      // An operator's revocation of a key env had revoked is final.
      await store.revokeApiKeysNotIn([], T0 + 30);
      expect(await store.revokeApiKey(key.id, T0 + 40)).toStrictEqual({
        ...key,
        revokedAt: T0 + 30,
        revokedBy: "operator",
      });
      await store.addApiKey(apiKey(TENANT_A, HASH_1, T0 + 50, { source: "env" }));
      expect(await store.findApiKey(HASH_1)).toBeUndefined();
    });

    it("records the last use, never moving it back", async () => {
      const { store } = context();
      const key = await store.addApiKey(apiKey(TENANT_A, HASH_1, T0));
      expect(key.lastUsedAt).toBeUndefined();
      await store.touchApiKey(key.id, T0 + 60_000);
      expect((await store.findApiKey(HASH_1))?.lastUsedAt).toBe(T0 + 60_000);
      await store.touchApiKey(key.id, T0 + 1_000);
      expect((await store.getApiKey(key.id))?.lastUsedAt).toBe(T0 + 60_000);
      await store.touchApiKey(key.id, T0 + 120_000);
      expect((await store.getApiKey(key.id))?.lastUsedAt).toBe(T0 + 120_000);
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
