// The idempotency middleware on Hono, Express, Fastify and node:http, end to end over real HTTP
// with the real frameworks (issue 13): replay with its marker and the kept headers (never
// Set-Cookie), 409 while in flight, 422, 400, the route reading the body, a route that throws.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeClock } from "../testing/fake-clock.ts";
import { SeededRandom } from "../testing/seeded-random.ts";
import { waitUntil } from "../testing/wait-until.ts";
import { ADAPTERS, Orders, type OrdersServer } from "./adapter-servers.test-support.ts";
import { createIdempotency, type Idempotency } from "./create-idempotency.ts";
import { problemOf } from "./handle-harness.test-support.ts";
import { sqliteTestStore, type TestStore } from "./stores/test-stores.test-support.ts";

const ORDER = { sku: "A-1", quantity: 2 };

describe.each(Object.entries(ADAPTERS))("the %s adapter", (_name, mount) => {
  let records: TestStore;
  let idempotency: Idempotency;
  let orders: Orders;
  let server: OrdersServer;
  beforeEach(async () => {
    records = await sqliteTestStore();
    idempotency = await createIdempotency({
      store: records.store,
      principal: (req) => req.headers.get("authorization") ?? "anonymous",
      required: true,
      clock: new FakeClock(),
      random: new SeededRandom(7),
      purgeIntervalMs: 0,
      maxBodyBytes: 1_024,
    });
    orders = new Orders();
    server = await mount(idempotency, orders);
  });
  afterEach(async () => {
    orders.release();
    await server.close();
    await idempotency.close();
    await records.cleanup();
  });

  const post = (
    body: unknown,
    headers: Record<string, string> = {},
    path = "",
  ): Promise<Response> =>
    fetch(server.url + path, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });

  it("runs the route once and replays its response: status, body, kept headers, the marker; never Set-Cookie", async () => {
    const first = await post(ORDER, { "idempotency-key": '"order-1"' });
    expect(first.status).toBe(201);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    expect(first.headers.get("set-cookie")).toBe("session=s1; HttpOnly");
    expect(first.headers.get("x-handler-only")).toBe("not kept");
    const body = await first.text();
    const parsed = JSON.parse(body) as { order: number; received: string };
    expect(parsed.order).toBe(1);
    // The route read the body as sent, after the middleware had read it too.
    expect(JSON.parse(parsed.received)).toEqual(ORDER);

    // Same JSON, other member order and spacing: the same request.
    const retry = await post('{ "quantity": 2, "sku": "A-1" }', { "idempotency-key": '"order-1"' });
    expect(retry.status).toBe(201);
    expect(await retry.text()).toBe(body);
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    expect(retry.headers.get("location")).toBe("/orders/1");
    expect(retry.headers.get("etag")).toBe('"v1"');
    expect(retry.headers.get("content-type")).toMatch(/^application\/json/);
    expect(retry.headers.get("set-cookie")).toBeNull();
    expect(retry.headers.get("x-handler-only")).toBeNull();
    expect(orders.effects).toBe(1);
  });

  it("answers 409 with Retry-After to a duplicate while the first is in the route, then replays", async () => {
    orders.hold();
    const first = post(ORDER, { "idempotency-key": "k-409" });
    await waitUntil(() => orders.held === 1, { what: "the first request to be in the route" });
    const duplicate = await post(ORDER, { "idempotency-key": "k-409" });
    expect(duplicate.status).toBe(409);
    expect(duplicate.headers.get("retry-after")).toBe("1");
    expect((await problemOf(duplicate)).code).toBe("idempotency_key_in_use");
    orders.release();
    expect((await first).status).toBe(201);
    const replay = await post(ORDER, { "idempotency-key": "k-409" });
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(orders.effects).toBe(1);
  });

  it("answers 422 to the same key with another body, 400 without a key, and runs neither", async () => {
    expect((await post(ORDER, { "idempotency-key": "k-422" })).status).toBe(201);
    const changed = await post({ ...ORDER, quantity: 3 }, { "idempotency-key": "k-422" });
    expect(changed.status).toBe(422);
    expect((await problemOf(changed)).code).toBe("idempotency_key_reused");
    const missing = await post(ORDER);
    expect(missing.status).toBe(400);
    expect((await problemOf(missing)).code).toBe("idempotency_key_missing");
    const invalid = await post(ORDER, { "idempotency-key": '"unterminated' });
    expect(invalid.status).toBe(400);
    expect(orders.effects).toBe(1);
  });

  it("fingerprints a chunked body (no Content-Length) and the route still reads it whole", async () => {
    const chunked = () =>
      fetch(server.url, {
        method: "POST",
        headers: { "content-type": "application/json", "idempotency-key": "k-chunked" },
        body: new Blob([JSON.stringify(ORDER)]).stream(),
        duplex: "half",
      } as RequestInit);
    const first = await chunked();
    expect(first.status).toBe(201);
    const { received } = (await first.json()) as { received: string };
    expect(JSON.parse(received)).toEqual(ORDER);
    expect((await chunked()).headers.get("idempotent-replayed")).toBe("true");
    expect(orders.effects).toBe(1);
  });

  it("keeps keys apart per principal", async () => {
    const alice = await post(ORDER, { "idempotency-key": "shared", authorization: "alice" });
    const bob = await post(ORDER, { "idempotency-key": "shared", authorization: "bob" });
    expect(alice.status).toBe(201);
    expect(bob.status).toBe(201);
    expect(bob.headers.get("idempotent-replayed")).toBeNull();
    expect(orders.effects).toBe(2);
  });

  it("lets a GET through to the route untouched", async () => {
    const listed = await fetch(server.url);
    expect(listed.status).toBe(200);
    expect(await listed.text()).toBe("listed");
    expect(listed.headers.get("idempotent-replayed")).toBeNull();
  });

  it("answers 413 for a body over maxBodyBytes before the route runs", async () => {
    const big = await post({ note: "x".repeat(2_000) }, { "idempotency-key": "k-413" });
    expect(big.status).toBe(413);
    expect(orders.effects).toBe(0);
  });
});

describe("a route that fails", () => {
  // Hono, Fastify and node:http tell a throwing route from an answer: the key is freed and a
  // retry runs the route again. Express answers it with its error handler, whose 500 is stored.
  it.each([
    ["hono", false],
    ["fastify", false],
    ["node", false],
    ["express", true],
  ] as const)("on %s: 500, then the retry %s", async (name, replayed) => {
    const records = await sqliteTestStore();
    const idempotency = await createIdempotency({
      store: records.store,
      principal: () => "anonymous",
      clock: new FakeClock(),
      purgeIntervalMs: 0,
    });
    const server = await ADAPTERS[name]!(idempotency, new Orders());
    try {
      const send = () =>
        fetch(`${server.url}/fail`, {
          method: "POST",
          headers: { "content-type": "application/json", "idempotency-key": "k-fail" },
          body: "{}",
        });
      const first = await send();
      expect(first.status).toBe(500);
      const retry = await send();
      expect(retry.status).toBe(500);
      expect(retry.headers.get("idempotent-replayed")).toBe(replayed ? "true" : null);
    } finally {
      await server.close();
      await idempotency.close();
      await records.cleanup();
    }
  });
});
