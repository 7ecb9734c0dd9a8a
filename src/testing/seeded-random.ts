import type { Random } from "../core/ports.ts";

/**
 * A deterministic `Random` (xoshiro128**, seeded through splitmix32), so a test that draws jitter
 * sees the same numbers on every run.
 *
 * @example const random = new SeededRandom(42); random.next(); // always the same value
 */
export class SeededRandom implements Random {
  #s: Uint32Array;

  /** Default seed 1. */
  constructor(seed = 1) {
    let x = seed >>> 0;
    const split = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#s = new Uint32Array([split(), split(), split(), split()]);
  }

  next(): number {
    const s = this.#s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = s[1]! << 9;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result / 4_294_967_296;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
