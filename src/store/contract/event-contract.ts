// Store contract: the events tenants send (issue 11), kept for the workflow steps waiting for
// them: recorded once per tenant and id, listed by name since a time, purged by age.
import { describe, expect, it } from "vitest";
import type { TenantId } from "../../core/ids.ts";
import type { StoredEvent } from "../../core/store.ts";
import { T0, TENANT_A, TENANT_B } from "./fixtures.ts";
import type { GetContext } from "./store-contract.ts";

function event(id: string, receivedAt: number, overrides: Partial<StoredEvent> = {}): StoredEvent {
  return {
    tenantId: TENANT_A,
    id,
    name: "order.approved",
    data: `{"orderId":"o-${id}"}`,
    receivedAt,
    ...overrides,
  };
}

function listed(tenantId: TenantId, name: string, since: number, limit = 100) {
  return { tenantId, name, since, limit };
}

/** Declares the event-log tests of the store contract. */
export function describeEventContract(context: GetContext): void {
  describe("recordEvent, listEvents, purgeEventsBefore", () => {
    it("records an event and reads it back, its data byte for byte", async () => {
      const { store } = context();
      const sent = event("evt_1", T0, { data: '{"note":"ünïcödé ✓ 𝄞","n":["bigint","12"]}' });
      expect(await store.recordEvent(sent)).toStrictEqual({ created: true, event: sent });
      expect(await store.listEvents(listed(TENANT_A, "order.approved", T0))).toStrictEqual([sent]);
    });

    it("does not record an id again: the first event comes back unchanged, not created", async () => {
      const { store } = context();
      const first = event("evt_1", T0);
      await store.recordEvent(first);
      const other = event("evt_1", T0 + 5, { name: "order.rejected", data: '{"other":true}' });
      expect(await store.recordEvent(other)).toStrictEqual({ created: false, event: first });
      expect(await store.recordEvent(first)).toStrictEqual({ created: false, event: first });
      expect(await store.listEvents(listed(TENANT_A, "order.approved", 0))).toStrictEqual([first]);
      expect(await store.listEvents(listed(TENANT_A, "order.rejected", 0))).toEqual([]);
    });

    it("keeps ids per tenant: one id in two tenants is two events", async () => {
      const { store } = context();
      const a = event("evt_1", T0);
      const b = event("evt_1", T0 + 1, { tenantId: TENANT_B, data: '{"tenant":"b"}' });
      expect((await store.recordEvent(a)).created).toBe(true);
      expect(await store.recordEvent(b)).toStrictEqual({ created: true, event: b });
      expect(await store.listEvents(listed(TENANT_A, "order.approved", 0))).toStrictEqual([a]);
      expect(await store.listEvents(listed(TENANT_B, "order.approved", 0))).toStrictEqual([b]);
    });

    it("lists a tenant's events of one name since a time, earliest first then by id, up to a limit", async () => {
      const { store } = context();
      const late = event("evt_a", T0 + 20);
      const tieB = event("evt_c", T0 + 10);
      const tieA = event("evt_b", T0 + 10);
      const atSince = event("evt_z", T0);
      const before = event("evt_0", T0 - 1);
      const otherName = event("evt_n", T0 + 5, { name: "order.rejected" });
      const otherTenant = event("evt_t", T0 + 5, { tenantId: TENANT_B });
      for (const e of [late, tieB, otherName, before, tieA, otherTenant, atSince]) {
        expect((await store.recordEvent(e)).created).toBe(true);
      }
      expect(await store.listEvents(listed(TENANT_A, "order.approved", T0))).toStrictEqual([
        atSince,
        tieA,
        tieB,
        late,
      ]);
      expect(await store.listEvents(listed(TENANT_A, "order.approved", T0, 2))).toStrictEqual([
        atSince,
        tieA,
      ]);
      expect(await store.listEvents(listed(TENANT_A, "order.approved", T0 + 11))).toStrictEqual([
        late,
      ]);
      expect(await store.listEvents(listed(TENANT_A, "order.approved", T0 - 1, 1))).toStrictEqual([
        before,
      ]);
      expect(await store.listEvents(listed(TENANT_A, "order.rejected", 0))).toStrictEqual([
        otherName,
      ]);
      expect(await store.listEvents(listed(TENANT_B, "order.approved", 0))).toStrictEqual([
        otherTenant,
      ]);
      expect(await store.listEvents(listed(TENANT_A, "order.shipped", 0))).toEqual([]);
    });

    it("resumes a listing after an event, without skipping or repeating ties of arrival time", async () => {
      const { store } = context();
      const sent = [
        event("evt_d", T0 + 10),
        event("evt_b", T0 + 10),
        event("evt_a", T0),
        event("evt_c", T0 + 10),
        // Later, with an id smaller than the last page's: it is not skipped.
        event("evt_00", T0 + 30),
        event("evt_0", T0 + 10, { name: "order.rejected" }),
      ];
      for (const e of sent) await store.recordEvent(e);
      const pages: string[][] = [];
      let page = await store.listEvents(listed(TENANT_A, "order.approved", T0, 2));
      // Bounded, so that a listing repeating itself fails rather than loops.
      while (page.length > 0 && pages.length < 5) {
        pages.push(page.map((e) => e.id));
        const last = page.at(-1)!;
        page = await store.listEvents({
          ...listed(TENANT_A, "order.approved", last.receivedAt, 2),
          afterId: last.id,
        });
      }
      expect(pages).toEqual([["evt_a", "evt_b"], ["evt_c", "evt_d"], ["evt_00"]]);
    });

    it("creates exactly one of concurrent records of one id, and all agree on it", async () => {
      const { store } = context();
      const sends = Array.from({ length: 8 }, (_, i) =>
        event("evt_race", T0 + i, { data: `{"sender":${i}}` }),
      );
      const results = await Promise.all(sends.map((e) => store.recordEvent(e)));
      const created = results.filter((r) => r.created);
      expect(created).toHaveLength(1);
      const winner = created[0]!.event;
      for (const result of results) expect(result.event).toStrictEqual(winner);
      expect(await store.listEvents(listed(TENANT_A, "order.approved", 0))).toStrictEqual([winner]);
    });

    it("purges the events received before a time, oldest first up to a limit, and counts them", async () => {
      const { store } = context();
      const oldest = event("evt_1", T0 - 30, { tenantId: TENANT_B });
      const older = event("evt_2", T0 - 20);
      const old = event("evt_3", T0 - 10, { name: "order.rejected" });
      const kept = event("evt_4", T0);
      for (const e of [kept, old, oldest, older]) await store.recordEvent(e);

      expect(await store.purgeEventsBefore(T0 - 30)).toBe(0);
      expect(await store.purgeEventsBefore(T0, 1)).toBe(1);
      expect(await store.listEvents(listed(TENANT_B, "order.approved", 0))).toEqual([]);
      expect(await store.listEvents(listed(TENANT_A, "order.approved", 0))).toStrictEqual([
        older,
        kept,
      ]);
      expect(await store.purgeEventsBefore(T0)).toBe(2);
      expect(await store.listEvents(listed(TENANT_A, "order.approved", 0))).toStrictEqual([kept]);
      expect(await store.listEvents(listed(TENANT_A, "order.rejected", 0))).toEqual([]);
      expect(await store.purgeEventsBefore(T0)).toBe(0);

      // A purged id may be recorded again: it is a new event.
      expect((await store.recordEvent(older)).created).toBe(true);
    });
  });
}
