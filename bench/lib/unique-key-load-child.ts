// The load generator of bench/idempotency.ts, run as a child process so that it and the server
// under test each have a core: autocannon's programmatic API POSTing one JSON body over keep-alive
// connections, every request with an `Idempotency-Key` never sent before. autocannon's CLI sends
// prebuilt request bytes; its `requests[].setupRequest` hook runs before each request is built,
// and sets the key there: `<keyPrefix><crypto.randomUUID()>` (a bare token). Prints autocannon's
// result as JSON on stdout, as its CLI's `--json` does. Options: one JSON argument
// (`UniqueKeyLoadOptions` of ./unique-key-load.ts).
import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import type { UniqueKeyLoadOptions } from "./unique-key-load.ts";

/** The request autocannon hands `setupRequest`: a fresh copy per request, headers included. */
interface AutocannonRequest {
  headers: Record<string, string>;
}

/** The part of autocannon's programmatic API used here (the package ships no types). */
type Autocannon = (options: {
  url: string;
  connections: number;
  duration: number;
  method: string;
  headers: Record<string, string>;
  body: string;
  json: boolean;
  requests: { setupRequest: (request: AutocannonRequest) => AutocannonRequest }[];
}) => Promise<unknown>;

const options = JSON.parse(process.argv[2] ?? "{}") as UniqueKeyLoadOptions;
const autocannon = createRequire(import.meta.url)("autocannon") as Autocannon;

// `json: true` prints the result on stdout when the run ends (and renders nothing else).
await autocannon({
  url: options.url,
  connections: options.connections,
  duration: options.durationS,
  method: "POST",
  headers: { "content-type": "application/json" },
  body: options.body,
  json: true,
  requests: [
    {
      setupRequest(request) {
        request.headers["idempotency-key"] = `${options.keyPrefix}${randomUUID()}`;
        return request;
      },
    },
  ],
});
