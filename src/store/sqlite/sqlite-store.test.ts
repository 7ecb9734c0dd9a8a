import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { WaitingFor } from "../../core/call.ts";
import type { CallId, WorkerId } from "../../core/ids.ts";
import type { ListCallsQuery } from "../../core/store.ts";
import { describeStoreContract } from "../contract/store-contract.ts";
import {
  apiKey,
  CallFactory,
  claimOne,
  commitOf,
  succeeded,
  T0,
  TENANT_A,
} from "../contract/fixtures.ts";
import { readMigrations } from "../migrations/read-migrations.ts";
import { applyMigrations, SQLITE_MIGRATIONS_DIR } from "./apply-migrations.ts";
import { listCallsStatement } from "./call-listing.ts";
import { insertRow, legacyCallRow } from "./legacy-rows.test-support.ts";
import { SqliteStore } from "./sqlite-store.ts";

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "steadfast-sqlite-"));
}

describeStoreContract("SqliteStore (temp file)", () => {
  const dir = tempDir();
  const store = SqliteStore.open({ path: join(dir, "contract.db") });
  return Promise.resolve({
    store,
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  });
});

describe("SqliteStore", () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("creates the parent directory of the database file", async () => {
    const path = join(dir, "nested", "deeper", "steadfast.db");
    const store = SqliteStore.open({ path, synchronous: "NORMAL" });
    await store.migrate();
    await store.close();
    expect(existsSync(path)).toBe(true);
  });

  it("records each migration once, however often migrate() runs", async () => {
    const path = join(dir, "steadfast.db");
    const store = SqliteStore.open({ path });
    await store.migrate();
    await store.migrate();
    await store.close();
    const again = SqliteStore.open({ path });
    await again.migrate();
    await again.close();

    const db = new DatabaseSync(path);
    const rows = db.prepare("SELECT version, name FROM schema_migrations ORDER BY version").all();
    db.close();
    const shipped = readMigrations(SQLITE_MIGRATIONS_DIR);
    expect(shipped[0]).toMatchObject({ version: 1, name: "init" });
    expect(rows.map((r) => ({ ...r }))).toEqual(
      shipped.map((m) => ({ version: m.version, name: m.name })),
    );
  });

  it("applies appended migrations in order, and refuses a schema newer than it knows", () => {
    const migrations = join(dir, "migrations");
    const db = new DatabaseSync(join(dir, "steadfast.db"));
    const shipped = readMigrations(SQLITE_MIGRATIONS_DIR).map((m) => m.version);
    const last = shipped.at(-1)!;
    const file = (version: number, name: string): string =>
      join(migrations, `${String(version).padStart(4, "0")}_${name}.sql`);
    try {
      copyDir(SQLITE_MIGRATIONS_DIR, migrations);
      expect(applyMigrations(db, migrations)).toEqual(shipped);
      writeFileSync(file(last + 2, "third"), "ALTER TABLE t2 ADD COLUMN c INTEGER;");
      writeFileSync(file(last + 1, "second"), "CREATE TABLE t2 (a INTEGER);");
      writeFileSync(join(migrations, "README.md"), "not a migration");
      expect(applyMigrations(db, migrations)).toEqual([last + 1, last + 2]);
      expect(applyMigrations(db, migrations)).toEqual([]);
      expect(() => applyMigrations(db, SQLITE_MIGRATIONS_DIR)).toThrow(
        new RegExp(`schema version ${last + 1}`),
      );
      expect(() => applyMigrations(db, SQLITE_MIGRATIONS_DIR)).toThrow(
        expect.objectContaining({ name: "StoreError", code: "migration_failed" }) as Error,
      );
    } finally {
      db.close();
    }
  });

  it("rolls back a failing migration entirely", () => {
    const migrations = join(dir, "migrations");
    copyDir(SQLITE_MIGRATIONS_DIR, migrations);
    const shipped = readMigrations(SQLITE_MIGRATIONS_DIR).map((m) => m.version);
    const broken = `${String(shipped.at(-1)! + 1).padStart(4, "0")}_broken`;
    writeFileSync(join(migrations, `${broken}.sql`), "CREATE TABLE t2 (a); SELECT * FROM nope;");
    const db = new DatabaseSync(join(dir, "steadfast.db"));
    try {
      expect(() => applyMigrations(db, migrations)).toThrow(new RegExp(broken));
      expect(() => applyMigrations(db, migrations)).toThrow(
        expect.objectContaining({ code: "migration_failed" }) as Error,
      );
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE name = 't2'").all();
      expect(tables).toEqual([]);
      const versions = db.prepare("SELECT version FROM schema_migrations").all();
      expect(versions.map((r) => r.version)).toEqual(shipped);
    } finally {
      db.close();
    }
  });

  it("keeps committed data across close and reopen", async () => {
    const path = join(dir, "steadfast.db");
    const calls = new CallFactory(3);
    const store = SqliteStore.open({ path });
    await store.migrate();
    const done = calls.call({ idempotencyKey: "k" });
    const pending = calls.call();
    await store.createCalls([done, pending]);
    const claim = await claimOne(store, done.createdAt);
    await store.commitAttempt(commitOf(claim, T0 + 50, succeeded(T0 + 50)));
    const key = await store.addApiKey(apiKey(TENANT_A, "a".repeat(64), T0));
    const secret = await store.ensureSigningSecret(TENANT_A, "whsec_1", T0);
    const before = await store.listCalls(TENANT_A, { limit: 10 });
    const attempts = await store.listAttempts(TENANT_A, done.id);
    await store.close();

    const reopened = SqliteStore.open({ path });
    await reopened.migrate();
    expect(await reopened.listCalls(TENANT_A, { limit: 10 })).toStrictEqual(before);
    expect(await reopened.listAttempts(TENANT_A, done.id)).toStrictEqual(attempts);
    expect(await reopened.findApiKey("a".repeat(64))).toStrictEqual(key);
    expect(await reopened.ensureSigningSecret(TENANT_A, "whsec_2", T0)).toBe(secret);
    await reopened.close();
  });

  it("lists calls through an index for every status: live ones through work, running ones through the lease index", async () => {
    const path = join(dir, "steadfast.db");
    const store = SqliteStore.open({ path });
    await store.migrate();
    await store.close();
    const db = new DatabaseSync(path);
    const planOf = (query: ListCallsQuery): string => {
      const { sql, params } = listCallsStatement(TENANT_A, query);
      const plan = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params);
      return plan.map((row) => String(row.detail)).join("; ");
    };
    const before = "call_01JZZZZZZZZZZZZZZZZZZZZZZZ" as CallId;
    try {
      expect(planOf({ limit: 10 })).toMatch(/^SEARCH c USING INDEX calls_list \(/);
      expect(planOf({ limit: 10, before })).toMatch(/^SEARCH c USING INDEX calls_list \(/);
      for (const status of ["queued", "waiting"] as const) {
        expect(planOf({ limit: 10, status })).toMatch(/^SEARCH w USING INDEX work_list/);
        expect(planOf({ limit: 10, status, before })).toMatch(/^SEARCH w USING INDEX work_list/);
      }
      for (const status of ["succeeded", "failed", "cancelled"] as const) {
        expect(planOf({ limit: 10, status })).toMatch(/^SEARCH c USING INDEX calls_list_status/);
        expect(planOf({ limit: 10, status, before })).toMatch(
          /^SEARCH c USING INDEX calls_list_status/,
        );
      }
      expect(planOf({ limit: 10, status: "running" })).toMatch(/^SCAN w USING INDEX work_lease/);
      // Every plan finds the other table's row by id, not by a scan.
      for (const status of [undefined, "queued", "running", "failed"] as const) {
        expect(planOf(status === undefined ? { limit: 10 } : { limit: 10, status })).toMatch(
          /; SEARCH [cw] USING (PRIMARY KEY|INDEX sqlite_autoindex_calls_1) \(id=\?\)/,
        );
      }
    } finally {
      db.close();
    }
  });

  it("upgrades a database of migration 0001 with its calls to destinations (0002)", async () => {
    const path = join(dir, "steadfast.db");
    const first = join(dir, "first");
    copyDir(SQLITE_MIGRATIONS_DIR, first);
    for (const m of readMigrations(first)) if (m.version > 1) rmSync(join(first, m.file));
    const calls = new CallFactory(5);
    const old = SqliteStore.open({ path, migrationsDir: first });
    await old.migrate();
    await old.close();
    const call = calls.call();
    const db = new DatabaseSync(path);
    insertRow(db, "calls", legacyCallRow(call));
    db.close();

    const upgraded = SqliteStore.open({ path });
    await upgraded.migrate();
    expect((await upgraded.getCall(TENANT_A, call.id))?.status).toBe("queued");
    const claim = await claimOne(upgraded, call.createdAt);
    const ref = { callId: call.id, leaseToken: claim.leaseToken };
    const held: WaitingFor = {
      reason: "circuit_open",
      message: "open",
      destination: "https://a.example",
    };
    expect(await upgraded.deferCall(ref, T0 + 9_000, held, T0 + 10)).toBe(true);
    expect(await upgraded.getCall(TENANT_A, call.id)).toMatchObject({
      status: "waiting",
      waitCode: "circuit_open",
      waitDestination: "https://a.example",
    });
    expect(
      await upgraded.saveDestination("https://a.example", { state: {}, limits: {} }, 0, T0),
    ).toBe(true);
    await upgraded.close();
  });

  it("commits a large burst of concurrent writes (more than one batch) without loss", async () => {
    const store = SqliteStore.open({ path: join(dir, "steadfast.db"), synchronous: "NORMAL" });
    await store.migrate();
    const calls = new CallFactory(9);
    const burst = Array.from({ length: 12_000 }, (_, i) =>
      calls.call(i % 3 === 0 ? { idempotencyKey: `key-${i % 1_000}` } : {}),
    );
    const results = await Promise.all(burst.map((call) => store.createCall(call)));
    const created = results.filter((r) => r.created).length;
    expect(created).toBe(8_000 + 1_000);
    const claims = await store.claimDue({
      now: T0 + 1_000_000,
      limit: 20_000,
      leaseMs: 1_000,
      workerId: "bench" as WorkerId,
    });
    expect(claims).toHaveLength(created);
    await store.close();
  });

  it("works in memory and rejects use after close", async () => {
    const store = SqliteStore.open({ path: ":memory:" });
    await store.migrate();
    const calls = new CallFactory(5);
    const call = calls.call();
    expect((await store.createCall(call)).created).toBe(true);
    await store.close();
    await store.close();
    await expect(store.createCall(calls.call())).rejects.toThrow(/closed/);
    await expect(store.getCall(TENANT_A, call.id)).rejects.toThrow(/closed/);
  });

  it("rejects an invalid synchronous option", () => {
    expect(() =>
      SqliteStore.open({ path: ":memory:", synchronous: "OFF" as unknown as "FULL" }),
    ).toThrow(/synchronous/);
  });
});

function copyDir(from: string, to: string): void {
  rmSync(to, { recursive: true, force: true });
  cpSync(from, to, { recursive: true });
}
