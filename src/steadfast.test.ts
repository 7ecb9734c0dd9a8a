import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { isSteadfastError } from "./core/errors.ts";
import { tenantId } from "./core/ids.ts";
import { createSteadfast, openStore, type Steadfast } from "./steadfast.ts";
import {
  dropSchema,
  TEST_DATABASE_URL,
  testSchemaName,
} from "./store/postgres/test-database.test-support.ts";
import { FakeClock } from "./testing/fake-clock.ts";
import { startFlakyUpstream, type FlakyUpstream } from "./testing/flaky-upstream.ts";

let sf: Steadfast | undefined;
let upstream: FlakyUpstream | undefined;
const cwd = process.cwd();
afterEach(async () => {
  await sf?.close();
  await upstream?.close();
  sf = undefined;
  upstream = undefined;
  process.chdir(cwd);
});

describe("createSteadfast", () => {
  it("runs a durable call in-process and returns its handle", async () => {
    upstream = await startFlakyUpstream([{ status: 200, body: "pong" }]);
    sf = await createSteadfast({ db: ":memory:", allowPrivateNetworks: true });
    const call = await sf.fetch({ url: `${upstream.url}/ping` }, { idempotencyKey: "ping-1" });
    expect(call.created).toBe(true);
    expect(await call.result()).toMatchObject({
      status: "succeeded",
      response: { status: 200, body: "pong" },
    });
    const again = await sf.fetch({ url: `${upstream.url}/ping` }, { idempotencyKey: "ping-1" });
    expect(again).toMatchObject({ id: call.id, created: false });
    expect(upstream.requests).toHaveLength(1);
  });

  it("carries as many attempts to one destination at once as its share of concurrency, beyond 128 connections", async () => {
    // The resume benchmark (500 calls to one origin, concurrency 1,000) found 128 connections
    // per origin: the rest waited for one and failed connect_timeout without being sent.
    // On a fake clock no timeout fires: with fewer connections than calls in flight, the calls
    // left waiting for one would never arrive, and the test would time out.
    upstream = await startFlakyUpstream(() => "hang");
    sf = await createSteadfast({
      db: ":memory:",
      allowPrivateNetworks: true,
      concurrency: 400,
      clock: new FakeClock(Date.parse("2026-01-01T00:00:00Z")),
    });
    const calls = 200;
    for (let i = 0; i < calls; i++) await sf.fetch({ url: `${upstream.url}/${i}` });
    await upstream.waitForRequests(calls);
    expect(upstream.requests).toHaveLength(calls);
    await upstream.close();
    upstream = undefined;
  });

  it("refuses a private destination unless allowed, and invalid input, with field names", async () => {
    sf = await createSteadfast({ db: ":memory:", startEngine: false });
    const refused = await sf.fetch({ url: "http://127.0.0.1:9/x" }).catch((e: unknown) => e);
    expect(isSteadfastError(refused) && refused.code).toBe("blocked_destination");
    // In-process, the fix is an option: the server's variables do nothing here.
    expect((refused as Error).message).toContain(
      "set allowPrivateNetworks: true (a createSteadfast option) or add the range to allowedCidrs (a createSteadfast option)",
    );
    expect((refused as Error).message).not.toContain("STEADFAST_");
    const invalid = await sf
      .fetch({ url: "https://example.com", retry: { maxAttempts: -1 } })
      .catch((e: unknown) => e);
    expect(isSteadfastError(invalid) && invalid.issues.map((i) => i.field)).toEqual([
      "retry.maxAttempts",
    ]);
  });

  it("refuses, as the HTTP API does, what its HTTP client could not send or nests too deeply", async () => {
    sf = await createSteadfast({ db: ":memory:", startEngine: false });
    const fieldsOf = async (...args: Parameters<Steadfast["fetch"]>): Promise<unknown> => {
      const error = await sf!.fetch(...args).catch((e: unknown) => e);
      return isSteadfastError(error) && error.code === "invalid_request"
        ? error.issues.map((i) => i.field)
        : error;
    };
    const url = "https://example.com/x";
    let deep: unknown = [];
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(await fieldsOf({ url, headers: { "x-bad": "\0", "X-Ws": " ", Expect: "x" } })).toEqual([
      "headers.x-bad",
      "headers.X-Ws",
    ]);
    expect(await fieldsOf({ url, headers: { Expect: "100-continue" } })).toEqual([
      "headers.Expect",
    ]);
    expect(await fieldsOf({ url, method: "CONNECT" })).toEqual(["method"]);
    expect(await fieldsOf({ url, timeout: { connectMs: 1, totalMs: 1 } })).toEqual([
      "timeout.connectMs",
      "timeout.totalMs",
    ]);
    expect(await fieldsOf({ url, body: deep }, { idempotencyKey: "deep" })).toEqual(["body"]);
    expect(await fieldsOf({ url, body: cyclic })).toEqual(["body"]);
    // The key is forwarded upstream as a header: it must be sendable as one.
    expect(await fieldsOf({ url }, { idempotencyKey: "order\n42" })).toEqual(["Idempotency-Key"]);
    expect(await sf.calls.list(tenantId("default"))).toEqual({ calls: [] });
  });

  it("opens sqlite:<path>, a bare path, both spellings of memory, and says when PostgreSQL is unreachable", async () => {
    const dir = mkdtempSync(join(tmpdir(), "steadfast-open-"));
    process.chdir(dir);
    for (const db of [":memory:", "sqlite::memory:"]) {
      const store = await openStore(db);
      await store.migrate();
      await store.close();
    }
    expect(existsSync(join(dir, ":memory:"))).toBe(false);
    const store = await openStore(`sqlite:${join(dir, "nested/dir/a.db")}`);
    await store.migrate();
    await store.close();
    expect(existsSync(join(dir, "nested/dir/a.db"))).toBe(true);
    await expect(openStore("postgres://postgres@127.0.0.1:1/nowhere")).rejects.toThrow();
    process.chdir(cwd);
    rmSync(dir, { recursive: true, force: true });
  });

  it("runs the same durable call on PostgreSQL with only the database URL changed", async () => {
    const schema = testSchemaName();
    upstream = await startFlakyUpstream([{ status: 503 }, { status: 200, body: "pg" }]);
    sf = await createSteadfast({
      db: `${TEST_DATABASE_URL}?schema=${schema}`,
      allowPrivateNetworks: true,
    });
    try {
      expect(sf.store.dialect).toBe("postgres");
      const call = await sf.fetch(
        { url: upstream.url, retry: { initialDelayMs: 1, maxDelayMs: 1 } },
        { idempotencyKey: "pg-1" },
      );
      expect(await call.result({ timeoutMs: 20_000 })).toMatchObject({
        status: "succeeded",
        attempts: 2,
        response: { body: "pg" },
      });
      expect(
        (
          await sf.fetch(
            { url: upstream.url, retry: { initialDelayMs: 1, maxDelayMs: 1 } },
            { idempotencyKey: "pg-1" },
          )
        ).id,
      ).toBe(call.id);
    } finally {
      await sf.close();
      sf = undefined;
      await dropSchema(schema);
    }
  });
});
