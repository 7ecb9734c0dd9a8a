import { once } from "node:events";
import { Worker } from "node:worker_threads";
import { StoreError } from "../../core/errors.ts";

/** Options of `WalCheckpointer`. */
export interface WalCheckpointerOptions {
  /** The database file. */
  path: string;
  /** The store's `synchronous` setting; checkpoints sync the database file under it. */
  synchronous: "FULL" | "NORMAL";
  /** How long a checkpoint waits for a lock, in ms. */
  busyTimeoutMs: number;
  /** Least time between two checkpoints, in ms. Default 100. */
  intervalMs?: number;
}

// Runs in the worker thread: its own connection, PASSIVE checkpoints on request. PASSIVE never
// blocks the writer; SQLITE_BUSY (another checkpoint running) only means "try next time".
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const { DatabaseSync } = require("node:sqlite");
const db = new DatabaseSync(workerData.path, { timeout: workerData.busyTimeoutMs });
db.exec("PRAGMA synchronous = " + workerData.synchronous);
const checkpoint = db.prepare("PRAGMA wal_checkpoint(PASSIVE)");
parentPort.on("message", (message) => {
  if (message === "close") {
    db.close();
    parentPort.close();
    return;
  }
  let error;
  try {
    checkpoint.all();
  } catch (e) {
    error = String(e);
  }
  parentPort.postMessage(error === undefined ? { ok: true } : { ok: false, error });
});
`;

/**
 * Copies the WAL back into the database file from a worker thread. SQLite's automatic checkpoint
 * runs inside COMMIT on the writing connection, so it blocks the event loop while it copies pages
 * and fsyncs the database file; in a write-heavy store that is about a third of the main thread's
 * time. Here the main connection only appends to the WAL and asks for a checkpoint after commits
 * (at most one every `intervalMs`), which the worker runs on its own connection, in parallel.
 * The main connection keeps a large automatic checkpoint as a backstop should the worker lag.
 */
export class WalCheckpointer {
  #worker: Worker;
  #intervalMs: number;
  #busy = false;
  #dirty = false;
  #closed = false;
  #timer: NodeJS.Timeout | undefined;
  #lastError: string | undefined;
  #replies: ((error: Error | undefined) => void)[] = [];

  constructor(options: WalCheckpointerOptions) {
    this.#intervalMs = options.intervalMs ?? 100;
    this.#worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        path: options.path,
        synchronous: options.synchronous,
        busyTimeoutMs: options.busyTimeoutMs,
      },
    });
    // Housekeeping must not keep the process alive.
    this.#worker.unref();
    this.#worker.on("message", (result: { ok: boolean; error?: string }) => {
      this.#lastError = result.ok ? undefined : result.error;
      // The worker answers requests in order.
      this.#replies.shift()?.(
        result.ok
          ? undefined
          : new StoreError("store_failed", `WAL checkpoint failed: ${result.error}`),
      );
    });
    this.#worker.on("error", (error) => {
      // The backstop checkpoint of the main connection takes over.
      this.#lastError = String(error);
      this.#closed = true;
    });
    this.#worker.on("exit", () => {
      this.#closed = true;
      for (const reply of this.#replies.splice(0))
        reply(new StoreError("store_failed", "The WAL checkpointer exited."));
    });
  }

  /** The last checkpoint's error, if it failed (diagnostics). */
  get lastError(): string | undefined {
    return this.#lastError;
  }

  /** Notes that transactions were committed: a checkpoint follows within `intervalMs`. */
  afterCommit(): void {
    if (this.#closed) return;
    this.#dirty = true;
    if (!this.#busy) this.#start();
  }

  /** Stops the worker and closes its connection. Idempotent. */
  async close(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (this.#closed) return;
    this.#closed = true;
    const exited = once(this.#worker, "exit");
    // Keep the process alive until the worker has closed its connection.
    this.#worker.ref();
    this.#worker.postMessage("close");
    await exited;
  }

  /** Runs a checkpoint now; resolves when it is done (for tests and backups). */
  checkpointNow(): Promise<void> {
    if (this.#closed)
      return Promise.reject(new StoreError("store_closed", "The WAL checkpointer is closed."));
    return new Promise((resolve, reject) => {
      this.#request((error) => (error === undefined ? resolve() : reject(error)));
    });
  }

  #start(): void {
    this.#busy = true;
    this.#dirty = false;
    this.#request(() => {
      this.#timer = setTimeout(this.#onIntervalEnd, this.#intervalMs);
      this.#timer.unref();
    });
  }

  #request(onReply: (error: Error | undefined) => void): void {
    this.#replies.push(onReply);
    this.#worker.postMessage("checkpoint");
  }

  #onIntervalEnd = (): void => {
    this.#timer = undefined;
    this.#busy = false;
    if (this.#dirty && !this.#closed) this.#start();
  };
}
