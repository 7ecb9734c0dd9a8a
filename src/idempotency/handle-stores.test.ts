// `handle` end to end, over a real node:http server, on each store opened from its URL
// (issue 13): the race, the replay and its marker, 422, 400, 413, Set-Cookie, principals.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { waitUntil } from "../testing/wait-until.ts";
import {
  problemOf,
  startHandleHarness,
  type HandleHarness,
} from "./handle-harness.test-support.ts";
import { TEST_STORES, type TestStore } from "./stores/test-stores.test-support.ts";

const ORDER = JSON.stringify({ sku: "A-1", quantity: 2 });

describe.each(Object.entries(TEST_STORES))("handle on the %s store", (_name, openStore) => {
  let records: TestStore;
  let h: HandleHarness;
  beforeEach(async () => {
    records = await openStore();
    h = await startHandleHarness({ store: records.url, maxBodyBytes: 1_024, required: true });
  });
  afterEach(async () => {
    await h.close();
    await records.cleanup();
  });

  it("runs 50 concurrent identical requests once: one 201, 49 409 with Retry-After", async () => {
    h.hold();
    const responses = Array.from({ length: 50 }, () =>
      h.post(ORDER, { "idempotency-key": "race" }),
    );
    await waitUntil(() => h.held() === 1, { what: "the first request to be running" });
    await waitUntil(
      async () => (await Promise.all(responses.map(settled))).filter(Boolean).length === 49,
      { what: "the 49 duplicates to be answered" },
    );
    h.release();
    const all = await Promise.all(responses);
    expect(h.effects()).toBe(1);
    expect(all.map((r) => r.status).sort()).toEqual([201, ...Array<number>(49).fill(409)]);
    for (const conflict of all.filter((r) => r.status === 409)) {
      expect(conflict.headers.get("retry-after")).toBe("1");
      expect((await problemOf(conflict)).code).toBe("idempotency_key_in_use");
    }
    const replay = await h.post(ORDER, { "idempotency-key": "race" });
    expect(replay.status).toBe(201);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(h.effects()).toBe(1);
  });

  it("replays the stored response with Idempotent-Replayed: true, never its cookies", async () => {
    const first = await h.post(ORDER, { "idempotency-key": '"order-1"' });
    expect(first.status).toBe(201);
    expect(first.headers.get("set-cookie")).toBe("session=s1; HttpOnly");
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    const body = await first.text();
    // The bare form of the same key names the same record.
    const again = await h.post(ORDER, { "idempotency-key": "order-1" });
    expect(again.status).toBe(201);
    expect(await again.text()).toBe(body);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.headers.get("location")).toBe("/orders/1");
    expect(again.headers.get("etag")).toBe('"v1"');
    expect(again.headers.get("content-type")).toBe("application/json");
    expect(again.headers.get("set-cookie")).toBeNull();
    expect(again.headers.get("x-handler-only")).toBeNull();
    expect(h.effects()).toBe(1);
  });

  it("answers 422 for the key reused with another request, and runs nothing", async () => {
    await h.post(ORDER, { "idempotency-key": "k-422" });
    const reused = await h.post(JSON.stringify({ sku: "B-2" }), { "idempotency-key": "k-422" });
    expect(reused.status).toBe(422);
    const problem = await problemOf(reused);
    expect(problem).toMatchObject({
      code: "idempotency_key_reused",
      type: "https://steadfast.dev/problems/idempotency_key_reused",
      status: 422,
    });
    expect(problem.detail).toMatch(/send a new key for a new request/);
    expect(h.effects()).toBe(1);
  });

  it("answers 400 for a missing or malformed key where one is required", async () => {
    const missing = await h.post(ORDER);
    expect(missing.status).toBe(400);
    expect((await problemOf(missing)).code).toBe("idempotency_key_missing");
    const malformed = await h.post(ORDER, { "idempotency-key": '"unterminated' });
    expect(malformed.status).toBe(400);
    const problem = await problemOf(malformed);
    expect(problem.code).toBe("idempotency_key_invalid");
    expect(problem.detail).toMatch(/^Idempotency-Key is not a valid quoted string/);
    expect(h.effects()).toBe(0);
  });

  it("answers 413 for a body over the limit before anything is stored", async () => {
    const big = JSON.stringify({ note: "x".repeat(2_000) });
    const declared = await h.post(big, { "idempotency-key": "k-413" });
    expect(declared.status).toBe(413);
    expect((await problemOf(declared)).code).toBe("payload_too_large");
    // Chunked: no Content-Length to go by, the limit is found while reading.
    const chunked = await fetch(`${h.url}/orders`, {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": "k-413" },
      body: new Blob([big]).stream(),
      duplex: "half",
    } as RequestInit);
    expect(chunked.status).toBe(413);
    expect(h.effects()).toBe(0);
    // Nothing was stored under the key: a request that fits runs (no 422).
    expect((await h.post(ORDER, { "idempotency-key": "k-413" })).status).toBe(201);
  });

  it("never returns another principal's response for the same key", async () => {
    const alice = await h.post(ORDER, {
      "idempotency-key": "shared",
      authorization: "Bearer alice",
    });
    const bob = await h.post(ORDER, { "idempotency-key": "shared", authorization: "Bearer bob" });
    expect(alice.status).toBe(201);
    expect(bob.status).toBe(201);
    expect(bob.headers.get("idempotent-replayed")).toBeNull();
    expect(bob.headers.get("location")).toBe("/orders/2");
    expect(h.effects()).toBe(2);
    const aliceAgain = await h.post(ORDER, {
      "idempotency-key": "shared",
      authorization: "Bearer alice",
    });
    expect(aliceAgain.headers.get("location")).toBe("/orders/1");
    expect(aliceAgain.headers.get("idempotent-replayed")).toBe("true");
  });
});

/** True once `pending` has settled (checked without waiting for it). */
async function settled(pending: Promise<Response>): Promise<boolean> {
  const marker = Symbol("pending");
  return (await Promise.race([pending, Promise.resolve(marker)])) !== marker;
}
