import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, describe, expect, it } from "vitest";
import { WalSync } from "./wal-sync.ts";

let dir: string | undefined;
afterEach(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe("WalSync", () => {
  it("fsyncs the WAL of a live connection, and says clearly when there is none", async () => {
    dir = mkdtempSync(join(tmpdir(), "steadfast-wal-sync-"));
    const path = join(dir, "a.db");
    const missing = new WalSync(`${path}-wal`);
    await expect(missing.sync()).rejects.toThrow(/ENOENT/);
    const db = new DatabaseSync(path);
    db.exec(
      "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; CREATE TABLE t (x); INSERT INTO t VALUES (1);",
    );
    // A failed open is not cached: the next sync opens the file SQLite has created since.
    await expect(missing.sync()).resolves.toBeUndefined();
    await missing.close();
    db.close();
  });
});
