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

  it("acknowledges a write only after a sync that began after its commit; later commits share the next sync", async () => {
    const syncs: { resolve: () => void; reject: (e: Error) => void }[] = [];
    const writes = new GroupCommit(db, {
      sync: () => new Promise<void>((resolve, reject) => syncs.push({ resolve, reject })),
    });
    let firstDone = false;
    const first = writes.enqueue(insert("a", 1)).then(() => (firstDone = true));
    writes.flush();
    expect(seenByOthers("a")).toBe(1);
    expect(syncs).toHaveLength(1);
    const second = writes.enqueue(insert("b", 2));
    const third = writes.enqueue(insert("c", 3));
    writes.flush();
    // Committed while the first sync runs: no second sync starts until it ends.
    expect(syncs).toHaveLength(1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(firstDone).toBe(false);
    syncs[0]!.resolve();
    await first;
    await new Promise((resolve) => setImmediate(resolve));
    expect(syncs).toHaveLength(2);
    syncs[1]!.resolve();
    expect(await Promise.all([second, third])).toEqual([1, 1]);
    await writes.settled();
  });

  it("rejects committed writes whose sync failed instead of acknowledging them", async () => {
    const writes = new GroupCommit(db, { sync: () => Promise.reject(new Error("EIO")) });
    const write = writes.enqueue(insert("a", 1));
    writes.flush();
    await expect(write).rejects.toThrow(/fsync of the SQLite WAL failed: Error: EIO/);
    await writes.settled();
  });

  it("resolves non-durable writes at COMMIT while durable ones wait for the sync", async () => {
    let release: () => void = () => {};
    const writes = new GroupCommit(db, {
      sync: () => new Promise<void>((resolve) => (release = resolve)),
    });
    let durableDone = false;
    const durable = writes.enqueue(insert("a", 1)).then(() => (durableDone = true));
    const claim = writes.enqueue(insert("b", 2), { durable: false });
    writes.flush();
    expect(await claim).toBe(1);
    expect(durableDone).toBe(false);
    release();
    await durable;
    await writes.settled();
  });
});
