import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/** What the upstream does with one request. */
export type UpstreamBehaviour =
  | {
      status: number;
      headers?: Record<string, string>;
      body?: string;
      delayMs?: number;
      /** Answered once this settles (a test holds the answer back, then lets it go). */
      after?: Promise<unknown>;
    }
  /** Reads the request, never answers (until the upstream closes). */
  | "hang"
  /** Destroys the connection without an answer. */
  | "reset"
  /** Answers bytes that are not HTTP. */
  | "garbage";

/** One request the upstream received. */
export interface ReceivedRequest {
  /** 1-based arrival order. */
  n: number;
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** When the request had been read (ms, `performance.now()` of the upstream's process). */
  receivedAt: number;
  /** When its answer finished or its connection closed; absent while in flight. */
  finishedAt?: number;
}

/**
 * Pairs of requests carrying the same `header` value whose executions overlapped in time (the
 * second arrived before the first was answered): what two processes running one call at once
 * would leave behind.
 */
export function overlappingRequests(
  requests: readonly ReceivedRequest[],
  header: string,
): [ReceivedRequest, ReceivedRequest][] {
  const byValue = new Map<string, ReceivedRequest[]>();
  for (const request of requests) {
    const value = String(request.headers[header] ?? "");
    byValue.set(value, [...(byValue.get(value) ?? []), request]);
  }
  const overlaps: [ReceivedRequest, ReceivedRequest][] = [];
  for (const group of byValue.values()) {
    group.sort((a, b) => a.receivedAt - b.receivedAt);
    for (let i = 1; i < group.length; i++) {
      const before = group[i - 1]!;
      if (group[i]!.receivedAt < (before.finishedAt ?? Number.POSITIVE_INFINITY))
        overlaps.push([before, group[i]!]);
    }
  }
  return overlaps;
}

/**
 * A script that holds the first request carrying each value of `header` unanswered ("hang") and
 * answers 200 to every later one: every call is in flight at once until its process dies, and its
 * resumed attempt succeeds (crash and resume tests, `bench/resume-after-restart.ts`).
 *
 * @example
 * const upstream = await startFlakyUpstream(holdFirstRequestOfEach("idempotency-key"));
 */
export function holdFirstRequestOfEach(
  header: string,
): (request: ReceivedRequest) => UpstreamBehaviour {
  const seen = new Set<string>();
  return (request) => {
    const value = String(request.headers[header]);
    if (seen.has(value)) return { status: 200 };
    seen.add(value);
    return "hang";
  };
}

/** A real HTTP server on 127.0.0.1 with a scripted behaviour per request. */
export interface FlakyUpstream {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly requests: ReceivedRequest[];
  /** Resolves when the upstream has received `count` requests in all. */
  waitForRequests(count: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts an upstream on 127.0.0.1, port 0. `script` decides each request's behaviour from its
 * arrival number and content; a fixed array is played in order, its last entry repeating.
 *
 * @example
 * const upstream = await startFlakyUpstream([{ status: 503 }, { status: 503 }, { status: 200, body: "ok" }]);
 */
export async function startFlakyUpstream(
  script: readonly UpstreamBehaviour[] | ((request: ReceivedRequest) => UpstreamBehaviour),
): Promise<FlakyUpstream> {
  const requests: ReceivedRequest[] = [];
  const sockets = new Set<Socket>();
  const waiters: { count: number; resolve: () => void }[] = [];
  const pick =
    typeof script === "function"
      ? script
      : (request: ReceivedRequest): UpstreamBehaviour =>
          script[Math.min(request.n, script.length) - 1] ?? { status: 200 };

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const received: ReceivedRequest = {
        n: requests.length + 1,
        method: req.method ?? "",
        path: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
        receivedAt: performance.now(),
      };
      const finish = (): void => {
        received.finishedAt ??= performance.now();
      };
      res.once("finish", finish);
      res.once("close", finish);
      requests.push(received);
      for (const waiter of [...waiters]) {
        if (requests.length >= waiter.count) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve();
        }
      }
      const behaviour = pick(received);
      if (behaviour === "hang") return;
      if (behaviour === "reset") {
        req.socket.destroy();
        return;
      }
      if (behaviour === "garbage") {
        req.socket.end("NOT HTTP AT ALL\r\n\r\n");
        return;
      }
      const answer = (): void => {
        res.writeHead(behaviour.status, { "content-type": "text/plain", ...behaviour.headers });
        res.end(behaviour.body ?? "");
      };
      const { after, delayMs } = behaviour;
      const answerNow = (): void => {
        // The client may have given up meanwhile.
        if (!res.destroyed) answer();
      };
      const delayed = (): void => {
        if (delayMs === undefined) answerNow();
        else setTimeout(answerNow, delayMs);
      };
      if (after === undefined) delayed();
      else void after.then(delayed, delayed);
    });
  });
  server.keepAliveTimeout = 60_000;
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    waitForRequests(count) {
      if (requests.length >= count) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ count, resolve }));
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
