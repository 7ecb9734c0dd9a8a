import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { InvalidOptionError, isSteadfastError } from "../core/errors.ts";
import { tenantId } from "../core/ids.ts";
import { SqliteStore } from "../store/sqlite/sqlite-store.ts";
import { FakeClock } from "../testing/fake-clock.ts";
import { SeededRandom } from "../testing/seeded-random.ts";
import {
  ApiKeysService,
  generateApiKey,
  LAST_USED_INTERVAL_MS,
  MAX_AUTH_CACHE_TTL_MS,
} from "./api-keys-service.ts";
import { hashApiKey } from "./fingerprint.ts";

const ACME = tenantId("acme");
const OPS = tenantId("ops");

let store: SqliteStore;
let clock: FakeClock;
let keys: ApiKeysService;
beforeEach(async () => {
  store = SqliteStore.open({ path: ":memory:" });
  await store.migrate();
  clock = new FakeClock(1_700_000_000_000);
  keys = new ApiKeysService({ store, clock, random: new SeededRandom(4) });
});
afterEach(async () => {
  await store.close();
});

async function failure(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (isSteadfastError(error)) return error;
    throw error;
  }
  throw new Error("expected a SteadfastError");
}

describe("generateApiKey", () => {
  it("is sf_ and 43 base64url characters (32 bytes), different each time", () => {
    const random = new SeededRandom(1);
    const a = generateApiKey(random);
    expect(a).toMatch(/^sf_[A-Za-z0-9_-]{43}$/);
    expect(generateApiKey(random)).not.toBe(a);
  });
});

