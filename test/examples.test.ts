// The runnable examples under examples/ run here as a reader runs them, so they stay true.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..");
const node = join(root, "node_modules", ".bin", "node");

describe("examples", () => {
  it("order-saga.ts: the approved order succeeds, the rejected one is refunded", async () => {
    const { stdout } = await promisify(execFile)(node, [join(root, "examples", "order-saga.ts")], {
      cwd: root,
      timeout: 60_000,
    });
    expect(stdout).toContain(
      'order-o-42: {"charge":{"id":"ch_o-42"},"crmStatus":201,"receipt":"receipt for o-42"}',
    );
    expect(stdout).toContain("refunded ch_o-43");
    expect(stdout).toContain(
      'order-o-43: Run "order-o-43" failed: NonRetriableError: order o-43 was not approved',
    );
    expect(stdout).toContain(
      'crm saw: order-o-42:notify-crm {"orderId":"o-42"} | order-o-43:notify-crm {"orderId":"o-43"}',
    );
  });

  it("chat-endpoint.ts: a 202 when the LLM fails its first call, then the answer at the Location", async () => {
    const { stdout } = await promisify(execFile)(
      node,
      [join(root, "examples", "chat-endpoint.ts")],
      { cwd: root, timeout: 60_000 },
    );
    const lines = stdout.trim().split("\n");
    expect(lines[0]).toBe("POST /chat: 202");
    expect(lines[1]).toBe("following ?steadfast_run=chat%3Aquestion-1");
    expect(lines.at(-2)).toBe(
      '200 Answer to "the meaning of life": 34 characters of prompt considered: 42',
    );
    expect(lines.at(-1)).toBe("llm calls: 2");
  });

  it("orders-api.ts: an order created once, its retry replayed, a changed body 422, a burst 429", async () => {
    const { stdout } = await promisify(execFile)(node, [join(root, "examples", "orders-api.ts")], {
      cwd: root,
      timeout: 60_000,
    });
    expect(stdout.trim().split("\n")).toEqual([
      'POST /orders (key order-1): 201 {"id":1,"sku":"A-1","quantity":2}',
      '  RateLimit: "default";r=4;t=12',
      "retry (key order-1): 201 replayed=true same body=true",
      "changed body (key order-1): 422 idempotency_key_reused",
      // 12 s (5 a minute), less the time the requests took, rounded up.
      expect.stringMatching(
        /^burst of 4 \(keys order-2 to order-5\): 201 201 429 429, Retry-After: 1[12]$/,
      ),
      "orders created: 3",
    ]);
  });
});
