// A real node:http server on 127.0.0.1, port 0, whose every request goes through an idempotency
// middleware to an orders handler that counts its side effects. The handler can be held in flight
// (`hold`) so that a test sees what arrives while it runs.
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { toWebRequest, writeResponse } from "../exchange/node-exchange.ts";
import { FakeClock } from "../testing/fake-clock.ts";
import { SeededRandom } from "../testing/seeded-random.ts";
import { createIdempotency, type Idempotency } from "./create-idempotency.ts";
import type { IdempotencyEvent, IdempotencyOptions } from "./idempotency-options.ts";

/** What the harness's handler answers: by default `201` with an order, cookies and all. */
export type OrdersHandler = (request: Request, effect: number) => Response | Promise<Response>;

/** The default handler: `201` with the order, `Location`, `ETag`, a cookie and a custom header. */
export const createdOrder: OrdersHandler = async (request, effect) => {
  const text = await request.text();
  return new Response(JSON.stringify({ order: effect, received: text }), {
    status: 201,
    headers: {
      "content-type": "application/json",
      location: `/orders/${effect}`,
      etag: `"v${effect}"`,
      "set-cookie": `session=s${effect}; HttpOnly`,
      "x-handler-only": "not kept",
    },
  });
};

/** A server in front of a middleware, and what a test needs to drive it. */
export interface HandleHarness {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  idempotency: Idempotency;
  clock: FakeClock;
  /** Side effects so far: how many times the handler ran. */
  effects(): number;
  /** Requests the handler is holding (see `hold`). */
  held(): number;
  /** From now on the handler waits before answering, until `release()`. */
  hold(): void;
  /** Lets every held (and later) request answer. */
  release(): void;
  events: IdempotencyEvent[];
  /** A POST of `body` (JSON unless `contentType` says otherwise) to `/orders`. */
  post(body: BodyInit, headers?: Record<string, string>): Promise<Response>;
  close(): Promise<void>;
}

/**
 * Starts a server whose requests go through `createIdempotency({ ...options })` (a FakeClock,
 * a seeded random, no background purge unless given) to `handler`.
 */
export async function startHandleHarness(
  options: Partial<IdempotencyOptions> & Pick<IdempotencyOptions, "store">,
  handler: OrdersHandler = createdOrder,
): Promise<HandleHarness> {
  const clock = new FakeClock();
  const events: IdempotencyEvent[] = [];
  const idempotency = await createIdempotency({
    principal: (req) => req.headers.get("authorization") ?? "anonymous",
    clock,
    random: new SeededRandom(42),
    purgeIntervalMs: 0,
    onEvent: (event) => events.push(event),
    ...options,
  });
  let effects = 0;
  let held = 0;
  let gate: Promise<void> | undefined;
  let open = (): void => undefined;
  const run = async (request: Request): Promise<Response> => {
    const effect = ++effects;
    if (gate !== undefined) {
      held++;
      await gate;
      held--;
    }
    return await handler(request, effect);
  };
  const server: Server = createServer((incoming, outgoing) => {
    void (async () => {
      const request = await toWebRequest(incoming);
      if (request instanceof Response) throw new Error("malformed request");
      let response: Response;
      try {
        response = await idempotency.handle(request, run);
      } catch (error) {
        response = new Response(`handler failed: ${String(error)}`, { status: 500 });
      }
      await writeResponse(response, outgoing);
    })().catch(() => outgoing.destroy());
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    idempotency,
    clock,
    events,
    effects: () => effects,
    held: () => held,
    hold() {
      gate = new Promise((resolve) => (open = resolve));
    },
    release() {
      open();
      gate = undefined;
    },
    post: (body, headers = {}) =>
      fetch(`${url}/orders`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body,
      }),
    async close() {
      open();
      server.closeAllConnections();
      server.close();
      await idempotency.close();
    },
  };
}

/** The `application/problem+json` body of `response`, checked for its media type. */
export async function problemOf(
  response: Response,
): Promise<{ type: string; title: string; status: number; detail: string; code: string }> {
  if (response.headers.get("content-type") !== "application/problem+json") {
    throw new Error(`not a problem: ${response.status} ${await response.text()}`);
  }
  return (await response.json()) as {
    type: string;
    title: string;
    status: number;
    detail: string;
    code: string;
  };
}
