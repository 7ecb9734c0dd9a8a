// Store contract: API keys (issue 10, item 4): add, find, list, revoke (with the guard of the
// last operator key), env-managed keys, last use.
import { describe, expect, it } from "vitest";
import type { ApiKeyRecord } from "../../core/api-key.ts";
import { isApiKeyId, tenantId, type ApiKeyId } from "../../core/ids.ts";
import type { RevokeApiKeyResult, Store } from "../../core/store.ts";
import { apiKey, T0, TENANT_A, TENANT_B } from "./fixtures.ts";
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

/** Declares the API key tests of the store contract. */
export function describeApiKeyContract(context: GetContext): void {
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
      await expect(
        store.addApiKey(apiKey(TENANT_B, HASH_1, T0 + 1, { id: "key_2" as ApiKeyId })),
      ).rejects.toMatchObject({ name: "StoreError", code: "api_key_conflict" });
      expect((await store.findApiKey(HASH_1))?.tenantId).toBe(TENANT_A);
      expect(await store.countApiKeys()).toBe(1);
    });

    it("lists keys oldest first, per tenant, revoked ones only when asked", async () => {
      const { store } = context();
      const c = await store.addApiKey(apiKey(TENANT_A, HASH_3, T0 + 2));
      const a = await store.addApiKey(apiKey(TENANT_A, HASH_1, T0));
      const b = await store.addApiKey(apiKey(TENANT_B, HASH_2, T0 + 1));
      const revoked = revokedKey(await store.revokeApiKey(a.id, T0 + 5));
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
      expect(await store.revokeApiKey(key.id, T0 + 10)).toStrictEqual({
        type: "revoked",
        key: revoked,
      });
      expect(await store.findApiKey(HASH_1)).toBeUndefined();
      expect(await store.countApiKeys()).toBe(1);
      expect(revokedKey(await store.revokeApiKey(key.id, T0 + 20))).toStrictEqual(revoked);
      expect(await store.getApiKey(key.id)).toStrictEqual(revoked);
      // Listed again (STEADFAST_API_KEYS): it comes back revoked, and stays refused.
      expect(
        await store.addApiKey(apiKey(TENANT_A, HASH_1, T0 + 30, { source: "env" })),
      ).toStrictEqual(revoked);
      expect(await store.findApiKey(HASH_1)).toBeUndefined();
      expect(
        await store.revokeApiKey("key_00000000000000000000000000" as ApiKeyId, T0),
      ).toStrictEqual({ type: "not_found" });
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
      expect(revokedKey(await store.revokeApiKey(key.id, T0 + 40))).toStrictEqual({
        ...key,
        revokedAt: T0 + 30,
        revokedBy: "operator",
      });
      await store.addApiKey(apiKey(TENANT_A, HASH_1, T0 + 50, { source: "env" }));
      expect(await store.findApiKey(HASH_1)).toBeUndefined();
    });

    it("keeps one active key of the kept tenants: refuses to revoke the last, revokes any other", async () => {
      const { store } = context();
      const keepA = { keepOneOf: [TENANT_A] };
      const first = await store.addApiKey(apiKey(TENANT_A, HASH_1, T0, { source: "env" }));
      const second = await store.addApiKey(apiKey(TENANT_A, HASH_2, T0 + 1));
      const other = await store.addApiKey(apiKey(TENANT_B, HASH_3, T0 + 2));
      // Not a kept tenant's key: revoked whatever else exists.
      expect(revokedKey(await store.revokeApiKey(other.id, T0 + 10, keepA)).id).toBe(other.id);
      expect(revokedKey(await store.revokeApiKey(first.id, T0 + 11, keepA)).revokedAt).toBe(
        T0 + 11,
      );
      expect(await store.revokeApiKey(second.id, T0 + 12, keepA)).toStrictEqual({
        type: "last_operator_key",
        key: second,
      });
      expect(await store.findApiKey(HASH_2)).toStrictEqual(second);
      // A key revoked already is not the last active one: revoking it again changes nothing.
      expect(revokedKey(await store.revokeApiKey(first.id, T0 + 13, keepA)).revokedAt).toBe(
        T0 + 11,
      );
      expect(
        await store.revokeApiKey("key_00000000000000000000000000" as ApiKeyId, T0, keepA),
      ).toStrictEqual({ type: "not_found" });
      // `any`: one active key of any tenant remains.
      expect((await store.revokeApiKey(second.id, T0 + 14, { keepOneOf: "any" })).type).toBe(
        "last_operator_key",
      );
      const last = await store.addApiKey(apiKey(TENANT_B, HASH_4, T0 + 15));
      expect((await store.revokeApiKey(second.id, T0 + 16, { keepOneOf: "any" })).type).toBe(
        "revoked",
      );
      // No tenant kept: even the last active key is revoked.
      expect((await store.revokeApiKey(last.id, T0 + 17, { keepOneOf: [] })).type).toBe("revoked");
      expect(await store.countApiKeys()).toBe(0);
    });

    it("never revokes the last operator keys at once, however many revocations race", async () => {
      const { store } = context();
      const ops = tenantId("ops");
      const hashes = ["1", "2", "3", "4", "5", "6", "7", "8"].map((d) => d.repeat(64));
      const keys = [];
      for (const [i, hash] of hashes.entries())
        keys.push(await store.addApiKey(apiKey(ops, hash, T0 + i)));
      await store.addApiKey(apiKey(TENANT_B, HASH_1, T0));
      // Every revocation at once: on PostgreSQL each runs on its own pooled connection, as in
      // as many processes.
      const results = await Promise.all(
        keys.map((key) => store.revokeApiKey(key.id, T0 + 100, { keepOneOf: [ops] })),
      );
      expect(results.filter((r) => r.type === "revoked")).toHaveLength(keys.length - 1);
      expect(results.filter((r) => r.type === "last_operator_key")).toHaveLength(1);
      expect(await store.listApiKeys({ tenantId: ops })).toHaveLength(1);
    });

    it("adopts as generated only a key stored before keys had sources (never one added since)", async () => {
      const { store } = context();
      // Every key added through the port has a prefix: none is a pre-upgrade key. The upgrade
      // tests (src/store/*/api-key-upgrade.test.ts) adopt one made by the old schema.
      const env = await store.addApiKey(apiKey(TENANT_A, HASH_1, T0, { source: "env" }));
      expect(await store.adoptGeneratedApiKey(HASH_1, "sf_abcde")).toBeUndefined();
      expect(await store.adoptGeneratedApiKey(HASH_2, "sf_abcde")).toBeUndefined();
      expect(await store.getApiKey(env.id)).toStrictEqual(env);
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
}

/** The key of a `revoked` result; fails the test for any other. */
function revokedKey(result: RevokeApiKeyResult): ApiKeyRecord {
  if (result.type !== "revoked") throw new Error(`expected revoked, got ${JSON.stringify(result)}`);
  return result.key;
}
