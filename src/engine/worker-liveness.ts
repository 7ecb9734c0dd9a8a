/**
 * Worker liveness (issue 10, item 10): a dead process's claims are taken over within seconds,
 * not when their leases expire, and the lease of a live process is never shortened.
 *
 * Each engine registers its process in the store and heartbeats every `heartbeatIntervalMs`;
 * every interval too, it looks at the other live workers and finds one dead when
 *   - it ran in this process's PID scope (same boot and PID namespace, known on both sides) and
 *     its process is gone: no process has its pid, or the one that has it started at another
 *     time (a restarted container's pid 1). This is what resumes a restarted process's calls at
 *     once;
 *   - or its heartbeat has not changed for `workerTimeoutMs` of this engine's clock, over several
 *     looks. Successive values are compared, never clocks of two machines, so clock skew between
 *     hosts cannot make a live process look dead.
 * A dead worker is stopped with `Store.stopWorkers`, conditional on the heartbeat seen (one that
 * beat meanwhile is left alone): its claims end at once and `claimDue` takes its calls over,
 * fenced by their lease tokens as before.
 *
 * The lease token fences commits, not sends. So that a live process found dead by mistake (an
 * event-loop stall, a VM pause, a saturated pool, a network cut to the database) does not go on
 * sending calls another process has taken over, each worker fences itself:
 *
 *   registering -> alive { ackAt }      registered (an acknowledged heartbeat issued at ackAt);
 *                                       before, it claims and sends nothing: a registration
 *                                       whose answer was lost may have been written, and that
 *                                       row, never refreshed, may be found dead at any time
 *   alive -> alive { later ackAt }      a heartbeat acknowledged
 *   alive -> fenced                     a heartbeat answered "stopped" (found dead), or
 *                                       `ackAt + fenceMs` passed without a fresher one
 *   fenced -> alive                     its flights unwound, it ended its own remaining claims
 *                                       (so whoever claims them records what was cut off) and
 *                                       registered again
 *   any -> stopped                      `stop`
 *
 * A judge sees a heartbeat written at or after `ackAt` and needs `workerTimeoutMs` of silence
 * after seeing it, so nobody can stop this worker before `ackAt + workerTimeoutMs`: while
 * `mayAct` (before `ackAt + fenceMs`, one heartbeat interval earlier) the engine claims and
 * sends; after, it sends nothing. Closing the fence aborts every flight and sheds the calls
 * waiting for a destination's slot (`onFenced`).
 *
 * Every duration here (the age of `ackAt`, another worker's silence, when to heartbeat and look)
 * is measured on this engine's monotonic clock (`Clock.monotonicNow`), never across machines and
 * never on the wall clock: the margin is one heartbeat interval, and an NTP step or a VM's time
 * sync after a resume could otherwise shorten the silence a judge measures (a forward step) or
 * lengthen the time a worker believes it may send (a backward one). Only the values written to
 * the store (`heartbeatAt`, compared value to value by the judges) are wall time.
 */
import { InvalidOptionError } from "../core/errors.ts";
import { monotonicNow } from "../core/ports.ts";
import { WorkerJudge, type WorkerJudgeOptions } from "./worker-judge.ts";

/**
 * Options of `WorkerLiveness`: the judge's (this worker heartbeats at `heartbeatIntervalMs` and
 * looks at the others as often; `workerTimeoutMs` is at least three heartbeat intervals: this
 * worker stops sending one interval before others may find it dead, and a heartbeat must be able
 * to take an interval to be answered), and what to do when the fence closes and opens.
 */
export interface WorkerLivenessOptions extends WorkerJudgeOptions {
  /**
   * The fence closed: abort every flight now (before returning), send nothing more, and resolve
   * once every flight has ended. Registration again waits for it.
   */
  onFenced(): Promise<void>;
  /** The fence is open again (registered): claiming may resume. */
  onAlive(): void;
}

type Fence =
  | { state: "registering" }
  /** `ackAt`: when the last acknowledged heartbeat was issued, on the monotonic clock. */
  | { state: "alive"; ackAt: number }
  | { state: "fenced"; unwound: Promise<void>; reopening?: Promise<void> }
  | { state: "stopped" };

/** What liveness does every interval; a failure of each is logged once per outage. */
type Chore = "register" | "heartbeat" | "look";

const FAILED: Record<Chore, string> = {
  register:
    "could not register this worker; tried again every interval (it claims and sends nothing until registered)",
  heartbeat:
    "heartbeat failed; tried again every interval (this process stops sending until one is " +
    "acknowledged, and after workerTimeoutMs without one, others take its calls over)",
  look: "looking for dead workers failed; tried again every interval",
};

const RECOVERED: Record<Chore, string> = {
  register: "this worker is registered",
  heartbeat: "heartbeats reach the store again",
  look: "looking for dead workers again",
};