describe("ApiKeysService", () => {
  it("creates a key shown once, stored by its hash with an id, a prefix, a name and a source", async () => {
    const { key, record } = await keys.create({ tenantId: ACME, name: "billing", source: "cli" });
    expect(record).toStrictEqual({
      id: expect.stringMatching(/^key_[0-9A-HJKMNP-TV-Z]{26}$/) as string,
      tenantId: ACME,
      prefix: key.slice(0, 8),
      name: "billing",
      source: "cli",
      createdAt: clock.now(),
    });
    expect(await store.findApiKey(hashApiKey(key))).toStrictEqual(record);
    expect(await keys.authenticate(key)).toBe(ACME);
    expect(await keys.authenticate(`${key}x`)).toBeUndefined();
  });

  it("trusts a checked key for authCacheTtlMs: a key revoked by another process is refused once that has passed", async () => {
    const { key, record } = await keys.create({ tenantId: ACME });
    await keys.create({ tenantId: ACME });
    expect(await keys.authenticate(key)).toBe(ACME);
    // Another process (its own service on the same database) revokes the key.
    const elsewhere = new ApiKeysService({ store, clock, random: new SeededRandom(5) });
    await elsewhere.revoke(record.id);
    expect(await elsewhere.authenticate(key)).toBeUndefined();
    await clock.advance(4_999);
    expect(await keys.authenticate(key)).toBe(ACME);
    await clock.advance(1);
    expect(await keys.authenticate(key)).toBeUndefined();
  });

  it("refuses a key it revoked itself at once, and asks the store every time with a TTL of 0", async () => {
    const uncached = new ApiKeysService({
      store,
      clock,
      random: new SeededRandom(6),
      authCacheTtlMs: 0,
    });
    const { key, record } = await keys.create({ tenantId: ACME });
    await keys.create({ tenantId: ACME });
    expect(await keys.authenticate(key)).toBe(ACME);
    expect(await uncached.authenticate(key)).toBe(ACME);
    await keys.revoke(record.id);
    expect(await keys.authenticate(key)).toBeUndefined();
    expect(await uncached.authenticate(key)).toBeUndefined();
    expect(
      () => new ApiKeysService({ store, clock, random: new SeededRandom(1), authCacheTtlMs: -1 }),
    ).toThrow(/authCacheTtlMs must be a number of ms from 0 to 60000/);
  });

  it("bounds the cache's lifetime: more than 60 s is refused", () => {
    const build = (authCacheTtlMs: number) => () =>
      new ApiKeysService({ store, clock, random: new SeededRandom(1), authCacheTtlMs });
    expect(build(MAX_AUTH_CACHE_TTL_MS)).not.toThrow();
    for (const ttl of [MAX_AUTH_CACHE_TTL_MS + 1, 86_400_000, Infinity]) {
      expect(build(ttl)).toThrow(InvalidOptionError);
      expect(build(ttl)).toThrow(/authCacheTtlMs must be a number of ms from 0 to 60000/);
    }
  });

  it("does not cache a lookup that began before a revocation (refused at once, even mid-lookup)", async () => {
    const { key, record } = await keys.create({ tenantId: ACME });
    await keys.create({ tenantId: ACME });
    // The store answers this lookup (the key, still active) only after the revocation below.
    const find = store.findApiKey.bind(store);
    let read!: () => void;
    const hasRead = new Promise<void>((resolve) => (read = resolve));
    let answer!: () => void;
    const mayAnswer = new Promise<void>((resolve) => (answer = resolve));
    const lookup = vi.spyOn(store, "findApiKey").mockImplementation(async (hash) => {
      const found = await find(hash);
      read();
      await mayAnswer;
      return found;
    });
    const pending = keys.authenticate(key);
    await hasRead;
    await keys.revoke(record.id);
    answer();
    // The request that began before the revocation gets the answer it read...
    expect(await pending).toBe(ACME);
    lookup.mockRestore();
    // ...but it is not cached: the next request is refused at once, not after authCacheTtlMs.
    expect(await keys.authenticate(key)).toBeUndefined();
  });

  it("records a key's last use at most once a minute, without making the request wait", async () => {
    const touch = vi.spyOn(store, "touchApiKey");
    const { key, record } = await keys.create({ tenantId: ACME });
    const t0 = clock.now();
    await keys.authenticate(key);
    expect(touch).toHaveBeenCalledTimes(1);
    await touch.mock.results[0]!.value;
    expect((await keys.get(record.id)).lastUsedAt).toBe(t0);
    for (let i = 0; i < 11; i++) {
      await clock.advance(5_000);
      await keys.authenticate(key);
    }
    expect(touch).toHaveBeenCalledTimes(1);
    await clock.advance(LAST_USED_INTERVAL_MS - 55_000);
    await keys.authenticate(key);
    expect(touch).toHaveBeenCalledTimes(2);
    await touch.mock.results[1]!.value;
    expect((await keys.get(record.id)).lastUsedAt).toBe(t0 + LAST_USED_INTERVAL_MS);
  });

  it("refuses to revoke the last active key of the operator tenants, and lets it go once another exists", async () => {
    const ops = await keys.create({ tenantId: OPS });
    const acme = await keys.create({ tenantId: ACME });
    const refused = await failure(keys.revoke(ops.record.id, ["ops"]));
    expect(refused.code).toBe("invalid_state");
    expect(refused.message).toBe(
      `${ops.record.id} is the last active key of the operator tenants (ops); revoking it would leave no key that can manage keys. Create another first (steadfast keys create --tenant ops), then revoke this one`,
    );
    expect(await keys.authenticate(ops.key)).toBe(OPS);
    // A tenant's keys are not guarded: only the operators' last one is.
    expect((await keys.revoke(acme.record.id, ["ops"])).revokedAt).toBe(clock.now());

    await keys.create({ tenantId: OPS });
    const revoked = await keys.revoke(ops.record.id, ["ops"]);
    expect(revoked.revokedAt).toBe(clock.now());
    await clock.advance(1_000);
    expect(await keys.revoke(ops.record.id, ["ops"])).toStrictEqual(revoked);
    // Without operator tenants (an embedded app), the last key of all is guarded.
    const last = (await keys.list())[0]!;
    expect((await failure(keys.revoke(last.id))).message).toMatch(/last active key of this server/);
  });

  it("never lets two revocations at once leave no operator key (one is refused)", async () => {
    const first = await keys.create({ tenantId: OPS });
    const second = await keys.create({ tenantId: OPS });
    // Two processes, each revoking one of the two operator keys at the same moment.
    const elsewhere = new ApiKeysService({ store, clock, random: new SeededRandom(5) });
    const results = await Promise.allSettled([
      keys.revoke(first.record.id, ["ops"]),
      elsewhere.revoke(second.record.id, ["ops"]),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    const refused = results.find((r) => r.status === "rejected");
    expect(isSteadfastError(refused?.reason) && refused.reason.code).toBe("invalid_state");
    expect(await keys.list({ tenantId: OPS })).toHaveLength(1);
  });

  it("answers not_found for an unknown id, without echoing what is not an id", async () => {
    const unknown = await failure(keys.revoke("key_00000000000000000000000000"));
    expect(unknown).toMatchObject({
      code: "not_found",
      message: "No API key key_00000000000000000000000000",
    });
    const pasted = await failure(keys.get("sf_a-key-pasted-by-mistake"));
    expect(pasted.code).toBe("not_found");
    expect(pasted.message).not.toContain("pasted");
  });
});
