// The same local upstream as upstream.ts, but in its own process, so it does not share the event
// loop of the queue being measured (an upstream is another service). Every contender gets it.
import { fork, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { epochMs } from "./clock.ts";
import type { Upstream } from "./upstream.ts";

type ChildMessage =
  | { type: "listening"; port: number }
  | { type: "pong"; t0: number; t1: number }
  | { type: "arrivals"; arrivals: [string, number][]; requests: number }
  | { type: "reset-done" };

/**
 * Starts the upstream in a child process (node:http on 127.0.0.1, port 0). Arrival times are
 * stamped in the child and reach `arrivals` within about 5 ms; `reset()` clears both sides.
 */
export async function startUpstreamProcess(): Promise<Upstream & { resetAsync(): Promise<void> }> {
  const child = fork(join(import.meta.dirname, "upstream-child.ts"), [], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const arrivals = new Map<string, number>();
  let requests = 0;
  const [first] = (await once(child, "message")) as [ChildMessage];
  if (first.type !== "listening") throw new Error("upstream child did not start");
  // Each process's epoch clock is performance.timeOrigin + now(), and timeOrigin is fixed
  // imprecisely at start: two processes can disagree by a millisecond or more, which would make
  // sub-millisecond latencies meaningless (even negative). Estimate the offset as NTP does,
  // from the IPC round trip with the smallest delay, and move arrivals onto this clock.
  const offsetMs = await measureClockOffset(child);
  child.on("message", (message: ChildMessage) => {
    if (message.type !== "arrivals") return;
    requests = message.requests;
    for (const [id, at] of message.arrivals) if (!arrivals.has(id)) arrivals.set(id, at - offsetMs);
  });
  const resetAsync = async (): Promise<void> => {
    arrivals.clear();
    requests = 0;
    child.send({ type: "reset" });
    await new Promise<void>((resolve) => {
      const onMessage = (message: ChildMessage): void => {
        if (message.type !== "reset-done") return;
        child.off("message", onMessage);
        arrivals.clear();
        resolve();
      };
      child.on("message", onMessage);
    });
  };
  return {
    url: `http://127.0.0.1:${first.port}/`,
    arrivals,
    count: () => requests,
    reset: () => {
      arrivals.clear();
      requests = 0;
      child.send({ type: "reset" });
    },
    resetAsync,
    close: async () => {
      const exited = once(child, "exit");
      child.disconnect();
      await exited;
    },
  };
}

/** The child's epoch clock minus this process's, ms, from the best of 50 IPC round trips. */
async function measureClockOffset(child: ChildProcess): Promise<number> {
  let best = { rttMs: Number.POSITIVE_INFINITY, offsetMs: 0 };
  for (let i = 0; i < 50; i++) {
    const pong = new Promise<{ t0: number; t1: number }>((resolve) => {
      const onMessage = (message: ChildMessage): void => {
        if (message.type !== "pong") return;
        child.off("message", onMessage);
        resolve(message);
      };
      child.on("message", onMessage);
    });
    child.send({ type: "ping", t0: epochMs() });
    const { t0, t1 } = await pong;
    const t2 = epochMs();
    if (t2 - t0 < best.rttMs) best = { rttMs: t2 - t0, offsetMs: t1 - (t0 + t2) / 2 };
  }
  return best.offsetMs;
}