/** Stopped workers' rows are kept this long, for diagnostics, then deleted at a registration. */
const STOPPED_RETENTION_MS = 86_400_000;

/** One engine's registration, heartbeat, fence and judgement of the others. See the file comment. */
export class WorkerLiveness {
  readonly #options: WorkerLivenessOptions;
  readonly #judge: WorkerJudge;
  readonly #fenceMs: number;
  readonly #loops = new AbortController();
  #fence: Fence = { state: "registering" };
  #watchdog: AbortController | undefined;
  #running: Promise<void>[] = [];
  /** What is failing now, each logged once per outage. */
  readonly #failing: Record<Chore, boolean> = { register: false, heartbeat: false, look: false };

  constructor(options: WorkerLivenessOptions) {
    if (!(options.workerTimeoutMs >= 3 * options.heartbeatIntervalMs)) {
      throw new InvalidOptionError(
        `workerTimeoutMs (${options.workerTimeoutMs}) must be at least three times heartbeatIntervalMs ` +
          `(${options.heartbeatIntervalMs}): a worker stops sending one interval before others may find ` +
          "it dead, and each heartbeat needs up to an interval to be answered.",
      );
    }
    this.#options = options;
    this.#fenceMs = options.workerTimeoutMs - options.heartbeatIntervalMs;
    this.#judge = new WorkerJudge(options);
  }

  /**
   * Registers this worker and looks for dead ones (a restart resumes their calls at once), then
   * heartbeats and looks every interval until `stop`. Resolves after that first registration
   * and look, or their failure (registering is tried again every interval).
   */
  start(): Promise<void> {
    // Both loops keep time from now, however long the first registration takes.
    const startedAt = this.#monotonicNow();
    const first = this.#first();
    this.#running.push(
      first.then(() => this.#heartbeats(startedAt)),
      first.then(() => this.#looks(startedAt)),
    );
    return first;
  }

  /**
   * Whether this worker may claim and send now: its last acknowledged heartbeat was issued less
   * than `workerTimeoutMs - heartbeatIntervalMs` ago (monotonic), so that no other
   * process can have found it dead yet; never before a registration is acknowledged. Finding
   * the acknowledgement too old closes the fence at once (`onFenced`). Synchronous: the engine
   * asks it right before each send.
   */
  mayAct(): boolean {
    const fence = this.#fence;
    const now = this.#monotonicNow();
    // Not registered yet (or fenced, or stopped): a registration that failed may still have been
    // written (its answer lost), and that row, never refreshed, may be found dead at any time.
    if (fence.state !== "alive") return false;
    if (now - fence.ackAt < this.#fenceMs) return true;
    this.#close(
      `its last acknowledged heartbeat was issued ${now - fence.ackAt} ms ago, and another ` +
        `process may find it dead ${this.#options.workerTimeoutMs} ms after it`,
    );
    return false;
  }

  /**
   * Stops heartbeating and looking, then marks this worker stopped (a graceful stop), ending any
   * claim it still holds.
   */
  async stop(): Promise<void> {
    const { store, clock, workerId, leaseMs } = this.#options;
    this.#loops.abort();
    this.#watchdog?.abort();
    await Promise.all(this.#running);
    this.#fence = { state: "stopped" };
    await store.stopWorkers([{ id: workerId }], clock.now(), leaseMs);
  }

  async #first(): Promise<void> {
    try {
      await this.#register();
    } catch (error) {
      this.#failed("register", error);
      return;
    }
    await this.#lookOnce();
  }

  async #heartbeats(startedAt: number): Promise<void> {
    const { heartbeatIntervalMs } = this.#options;
    let issuedAt = startedAt;
    // One interval after the last heartbeat was issued, however long it took to be answered.
    while (await this.#sleep(issuedAt + heartbeatIntervalMs - this.#monotonicNow())) {
      issuedAt = this.#monotonicNow();
      const chore = this.#fence.state === "alive" ? "heartbeat" : "register";
      try {
        await this.#beat(issuedAt);
        this.#recovered(chore);
      } catch (error) {
        this.#failed(chore, error);
      }
    }
  }

