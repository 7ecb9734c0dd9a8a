// Accept throughput over HTTP: POST /v1/fetch with a keep-alive client, 64 in flight, against a
// `steadfast serve` child process (engine off), counting 202 answers per second.
import { fork } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { Pool } from "undici";
import { runClosedLoop } from "../lib/load.ts";

const API_KEY = "bench-key-0123456789abcdef";

/** The `steadfast serve` child measured by default. */
const STEADFAST_SERVER = join(import.meta.dirname, "http-server-child.ts");

/** The no-storage Hono server whose rate is the ceiling of this measurement. */
export const BARE_ACCEPT_SERVER = join(import.meta.dirname, "..", "lib", "bare-accept-child.ts");

/**
 * Calls per second answered 202 (committed) over `total` POSTs with `inFlight` at once, against
 * `server` (a script that forks, listens and sends `{ url }`; default `steadfast serve`).
 */
export async function measureHttpAccept(
  upstreamUrl: string,
  total: number,
  inFlight = 64,
  server = STEADFAST_SERVER,
): Promise<number> {
  const child = fork(server, [], {
    env: { ...process.env, BENCH_API_KEY: API_KEY },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const [message] = (await once(child, "message")) as [{ url: string }];
  const pool = new Pool(message.url, { connections: inFlight, pipelining: 1 });
  const body = JSON.stringify({ url: upstreamUrl, method: "POST", body: { amount: 2000 } });
  const post = async (): Promise<void> => {
    const response = await pool.request({
      method: "POST",
      path: "/v1/fetch",
      headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
      body,
    });
    await response.body.dump();
    if (response.statusCode !== 202)
      throw new Error(`POST /v1/fetch answered ${response.statusCode}`);
  };
  try {
    await runClosedLoop(Math.min(2_000, total), inFlight, post);
    return await runClosedLoop(total, inFlight, post);
  } finally {
    await pool.close();
    const exited = once(child, "exit");
    child.disconnect();
    await exited;
  }
}
