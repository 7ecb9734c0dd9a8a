/**
 * A destination's protection is shared by every tenant's calls to it (issue 10, item 1): what one
 * tenant's calls do wrong on their own side must not open the breaker, spend the retry budget or
 * skew the health that another tenant's calls are held by, and a tenant's 429 (its own quota) must
 * not pause another tenant's calls. Real engine, real loopback upstream, fake clock.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { CallRecord } from "../core/call.ts";
import { newCallId, tenantId } from "../core/ids.ts";
import type { CallHandle } from "../steadfast.ts";
import type { UpstreamBehaviour } from "../testing/flaky-upstream.ts";
import { harness, settle, type Harness } from "./engine-harness.test-support.ts";

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

/**
 * An API whose quota is per credential, as GitHub's is per token: tenant A's token is spent (429
 * until the quota comes back, with the reset in `X-RateLimit-Reset` or `Retry-After`), tenant B's
 * is not. `quotaBack` ends A's 429s.
 */
function quotaUpstream(
  headers: (quotaBackAt: number) => Record<string, string>,
  quotaBackAt: number,
): { script: (request: { headers: Record<string, unknown> }) => UpstreamBehaviour; back(): void } {
  let spent = true;
  return {
    script: (request) =>
      spent && request.headers.authorization === "token a"
        ? { status: 429, headers: { "x-ratelimit-remaining": "0", ...headers(quotaBackAt) } }
        : { status: 200, body: "ok" },
    back: () => void (spent = false),
  };
}

describe("engine: a tenant's 429 holds that tenant's calls only (issue 10)", () => {
  const T0 = Date.parse("2026-01-01T00:00:00Z");
  for (const [name, headers, reason] of [
    [
      "X-RateLimit-Reset",
      (at: number) => ({ "x-ratelimit-reset": String(Math.floor(at / 1_000)) }),
      "status 429 with rate-limit reset 30 s",
    ],
    ["Retry-After", () => ({ "retry-after": "30" }), "status 429 with Retry-After 30 s"],
  ] as const) {
    it(`on ${name}: A's calls wait for A's quota, B's go at once, the breaker stays closed`, async () => {
      const quota = quotaUpstream(headers, T0 + 30_000);
      h = await harness(quota.script);
      const { sf, upstream, clock } = h;
      const opened: unknown[] = [];
      sf.engine.events.on("breaker:opened", (event) => void opened.push(event));
      const asA = { url: `${upstream.url}/repos`, headers: { authorization: "token a" } };
      const asB = { url: `${upstream.url}/repos`, headers: { authorization: "token b" } };

      const paused: unknown[] = [];
      sf.engine.events.on("tenant:paused", (event) => void paused.push(event));
      // Subscribed first: the engine may claim a call as soon as it is committed.
      const recorded = h.next("attempt:recorded");
      const first = await sf.fetch(asA, { tenantId: TENANT_A });
      await recorded;
      expect(paused).toEqual([
        { destination: upstream.url, tenantId: TENANT_A, until: T0 + 30_000, reason },
      ]);
      const heldEvent = h.next("call:held");
      const second = await sf.fetch(asA, { tenantId: TENANT_A });
      expect(await heldEvent).toMatchObject({ runAt: T0 + 30_000 });
      expect((await second.call()).waitingFor).toEqual({
        reason: "destination_paused",
        message: `127.0.0.1:${new URL(upstream.url).port} paused for this tenant's calls until 00:00:30Z (${reason}); other tenants' calls go on`,
        destination: upstream.url,
        until: "2026-01-01T00:00:30.000Z",
      });

      // Tenant B, same destination: at once, without the clock moving.
      const others = [];
      for (let i = 0; i < 5; i++) others.push(await sf.fetch(asB, { tenantId: TENANT_B }));
      for (const call of others)
        expect(await call.result()).toMatchObject({ status: "succeeded", attempts: 1 });
      expect(clock.now()).toBe(T0);

      const view = await sf.destinations.get(upstream.url);
      expect(view.breaker).toEqual({ state: "closed", consecutiveOpens: 0 });
      expect(view.pause).toBeUndefined();
      expect(view.tenantPauses).toEqual([
        { tenant: TENANT_A, until: "2026-01-01T00:00:30.000Z", reason },
      ]);
      // A's 429 taught the destination nothing: B's five answers are all it knows.
      expect(view.health).toMatchObject({ requests: 5, failures: 0 });
      expect(opened).toEqual([]);

      // A's quota comes back: A's calls go, the one that got the 429 on its second attempt.
      quota.back();
      await clock.advance(29_999);
      await settle();
      expect(await second.status()).toBe("waiting");
      await clock.advance(1);
      expect(await first.result()).toMatchObject({ status: "succeeded", attempts: 2 });
      expect(await second.result()).toMatchObject({ status: "succeeded", attempts: 1 });
      expect(upstream.requests.filter((r) => r.headers.authorization === "token a")).toHaveLength(
        3,
      );
    });
  }

  it("a 503 with Retry-After, the server overloaded, still pauses every tenant's calls", async () => {
    let overloaded = true;
    h = await harness(() =>
      overloaded ? { status: 503, headers: { "retry-after": "30" } } : { status: 200 },
    );
    const { sf, upstream, clock } = h;
    const pausing = h.next("destination:paused");
    const first = await sf.fetch({ url: `${upstream.url}/a` }, { tenantId: TENANT_A });
    expect(await pausing).toMatchObject({ destination: upstream.url, until: T0 + 30_000 });
    overloaded = false;
    const heldEvent = h.next("call:held");
    const other = await sf.fetch({ url: `${upstream.url}/b` }, { tenantId: TENANT_B });
    expect(await heldEvent).toMatchObject({
      runAt: T0 + 30_000,
      waitingFor: {
        reason: "destination_paused",
        message: expect.stringMatching(
          / paused until 00:00:30Z \(status 503 with Retry-After 30 s\)$/,
        ) as string,
      },
    });
    await settle();
    expect(upstream.requests).toHaveLength(1);
    expect((await sf.destinations.get(upstream.url)).pause).toEqual({
      until: "2026-01-01T00:00:30.000Z",
      reason: "status 503 with Retry-After 30 s",
    });
    await clock.advance(30_000);
    expect(await first.result()).toMatchObject({ status: "succeeded", attempts: 2 });
    expect(await other.result()).toMatchObject({ status: "succeeded", attempts: 1 });
  });
});
