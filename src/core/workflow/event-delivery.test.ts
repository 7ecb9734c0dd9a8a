import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { chooseEvent, eventMatches, type EventWait, type ReceivedEvent } from "./event-delivery.ts";

const T0 = 1_767_000_000_000;

function event(id: string, receivedAt: number, data: unknown = {}, name = "order.approved") {
  return { id, name, data, receivedAt } satisfies ReceivedEvent;
}

function wait(overrides: Partial<EventWait> = {}): EventWait {
  return { event: "order.approved", runCreatedAt: T0, consumed: new Set(), ...overrides };
}

describe("eventMatches", () => {
  it("matches on the name alone when the wait has no fields", () => {
    expect(eventMatches(wait(), event("e1", T0, "anything"))).toBe(true);
    expect(eventMatches(wait(), event("e1", T0, {}, "order.rejected"))).toBe(false);
  });

  it("requires every match field to equal the data's own top-level field", () => {
    const approval = wait({ match: { orderId: "o-42", priority: 1, rush: false, note: null } });
    const data = { orderId: "o-42", priority: 1, rush: false, note: null, extra: "ignored" };
    expect(eventMatches(approval, event("e1", T0, data))).toBe(true);
    expect(eventMatches(approval, event("e1", T0, { ...data, orderId: "o-43" }))).toBe(false);
    expect(eventMatches(approval, event("e1", T0, { ...data, priority: "1" }))).toBe(false);
    const { note: _note, ...withoutNote } = data;
    expect(eventMatches(approval, event("e1", T0, withoutNote))).toBe(false);
  });

  it("never matches a field through the prototype chain or in data that is not an object", () => {
    const byConstructor = wait({ match: { constructor: "x" } });
    expect(eventMatches(byConstructor, event("e1", T0, {}))).toBe(false);
    expect(eventMatches(byConstructor, event("e1", T0, { constructor: "x" }))).toBe(true);
    const byId = wait({ match: { orderId: "o-42" } });
    expect(eventMatches(byId, event("e1", T0, ["o-42"]))).toBe(false);
    expect(eventMatches(byId, event("e1", T0, "o-42"))).toBe(false);
    expect(eventMatches(byId, event("e1", T0, null))).toBe(false);
  });

  it("treats 0 and -0 as equal", () => {
    expect(eventMatches(wait({ match: { n: 0 } }), event("e1", T0, { n: -0 }))).toBe(true);
  });
});

describe("chooseEvent", () => {
  it("delivers an event that arrived after the run started but before the wait began", () => {
    const early = event("e1", T0 + 5);
    expect(chooseEvent(wait(), [early])).toBe(early);
  });

  it("does not deliver an event from before the run existed", () => {
    expect(chooseEvent(wait(), [event("e1", T0 - 1)])).toBeUndefined();
  });

  it("delivers each event once within a run: a second wait gets the next one", () => {
    const first = event("e1", T0 + 1);
    const second = event("e2", T0 + 2);
    expect(chooseEvent(wait(), [second, first])).toBe(first);
    expect(chooseEvent(wait({ consumed: new Set(["e1"]) }), [second, first])).toBe(second);
    expect(chooseEvent(wait({ consumed: new Set(["e1", "e2"]) }), [second, first])).toBeUndefined();
  });

  it("picks the earliest arrival, then the smaller id, whatever the order of candidates", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ id: fc.string({ minLength: 1, maxLength: 4 }), at: fc.nat(5) }), {
          minLength: 1,
          maxLength: 12,
        }),
        (rows) => {
          const events = rows.map((row) => event(row.id, T0 + row.at));
          const chosen = chooseEvent(wait(), events);
          const reversed = chooseEvent(wait(), [...events].reverse());
          expect(chosen).toEqual(reversed);
          const best = [...events].sort(
            (a, b) => a.receivedAt - b.receivedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
          )[0];
          expect(chosen).toEqual(best);
        },
      ),
    );
  });

  it("skips events that do not match the wait's fields", () => {
    const other = event("e1", T0 + 1, { orderId: "o-1" });
    const mine = event("e2", T0 + 2, { orderId: "o-42" });
    expect(chooseEvent(wait({ match: { orderId: "o-42" } }), [other, mine])).toBe(mine);
  });
});
