// The upgrade from a version before key sources, with a generated key (issue 10): shared by the
// SQLite and PostgreSQL upgrade tests (src/store/*/api-key-upgrade.test.ts).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { apiKeyPrefix } from "../core/api-key.ts";
import type { Store } from "../core/store.ts";
import { ApiKeysService } from "../engine/api-keys-service.ts";
import { hashApiKey } from "../engine/fingerprint.ts";
import { LEGACY_KEY_HASH } from "../store/contract/api-key-contract.ts";
import { T0 } from "../store/contract/fixtures.ts";
import { FakeClock } from "../testing/fake-clock.ts";
import { SeededRandom } from "../testing/seeded-random.ts";
import { API_KEY_FILE, bootstrapApiKeys } from "./api-keys.ts";

/** The key a first start of a version before key sources generated and wrote to the key file. */
export const PRE_UPGRADE_GENERATED_KEY = "sf_PreUpgradeGeneratedKey_0123456789abcdefghij";
/** What that version stored of it, for tenant `default`: its hash. */
export const PRE_UPGRADE_GENERATED_HASH = hashApiKey(PRE_UPGRADE_GENERATED_KEY);

const CONFIGURED_KEY = "ops-key-after-the-upgrade-0123456789";

/**
 * On `store`, just migrated from a schema before key sources whose `api_keys` held
 * `LEGACY_KEY_HASH` (a key of `STEADFAST_API_KEYS`) and `PRE_UPGRADE_GENERATED_HASH` (tenant
 * `default`): checks that the first start with `STEADFAST_API_KEYS` set, and
 * `<dataDir>/api-key` holding the generated key as the old version left it, keeps the generated
 * key working (the CLI reads that file), now `generated` with its prefix, while the unlisted
 * legacy key is revoked. With `revokedBefore`, a start of a build without this fix had already
 * revoked both: the generated key comes back.
 */
export async function expectGeneratedKeyKeptThroughUpgrade(
  store: Store,
  options: { db: string; dataDir: string; revokedBefore?: boolean },
): Promise<void> {
  const { db, dataDir } = options;
  writeFileSync(join(dataDir, API_KEY_FILE), `${PRE_UPGRADE_GENERATED_KEY}\n`, { mode: 0o600 });
  const clock = new FakeClock(T0 + 60_000);
  const keys = new ApiKeysService({ store, clock, random: new SeededRandom(3) });
  if (options.revokedBefore === true) {
    await store.revokeApiKeysNotIn([], T0 + 1_000);
    expect(await keys.authenticate(PRE_UPGRADE_GENERATED_KEY)).toBeUndefined();
  }
  const lines: string[] = [];
  const start = () =>
    bootstrapApiKeys(keys, {
      apiKeys: `ops:${CONFIGURED_KEY}`,
      db,
      dataDir,
      print: (line) => void lines.push(line),
    });
  const result = await start();

  expect(await keys.authenticate(PRE_UPGRADE_GENERATED_KEY)).toBe("default");
  expect(await keys.authenticate(CONFIGURED_KEY)).toBe("ops");
  const generated = await store.findApiKey(PRE_UPGRADE_GENERATED_HASH);
  expect(generated).toMatchObject({
    tenantId: "default",
    source: "generated",
    prefix: apiKeyPrefix(PRE_UPGRADE_GENERATED_KEY),
  });
  expect(generated?.revokedAt).toBeUndefined();
  expect(lines[0]).toBe(
    `Steadfast: key ${generated!.id} (tenant default), stored before this upgrade, is the key in ${join(dataDir, API_KEY_FILE)}: kept as the generated key, not managed by STEADFAST_API_KEYS`,
  );
  // The legacy key STEADFAST_API_KEYS no longer lists is revoked, as the issue asks.
  expect(await store.findApiKey(LEGACY_KEY_HASH)).toBeUndefined();
  if (options.revokedBefore !== true)
    expect(result).toMatchObject({ type: "configured", revoked: [{ tenantId: "tenant-a" }] });

  // Later starts find nothing more to recognise, and keep the generated key.
  lines.length = 0;
  await start();
  expect(lines).toEqual([]);
  expect(await keys.authenticate(PRE_UPGRADE_GENERATED_KEY)).toBe("default");
}

/**
 * On `store`, migrated as for `expectGeneratedKeyKeptThroughUpgrade`: when `STEADFAST_API_KEYS`
 * lists the key file's key too (an operator pinned the generated key), it stays a key of the
 * variable, so a later start without it revokes it.
 */
export async function expectListedKeyFileKeyManagedByTheVariable(
  store: Store,
  options: { db: string; dataDir: string },
): Promise<void> {
  const { db, dataDir } = options;
  writeFileSync(join(dataDir, API_KEY_FILE), `${PRE_UPGRADE_GENERATED_KEY}\n`, { mode: 0o600 });
  const keys = new ApiKeysService({
    store,
    clock: new FakeClock(T0 + 60_000),
    random: new SeededRandom(3),
  });
  const start = (apiKeys: string) =>
    bootstrapApiKeys(keys, { apiKeys, db, dataDir, print: () => undefined });
  await start(`default:${PRE_UPGRADE_GENERATED_KEY},ops:${CONFIGURED_KEY}`);
  expect(await store.findApiKey(PRE_UPGRADE_GENERATED_HASH)).toMatchObject({ source: "env" });
  await start(`ops:${CONFIGURED_KEY}`);
  expect(await keys.authenticate(PRE_UPGRADE_GENERATED_KEY)).toBeUndefined();
}
