import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { WalCheckpointer } from "./wal-checkpointer.ts";

describe("WalCheckpointer", () => {
  let dir: string;
  let path: string;
  let db: DatabaseSync;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "steadfast-checkpoint-"));
    path = join(dir, "test.db");
    db = new DatabaseSync(path);
    // No automatic checkpoint: only the worker copies the WAL into the database file.
    db.exec("PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (v TEXT)");
  });

  afterEach(() => {
    if (db.isOpen) db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("copies committed WAL pages into the database file from its worker", async () => {
    const checkpointer = new WalCheckpointer({ path, synchronous: "FULL", busyTimeoutMs: 1_000 });
    try {
      await checkpointer.checkpointNow();
      const before = statSync(path).size;
      const insert = db.prepare("INSERT INTO t (v) VALUES (?)");
      db.exec("BEGIN");
      for (let i = 0; i < 2_000; i++) insert.run("x".repeat(200));
      db.exec("COMMIT");
      expect(statSync(path).size).toBe(before);

      await checkpointer.checkpointNow();
      expect(statSync(path).size).toBeGreaterThan(before + 400_000);
      expect(checkpointer.lastError).toBeUndefined();
    } finally {
      await checkpointer.close();
    }
  });

  it("closes its worker, after which it ignores commits and refuses checkpoints", async () => {
    const checkpointer = new WalCheckpointer({ path, synchronous: "NORMAL", busyTimeoutMs: 1_000 });
    checkpointer.afterCommit();
    await checkpointer.close();
    await checkpointer.close();
    checkpointer.afterCommit();
    await expect(checkpointer.checkpointNow()).rejects.toThrow(/closed/);
  });
});
