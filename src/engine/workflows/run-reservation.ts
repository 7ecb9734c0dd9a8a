/**
 * A slot the run executor reserved (`RunExecutor.reserve`) for a run this process is about to
 * create itself (a durable endpoint's): once created claimed (lease token 1, with the slot's
 * lease), the run starts here at once, without a claim round trip. Launched inline, its writes
 * are held behind it (`write-behind.ts`): its creation, when not written yet, goes with its first
 * writes, and its invocation does not wait on its commits.
 */
import type { WorkerId } from "../../core/ids.ts";
import {
  claimedRunRecord,
  type RunClaim,
  type RunRecord,
  type RunRef,
} from "../../core/run-log.ts";
import type { Store } from "../../core/store.ts";
import type {
  FlightEnd,
  InlineFlight,
  InlineOptions,
  RunReservation,
} from "./run-executor-types.ts";
import { NOT_RUN } from "./run-flight.ts";
import { WriteBehind, type WriteBehindFailure } from "./write-behind.ts";

/** The executor's parts a reservation uses. */
export interface ReservationOptions {
  store: Store;
  workerId: WorkerId;
  /** The lease the run is created with, epoch ms. */
  leaseExpiresAt: number;
  /** Gives the slot back: true the first time only (`RunSlots.reserve`). */
  settle: () => boolean;
  /** Whether the executor may start an invocation now (it runs, its fence is open). */
  mayLaunch: () => boolean;
  /** Starts an invocation of `claim`; resolves with how it ended, once its writes are made. */
  launch: (claim: RunClaim) => Promise<FlightEnd>;
  /** Starts an invocation of `claim` whose writes `ahead` holds. */
  launchInline: (
    claim: RunClaim,
    ahead: WriteBehind,
    options: InlineOptions,
  ) => { end: Promise<FlightEnd>; done: Promise<FlightEnd> };
  /** A write of `ahead` failed or was refused: the invocation stops. */
  onAheadFailed: (run: RunRecord, ref: RunRef, failure: WriteBehindFailure) => void;
  /** Gives runs back (due at once, for another process); never rejects. */
  releaseRefs: (refs: readonly RunRef[]) => Promise<void>;
  /** The slot was given back unused: another run may take it. */
  onReleased: () => void;
}

/**
 * The reservation of one slot (see the file's comment): `launch`, `launchInline` or `release`,
 * the first call of which settles the slot (a later one runs nothing).
 *
 * @example
 * const reservation = runReservation({ store, workerId, leaseExpiresAt, settle, ... });
 * const end = await reservation.launch(created);
 */
export function runReservation(options: ReservationOptions): RunReservation {
  const { store, workerId, leaseExpiresAt, settle } = options;
  return {
    workerId,
    leaseExpiresAt,
    launch: async (run) => {
      if (!settle()) return NOT_RUN;
      const claim: RunClaim = { run, checkpoints: [], leaseToken: 1, leaseExpiresAt };
      if (options.mayLaunch()) return options.launch(claim);
      await options.releaseRefs([{ uid: run.uid, leaseToken: 1 }]);
      return NOT_RUN;
    },
    launchInline: (start, inlineOptions = {}) => {
      if (!settle()) {
        // This slot was used or given back already: nothing is written or run.
        return {
          end: Promise.resolve(NOT_RUN),
          done: Promise.resolve(),
          flush: () => Promise.resolve(false),
          created: () => false,
        };
      }
      const run = "run" in start ? claimedRunRecord(start.run) : start.created;
      const claim: RunClaim = { run, checkpoints: [], leaseToken: 1, leaseExpiresAt };
      const ref: RunRef = { uid: run.uid, leaseToken: 1 };
      const ahead = new WriteBehind({
        store,
        ...("run" in start
          ? { create: { run: start.run, claim: { workerId, leaseExpiresAt } } }
          : {}),
        ref,
        onFailure: (failure) => options.onAheadFailed(run, ref, failure),
      });
      const inline = (end: Promise<FlightEnd>, done: Promise<unknown>): InlineFlight => ({
        end,
        done,
        flush: () => ahead.flush(),
        created: () => ahead.created,
      });
      if (!options.mayLaunch()) {
        // Not run here after all: the run is written (its creation is already scheduled) and
        // given back due now, for a claim loop here or elsewhere.
        const given = ahead.flush().then(async (written) => {
          if (written) await options.releaseRefs([ref]);
        });
        return inline(Promise.resolve(NOT_RUN), given);
      }
      const flight = options.launchInline(claim, ahead, inlineOptions);
      return inline(flight.end, flight.done);
    },
    release: () => {
      if (settle()) options.onReleased();
    },
  };
}
