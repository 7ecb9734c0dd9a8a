// Throughput of UndiciTransport.send against a bare undici `request()` loop, both with 64 requests
// in flight to a local keep-alive upstream that answers at once. The upstream runs in a child
// process so it does not share the event loop being measured. Prints figures; never fails on time.
// Run: node bench/transport.ts [requests] [rounds]
import { fork } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import { Agent, request } from "undici";
import { SystemClock } from "../src/engine/system-clock.ts";
import { createDestinationGuard } from "../src/http/destination-guard.ts";
import { UndiciTransport } from "../src/http/undici-transport.ts";

const IN_FLIGHT = 64;

if (process.argv[2] === "upstream") {
  const body = JSON.stringify({ ok: true, id: "ord_123", amount: 4200 });
  const server = createServer({ keepAliveTimeout: 60_000 }, (_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(body);
  });
  server.listen(0, "127.0.0.1", () => {
    process.send!((server.address() as AddressInfo).port);
  });
  process.on("disconnect", () => server.close());
} else {
  await main();
}

async function main(): Promise<void> {
  const total = Number(process.argv[2] ?? 20_000);
  const rounds = Number(process.argv[3] ?? 3);
  const child = fork(import.meta.filename, ["upstream"], { stdio: "inherit" });
  const port = await new Promise<number>((resolve) =>
    child.once("message", (m) => resolve(m as number)),
  );
  const url = `http://127.0.0.1:${port}/v1/orders?limit=1`;

  const agent = new Agent({ connections: 128 });
  const bare = async (): Promise<void> => {
    const response = await request(url, { dispatcher: agent, headers: { "user-agent": "bench" } });
    await response.body.arrayBuffer();
    if (response.statusCode !== 200) throw new Error(`status ${response.statusCode}`);
  };

  const transport = new UndiciTransport({
    clock: new SystemClock(),
    guard: createDestinationGuard({ allowPrivateNetworks: true }),
  });
  const options = {
    connectTimeoutMs: 10_000,
    readTimeoutMs: 30_000,
    totalTimeoutMs: 60_000,
    maxResponseBytes: 1_048_576,
  };
  const viaTransport = async (): Promise<void> => {
    const result = await transport.send(
      { url, method: "GET", headers: { "user-agent": "bench" } },
      options,
    );
    if (result.type !== "response" || result.status !== 200)
      throw new Error(JSON.stringify(result));
  };

  await run(bare, 2_000);
  await run(viaTransport, 2_000);
  const bareRates: number[] = [];
  const transportRates: number[] = [];
  for (let round = 0; round < rounds; round++) {
    bareRates.push(await run(bare, total));
    transportRates.push(await run(viaTransport, total));
  }
  const bareBest = Math.max(...bareRates);
  const transportBest = Math.max(...transportRates);
  console.log(`requests per run: ${total}, in flight: ${IN_FLIGHT}, rounds: ${rounds}`);
  console.log(
    `bare undici request(): ${bareRates.map(format).join(", ")} req/s (best ${format(bareBest)})`,
  );
  console.log(
    `UndiciTransport.send:  ${transportRates.map(format).join(", ")} req/s (best ${format(transportBest)})`,
  );
  console.log(`ratio (best / best): ${((transportBest / bareBest) * 100).toFixed(1)}%`);
  console.log(
    `ratio (median / median): ${((median(transportRates) / median(bareRates)) * 100).toFixed(1)}%`,
  );

  await agent.close();
  await transport.close();
  child.disconnect();
}

/** Runs `total` calls of `once` with `IN_FLIGHT` at a time; returns requests per second. */
async function run(once: () => Promise<void>, total: number): Promise<number> {
  let started = 0;
  const worker = async (): Promise<void> => {
    while (started < total) {
      started++;
      await once();
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return total / ((performance.now() - t0) / 1000);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function format(rate: number): string {
  return Math.round(rate).toLocaleString("en-US");
}
