import { getEventListeners } from "node:events";
import { describe, expect, it } from "vitest";
import { Context } from "./context.ts";

describe("Context signals", () => {
  it("hands the caller's signal through at the root, untouched", () => {
    const controller = new AbortController();
    const root = Context.root({ signal: controller.signal });
    expect(root.signal).toBe(controller.signal);
    expect(root.derive().signal).toBe(controller.signal);
  });

  it("creates a scope's signal only when read", () => {
    const controller = new AbortController();
    const scope = Context.root({ signal: controller.signal }).scope();
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
    void scope.signal;
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(1);
    scope.dispose();
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
  });

  it("aborts a scope, and only it, with the given reason", () => {
    const root = Context.root({ signal: new AbortController().signal });
    const a = root.scope();
    const b = root.scope();
    const reason = new Error("timed out");
    a.abort(reason);
    expect(a.aborted).toBe(true);
    expect(a.signal.reason).toBe(reason);
    expect(b.aborted).toBe(false);
    expect(root.aborted).toBe(false);
  });

  it("propagates a caller's abort to materialised and unmaterialised scopes", () => {
    const controller = new AbortController();
    const root = Context.root({ signal: controller.signal });
    const read = root.scope();
    const signal = read.signal;
    const unread = root.scope().scope();
    controller.abort(new Error("cancelled"));
    expect(signal.aborted).toBe(true);
    expect(unread.aborted).toBe(true);
    expect((unread.signal.reason as Error).message).toBe("cancelled");
  });

  it("does not link a signal read after the scope was disposed (no listener left behind)", () => {
    const controller = new AbortController();
    const scope = Context.root({ signal: controller.signal }).scope();
    scope.dispose();
    void scope.signal;
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
  });

  it("does not link to a root that can never abort", () => {
    const root = Context.root();
    expect(root.canAbort).toBe(false);
    const scope = root.scope();
    expect(scope.canAbort).toBe(true);
    void scope.signal;
    expect(getEventListeners(root.signal, "abort")).toHaveLength(0);
  });
});

describe("Context fields", () => {
  it("copies attempt, deadline, method and key to children; shares the root", () => {
    const root = Context.root({ method: "POST", idempotencyKey: "k1" });
    root.attempt = 3;
    const child = root.scope().derive();
    expect(child).toMatchObject({ attempt: 3, method: "POST", idempotencyKey: "k1" });
    expect(child.root).toBe(root);
  });

  it("reports no remaining time and no header without a limit", () => {
    const root = Context.root();
    expect(root.remainingMs()).toBeUndefined();
    expect(root.deadlineHeader("x-timeout-ms")).toEqual({});
  });
});
