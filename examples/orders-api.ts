// An orders API on Hono with both of issue 13's middlewares: rate limiting (each client's quota,
// `429` with `Retry-After` over it) and idempotency (an `Idempotency-Key` makes `POST /orders`
// safe to retry: the order is created once, a retry gets the stored answer, a changed body under
// the same key is refused `422`). It starts the API on 127.0.0.1, port 0, plays a client against
// it, prints what happened, and exits.
//
//   node examples/orders-api.ts            (from a checkout: npm install first)
//
// The idempotency records are in a SQLite file of a temp directory (in your code, a lasting path,
// or postgres://... or redis://... shared by every process); the rate limit counts in memory.
import { mkdtempSync, rmSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { createIdempotency, honoIdempotency } from "../src/idempotency/index.ts";
import { createRateLimit, honoRateLimit } from "../src/rate-limit/index.ts";

// --- The API ---------------------------------------------------------------------------------
const dir = mkdtempSync(join(tmpdir(), "steadfast-orders-api-"));
const client = (req: Request): string | undefined => req.headers.get("authorization") ?? undefined;

const rateLimit = await createRateLimit({ store: "memory", key: client, limit: 5, window: "1m" });
const idempotency = await createIdempotency({
  store: `sqlite:${join(dir, "idempotency.db")}`,
  principal: (req) => client(req) ?? "anonymous", // a key belongs to the client that sent it
  required: true, // POST /orders without an Idempotency-Key: 400
});

interface Order {
  id: number;
  sku: string;
  quantity: number;
}
const orders: Order[] = [];

const app = new Hono();
// The rate limit first: every request takes its turn, replays and refusals included, so a client
// retrying in a loop is slowed down too.
app.use("/orders/*", honoRateLimit(rateLimit));
app.use("/orders/*", honoIdempotency(idempotency));
app.post("/orders", async (c) => {
  const { sku, quantity } = await c.req.json<{ sku: string; quantity: number }>();
  const order = { id: orders.length + 1, sku, quantity };
  orders.push(order); // the effect that must happen once per key
  c.header("location", `/orders/${order.id}`);
  return c.json(order, 201);
});

const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }) as Server;
await new Promise((resolve) => server.once("listening", resolve));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/orders`;

// --- A client --------------------------------------------------------------------------------
async function order(key: string, body: { sku: string; quantity: number }): Promise<Response> {
  return await fetch(url, {
    method: "POST",
    headers: {
      authorization: "Bearer alice",
      "content-type": "application/json",
      "idempotency-key": `"${key}"`, // the draft's quoted form
    },
    body: JSON.stringify(body),
  });
}

const first = await order("order-1", { sku: "A-1", quantity: 2 });
const created = await first.text();
console.log(`POST /orders (key order-1): ${first.status} ${created}`);
console.log(`  RateLimit: ${first.headers.get("ratelimit")}`);

// The client did not see that answer (a timeout, a dropped connection) and sends it again.
const retry = await order("order-1", { sku: "A-1", quantity: 2 });
const replayed = await retry.text();
console.log(
  `retry (key order-1): ${retry.status} replayed=${retry.headers.get("idempotent-replayed")} same body=${replayed === created}`,
);

const changed = await order("order-1", { sku: "A-1", quantity: 3 });
const problem = (await changed.json()) as { code: string };
console.log(`changed body (key order-1): ${changed.status} ${problem.code}`);

// A burst of new orders: five requests a minute, three used already.
const burst: string[] = [];
let retryAfter: string | null = null;
for (let i = 2; i <= 5; i++) {
  const answer = await order(`order-${i}`, { sku: "B-2", quantity: 1 });
  burst.push(String(answer.status));
  if (answer.status === 429) retryAfter = answer.headers.get("retry-after");
  await answer.body?.cancel();
}
console.log(`burst of 4 (keys order-2 to order-5): ${burst.join(" ")}, Retry-After: ${retryAfter}`);
console.log(`orders created: ${orders.length}`);

server.close();
await idempotency.close();
await rateLimit.close();
rmSync(dir, { recursive: true, force: true });

const expected = first.status === 201 && retry.status === 201 && changed.status === 422;
if (
  !expected ||
  replayed !== created ||
  burst.join(" ") !== "201 201 429 429" ||
  orders.length !== 3
)
  throw new Error("the orders API did not behave as described above");
