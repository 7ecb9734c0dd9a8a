import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Store } from "../core/store.ts";
import type { EngineEvents, EngineLogger } from "./engine.ts";
import { createSteadfast, type Steadfast, type SteadfastOptions } from "../steadfast.ts";
import { FakeClock } from "../testing/fake-clock.ts";
import {
  startFlakyUpstream,
  type FlakyUpstream,
  type ReceivedRequest,
  type UpstreamBehaviour,
} from "../testing/flaky-upstream.ts";
import { SeededRandom } from "../testing/seeded-random.ts";
import { waitUntil } from "../testing/wait-until.ts";

/** A Steadfast on a temp SQLite file with a fake clock, and one scripted upstream. */
export interface Harness {
  sf: Steadfast;
  clock: FakeClock;
  upstream: FlakyUpstream;
  dir: string;
  /** Resolves with the next `event` whose payload matches. */
  next<K extends keyof EngineEvents & string>(
    event: K,
    match?: (payload: EngineEvents[K]) => boolean,
  ): Promise<EngineEvents[K]>;
  /** Closes everything; throws if the engine fenced itself in a test not about liveness. */
  cleanup(): Promise<void>;
}

/** Options of `harness`: Steadfast's, and whether the test is about liveness. */
export interface HarnessOptions extends SteadfastOptions {
  /**
   * The test is about worker liveness: the engine keeps the default heartbeat (1 s) and worker
   * timeout (5 s), and its fence may close. Otherwise (default) the worker timeout is a day, so
   * that the test's jumps of the fake clock (a retry 30 s away) do not fence the engine (the
   * heartbeat's write finishes on a later turn than the jump), and a fence closing fails the test
   * at cleanup: a test must not pass because its engine stopped sending.
   */
  liveness?: boolean;
}

/** The engine's warning when its fence closes (`WorkerLiveness`). */
const FENCE_CLOSED = "this process stops sending";

/**
 * Starts the harness; when the engine starts (`startEngine`, default true), resolves once it is
 * registered (it claims and sends only then).
 */
export async function harness(
  script: readonly UpstreamBehaviour[] | ((request: ReceivedRequest) => UpstreamBehaviour),
  options: HarnessOptions = {},
): Promise<Harness> {
  const { liveness = false, ...steadfastOptions } = options;
  const dir = mkdtempSync(join(tmpdir(), "steadfast-engine-"));
  const clock = new FakeClock(Date.parse("2026-01-01T00:00:00Z"));
  const upstream = await startFlakyUpstream(script);
  const fenceWarnings: string[] = [];
  const given = options.logger;
  const logger: EngineLogger = {
    info: (obj, msg) => given?.info(obj, msg),
    warn: (obj, msg) => {
      if (msg?.startsWith(FENCE_CLOSED) === true) fenceWarnings.push(msg);
      given?.warn(obj, msg);
    },
    error: (obj, msg) => given?.error(obj, msg),
  };
  const sf = await createSteadfast({
    db: `sqlite:${join(dir, "steadfast.db")}`,
    clock,
    random: new SeededRandom(1),
    allowPrivateNetworks: true,
    ...(liveness ? {} : { workerTimeoutMs: 86_400_000 }),
    ...steadfastOptions,
    logger,
  });
  const h: Harness = {
    sf,
    clock,
    upstream,
    dir,
    next(event, match) {
      return new Promise((resolve) => {
        const off = sf.engine.events.on(event, (payload) => {
          if (match !== undefined && !match(payload)) return;
          off();
          resolve(payload);
        });
      });
    },
    async cleanup() {
      // Upstream first: requests it holds fail at once, so the engine's graceful stop (whose grace
      // timer runs on the fake clock) has nothing left to wait for.
      await upstream.close();
      await sf.close();
      rmSync(dir, { recursive: true, force: true });
      if (!liveness && fenceWarnings.length > 0)
        throw new Error(
          `the engine fenced itself in a test not about liveness (pass liveness: true if it is): ${fenceWarnings.join("; ")}`,
        );
    },
  };
  if (options.startEngine !== false) await registered(h);
  return h;
}

/** Lets pending I/O callbacks and promise chains run (not a timer wait). */
export async function settle(turns = 20): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** An upstream answer the test holds back (`{ status, after }`), then lets go of. */
export function heldAnswer(): { after: Promise<void>; release(): void } {
  let release = (): void => {};
  const after = new Promise<void>((resolve) => (release = resolve));
  return { after, release };
}

/**
 * Holds back every `claimDue` of the real `store` (its method wrapped) until `letGo`; `started`
 * resolves when the first one is held.
 */
export function holdClaims(store: Store): { started: Promise<void>; letGo(): void } {
  let letGo = (): void => {};
  const held = new Promise<void>((resolve) => (letGo = resolve));
  let claiming = (): void => {};
  const started = new Promise<void>((resolve) => (claiming = resolve));
  const claimDue = store.claimDue.bind(store);
  store.claimDue = async (query) => {
    claiming();
    await held;
    return claimDue(query);
  };
  return { started, letGo };
}

/**
 * Resolves once the harness's engine has registered its worker and knows it (it claims and
 * sends only then): the row is visible before its write is acknowledged.
 */
export async function registered(h: Harness): Promise<void> {
  const { sf } = h;
  await waitUntil(
    async () =>
      sf.engine.canSend && (await sf.store.listWorkers()).some((w) => w.id === sf.engine.workerId),
    { what: "the engine to register" },
  );
}
