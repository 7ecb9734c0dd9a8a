// The upstream of bench/lib/upstream-process.ts, run as a child process: answers 200 "ok" at once
// over keep-alive and reports each `x-bench-id` arrival (epoch ms) to the parent in small batches.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { epochMs } from "./clock.ts";
import { BENCH_ID_HEADER } from "./upstream.ts";

let requests = 0;
let pending: [string, number][] = [];
const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  const arrivedAt = epochMs();
  requests++;
  const id = req.headers[BENCH_ID_HEADER];
  if (typeof id === "string") pending.push([id, arrivedAt]);
  req.resume();
  res.writeHead(200, { "content-type": "text/plain", "content-length": "2" });
  res.end("ok");
});
server.keepAliveTimeout = 60_000;
server.listen(0, "127.0.0.1", () => {
  process.send?.({ type: "listening", port: (server.address() as AddressInfo).port });
});
setInterval(() => {
  if (pending.length === 0) return;
  process.send?.({ type: "arrivals", arrivals: pending, requests });
  pending = [];
}, 5).unref();
process.on("message", (message: { type: string; t0?: number }) => {
  if (message.type === "ping") {
    process.send?.({ type: "pong", t0: message.t0, t1: epochMs() });
    return;
  }
  if (message.type === "reset") {
    requests = 0;
    pending = [];
    process.send?.({ type: "reset-done" });
  }
});
process.on("disconnect", () => process.exit(0));
