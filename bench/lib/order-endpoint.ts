// The endpoint of issue 13's benchmark (bench/idempotency.ts), an orders API's create: read the
// JSON body, answer `201` with the created order as JSON and its `Location`, on node:http and on
// Express. The same work for every contender; only what stands in front of it differs. Each
// contender counts the handler's runs, so the benchmark can check that no response was a replay
// (the keys were unique).
import express, {
  type ErrorRequestHandler,
  type Express,
  type Request,
  type RequestHandler,
} from "express";
import type { IncomingMessage, RequestListener } from "node:http";

/** The JSON body every request carries. */
export const ORDER_BODY = JSON.stringify({ item: "book", quantity: 1 });

/** The request body the handler reads. */
export interface Order {
  item: string;
  quantity: number;
}

/** The order the endpoint creates. */
export interface CreatedOrder extends Order {
  id: string;
  status: "created";
}

/** The `n`-th order created from `order`, and its `Location`. */
export function createOrder(order: Order, n: number): { location: string; created: CreatedOrder } {
  const id = `order_${n}`;
  return {
    location: `/orders/${id}`,
    created: { id, item: order.item, quantity: order.quantity, status: "created" },
  };
}

/** A request listener serving the endpoint, and its counts. */
export interface Endpoint {
  listener: RequestListener;
  /** How many requests the handler ran (replays and refusals not counted). */
  runs(): number;
  /** How many requests the handler (or the body parser before it) failed with `500`. */
  failures(): number;
}

/** A contender's endpoint, and what to free at the end. */
export interface Session extends Endpoint {
  /** Frees what the session holds (stores, schemas, files), once its server is closed. */
  close(): Promise<void>;
}

/** Why a contender cannot run here (a package not installed), printed instead of its figures. */
export interface Skipped {
  skipped: string;
}

/** What a contender's session is told: the prefix of every Idempotency-Key its load will send. */
export interface OpenContext {
  keyPrefix: string;
}

/** One contender: its name, where it keeps its keys, its settings, and how to open it. */
export interface Contender {
  name: string;
  store: string;
  settings: string;
  open(context: OpenContext): Promise<Session | Skipped>;
}

/**
 * The bare handler on node:http: reads the body, `JSON.parse`s it, answers `201` JSON with a
 * `Location` (or `500` if the body cannot be read or parsed).
 */
export function orderListener(): Endpoint {
  let runs = 0;
  let failures = 0;
  const listener: RequestListener = (request, response) => {
    readText(request)
      .then((text) => {
        const { location, created } = createOrder(JSON.parse(text) as Order, ++runs);
        const body = JSON.stringify(created);
        response.writeHead(201, {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
          location,
        });
        response.end(body);
      })
      .catch((error: unknown) => {
        failures++;
        if (response.headersSent) return void response.destroy();
        response.writeHead(500, { "content-type": "text/plain" });
        response.end(String(error));
      });
  };
  return { listener, runs: () => runs, failures: () => failures };
}

/**
 * The same handler on Express 5: `app.post("/orders", express.json(), ...before, handler)`, where
 * `handler` answers `201` with `res.location(...).json(...)`. `mount` may add middleware before
 * the route (`app.use`); `isHit` tells the handler a request was already answered by a
 * middleware that calls `next()` anyway (express-idempotency does), so it neither runs nor counts.
 * An error handler answers failures `500` JSON (counted, not logged).
 */
export function orderApp(
  options: {
    mount?: (app: Express) => void;
    before?: readonly RequestHandler[];
    isHit?: (request: Request) => boolean;
  } = {},
): Endpoint {
  let runs = 0;
  let failures = 0;
  const app = express();
  options.mount?.(app);
  app.post("/orders", express.json(), ...(options.before ?? []), (request, response) => {
    if (options.isHit?.(request) === true) return;
    const { location, created } = createOrder(request.body as Order, ++runs);
    response.status(201).location(location).json(created);
  });
  const failed: ErrorRequestHandler = (error, _request, response, _next) => {
    failures++;
    response.status(500).json({ error: String(error) });
  };
  app.use(failed);
  return { listener: app, runs: () => runs, failures: () => failures };
}

async function readText(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
