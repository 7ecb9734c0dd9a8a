// The ceiling: requests per second to the local upstream with no queue at all.
import { Agent, request } from "undici";
import { runClosedLoop } from "./load.ts";

/** Options for the bare loops. */
export interface BareLoopOptions {
  /** Requests to send (default 20,000). */
  total?: number;
  /** Requests in flight at once (default 64 for undici, 50 for fetch). */
  inFlight?: number;
}

/**
 * A bare undici `request()` loop, `inFlight` (default 64) at a time over a keep-alive Agent, body
 * read and status checked. This is the ceiling the drain target is measured against.
 * Resolves to requests per second.
 *
 * @example
 * const ceiling = await bareUndiciLoop(upstream.url, { total: 20_000 });
 */
export async function bareUndiciLoop(url: string, options: BareLoopOptions = {}): Promise<number> {
  const inFlight = options.inFlight ?? 64;
  const agent = new Agent({ connections: inFlight });
  try {
    return await runClosedLoop(options.total ?? 20_000, inFlight, async () => {
      const response = await request(url, { dispatcher: agent });
      await response.body.text();
      if (response.statusCode !== 200) throw new Error(`upstream answered ${response.statusCode}`);
    });
  } finally {
    await agent.close();
  }
}

/**
 * A bare global `fetch()` loop, `inFlight` (default 50) at a time, body read and status checked:
 * what the peers' workers do per job, without the queue. Resolves to requests per second.
 */
export async function bareFetchLoop(url: string, options: BareLoopOptions = {}): Promise<number> {
  return await runClosedLoop(options.total ?? 20_000, options.inFlight ?? 50, async () => {
    const response = await fetch(url);
    await response.text();
    if (response.status !== 200) throw new Error(`upstream answered ${response.status}`);
  });
}
