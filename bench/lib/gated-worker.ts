// The child side of bench/lib/worker-processes.ts: a worker process that has booted and connected
// says so, starts working when told `go`, and stops gracefully when told `stop` or orphaned.

/** Messages between the parent and a gated worker process. */
export type GatedWorkerMessage = { type: "ready" } | { type: "go" } | { type: "stop" };

/** What a gated worker process does once ready. */
export interface GatedWorker {
  /** Starts working (claiming, fetching, delivering). */
  start(): Promise<void> | void;
  /** Stops working and closes every connection. */
  stop(): Promise<void>;
}

/**
 * Reports ready to the parent, then runs `worker` on `go` and stops it on `stop` or when the
 * parent goes away; the process exits after the stop (code 1 if anything failed).
 *
 * @example
 * const boss = new PgBoss(options);
 * await boss.start();
 * serveGatedWorker({ start: () => workPgBoss(boss, shape, url), stop: () => boss.stop() });
 */
export function serveGatedWorker(worker: GatedWorker): void {
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= worker.stop().then(
      () => process.exit(0),
      (error: unknown) => exitWith(error),
    ));
  process.on("message", (message: GatedWorkerMessage) => {
    if (message.type === "go") {
      Promise.resolve(worker.start()).catch(exitWith);
    } else if (message.type === "stop") {
      void stop();
    }
  });
  process.on("disconnect", () => void stop());
  process.send?.({ type: "ready" } satisfies GatedWorkerMessage);
}

/** Prints `error` and exits with code 1: a worker that cannot work must not hang the run. */
export function exitWith(error: unknown): never {
  console.error(error);
  process.exit(1);
}
