import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isSteadfastError } from "../../core/errors.ts";
import { describeRateLimitStoreContract } from "./rate-limit-store-contract.test-support.ts";
import { SqliteRateLimitStore } from "./sqlite-rate-limit-store.ts";
import { sqliteTestStore } from "./test-rate-limit-stores.test-support.ts";

describeRateLimitStoreContract(
  "SqliteRateLimitStore (temp file)",
  { expiry: "purge", sharing: "shared" },
  sqliteTestStore,
);

describe("SqliteRateLimitStore", () => {
  it("names the file it could not open", () => {
    const dir = mkdtempSync(join(tmpdir(), "steadfast-rate-limit-"));
    const file = join(dir, "a-file");
    writeFileSync(file, "");
    let error: unknown;
    try {
      // A directory under a file: mkdir fails with ENOTDIR.
      SqliteRateLimitStore.open({ path: join(file, "sub", "rate-limit.db") });
    } catch (e) {
      error = e;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(isSteadfastError(error) && error.code).toBe("connect_failed");
    expect(String(error)).toMatch(/Could not open the rate limit store at .*a-file/);
  });
});
