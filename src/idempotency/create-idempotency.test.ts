// What `handle` does whatever the store (issue 13), on SQLite over a real node:http server:
// pass-through, waiting for a request in flight, what is stored, leases, problems, the purge.
import { afterEach, describe, expect, it } from "vitest";
import { isSteadfastError } from "../core/errors.ts";
import { FakeClock } from "../testing/fake-clock.ts";
import { SeededRandom } from "../testing/seeded-random.ts";
import { waitUntil } from "../testing/wait-until.ts";
import { createIdempotency } from "./create-idempotency.ts";
import { requestFingerprint } from "../exchange/request-fingerprint.ts";
import {
  createdOrder,
  problemOf,
  startHandleHarness,
  type HandleHarness,
  type OrdersHandler,
} from "./handle-harness.test-support.ts";
import type { IdempotencyOptions } from "./idempotency-options.ts";
import { IdempotencyLedger } from "./record-ledger.ts";
import { scopeId } from "./scope.ts";
import { sqliteTestStore, type TestStore } from "./stores/test-stores.test-support.ts";

const ORDER = JSON.stringify({ sku: "A-1" });
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function harness(
  options: Partial<IdempotencyOptions> = {},
  handler?: OrdersHandler,
): Promise<HandleHarness & { records: TestStore }> {
  const records = await sqliteTestStore();
  cleanups.push(records.cleanup);
  const h = await startHandleHarness({ store: records.store, ...options }, handler);
  cleanups.push(() => h.close());
  return Object.assign(h, { records });
}

