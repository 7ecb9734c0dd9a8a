import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { hashApiKey } from "../engine/fingerprint.ts";
import { SqliteStore } from "../store/sqlite/sqlite-store.ts";
import { bootstrapApiKeys, generateApiKey, parseApiKeys } from "./api-keys.ts";

const KEY = "0123456789abcdef0123";

describe("parseApiKeys", () => {
  it("parses tenant:key pairs, trimming and skipping empty entries", () => {
    expect(parseApiKeys(` acme:${KEY}, beta: ${KEY}-b ,`)).toEqual([
      { tenantId: "acme", key: KEY },
      { tenantId: "beta", key: `${KEY}-b` },
    ]);
  });

  it.each([
    ["acme", /entry 1 of 1 has no colon: expected tenant:key/],
    [`:${KEY}`, /entry 1 of 1: tenant "" must be/],
    [`a cme:${KEY}`, /tenant "a cme" must be/],
    ["acme:short", /tenant acme\): the key is 5 characters; use at least 16/],
    [`acme:${KEY} space`, /may only contain/],
    [`acme:${KEY}:more`, /may only contain/],
    [`acme:${KEY},beta:${KEY}`, /entry 2 of 2: tenant beta uses the same key as tenant acme/],
  ])("refuses %j with a message naming the entry", (raw, message) => {
    expect(() => parseApiKeys(raw)).toThrow(message);
  });

  it("never echoes a key in its errors", () => {
    const secret = "s3cr3t-but-has spaces-0123456789";
    expect(() => parseApiKeys(`acme:${secret}`)).toThrow();
    try {
      parseApiKeys(`acme:${secret}`);
    } catch (error) {
      expect((error as Error).message).not.toContain("s3cr3t");
    }
  });
});

describe("generateApiKey", () => {
  it("is sf_ and 43 base64url characters, different each time", () => {
    const a = generateApiKey();
    expect(a).toMatch(/^sf_[A-Za-z0-9_-]{43}$/);
    expect(generateApiKey()).not.toBe(a);
  });
});

describe("bootstrapApiKeys", () => {
  let dir: string;
  let store: SqliteStore;
  let lines: string[];
  const print = (line: string): void => void lines.push(line);
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "steadfast-keys-"));
    store = SqliteStore.open({ path: join(dir, "steadfast.db") });
    await store.migrate();
    lines = [];
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("generates a key on a fresh database, prints it once, writes it with mode 0600, stores only its hash", async () => {
    const dataDir = join(dir, "data");
    const result = await bootstrapApiKeys(store, { dataDir, now: 0, print });
    if (result.type !== "generated") throw new Error(`expected generated, got ${result.type}`);
    expect(result.file).toBe(join(dataDir, "api-key"));
    expect(readFileSync(result.file, "utf8")).toBe(`${result.key}\n`);
    expect(statSync(result.file).mode & 0o777).toBe(0o600);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(result.key);
    expect(lines[0]).toContain(result.file);
    expect(await store.findTenantByKeyHash(hashApiKey(result.key))).toBe("default");
    expect(await store.findTenantByKeyHash(result.key)).toBeUndefined();

    lines = [];
    const again = await bootstrapApiKeys(store, { dataDir, now: 1, print });
    expect(again).toEqual({ type: "existing", count: 1, file: result.file });
    expect(lines).toEqual([`Steadfast API key: in ${result.file}`]);
    expect(await store.countApiKeys()).toBe(1);
  });

  it("adds configured keys (idempotently) and generates none", async () => {
    const apiKeys = `acme:${KEY},beta:${KEY}-beta`;
    expect(await bootstrapApiKeys(store, { apiKeys, dataDir: dir, now: 0, print })).toEqual({
      type: "configured",
      count: 2,
    });
    expect(await bootstrapApiKeys(store, { apiKeys, dataDir: dir, now: 1, print })).toEqual({
      type: "configured",
      count: 2,
    });
    expect(await store.countApiKeys()).toBe(2);
    expect(await store.findTenantByKeyHash(hashApiKey(`${KEY}-beta`))).toBe("beta");
    expect(lines).toEqual([]);
    expect(() => statSync(join(dir, "api-key"))).toThrow();
  });

  it("refuses a configured key already owned by another tenant", async () => {
    await bootstrapApiKeys(store, { apiKeys: `acme:${KEY}`, dataDir: dir, now: 0, print });
    await expect(
      bootstrapApiKeys(store, { apiKeys: `beta:${KEY}`, dataDir: dir, now: 0, print }),
    ).rejects.toThrow(/already belongs to tenant acme/);
  });
});
