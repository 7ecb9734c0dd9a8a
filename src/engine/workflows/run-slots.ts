/**
 * The run executor's slots: how many invocations it may start now, over all workflows (its
 * `concurrency`) and for each workflow with a limit of its own (`WorkflowOptions.concurrency`),
 * counting the invocations under way (its flights) and the slots reserved for runs this process
 * is about to create (`RunExecutor.reserve`). The executor owns its flights; this reads them.
 */

/** What `RunSlots` counts against. */
export interface RunSlotsOptions {
  /** Invocations at once over all workflows. */
  concurrency: number;
  /** The invocations under way (the executor's flights), by run. */
  flights: ReadonlyMap<unknown, { workflow: string }>;
  /** The limit of `workflow`'s own, if it has one. */
  limitOf: (workflow: string) => number | undefined;
}

/** A claim to make: due runs of `workflows`, at most `limit`. */
export interface ClaimGroup {
  workflows: string[];
  limit: number;
}

/**
 * Counts the executor's free slots (see the file's comment).
 *
 * @example
 * const slots = new RunSlots({ concurrency: 256, flights, limitOf: (name) => limits.get(name) });
 * if (slots.free("checkout") > 0) release = slots.reserve("checkout");
 */
export class RunSlots {
  readonly #options: RunSlotsOptions;
  #reserved = 0;
  /** Reservations (`reserve`) by workflow, counted against its own limit. */
  readonly #reservedBy = new Map<string, number>();

  constructor(options: RunSlotsOptions) {
    this.#options = options;
  }

  /** Slots free over all workflows (may be below zero). */
  get open(): number {
    return this.#options.concurrency - this.#options.flights.size - this.#reserved;
  }

  /** Slots free for `workflow` (its own limit and the executor's). */
  free(workflow: string): number {
    const global = this.open;
    const limit = this.#options.limitOf(workflow);
    if (limit === undefined) return global;
    let running = this.#reservedBy.get(workflow) ?? 0;
    for (const flight of this.#options.flights.values())
      if (flight.workflow === workflow) running++;
    return Math.min(global, limit - running);
  }

  /**
   * The claims to make now for `workflows`: those without a limit of their own together (first),
   * the others each, none for a workflow without a free slot.
   */
  claimGroups(workflows: Iterable<string>): ClaimGroup[] {
    const global = this.open;
    if (global <= 0) return [];
    const open: string[] = [];
    const groups: ClaimGroup[] = [];
    for (const name of workflows) {
      if (this.#options.limitOf(name) === undefined) open.push(name);
      else {
        const free = this.free(name);
        if (free > 0) groups.push({ workflows: [name], limit: free });
      }
    }
    if (open.length > 0) groups.unshift({ workflows: open, limit: global });
    return groups;
  }

  /**
   * Reserves a slot for a run of `workflow` about to be created here. Returns the slot's
   * settlement: it gives the slot back (the run was launched, or not created) the first time it
   * is called and returns true; later calls return false.
   */
  reserve(workflow: string): () => boolean {
    this.#reserved++;
    this.#reservedBy.set(workflow, (this.#reservedBy.get(workflow) ?? 0) + 1);
    let settled = false;
    return () => {
      if (settled) return false;
      settled = true;
      this.#reserved--;
      const left = (this.#reservedBy.get(workflow) ?? 1) - 1;
      if (left > 0) this.#reservedBy.set(workflow, left);
      else this.#reservedBy.delete(workflow);
      return true;
    };
  }
}
