import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { CallId } from "../core/ids.ts";
import type { CallTransition, Store } from "../core/store.ts";
import { SystemClock } from "../engine/system-clock.ts";
import { openStore } from "../steadfast.ts";
import {
  CallFactory,
  claimOne,
  commitOf,
  RunFactory,
  TENANT_A,
} from "../store/contract/fixtures.ts";
import {
  dropSchema,
  TEST_DATABASE_URL,
  testSchemaName,
} from "../store/postgres/test-database.test-support.ts";

const bin = join(import.meta.dirname, "../../bin/steadfast.js");
const DAY = 86_400_000;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/steadfast.js ...args` in `cwd`, without the machine's STEADFAST_* variables. */
function steadfast(args: string[], cwd: string): Promise<Run> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith("STEADFAST_") && value !== undefined) env[name] = value;
  }
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { cwd, env, timeout: 20_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "steadfast-purge-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Ended work of every kind, ended some days before the real time now (the command reads it). */
interface Seeded {
  /** Ended 40 days ago, its key released since: deleted. */
  old: CallId;
  /** Ended 40 days ago, its key held another 10 days: kept. */
  keyHeld: CallId;
  /** Ended 10 days ago: kept. */
  recent: CallId;
  /** A run ended 40 days ago (deleted) and one 10 days ago (kept). */
  runs: { old: string; recent: string };
}

async function seed(store: Store): Promise<Seeded> {
  const now = new SystemClock().now();
  const calls = new CallFactory(61);
  const end = async (daysAgo: number, keyHeldDays = 1, key?: string): Promise<CallId> => {
    const at = now - daysAgo * DAY;
    const call = calls.call({
      createdAt: at,
      runAt: at,
      ...(key === undefined ? {} : { idempotencyKey: key, fingerprint: "fp" }),
    });
    await store.createCall(call);
    const claim = await claimOne(store, at);
    const transition: CallTransition = {
      status: "succeeded",
      response: {
        status: 200,
        headers: {},
        body: "",
        bodyEncoding: "utf8",
        bodyTruncated: false,
        bodyBytes: 0,
      },
      idempotencyExpiresAt: at + keyHeldDays * DAY,
    };
    await store.commitAttempt(commitOf(claim, at, transition));
    return call.id;
  };
  const old = await end(40);
  const keyHeld = await end(40, 50, "order-42");
  const recent = await end(10);
  const runs = new RunFactory(63);
  const ran = async (daysAgo: number): Promise<string> => {
    const at = now - daysAgo * DAY;
    const run = runs.run({ createdAt: at });
    await store.createEndedRun(run, { status: "cancelled" }, { checkpoints: [], attempts: [] }, at);
    return run.id;
  };
  return { old, keyHeld, recent, runs: { old: await ran(40), recent: await ran(10) } };
}

async function expectPurged(store: Store, seeded: Seeded): Promise<void> {
  expect(await store.getCall(TENANT_A, seeded.old)).toBeUndefined();
  expect(await store.getCall(TENANT_A, seeded.keyHeld)).toMatchObject({ status: "succeeded" });
  expect(await store.getCall(TENANT_A, seeded.recent)).toMatchObject({ status: "succeeded" });
  expect(await store.getRun(TENANT_A, seeded.runs.old)).toBeUndefined();
  expect(await store.getRun(TENANT_A, seeded.runs.recent)).toBeDefined();
}

const DELETED =
  /^deleted 1 call \(and 0 callback deliveries\) and 1 run that ended before (\S+)\n$/;

describe("steadfast purge", () => {
  it("deletes what ended longer ago than --older-than from a SQLite database, keeping held keys, and says what", async () => {
    const dir = await tempDir();
    const db = `sqlite:${join(dir, "data", "steadfast.db")}`;
    const store = await openStore(db);
    await store.migrate();
    const seeded = await seed(store);
    await store.close();

    const before = new SystemClock().now();
    const run = await steadfast(["purge", "--older-than", "30d", "--db", db], dir);
    expect(run).toMatchObject({ code: 0, stderr: "" });
    const cutoff = Date.parse(DELETED.exec(run.stdout)?.[1] ?? "");
    expect(cutoff).toBeGreaterThanOrEqual(before - 30 * DAY);
    expect(cutoff).toBeLessThan(before - 29 * DAY);

    const after = await openStore(db);
    cleanups.push(() => after.close());
    await expectPurged(after, seeded);
    // Nothing more to delete.
    const again = await steadfast(
      ["purge", "--older-than", "30d", "--batch-size", "1", "--db", db],
      dir,
    );
    expect(again.stdout).toMatch(/^deleted 0 calls \(and 0 callback deliveries\) and 0 runs /);
  });

  it("finds the database in the data directory, as serve does, and works on PostgreSQL", async () => {
    const dir = await tempDir();
    const sqlite = await openStore(`sqlite:${join(dir, ".steadfast", "steadfast.db")}`);
    await sqlite.migrate();
    await seed(sqlite);
    await sqlite.close();
    expect((await steadfast(["purge", "--older-than", "30d"], dir)).stdout).toMatch(DELETED);

    const schema = testSchemaName();
    cleanups.push(() => dropSchema(schema));
    const db = `${TEST_DATABASE_URL}?schema=${schema}`;
    const pg = await openStore(db);
    cleanups.push(() => pg.close());
    await pg.migrate();
    const seeded = await seed(pg);
    const run = await steadfast(["purge", "--older-than", "4w", "--db", db], dir);
    expect(run).toMatchObject({ code: 0, stderr: "" });
    expect(run.stdout).toMatch(DELETED);
    await expectPurged(pg, seeded);
  });

  it("refuses a missing or bad duration in one line", async () => {
    const dir = await tempDir();
    const missing = await steadfast(["purge"], dir);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(
      "steadfast: required option '--older-than <duration>' not specified\n",
    );
    const bad = await steadfast(["purge", "--older-than", "30"], dir);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe(
      'steadfast: --older-than "30" is not valid: expected a duration such as 7d, 12h or 30d (at most 10 years)\n',
    );
    const batch = await steadfast(["purge", "--older-than", "30d", "--batch-size", "0"], dir);
    expect(batch.stderr).toMatch(/^steadfast: --batch-size "0" is not valid/);
  });
});