  /** One heartbeat (or registration), issued at `issuedAt` (monotonic). */
  async #beat(issuedAt: number): Promise<void> {
    const { store, workerId, clock } = this.#options;
    const fence = this.#fence;
    if (fence.state === "registering") {
      await this.#register();
    } else if (fence.state === "fenced") {
      await this.#reopen(fence);
    } else if (fence.state === "alive") {
      // The row holds wall time (for people, and compared value to value by the judges).
      if (!(await store.heartbeatWorker(workerId, clock.now()))) {
        this.#close("another process found it dead (its heartbeat had stopped for a while)");
      } else if (this.#fence === fence && issuedAt > fence.ackAt) {
        this.#fence = { state: "alive", ackAt: issuedAt };
        this.#armWatchdog(issuedAt);
        // An acknowledgement already too old closes the fence now.
        this.mayAct();
      }
    }
  }

  /** Closes the fence: see the file comment. */
  #close(why: string): void {
    if (this.#fence.state !== "alive") return;
    this.#watchdog?.abort();
    const fence: Fence & { state: "fenced" } = { state: "fenced", unwound: Promise.resolve() };
    this.#fence = fence;
    this.#options.logger.warn(
      { workerId: this.#options.workerId },
      `this process stops sending: ${why}. It aborts its attempts in flight (another process may ` +
        "be taking those calls over: the attempt log shows them interrupted), then registers again",
    );
    fence.unwound = this.#options.onFenced().catch(() => {});
    // Registered again as soon as the flights have ended (else at a later heartbeat).
    this.#running.push(
      this.#reopen(fence).then(
        () => this.#recovered("register"),
        (error: unknown) => this.#failed("register", error),
      ),
    );
  }

  /**
   * Opens the fence again once every flight has ended: this worker's remaining claims are
   * ended (its row marked stopped, if it was not), so whoever claims their calls next records
   * the attempts cut off; then it registers again.
   */
  #reopen(fence: Fence & { state: "fenced" }): Promise<void> {
    const reopening = fence.reopening ?? this.#reopenNow(fence);
    fence.reopening = reopening;
    // A failure is tried again at the next heartbeat.
    void reopening.catch(() => {
      if (fence.reopening === reopening) delete fence.reopening;
    });
    return reopening;
  }

  async #reopenNow(fence: Fence & { state: "fenced" }): Promise<void> {
    const { store, clock, workerId, leaseMs, logger } = this.#options;
    await fence.unwound;
    const { claimsEnded } = await store.stopWorkers([{ id: workerId }], clock.now(), leaseMs);
    if (this.#fence !== fence || this.#loops.signal.aborted) return;
    await this.#register();
    logger.info({ workerId, claimsEnded }, "registered again; this process sends again");
    if (claimsEnded > 0) this.#options.onClaimsEnded(clock.now());
  }

  /** Registers this worker; once acknowledged, the fence is open from when it was issued. */
  async #register(): Promise<void> {
    const { store, workerId, probe, clock } = this.#options;
    const issuedAt = this.#monotonicNow();
    const now = clock.now();
    await store.registerWorker({ id: workerId, ...probe.self }, now, now - STOPPED_RETENTION_MS);
    if (this.#fence.state === "stopped") return;
    this.#fence = { state: "alive", ackAt: issuedAt };
    this.#armWatchdog(issuedAt);
    this.#options.onAlive();
  }

  /** Closes the fence when `ackAt + fenceMs` (monotonic) passes with no fresher acknowledgement. */
  #armWatchdog(ackAt: number): void {
    const { clock } = this.#options;
    this.#watchdog?.abort();
    if (this.#loops.signal.aborted) return;
    const controller = new AbortController();
    this.#watchdog = controller;
    clock.sleep(Math.max(0, ackAt + this.#fenceMs - this.#monotonicNow()), controller.signal).then(
      () => {
        if (this.#watchdog === controller) this.mayAct();
      },
      () => {},
    );
  }

  async #looks(startedAt: number): Promise<void> {
    const { heartbeatIntervalMs } = this.#options;
    let next = startedAt + heartbeatIntervalMs;
    for (;;) {
      // Every interval, and also when a silent worker's timeout comes due between two.
      const due = this.#judge.silentDueAt;
      const at = due !== undefined && due < next ? due : next;
      if (!(await this.#sleep(at - this.#monotonicNow()))) return;
      await this.#lookOnce();
      if (at >= next) next = Math.max(next + heartbeatIntervalMs, this.#monotonicNow());
    }
  }

  /** This engine's clock's monotonic reading: every duration of liveness is measured on it. */
  #monotonicNow(): number {
    return monotonicNow(this.#options.clock);
  }

  async #lookOnce(): Promise<void> {
    try {
      await this.#judge.look();
      this.#recovered("look");
    } catch (error) {
      this.#failed("look", error);
    }
  }

  /** Sleeps `ms` of the clock; false once `stop` began. */
  async #sleep(ms: number): Promise<boolean> {
    try {
      await this.#options.clock.sleep(Math.max(0, ms), this.#loops.signal);
      return true;
    } catch {
      return false;
    }
  }

  #failed(chore: Chore, error: unknown): void {
    if (this.#failing[chore]) return;
    this.#failing[chore] = true;
    this.#options.logger.warn({ err: error, workerId: this.#options.workerId }, FAILED[chore]);
  }

  #recovered(chore: Chore): void {
    if (!this.#failing[chore]) return;
    this.#failing[chore] = false;
    this.#options.logger.info({ workerId: this.#options.workerId }, RECOVERED[chore]);
  }
}
