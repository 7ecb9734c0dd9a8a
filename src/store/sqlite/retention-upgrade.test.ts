import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  CallFactory,
  claimOne,
  commitOf,
  completedStep,
  RETENTION_MS,
  RunFactory,
  stepAttempt,
  succeeded,
  T0,
  TENANT_A,
} from "../contract/fixtures.ts";
import { readMigrations } from "../migrations/read-migrations.ts";
import { SQLITE_MIGRATIONS_DIR } from "./apply-migrations.ts";
import { ENDED_CALLS, ENDED_RUNS } from "./retention-writes.ts";
import { SqliteStore } from "./sqlite-store.ts";

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "steadfast-retention-upgrade-"));
  path = join(dir, "steadfast.db");
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const LATER = T0 + 10 * RETENTION_MS;

/** The migrations shipped before retention (up to 0011). */
function migrationsAt0011(): string {
  const before = join(dir, "before");
  cpSync(SQLITE_MIGRATIONS_DIR, before, { recursive: true });
  for (const m of readMigrations(before)) if (m.version > 11) rmSync(join(before, m.file));
  return before;
}

function withDatabase<T>(body: (db: DatabaseSync) => T): T {
  const db = new DatabaseSync(path);
  try {
    return body(db);
  } finally {
    db.close();
  }
}

function count(db: DatabaseSync, table: string): number {
  return Number(db.prepare(`SELECT count(*) AS n FROM ${table}`).get()!.n);
}

describe("SQLite migration 0012 (retention)", () => {
  it("upgrades a database at 0011: its ended calls and runs are purged with everything of theirs", async () => {
    const old = SqliteStore.open({ path, migrationsDir: migrationsAt0011() });
    await old.migrate();
    const calls = new CallFactory(41);
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
    const run = new RunFactory(43).run({ input: big("input") });
    await old.createEndedRun(
      run,
      { status: "succeeded", output: big("output") },
      {
        checkpoints: [completedStep("load", big("step"), T0 + 20)],
        attempts: [stepAttempt("load", 1, T0 + 19)],
      },
      T0 + 21,
    );
    await old.close();
    expect(withDatabase((db) => count(db, "run_values"))).toBe(3);

    const store = SqliteStore.open({ path });
    try {
      await store.migrate();
      const purge = { endedBefore: LATER, now: LATER, limit: 10 };
      expect(await store.purgeEndedCalls(purge)).toStrictEqual({ calls: 1, callbacks: 1 });
      expect(await store.purgeEndedRuns(purge)).toBe(1);
      expect(await store.getCall(TENANT_A, call.id)).toBeUndefined();
    } finally {
      await store.close();
    }
    withDatabase((db) => {
      for (const table of ["calls", "attempts", "runs", "run_steps", "run_step_attempts"]) {
        expect(count(db, table), table).toBe(0);
      }
      expect(count(db, "run_values")).toBe(0);
    });
  });

  it("walks each batch on an index, and deletes what belongs to it through indexes", async () => {
    const store = SqliteStore.open({ path });
    await store.migrate();
    await store.close();
    withDatabase((db) => {
      const plan = (text: string) =>
        db
          .prepare(`EXPLAIN QUERY PLAN ${text}`)
          .all(...Array.from(text.matchAll(/\?/g), () => 0))
          .map((row) => String(row.detail))
          .join("\n");
      expect(plan(ENDED_CALLS)).toMatch(/^SEARCH c USING INDEX calls_ended \(completed_at<\?\)/);
      expect(plan(ENDED_CALLS)).toMatch(/SEARCH d USING INDEX calls_parent \(parent_id=\?\)/);
      expect(plan(ENDED_CALLS)).toMatch(/SEARCH w USING PRIMARY KEY \(id=\?\)/);
      expect(plan(ENDED_CALLS)).not.toMatch(/SCAN|TEMP B-TREE/);
      expect(plan(ENDED_RUNS)).toMatch(/^SEARCH r USING INDEX runs_ended \(ended_at<\?\)/);
      expect(plan(ENDED_RUNS)).not.toMatch(/SCAN|TEMP B-TREE/);
      expect(plan("DELETE FROM calls WHERE parent_id = ? AND kind = 'callback'")).toMatch(
        /USING INDEX calls_parent/,
      );
      // Deleting values checks that no run or step refers to them: through the *_ref indexes.
      const values = plan("DELETE FROM run_values WHERE run_uid = ?");
      expect(values).toMatch(/USING COVERING INDEX run_values_run \(run_uid=\?\)/);
      for (const index of [
        "runs_input_ref",
        "runs_output_ref",
        "run_steps_output_ref",
        "run_steps_wait_ref",
      ]) {
        expect(values).toContain(`INDEX ${index}`);
      }
      expect(values).not.toMatch(/SCAN/);
      const run = ["run_step_attempts", "run_steps", "runs"].map((table) =>
        plan(`DELETE FROM ${table} WHERE ${table === "runs" ? "uid" : "run_uid"} = ?`),
      );
      for (const text of run) expect(text).not.toMatch(/SCAN/);
    });
  });
});
