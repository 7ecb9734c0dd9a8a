import { describe, expect, it, vi } from "vitest";
import { Emitter } from "./events.ts";

interface TestEvents {
  "thing:happened": { n: number };
  "thing:other": { s: string };
}

describe("Emitter", () => {
  it("calls listeners in order and stops after unsubscribe", () => {
    const events = new Emitter<TestEvents>();
    const seen: string[] = [];
    const off = events.on("thing:happened", (e) => seen.push(`a${e.n}`));
    events.on("thing:happened", (e) => seen.push(`b${e.n}`));
    events.emit("thing:happened", { n: 1 });
    off();
    off();
    events.emit("thing:happened", { n: 2 });
    expect(seen).toEqual(["a1", "b1", "b2"]);
  });

  it("reports `has` only for names with listeners", () => {
    const events = new Emitter<TestEvents>();
    expect(events.has("thing:happened")).toBe(false);
    const off = events.on("thing:happened", () => {});
    expect(events.has("thing:happened")).toBe(true);
    expect(events.has("thing:other")).toBe(false);
    off();
    expect(events.has("thing:happened")).toBe(false);
  });

  it("keeps going when a listener throws, and rethrows its error on a microtask", () => {
    const events = new Emitter<TestEvents>();
    const boom = new Error("listener bug");
    const after = vi.fn();
    events.on("thing:happened", () => {
      throw boom;
    });
    events.on("thing:happened", after);
    const queued: (() => void)[] = [];
    const spy = vi
      .spyOn(globalThis, "queueMicrotask")
      .mockImplementation((task) => queued.push(task));
    try {
      events.emit("thing:happened", { n: 1 });
    } finally {
      spy.mockRestore();
    }
    expect(after).toHaveBeenCalledOnce();
    expect(queued).toHaveLength(1);
    expect(() => queued[0]!()).toThrow(boom);
  });

  it("hands a listener's error to onListenerError instead, with the event's name", () => {
    const reported: [unknown, string][] = [];
    const events = new Emitter<TestEvents>({
      onListenerError: (error, event) => reported.push([error, event]),
    });
    const boom = new Error("listener bug");
    const after = vi.fn();
    events.on("thing:happened", () => {
      throw boom;
    });
    events.on("thing:happened", after);
    const spy = vi.spyOn(globalThis, "queueMicrotask");
    try {
      events.emit("thing:happened", { n: 1 });
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
    expect(reported).toEqual([[boom, "thing:happened"]]);
    expect(after).toHaveBeenCalledOnce();
  });

  it("survives an onListenerError that throws", () => {
    const events = new Emitter<TestEvents>({
      onListenerError: () => {
        throw new Error("broken logger");
      },
    });
    const after = vi.fn();
    events.on("thing:happened", () => {
      throw new Error("listener bug");
    });
    events.on("thing:happened", after);
    expect(() => events.emit("thing:happened", { n: 1 })).not.toThrow();
    expect(after).toHaveBeenCalledOnce();
  });

  it("lets a listener unsubscribe another during an emit without skipping it this time", () => {
    const events = new Emitter<TestEvents>();
    const seen: number[] = [];
    let offSecond = (): void => {};
    events.on("thing:happened", () => {
      seen.push(1);
      offSecond();
    });
    offSecond = events.on("thing:happened", () => seen.push(2));
    events.emit("thing:happened", { n: 0 });
    events.emit("thing:happened", { n: 0 });
    expect(seen).toEqual([1, 2, 1]);
  });
});
