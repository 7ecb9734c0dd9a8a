// What PostgreSQL cannot hold (a NUL in text) never reaches it from the runs surface: the
// service answers as for any other id or name that breaks its rule (404, 422), never 5xx.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isSteadfastError } from "../../core/errors.ts";
import { tenantId } from "../../core/ids.ts";
import { openTestStore } from "../../store/postgres/test-database.test-support.ts";
import { FakeClock } from "../../testing/fake-clock.ts";
import { SeededRandom } from "../../testing/seeded-random.ts";
import { RunsService } from "./runs-service.ts";

let opened: Awaited<ReturnType<typeof openTestStore>>;
let service: RunsService;
const tenant = tenantId("acme");

beforeAll(async () => {
  opened = await openTestStore();
  await opened.store.migrate();
  service = new RunsService({
    store: opened.store,
    clock: new FakeClock(Date.parse("2026-01-01T00:00:00Z")),
    random: new SeededRandom(5),
  });
});
afterAll(async () => {
  await opened.cleanup();
});

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return isSteadfastError(error) ? error.code : `not a SteadfastError: ${String(error)}`;
  }
}

describe("the runs surface on PostgreSQL, given a NUL", () => {
  it("answers not_found for a run id, invalid_request for a workflow filter or an event name or id", async () => {
    expect(await codeOf(service.get(tenant, "a\u0000b"))).toBe("not_found");
    expect(await codeOf(service.cancel(tenant, "a\u0000b"))).toBe("not_found");
    expect(await codeOf(service.retry(tenant, "a\u0000b"))).toBe("not_found");
    expect(await codeOf(service.list(tenant, { workflow: "\u0000" }))).toBe("invalid_request");
    expect(await codeOf(service.sendEvent(tenant, { name: "a\u0000" }))).toBe("invalid_request");
    expect(await codeOf(service.sendEvent(tenant, { name: "ok", id: "x\u0000" }))).toBe(
      "invalid_request",
    );
    expect(await codeOf(service.sendEvent(tenant, { name: "ok", id: "x" }))).toBeUndefined();
  });
});
