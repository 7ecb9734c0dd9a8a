/**
 * A destination's protection is shared by every tenant's calls to it (issue 10, item 1): what one
 * tenant's calls do wrong on their own side must not open the breaker, spend the retry budget or
 * skew the health that another tenant's calls are held by. Real engine, real loopback upstream.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { CallRecord } from "../core/call.ts";
import { newCallId, tenantId } from "../core/ids.ts";
import type { CallHandle } from "../steadfast.ts";
import { harness, type Harness } from "./engine-harness.test-support.ts";

let h: Harness | undefined;
afterEach(async () => {
  await h?.cleanup();
  h = undefined;
});

const TENANT_A = "tenant-a";
const TENANT_B = "tenant-b";
/** Calls of tenant A in each wave: twice what the default breaker needs to open (20 at 50%). */
const BAD_CALLS = 40;

/** Larger than the engine keeps of a response in the test below. */
const BIG_BODY = "x".repeat(2 * 1_048_576);

/** An upstream that never answers under /slow, answers 2 MiB under /big, and 200 elsewhere. */
function upstreamScript(request: { path: string }): "hang" | { status: number; body: string } {
  if (request.path.startsWith("/slow")) return "hang";
  return { status: 200, body: request.path.startsWith("/big") ? BIG_BODY : "ok" };
}

/**
 * Stores calls whose header value our HTTP client refuses (NUL), as a version that did not check
 * headers at the door accepted them, and wakes the engine. Their attempts fail before a byte is sent.
 */
async function storeUnsendableCalls(hh: Harness, count: number): Promise<string[]> {
  const now = hh.clock.now();
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = newCallId(now, hh.sf.random);
    ids.push(id);
    await hh.sf.store.createCall({
      id,
      tenantId: tenantId(TENANT_A),
      kind: "call",
      spec: {
        request: { url: `${hh.upstream.url}/bad/${i}`, method: "GET", headers: { "x-bad": "\0" } },
        retry: {
          maxAttempts: 5,
          backoff: "exponential",
          initialDelayMs: 1_000,
          maxDelayMs: 60_000,
        },
        timeout: { connectMs: 10_000, readMs: 30_000, totalMs: 60_000 },
      },
      forwardedKey: `steadfast-${id}`,
      runAt: now,
      createdAt: now,
    });
  }
  hh.sf.engine.notify(now);
  return ids;
}

/**
 * Resolves once `count` distinct calls whose URL contains `part` have had an attempt recorded or
 * have been held by their destination. Listens from the moment it is called.
 */
function attemptedOrHeld(hh: Harness, count: number, part: string): Promise<void> {
  const seen = new Set<string>();
  return new Promise<void>((resolve) => {
    const see = (call: CallRecord): void => {
      if (!call.spec.request.url.includes(part)) return;
      seen.add(call.id);
      if (seen.size === count) resolve();
    };
    hh.sf.engine.events.on("attempt:recorded", ({ call }) => see(call));
    hh.sf.engine.events.on("call:held", ({ call }) => see(call));
  });
}

/** Each call's status now (a held call is `waiting`, where the fix lets it end `failed`). */
async function statusesOf(calls: CallHandle[]): Promise<string[]> {
  return Promise.all(calls.map((call) => call.status()));
}

/**
 * Tenant B's ordinary call goes at once and succeeds: the breaker never opened, and the health
 * figures hold only that one attempt (nothing of tenant A's).
 */
async function expectDestinationUntouched(hh: Harness, opened: unknown[]): Promise<void> {
  const { sf, upstream } = hh;
  const normal = await sf.fetch({ url: `${upstream.url}/orders` }, { tenantId: TENANT_B });
  expect(await normal.result()).toMatchObject({ status: "succeeded", attempts: 1 });
  expect(opened).toEqual([]);
  const view = await sf.destinations.get(upstream.url);
  expect(view.breaker).toEqual({ state: "closed", consecutiveOpens: 0 });
  expect(view.health).toMatchObject({ requests: 1, failures: 0, errorRate: 0 });
}

async function start(): Promise<{ hh: Harness; opened: unknown[] }> {
  const hh = await harness(upstreamScript);
  const opened: unknown[] = [];
  hh.sf.engine.events.on("breaker:opened", (event) => void opened.push(event));
  return { hh, opened };
}

describe("engine: one tenant's calls cannot harm a destination shared with others", () => {
  it("fails a request our HTTP client refuses at once, and does not count it against the destination", async () => {
    const { hh, opened } = await start();
    h = hh;
    const attempted = attemptedOrHeld(hh, BAD_CALLS, "/bad/");
    const refused = await storeUnsendableCalls(hh, BAD_CALLS);
    await attempted;
    for (const id of refused) {
      expect(await hh.sf.calls.get(tenantId(TENANT_A), id)).toMatchObject({
        status: "failed",
        attempts: 1,
        error: {
          code: "not_retryable",
          message: expect.stringMatching(/^invalid_request: .*x-bad.*it was not sent/) as string,
        },
      });
    }
    expect(hh.upstream.requests).toEqual([]);
    await expectDestinationUntouched(hh, opened);
  });

  it("does not count timeouts shorter than a second against the destination", async () => {
    const { hh, opened } = await start();
    h = hh;
    const attempted = attemptedOrHeld(hh, BAD_CALLS, "/slow/");
    const short = [];
    for (let i = 0; i < BAD_CALLS; i++) {
      short.push(
        await hh.sf.fetch(
          {
            url: `${hh.upstream.url}/slow/${i}`,
            timeout: { connectMs: 100, readMs: 100, totalMs: 100 },
            retry: { maxAttempts: 1 },
          },
          { tenantId: TENANT_A },
        ),
      );
    }
    await attempted;
    expect(new Set(await statusesOf(short))).toEqual(new Set(["failed"]));
    await expectDestinationUntouched(hh, opened);
  });

  it("does not count an attempt cut short by its call's deadline against the destination", async () => {
    const { hh, opened } = await start();
    h = hh;
    const attempted = attemptedOrHeld(hh, BAD_CALLS, "/slow/");
    const hurried = [];
    for (let i = 0; i < BAD_CALLS; i++) {
      hurried.push(
        await hh.sf.fetch(
          { url: `${hh.upstream.url}/slow/${i}`, deadlineMs: 1 },
          { tenantId: TENANT_A },
        ),
      );
    }
    await attempted;
    expect(new Set(await statusesOf(hurried))).toEqual(new Set(["failed"]));
    await expectDestinationUntouched(hh, opened);
  });

  it("counts a response over maxResponseBytes by its status: the destination answered", async () => {
    h = await harness(upstreamScript, { maxResponseBytes: 1_024 });
    const { sf, upstream } = h;
    const calls = [];
    for (let i = 0; i < 5; i++)
      calls.push(await sf.fetch({ url: `${upstream.url}/big/${i}` }, { tenantId: TENANT_A }));
    for (const call of calls) {
      expect(await call.result()).toMatchObject({
        status: "succeeded",
        attempts: 1,
        response: { status: 200, bodyTruncated: true },
      });
    }
    const view = await sf.destinations.get(upstream.url);
    expect(view.breaker.state).toBe("closed");
    expect(view.health).toMatchObject({ requests: 5, failures: 0 });
  });
});
