import { randomFillSync } from "node:crypto";
import { setTimeout as sleepTimer } from "node:timers/promises";
import type { Clock, Random } from "../core/ports.ts";

/**
 * The real `Clock`: wall time (`Date.now()`), a monotonic reading (`performance.now()`, which
 * an NTP step or a VM's time sync does not move) and Node timers (which run on monotonic time).
 */
export class SystemClock implements Clock {
  now(): number {
    return Date.now();
  }

  monotonicNow(): number {
    return performance.now();
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepTimer(Math.max(0, ms), undefined, signal === undefined ? undefined : { signal });
  }
}

/** A `Random` backed by the operating system's CSPRNG, drawn in blocks for speed. */
export class CryptoRandom implements Random {
  #buffer = new Uint32Array(1024);
  #index = 1024;

  next(): number {
    if (this.#index >= this.#buffer.length) {
      randomFillSync(this.#buffer);
      this.#index = 0;
    }
    return this.#buffer[this.#index++]! / 4_294_967_296;
  }
}