describe("createIdempotency's handle", () => {
  it("lets requests without a key, and methods it does not cover, straight through", async () => {
    const h = await harness();
    expect((await h.post(ORDER)).status).toBe(201);
    expect((await h.post(ORDER)).status).toBe(201);
    const get = await fetch(`${h.url}/orders`, { headers: { "idempotency-key": "k" } });
    expect(get.status).toBe(201);
    expect(h.effects()).toBe(3);
  });

  it("applies to the methods given, and requires a key where `required` says", async () => {
    const h = await harness({
      methods: ["put"],
      required: (req) => new URL(req.url).pathname === "/orders",
    });
    const put = (key?: string): Promise<Response> =>
      fetch(`${h.url}/orders`, {
        method: "PUT",
        body: ORDER,
        headers: key === undefined ? {} : { "idempotency-key": key },
      });
    expect((await put()).status).toBe(400);
    expect((await put("k")).status).toBe(201);
    expect((await put("k")).headers.get("idempotent-replayed")).toBe("true");
    expect((await h.post(ORDER, { "idempotency-key": "k" })).status).toBe(201);
    expect(h.effects()).toBe(2);
  });

  it("with waitForInFlightMs, holds a duplicate until the first finishes and replays it", async () => {
    const h = await harness({ waitForInFlightMs: 5_000, waitPollIntervalMs: 100 });
    h.hold();
    const first = h.post(ORDER, { "idempotency-key": "k" });
    await waitUntil(() => h.held() === 1);
    const duplicate = h.post(ORDER, { "idempotency-key": "k" });
    // The first's lease heartbeat and the duplicate's poll.
    await waitUntil(() => h.clock.pendingSleeps === 2);
    await h.clock.advance(100);
    await waitUntil(() => h.clock.pendingSleeps === 2); // polled, still in flight: waits again
    h.release();
    expect((await first).status).toBe(201);
    await h.clock.advance(100);
    const replay = await duplicate;
    expect(replay.status).toBe(201);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(h.effects()).toBe(1);
  });

  it("answers 409 once the wait for the first runs out", async () => {
    const h = await harness({ waitForInFlightMs: 250, waitPollIntervalMs: 100 });
    h.hold();
    const first = h.post(ORDER, { "idempotency-key": "k" });
    await waitUntil(() => h.held() === 1);
    const duplicate = h.post(ORDER, { "idempotency-key": "k" });
    for (const step of [100, 100, 50]) {
      await waitUntil(() => h.clock.pendingSleeps === 2);
      await h.clock.advance(step);
    }
    const conflict = await duplicate;
    expect(conflict.status).toBe(409);
    expect(conflict.headers.get("retry-after")).toBe("1");
    h.release();
    expect((await first).status).toBe(201);
  });

  it("frees the key when the handler throws, so that a retry runs it again", async () => {
    let fail = true;
    const h = await harness({}, (request, effect) => {
      if (fail) throw new Error("database down");
      return createdOrder(request, effect);
    });
    expect((await h.post(ORDER, { "idempotency-key": "k" })).status).toBe(500);
    fail = false;
    const retry = await h.post(ORDER, { "idempotency-key": "k" });
    expect(retry.status).toBe(201);
    expect(retry.headers.get("idempotent-replayed")).toBeNull();
    expect(h.effects()).toBe(2);
  });

  it.each([
    ["all", [true, true, true]],
    ["non-5xx", [false, true, true]],
    ["2xx", [false, false, true]],
  ] as const)(
    "storedOutcomes %s: replays 500, 404, 201 only where stored",
    async (stored, kept) => {
      const h = await harness({ storedOutcomes: stored }, (request, effect) =>
        Response.json({ effect }, { status: Number(request.headers.get("x-status")) }),
      );
      for (const [i, status] of [500, 404, 201].entries()) {
        const headers = { "idempotency-key": `k-${status}`, "x-status": String(status) };
        const before = h.effects();
        expect((await h.post(ORDER, headers)).status).toBe(status);
        const retry = await h.post(ORDER, headers);
        expect(retry.status).toBe(status);
        expect(retry.headers.get("idempotent-replayed") === "true").toBe(kept[i]);
        expect(h.effects() - before).toBe(kept[i] ? 1 : 2);
      }
    },
  );

  it("runs the handler again once the lease of a process that died mid-request runs out", async () => {
    const h = await harness({ leaseMs: 30_000 });
    // Another process claimed the key and died: a lease nobody extends.
    const fingerprint = requestFingerprint({
      method: "POST",
      route: "/orders",
      target: "/orders",
      contentType: "application/json",
      body: new TextEncoder().encode(ORDER),
    });
    const scope = scopeId({ principal: "anonymous", method: "POST", route: "/orders", key: "k" });
    const dead = new IdempotencyLedger(h.records.store, h.clock, new SeededRandom(9), {
      leaseMs: 30_000,
      retentionMs: 86_400_000,
    });
    expect((await dead.claim(scope, fingerprint)).outcome).toBe("claimed");
    expect((await h.post(ORDER, { "idempotency-key": "k" })).status).toBe(409);
    await h.clock.advance(30_000);
    const retry = await h.post(ORDER, { "idempotency-key": "k" });
    expect(retry.status).toBe(201);
    expect(h.effects()).toBe(1);
  });

  it("extends the lease while the handler runs, however long it takes", async () => {
    const h = await harness({ leaseMs: 30_000 });
    h.hold();
    const first = h.post(ORDER, { "idempotency-key": "k" });
    await waitUntil(() => h.held() === 1);
    for (let i = 0; i < 10; i++) {
      await waitUntil(() => h.clock.pendingSleeps === 1);
      await h.clock.advance(10_000); // one heartbeat
    }
    expect((await h.post(ORDER, { "idempotency-key": "k" })).status).toBe(409);
    h.release();
    expect((await first).status).toBe(201);
    expect(h.events.filter((e) => e.type === "idempotency:lease-lost")).toEqual([]);
  });

  it("links problems to the app's documentation when docsUrl is set", async () => {
    const h = await harness({
      docsUrl: "https://api.example.com/docs/idempotency",
      required: true,
    });
    const missing = await h.post(ORDER);
    expect(missing.headers.get("link")).toBe(
      '<https://api.example.com/docs/idempotency>; rel="help"',
    );
    expect(await problemOf(missing)).toMatchObject({
      type: "https://api.example.com/docs/idempotency#idempotency_key_missing",
      title: "Idempotency-Key missing",
      status: 400,
    });
  });

  it("replays a bodiless response without a body", async () => {
    const h = await harness(
      {},
      () => new Response(null, { status: 204, headers: { etag: '"e"' } }),
    );
    await h.post(ORDER, { "idempotency-key": "k" });
    const replay = await h.post(ORDER, { "idempotency-key": "k" });
    expect(replay.status).toBe(204);
    expect(replay.headers.get("etag")).toBe('"e"');
    expect(await replay.text()).toBe("");
  });

  it("answers 503 store_unavailable with Retry-After when the store fails, running nothing", async () => {
    const h = await harness();
    await h.records.store.close();
    const response = await h.post(ORDER, { "idempotency-key": "k" });
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("1");
    expect((await problemOf(response)).code).toBe("store_unavailable");
    expect(h.effects()).toBe(0);
    expect(h.events.map((e) => e.type)).toEqual(["idempotency:store-failed"]);
  });

  it("purges expired records in the background", async () => {
    const h = await harness({ purgeIntervalMs: 60_000, retentionMs: 3_600_000 });
    await h.post(ORDER, { "idempotency-key": "k" });
    await h.clock.advance(3_600_000);
    await waitUntil(() => h.events.some((e) => e.type === "idempotency:purged"));
    expect(h.events).toContainEqual({ type: "idempotency:purged", count: 1 });
    await expect(h.records.store.purgeExpired(h.clock.now(), 10)).resolves.toBe(0);
  });
});

