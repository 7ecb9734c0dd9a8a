import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import {
  CallFactory,
  claimOne,
  commitOf,
  completedStep,
  RETENTION_MS,
  RunFactory,
  succeeded,
  T0,
  TENANT_A,
} from "../contract/fixtures.ts";
import { readMigrations } from "../migrations/read-migrations.ts";
import { POSTGRES_MIGRATIONS_DIR } from "./apply-migrations.ts";
import { retentionStatements } from "./retention-writes.ts";
import { schemaNames } from "./schema-names.ts";
import {
  dropSchema,
  openTestStore,
  testSchemaName,
  withAdminClient,
} from "./test-database.test-support.ts";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const LATER = T0 + 10 * RETENTION_MS;

/** A fresh schema, dropped after the test. */
function freshSchema(): string {
  const schema = testSchemaName();
  cleanups.push(() => dropSchema(schema));
  return schema;
}

describe("PostgreSQL migration 0011 (retention)", () => {
  it("upgrades a schema at 0010: its ended calls and runs are purged with everything of theirs", async () => {
    const dir = mkdtempSync(join(tmpdir(), "steadfast-pg-retention-upgrade-"));
    cleanups.push(() => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
    cpSync(POSTGRES_MIGRATIONS_DIR, dir, { recursive: true });
    for (const m of readMigrations(dir)) if (m.version > 10) rmSync(join(dir, m.file));
    const schema = freshSchema();
    const { store: old } = await openTestStore({ schema, migrationsDir: dir });
    await old.migrate();
    const calls = new CallFactory(51);
    const call = calls.call();
    await old.createCall(call);
    const claim = await claimOne(old, T0 + 10);
    await old.commitAttempt({
      ...commitOf(claim, T0 + 11, succeeded(T0 + 11)),
      followUp: calls.call({ kind: "callback", parentId: call.id, createdAt: T0 + 11 }),
    });
    const delivery = await claimOne(old, T0 + 12);
    await old.commitAttempt(commitOf(delivery, T0 + 13, succeeded(T0 + 13)));
    const big = (seed: string) => JSON.stringify({ seed, text: `${seed} `.repeat(70_000) });
    const run = new RunFactory(53).run({ input: big("input") });
    await old.createEndedRun(
      run,
      { status: "succeeded", output: big("output") },
      { checkpoints: [completedStep("load", big("step"), T0 + 20)], attempts: [] },
      T0 + 21,
    );
    await old.close();

    const { store } = await openTestStore({ schema });
    cleanups.push(() => store.close());
    await store.migrate();
    const purge = { endedBefore: LATER, now: LATER, limit: 10 };
    expect(await store.purgeEndedCalls(purge)).toStrictEqual({ calls: 1, callbacks: 1 });
    expect(await store.purgeEndedRuns(purge)).toBe(1);
    expect(await store.getCall(TENANT_A, call.id)).toBeUndefined();
    await withAdminClient(async (client) => {
      const s = pg.escapeIdentifier(schema);
      for (const table of ["calls", "attempts", "runs", "run_steps", "run_values"]) {
        const { rows } = await client.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM ${s}.${table}`,
        );
        expect(rows[0]!.n, table).toBe(0);
      }
    });
  });

  it("walks each batch on an index, also in the generic plan of its prepared statement", async () => {
    const schema = freshSchema();
    const { store } = await openTestStore({ schema });
    await store.migrate();
    await store.close();
    const statements = retentionStatements(schemaNames(schema));
    await withAdminClient(async (client) => {
      // An empty table's cheapest plan is a sequential scan: forbid it, to see that the index
      // can serve the statement at all, with its parameters unknown (a generic plan).
      await client.query("SET enable_seqscan = off");
      await client.query("SET plan_cache_mode = force_generic_plan");
      const plan = async (name: string, text: string, args: string): Promise<string> => {
        await client.query(`PREPARE ${name} AS ${text}`);
        const { rows } = await client.query<{ "QUERY PLAN": string }>(
          `EXPLAIN (COSTS OFF) EXECUTE ${name}(${args})`,
        );
        return rows.map((row) => row["QUERY PLAN"]).join("\n");
      };
      const calls = await plan("purge_calls", statements.calls, "1, 2, 3");
      expect(calls).toMatch(/Index Scan using calls_ended on calls c\b/);
      // The rules that keep a call are probes per call, never a join reading every callback or
      // every live work row (the planner turns a plain NOT EXISTS into such a join).
      // The batch's own rows are then joined in memory (CTE scans).
      const choice = calls.slice(0, calls.indexOf("CTE deliveries"));
      expect(choice).toContain("Index Cond: (parent_id = c.id)");
      expect(choice).toContain("Index Cond: (id = c.parent_run)");
      expect(choice).not.toMatch(/Join|Hashed|Bitmap/);
      expect(calls).not.toMatch(/Sort|Seq Scan/);
      const runs = await plan("purge_runs", statements.runs, "1, 2");
      expect(runs).toMatch(/Index Scan using runs_ended on runs r\b/);
      expect(runs).toContain("Index Cond: (id = r.parent_uid)");
      expect(runs).not.toMatch(/Sort|Seq Scan|Bitmap|Hashed/);
    });
  });
});

describe("PostgreSQL retention, several processes", () => {
  it("purges concurrently from two stores: each call deleted once, nobody waiting for the other", async () => {
    const schema = freshSchema();
    const { store: a } = await openTestStore({ schema });
    cleanups.push(() => a.close());
    await a.migrate();
    const { store: b } = await openTestStore({ schema });
    cleanups.push(() => b.close());
    const calls = new CallFactory(57);
    for (let i = 0; i < 40; i++) {
      const call = calls.call({ createdAt: T0 + i, runAt: T0 + i });
      await a.createCall(call);
      const claim = await claimOne(a, T0 + i);
      await a.commitAttempt(commitOf(claim, T0 + i, succeeded(T0 + i)));
    }
    const purge = { endedBefore: LATER, now: LATER, limit: 3 };
    let deleted = 0;
    const drain = async (store: typeof a): Promise<void> => {
      for (;;) {
        const { calls: n } = await store.purgeEndedCalls(purge);
        deleted += n;
        if (n === 0) return;
      }
    };
    await Promise.all([drain(a), drain(b), drain(a), drain(b)]);
    expect(deleted).toBe(40);
    expect(await a.listCalls(TENANT_A, { limit: 10 })).toEqual([]);
  });
});
