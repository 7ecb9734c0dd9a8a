import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isSteadfastError } from "../../core/errors.ts";
import { describeIdempotencyStoreContract } from "./idempotency-store-contract.test-support.ts";
import { SqliteIdempotencyStore } from "./sqlite-idempotency-store.ts";

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "steadfast-idempotency-"));
}

describeIdempotencyStoreContract("SqliteIdempotencyStore (temp file)", "purge", () => {
  const dir = tempDir();
  const store = SqliteIdempotencyStore.open({ path: join(dir, "idempotency.db") });
  return Promise.resolve({
    store,
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  });
});

describe("SqliteIdempotencyStore", () => {
  it("shares records between two stores on one file (two processes)", async () => {
    const dir = tempDir();
    const path = join(dir, "nested", "idempotency.db");
    const a = SqliteIdempotencyStore.open({ path });
    const b = SqliteIdempotencyStore.open({ path, synchronous: "NORMAL" });
    try {
      const record = {
        state: "in-flight" as const,
        fingerprint: { algorithm: "sha256-raw-v1", digest: "0".repeat(64) },
        leaseToken: "t",
        claimedAt: 1,
        leaseExpiresAt: 2,
        purgeAt: 3,
      };
      expect(await a.compareAndSet("s", undefined, { record, version: "v1" }, 0)).toBe(true);
      expect(await b.compareAndSet("s", undefined, { record, version: "v2" }, 0)).toBe(false);
      expect((await b.read("s"))?.version).toBe("v1");
    } finally {
      await a.close();
      await b.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("rejects operations after close with store_closed", async () => {
    const store = SqliteIdempotencyStore.open({ path: ":memory:" });
    await store.close();
    const error: unknown = await store.read("s").catch((e: unknown) => e);
    expect(isSteadfastError(error) && error.code).toBe("store_closed");
  });
});
