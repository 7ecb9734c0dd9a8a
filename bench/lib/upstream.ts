// The local upstream every benchmark delivers to: answers 200 "ok" at once over keep-alive and
// records, per request, when it arrived, so accept-to-delivered latency can be computed.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { epochMs } from "./clock.ts";

/** Header carrying a job's id from the worker to the upstream. */
export const BENCH_ID_HEADER = "x-bench-id";

/** A running local upstream. */
export interface Upstream {
  /** Base URL, e.g. `http://127.0.0.1:40123/`. */
  readonly url: string;
  /** Arrival time (epoch ms, sub-ms precision) per `x-bench-id`; the first arrival wins. */
  readonly arrivals: Map<string, number>;
  /** Requests answered since start or the last `reset()`, with or without an id. */
  count(): number;
  /** Zeroes the count and clears `arrivals`, so one upstream serves several measurements. */
  reset(): void;
  /** Stops listening and drops idle keep-alive connections. */
  close(): Promise<void>;
}

/**
 * Starts a node:http server on 127.0.0.1, port 0, answering every request `200 ok` at once with
 * keep-alive. It runs in this process, so it shares the event loop with whatever is measured
 * (the same for every contender; a remote upstream would not).
 *
 * @example
 * const upstream = await startUpstream();
 * await fetch(upstream.url, { headers: { [BENCH_ID_HEADER]: "job-1" } });
 * upstream.arrivals.get("job-1"); // epoch ms
 * await upstream.close();
 */
export async function startUpstream(): Promise<Upstream> {
  let requests = 0;
  const arrivals = new Map<string, number>();
  const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    const arrivedAt = epochMs();
    requests++;
    const id = req.headers[BENCH_ID_HEADER];
    if (typeof id === "string" && !arrivals.has(id)) arrivals.set(id, arrivedAt);
    // Drain any request body so the connection can be reused.
    req.resume();
    res.writeHead(200, { "content-type": "text/plain", "content-length": "2" });
    res.end("ok");
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    arrivals,
    count: () => requests,
    reset: () => {
      requests = 0;
      arrivals.clear();
    },
    close: async () => {
      const closed = new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      );
      server.closeAllConnections();
      await closed;
    },
  };
}
