import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GroupCommit } from "./group-commit.ts";

describe("GroupCommit", () => {
  let dir: string;
  let db: DatabaseSync;
  let observer: DatabaseSync;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "steadfast-group-commit-"));
    db = new DatabaseSync(join(dir, "test.db"));
    db.exec("PRAGMA journal_mode = WAL; CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)");
    observer = new DatabaseSync(join(dir, "test.db"));
  });

  afterEach(() => {
    observer.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const insert = (k: string, v: number | null) => () =>
    Number(db.prepare("INSERT INTO t (k, v) VALUES (?, ?)").run(k, v).changes);
  const seenByOthers = (k: string) =>
    observer.prepare("SELECT v FROM t WHERE k = ?").get(k)?.v ?? undefined;

  it("commits the writes of one event-loop turn in one transaction, before resolving", async () => {
    const writes = new GroupCommit(db);
    const transactions: number[] = [];
    const probe = () => {
      const row = db.prepare("SELECT count(*) AS n FROM t").get()!;
      transactions.push(Number(row.n));
      return db.isTransaction;
    };
    const results = await Promise.all([
      writes.enqueue(insert("a", 1)),
      writes.enqueue(probe),
      writes.enqueue(insert("b", 2)).then((changes) => [changes, seenByOthers("b")]),
    ]);
    expect(results).toEqual([1, true, [1, 2]]);
    // The probe ran inside the batch and saw the write queued before it.
    expect(transactions).toEqual([1]);
  });

  it("rolls back only the write that threw, including its earlier statements", async () => {
    const writes = new GroupCommit(db);
    const partlyFailing = () => {
      insert("half", 1)();
      insert("dup", 2)();
      return "unreachable";
    };
    const settled = await Promise.allSettled([
      writes.enqueue(insert("dup", 1)),
      writes.enqueue(partlyFailing),
      writes.enqueue(insert("after", 3)),
      writes.enqueue(() => {
        throw new Error("not SQL");
      }),
    ]);
    expect(settled.map((s) => s.status)).toEqual([
      "fulfilled",
      "rejected",
      "fulfilled",
      "rejected",
    ]);
    expect(seenByOthers("dup")).toBe(1);
    expect(seenByOthers("half")).toBeUndefined();
    expect(seenByOthers("after")).toBe(3);
  });

  it("splits bursts into transactions of at most maxBatchSize writes", async () => {
    const writes = new GroupCommit(db, { maxBatchSize: 3 });
    const sizes: number[] = [];
    let current = -1;
    const track = (i: number) => () => {
      // Within one transaction, the observer connection cannot see uncommitted rows.
      const committed = Number(observer.prepare("SELECT count(*) AS n FROM t").get()!.n);
      if (committed !== current) sizes.push(0);
      current = committed;
      sizes[sizes.length - 1]! += 1;
      return insert(`k${i}`, i)();
    };
    await Promise.all(Array.from({ length: 8 }, (_, i) => writes.enqueue(track(i))));
    expect(sizes).toEqual([3, 3, 2]);
  });

  it("commits pending writes on close, then refuses new ones", async () => {
    const writes = new GroupCommit(db);
    const pending = writes.enqueue(insert("x", 1));
    expect(writes.pending).toBe(1);
    writes.close();
    expect(seenByOthers("x")).toBe(1);
    await expect(pending).resolves.toBe(1);
    await expect(writes.enqueue(insert("y", 2))).rejects.toThrow(/closed/);
  });
});
