import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InvalidOptionError } from "../core/errors.ts";
import { tenantId } from "../core/ids.ts";
import { ApiKeysService } from "../engine/api-keys-service.ts";
import { hashApiKey } from "../engine/fingerprint.ts";
import { SqliteStore } from "../store/sqlite/sqlite-store.ts";
import { FakeClock } from "../testing/fake-clock.ts";
import { SeededRandom } from "../testing/seeded-random.ts";
import { bootstrapApiKeys, keyFileOf, parseApiKeys } from "./api-keys.ts";

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

  it("raises an InvalidOptionError (a SteadfastError with a code)", () => {
    expect(() => parseApiKeys("acme")).toThrow(InvalidOptionError);
    expect(() => parseApiKeys("acme")).toThrow(
      expect.objectContaining({ code: "invalid_option" }) as Error,
    );
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

describe("keyFileOf", () => {
  it("gives <data-dir>/api-key only for a SQLite file in the data directory", () => {
    expect(keyFileOf("sqlite:/srv/data/steadfast.db", "/srv/data")).toEqual({
      file: "/srv/data/api-key",
    });
    expect(keyFileOf("/srv/data/other.db", "/srv/data/")).toEqual({ file: "/srv/data/api-key" });
    expect(keyFileOf(":memory:", "/srv/data")).toEqual({
      unsaved: "the database is in memory and ends with this process",
    });
    expect(keyFileOf("sqlite::memory:", "/srv/data")).toHaveProperty("unsaved");
    expect(keyFileOf("sqlite:/tmp/scratch.db", "/srv/data")).toEqual({
      unsaved: "the database /tmp/scratch.db is not in the data directory /srv/data",
    });
    expect(keyFileOf("postgres://u:pw@db.internal/steadfast", "/srv/data")).toEqual({
      unsaved:
        "the database is PostgreSQL, shared by processes that do not share this data directory",
    });
  });
});

describe("bootstrapApiKeys", () => {
  let dir: string;
  let dataDir: string;
  let db: string;
  let store: SqliteStore;
  let keys: ApiKeysService;
  let clock: FakeClock;
  let lines: string[];
  const print = (line: string): void => void lines.push(line);
  const file = (): string => join(dataDir, "api-key");
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "steadfast-keys-"));
    dataDir = join(dir, "data");
    db = `sqlite:${join(dataDir, "steadfast.db")}`;
    store = SqliteStore.open({ path: join(dataDir, "steadfast.db") });
    await store.migrate();
    clock = new FakeClock(1_700_000_000_000);
    keys = new ApiKeysService({ store, clock, random: new SeededRandom(1) });
    lines = [];
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("generates a key on a fresh database, prints it once, writes it with mode 0600, stores only its hash", async () => {
    const result = await bootstrapApiKeys(keys, { db, dataDir, print });
    if (result.type !== "generated") throw new Error(`expected generated, got ${result.type}`);
    expect(result.file).toBe(file());
    expect(readFileSync(file(), "utf8")).toBe(`${result.key}\n`);
    expect(statSync(file()).mode & 0o777).toBe(0o600);
    expect(lines).toEqual([
      `Steadfast API key for tenant default (shown once; also saved to ${file()}, mode 0600): ${result.key}`,
    ]);
    expect(await store.findApiKey(hashApiKey(result.key))).toMatchObject({
      tenantId: "default",
      source: "generated",
      prefix: result.key.slice(0, 8),
      name: "generated at first start",
    });
    expect(await store.findApiKey(result.key)).toBeUndefined();

    lines = [];
    const again = await bootstrapApiKeys(keys, { db, dataDir, print });
    expect(again).toEqual({ type: "existing", count: 1, file: file() });
    expect(lines).toEqual([`Steadfast API key: in ${file()}`]);
    expect(await store.countApiKeys()).toBe(1);
  });

  it("never overwrites an existing key file: the new key is printed, the file left as it is", async () => {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file(), "the-real-servers-key-0123456789\n", { mode: 0o600 });
    const result = await bootstrapApiKeys(keys, { db, dataDir, print });
    expect(result).toEqual({ type: "generated", key: expect.stringMatching(/^sf_/) as string });
    expect(readFileSync(file(), "utf8")).toBe("the-real-servers-key-0123456789\n");
    expect(lines).toEqual([
      `Steadfast API key for tenant default (shown once; not saved: ${file()} exists already and was left as it is): ${(result as { key: string }).key}`,
    ]);
  });

  it("writes no file for a database in memory, nor for one outside the data directory", async () => {
    for (const other of [":memory:", `sqlite:${join(dir, "elsewhere", "steadfast.db")}`]) {
      const memory = SqliteStore.open({ path: ":memory:" });
      await memory.migrate();
      const service = new ApiKeysService({ store: memory, clock, random: new SeededRandom(2) });
      lines = [];
      const result = await bootstrapApiKeys(service, { db: other, dataDir, print });
      await memory.close();
      expect(result.type).toBe("generated");
      expect(result).not.toHaveProperty("file");
      expect(lines[0]).toMatch(/^Steadfast API key for tenant default \(shown once; not saved: /);
      expect(() => statSync(file())).toThrow();
    }
  });

  it("adds configured keys (idempotently), generates none, and writes no file", async () => {
    const apiKeys = `acme:${KEY},beta:${KEY}-beta`;
    expect(await bootstrapApiKeys(keys, { apiKeys, db, dataDir, print })).toEqual({
      type: "configured",
      count: 2,
      revoked: [],
    });
    expect(await bootstrapApiKeys(keys, { apiKeys, db, dataDir, print })).toEqual({
      type: "configured",
      count: 2,
      revoked: [],
    });
    expect(await store.countApiKeys()).toBe(2);
    expect(await store.findApiKey(hashApiKey(`${KEY}-beta`))).toMatchObject({
      tenantId: "beta",
      source: "env",
      prefix: "012345",
    });
    expect(lines).toEqual([]);
    expect(() => statSync(file())).toThrow();
  });

  it("revokes the keys STEADFAST_API_KEYS no longer lists, and only those (issue 10, item 4)", async () => {
    await bootstrapApiKeys(keys, { apiKeys: `acme:${KEY},beta:${KEY}-beta`, db, dataDir, print });
    const created = await keys.create({ tenantId: tenantId("gamma"), source: "cli" });
    await clock.advance(1_000);
    const result = await bootstrapApiKeys(keys, { apiKeys: `acme:${KEY}`, db, dataDir, print });
    if (result.type !== "configured") throw new Error(result.type);
    expect(result.revoked).toMatchObject([
      { tenantId: "beta", revokedAt: clock.now(), revokedBy: "env" },
    ]);
    const beta = result.revoked[0]!;
    expect(lines).toEqual([
      `Steadfast: revoked key ${beta.id} (tenant beta, 012345...): STEADFAST_API_KEYS no longer lists it`,
    ]);
    expect(await keys.authenticate(`${KEY}-beta`)).toBeUndefined();
    expect(await keys.authenticate(KEY)).toBe("acme");
    expect(await keys.authenticate(created.key)).toBe("gamma");

    // Listed again, it works again: the variable decides which env keys are active.
    lines = [];
    await bootstrapApiKeys(keys, { apiKeys: `acme:${KEY},beta:${KEY}-beta`, db, dataDir, print });
    expect(lines).toEqual([]);
    expect(await keys.authenticate(`${KEY}-beta`)).toBe("beta");

    // Revoked by an operator, it stays revoked whatever the variable says, and the start says so.
    const final = await keys.revoke(beta.id);
    await bootstrapApiKeys(keys, { apiKeys: `acme:${KEY},beta:${KEY}-beta`, db, dataDir, print });
    expect(lines).toEqual([
      `Steadfast: STEADFAST_API_KEYS entry 2 (tenant beta) is key ${beta.id}, which an operator revoked at ${new Date(final.revokedAt!).toISOString()}; it stays revoked: remove it from STEADFAST_API_KEYS`,
    ]);
    expect(await keys.authenticate(`${KEY}-beta`)).toBeUndefined();
  });

  it("refuses a configured key already owned by another tenant", async () => {
    await bootstrapApiKeys(keys, { apiKeys: `acme:${KEY}`, db, dataDir, print });
    await expect(
      bootstrapApiKeys(keys, { apiKeys: `beta:${KEY}`, db, dataDir, print }),
    ).rejects.toThrow(/already belongs to tenant acme/);
  });
});