describe("createIdempotency", () => {
  it("opens a store from its URL, and closes it with close()", async () => {
    const records = await sqliteTestStore();
    cleanups.push(records.cleanup);
    const idempotency = await createIdempotency({
      store: records.url,
      principal: () => "p",
      purgeIntervalMs: 0,
    });
    const request = (): Request =>
      new Request("http://app.test/orders", {
        method: "POST",
        headers: { "idempotency-key": "k" },
        body: "x",
      });
    const first = await idempotency.handle(request(), () => Promise.resolve(new Response("one")));
    const again = await idempotency.handle(request(), () => Promise.resolve(new Response("two")));
    expect(await first.text()).toBe("one");
    expect(await again.text()).toBe("one");
    await idempotency.close();
    const closed = await idempotency.handle(request(), () => Promise.resolve(new Response("3")));
    expect(closed.status).toBe(503);
  });

  it.each([
    [{ principal: undefined }, /principal is required/],
    [{ leaseMs: 0 }, /leaseMs must be a positive whole number, got 0/],
    [
      { leaseMs: 1_000, leaseRenewIntervalMs: 1_000 },
      /leaseRenewIntervalMs \(1000\) must be shorter/,
    ],
    [{ replayedHeaders: ["Location", "Set-Cookie"] }, /must not name set-cookie/],
    [{ storedOutcomes: "errors" }, /storedOutcomes must be "all", "2xx", "non-5xx"/],
    [{ docsUrl: "docs/idempotency" }, /docsUrl must be an absolute http\(s\) URL/],
    [{ store: "mysql://db/app" }, /store mysql:\.\.\. is not a store URL/],
  ])("refuses %j, naming the option", async (override, message) => {
    const options = {
      store: "sqlite::memory:",
      principal: () => "p",
      ...override,
    } as unknown as IdempotencyOptions;
    const error: unknown = await createIdempotency(options).catch((e: unknown) => e);
    expect(isSteadfastError(error) && error.code).toBe("invalid_option");
    expect((error as Error).message).toMatch(message);
  });

  it("runs on an injected clock: time is never read from the system", async () => {
    const clock = new FakeClock(0);
    const records = await sqliteTestStore();
    cleanups.push(records.cleanup);
    const idempotency = await createIdempotency({
      store: records.store,
      principal: () => "p",
      clock,
      purgeIntervalMs: 0,
    });
    cleanups.push(() => idempotency.close());
    await idempotency.handle(
      new Request("http://app.test/o", { method: "POST", headers: { "idempotency-key": "k" } }),
      () => Promise.resolve(new Response("ok")),
    );
    const scope = scopeId({ principal: "p", method: "POST", route: "/o", key: "k" });
    const stored = await records.store.read(scope);
    expect(stored?.record).toMatchObject({
      state: "completed",
      completedAt: 0,
      purgeAt: 86_400_000,
    });
  });
});
