import { afterEach, beforeEach, describe } from "vitest";
import type { Store } from "../../core/store.ts";
import { describeApiKeyContract } from "./api-key-contract.ts";
import { describeCallbackContract } from "./callback-contract.ts";
import { describeCallContract } from "./call-contract.ts";
import { describeClaimContract } from "./claim-contract.ts";
import { describeClaimedCreateContract } from "./claimed-create-contract.ts";
import { describeControlContract } from "./control-contract.ts";
import { describeDestinationContract } from "./destination-contract.ts";
import { describeEventContract } from "./event-contract.ts";
import { describeEventWakeContract } from "./event-wake-contract.ts";
import { describeInterruptionContract } from "./interruption-contract.ts";
import { CallFactory, RunFactory } from "./fixtures.ts";
import { describeRunContract } from "./run-contract.ts";
import { describeRunControlContract } from "./run-control-contract.ts";
import { describeRetentionContract } from "./retention-contract.ts";
import { describeRunWakeContract } from "./run-wake-contract.ts";
import { describeEndedRunContract } from "./ended-run-contract.ts";
import { describeTenantContract } from "./tenant-contract.ts";
import { describeWorkerContract } from "./worker-contract.ts";

/** A store under test and how to dispose of it. */
export interface StoreUnderTest {
  /** A store on an empty database. The suite calls `migrate()` itself. */
  store: Store;
  /** Closes the store if still open (some tests close it) and removes its database. */
  cleanup: () => Promise<void>;
}

/** What each test of the suite works with; valid only inside a test. */
export interface ContractContext {
  /** A fresh, migrated store. */
  readonly store: Store;
  /** Deterministic calls for this test. */
  readonly calls: CallFactory;
  /** Deterministic workflow runs for this test. */
  readonly runs: RunFactory;
}

/** Hands the current test's context to the `describeXxxContract` helpers. */
export type GetContext = () => ContractContext;

/**
 * Declares the dialect-neutral `Store` contract: the vitest `describe`/`it` blocks every `Store`
 * implementation must pass (ARCHITECTURE.md section 2). Each test gets a fresh store from
 * `makeStore`, works only through the `Store` interface, passes time explicitly and draws ids
 * from a seeded random, so results never depend on the dialect, the clock or the run.
 *
 * @example
 * describeStoreContract("SqliteStore", async () => {
 *   const dir = mkdtempSync(join(tmpdir(), "steadfast-"));
 *   const store = SqliteStore.open({ path: join(dir, "test.db") });
 *   const cleanup = async () => {
 *     await store.close();
 *     rmSync(dir, { recursive: true, force: true });
 *   };
 *   return { store, cleanup };
 * });
 */
export function describeStoreContract(
  name: string,
  makeStore: () => Promise<StoreUnderTest>,
): void {
  describe(`Store contract: ${name}`, () => {
    let current: StoreUnderTest | undefined;
    let calls: CallFactory | undefined;
    let runs: RunFactory | undefined;

    beforeEach(async () => {
      current = await makeStore();
      await current.store.migrate();
      calls = new CallFactory(1);
      runs = new RunFactory(7);
    });

    afterEach(async () => {
      const finished = current;
      current = undefined;
      calls = undefined;
      runs = undefined;
      await finished?.cleanup();
    });

    const context: GetContext = () => {
      if (current === undefined || calls === undefined || runs === undefined) {
        throw new Error("The store contract context is only available inside a test.");
      }
      return { store: current.store, calls, runs };
    };

    describeTenantContract(context);
    describeApiKeyContract(context);
    describeCallContract(context);
    describeCallbackContract(context);
    describeClaimContract(context);
    describeClaimedCreateContract(context);
    describeControlContract(context);
    describeDestinationContract(context);
    describeWorkerContract(context);
    describeInterruptionContract(context);
    describeEventContract(context);
    describeRunContract(context);
    describeRunWakeContract(context);
    describeEndedRunContract(context);
    describeEventWakeContract(context);
    describeRunControlContract(context);
    describeRetentionContract(context);
  });
}
