import { describe, expect, it } from "vitest";
import { FakeClock } from "../testing/fake-clock.ts";
import type { Fingerprint } from "../exchange/request-fingerprint.ts";
import {
  completeLease,
  decideClaim,
  extendLease,
  isHeldBy,
  type ClaimInput,
  type InFlightRecord,
} from "./record-state.ts";

const FP: Fingerprint = { algorithm: "sha256-jcs-v1", digest: "a".repeat(64) };
const OTHER: Fingerprint = { algorithm: "sha256-jcs-v1", digest: "b".repeat(64) };
const LEASE_MS = 60_000;
const RETENTION_MS = 86_400_000;
const RESPONSE = { status: 201, headers: [], body: new Uint8Array([1, 2]) };

/** The record of a claim on an absent key. */
function claimed(input: ClaimInput): InFlightRecord {
  const decision = decideClaim(undefined, input);
  if (decision.outcome !== "claimed") throw new Error(`not claimed: ${decision.outcome}`);
  return decision.record;
}

describe("the idempotency record's state machine", () => {
  const clock = new FakeClock();
  const claimAt = (now: number, token = "t1", fingerprint = FP): ClaimInput => ({
    fingerprint,
    now,
    leaseMs: LEASE_MS,
    retentionMs: RETENTION_MS,
    leaseToken: token,
  });

  it("absent -> in-flight: a lease until now + leaseMs, kept for the retention after it", () => {
    const now = clock.now();
    expect(decideClaim(undefined, claimAt(now))).toEqual({
      outcome: "claimed",
      record: {
        state: "in-flight",
        fingerprint: FP,
        leaseToken: "t1",
        claimedAt: now,
        leaseExpiresAt: now + LEASE_MS,
        purgeAt: now + LEASE_MS + RETENTION_MS,
      },
    });
  });

  it("in-flight: another claim is told it is in flight until the lease runs out, then takes it over", async () => {
    const start = clock.now();
    const held = claimed(claimAt(start));
    await clock.advance(LEASE_MS - 1);
    expect(decideClaim(held, claimAt(clock.now(), "t2"))).toEqual({
      outcome: "in-flight",
      leaseExpiresAt: start + LEASE_MS,
    });
    await clock.advance(1);
    const takeover = decideClaim(held, claimAt(clock.now(), "t2"));
    expect(takeover.outcome === "claimed" && takeover.record.leaseToken).toBe("t2");
    // The old holder is fenced out of every transition.
    expect(
      extendLease(
        takeover.outcome === "claimed" ? takeover.record : undefined,
        "t1",
        clock.now(),
        LEASE_MS,
        RETENTION_MS,
      ),
    ).toBeUndefined();
  });

  it("in-flight -> in-flight: an extension moves the lease and the purge time, never back", async () => {
    const held = claimed(claimAt(clock.now()));
    await clock.advance(20_000);
    const extended = extendLease(held, "t1", clock.now(), LEASE_MS, RETENTION_MS);
    expect(extended?.leaseExpiresAt).toBe(clock.now() + LEASE_MS);
    expect(extended?.purgeAt).toBe(clock.now() + LEASE_MS + RETENTION_MS);
    expect(extendLease(extended, "t1", clock.now(), 1_000, RETENTION_MS)?.leaseExpiresAt).toBe(
      clock.now() + LEASE_MS,
    );
    expect(extendLease(extended, "t2", clock.now(), LEASE_MS, RETENTION_MS)).toBeUndefined();
  });

  it("in-flight -> completed, replayed to the same request and refused to another", async () => {
    const held = claimed(claimAt(clock.now()));
    await clock.advance(1_000);
    expect(completeLease(held, "t2", RESPONSE, clock.now(), RETENTION_MS)).toBeUndefined();
    const done = completeLease(held, "t1", RESPONSE, clock.now(), RETENTION_MS)!;
    expect(done).toEqual({
      state: "completed",
      fingerprint: FP,
      completedAt: clock.now(),
      response: RESPONSE,
      purgeAt: clock.now() + RETENTION_MS,
    });
    expect(decideClaim(done, claimAt(clock.now(), "t3"))).toEqual({
      outcome: "replay",
      record: done,
    });
    expect(decideClaim(done, claimAt(clock.now(), "t3", OTHER))).toEqual({
      outcome: "mismatch",
      state: "completed",
    });
    expect(completeLease(done, "t1", RESPONSE, clock.now(), RETENTION_MS)).toBeUndefined();
    expect(isHeldBy(done, "t1")).toBe(false);
  });

  it("any state, fingerprint differs: mismatch, even past the lease", async () => {
    const held = claimed(claimAt(clock.now()));
    expect(decideClaim(held, claimAt(clock.now(), "t2", OTHER))).toEqual({
      outcome: "mismatch",
      state: "in-flight",
    });
    await clock.advance(LEASE_MS);
    expect(decideClaim(held, claimAt(clock.now(), "t2", OTHER)).outcome).toBe("mismatch");
    // A fingerprint of another algorithm is not known to be the same request.
    const otherAlgorithm = { algorithm: "sha256-raw-v1", digest: FP.digest };
    expect(decideClaim(held, claimAt(clock.now(), "t2", otherAlgorithm)).outcome).toBe("mismatch");
  });

  it("past purgeAt a record counts as absent, for any request", async () => {
    const held = claimed(claimAt(clock.now()));
    const done = completeLease(held, "t1", RESPONSE, clock.now(), RETENTION_MS)!;
    await clock.advance(RETENTION_MS - 1);
    expect(decideClaim(done, claimAt(clock.now(), "t2", OTHER)).outcome).toBe("mismatch");
    await clock.advance(1);
    expect(decideClaim(done, claimAt(clock.now(), "t2", OTHER)).outcome).toBe("claimed");
  });
});
