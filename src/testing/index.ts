/** Test helpers: deterministic time and randomness. */
export { FakeClock } from "./fake-clock.ts";
export { SeededRandom } from "./seeded-random.ts";
export {
  holdFirstRequestOfEach,
  startFlakyUpstream,
  type FlakyUpstream,
  type UpstreamBehaviour,
  type ReceivedRequest,
} from "./flaky-upstream.ts";
