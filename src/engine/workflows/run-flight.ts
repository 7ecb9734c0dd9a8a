/**
 * A flight: one invocation of a claimed run under way in this process, as the run executor
 * tracks it (its lease, its abort signal, where its commits go) and its flight driver
 * (`flight-driver.ts`) runs it; and the reasons its signal is aborted with.
 */
import type { RunRef } from "../../core/run-log.ts";
import type { FlightEnd, InlineOptions } from "./run-executor-types.ts";
import type { RunWrites, WriteBehind } from "./write-behind.ts";

/** An invocation under way here, by the run it runs (one per run). */
export interface Flight {
  /** The run and the lease token its commits are fenced by. */
  ref: RunRef;
  workflow: string;
  /** Aborted to stop the invocation at its next step call (`abortReason`). */
  controller: AbortController;
  /** How it ended, once its writes are all made. */
  done: Promise<FlightEnd>;
  /** Where its commits go: the store, or (a run driven inline) its write-behind journal. */
  writes: RunWrites;
  ahead?: WriteBehind;
  /** A run driven inline: retries it may wait for here, and until when (epoch ms). */
  inline?: InlineOptions;
}

/** The end of an invocation that did not run to an end or a park (see `FlightEnd`). */
export const NOT_RUN: FlightEnd = { type: "not-run" };

/** Abort reason: the run's lease is no longer this process's (or the process was fenced). */
export const LEASE_LOST = "lease lost";
/** Abort reason: the engine is stopping; the run is given back. */
export const STOPPING = "engine stopping";

/** The reason an invocation's signal carries (told apart by its message); never thrown. */
export function abortReason(message: string): Error {
  // eslint-disable-next-line no-restricted-syntax -- an abort reason, never thrown: only its message is read
  return new Error(message);
}
