/**
 * Counters over a sliding time window, kept in `buckets` slots of `windowMs / buckets` each
 * (Hystrix's rolling number). Adding is O(1) and allocation-free; summing is O(buckets). A slot
 * is cleared lazily when time comes back round to it.
 */
export class RollingWindow {
  readonly windowMs: number;
  readonly buckets: number;
  readonly bucketMs: number;
  readonly #fields: number;
  readonly #counts: Float64Array;
  readonly #epochs: Float64Array;

  /** `fields` counters per bucket; `windowMs` split into `buckets` slots. */
  constructor(windowMs: number, buckets: number, fields: number) {
    this.windowMs = windowMs;
    this.buckets = buckets;
    this.bucketMs = windowMs / buckets;
    this.#fields = fields;
    this.#counts = new Float64Array(buckets * fields);
    this.#epochs = new Float64Array(buckets).fill(-1);
  }

  /** Adds `amount` to counter `field` at time `nowMs`. */
  add(nowMs: number, field: number, amount = 1): void {
    const epoch = Math.floor(nowMs / this.bucketMs);
    const slot = epoch % this.buckets;
    if (this.#epochs[slot] !== epoch) {
      this.#epochs[slot] = epoch;
      this.#counts.fill(0, slot * this.#fields, (slot + 1) * this.#fields);
    }
    this.#counts[slot * this.#fields + field]! += amount;
  }

  /**
   * Takes back `amount` of counter `field` added at `atMs`, while the slot of `atMs` still holds
   * that time (a slot since cleared for a later time has forgotten it already). Never below 0.
   */
  remove(atMs: number, field: number, amount = 1): void {
    const epoch = Math.floor(atMs / this.bucketMs);
    const slot = epoch % this.buckets;
    if (this.#epochs[slot] !== epoch) return;
    const index = slot * this.#fields + field;
    this.#counts[index] = Math.max(0, this.#counts[index]! - amount);
  }

  /** Sum of counter `field` over the window ending at `nowMs`. */
  sum(nowMs: number, field: number): number {
    const current = Math.floor(nowMs / this.bucketMs);
    let total = 0;
    for (let slot = 0; slot < this.buckets; slot++) {
      const epoch = this.#epochs[slot]!;
      if (epoch > current - this.buckets && epoch <= current) {
        total += this.#counts[slot * this.#fields + field]!;
      }
    }
    return total;
  }

  /** Clears every counter. */
  clear(): void {
    this.#counts.fill(0);
    this.#epochs.fill(-1);
  }

  /** The raw slots, for export: `[epoch, ...counters]` per live slot. */
  export(): number[][] {
    const slots: number[][] = [];
    for (let slot = 0; slot < this.buckets; slot++) {
      const epoch = this.#epochs[slot]!;
      if (epoch < 0) continue;
      const start = slot * this.#fields;
      slots.push([epoch, ...this.#counts.subarray(start, start + this.#fields)]);
    }
    return slots;
  }

  /** Restores slots produced by `export` (with the same geometry). */
  restore(slots: readonly (readonly number[])[]): void {
    this.clear();
    for (const [epoch, ...counts] of slots) {
      if (epoch === undefined || counts.length !== this.#fields) continue;
      const slot = epoch % this.buckets;
      this.#epochs[slot] = epoch;
      this.#counts.set(counts, slot * this.#fields);
    }
  }
}
