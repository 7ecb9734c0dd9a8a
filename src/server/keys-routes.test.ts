import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  appHarness,
  expectProblem,
  KEY_ACME,
  KEY_OTHER,
  type AppHarness,
} from "./app-harness.test-support.ts";
import { ApiKeyListSchema, ApiKeyViewSchema, CreatedApiKeySchema } from "./api-key-schemas.ts";

let h: AppHarness;
beforeEach(async () => {
  // acme is the operator tenant; other is an ordinary tenant.
  h = await appHarness({ operatorTenants: ["acme"] });
});
afterEach(async () => {
  await h.close();
});

function create(body: unknown, key?: string): Promise<Response> {
  return h.request("/v1/keys", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    ...(key === undefined ? {} : { key }),
  });
}

async function list(query = "") {
  const res = await h.request(`/v1/keys${query}`);
  expect(res.status).toBe(200);
  return ApiKeyListSchema.parse(await res.json()).keys;
}

// `lastUsedAt` is written in the background (the service test covers it): leave it out here.
function withoutLastUse<T extends { lastUsedAt?: string | undefined }>(
  view: T,
): Omit<T, "lastUsedAt"> {
  const { lastUsedAt: _lastUsedAt, ...rest } = view;
  return rest;
}

describe("key routes", () => {
  it("list the keys, oldest first, with an id and a prefix, never the key or its hash", async () => {
    const res = await h.request("/v1/keys");
    const text = await res.text();
    expect(text).not.toContain(KEY_ACME);
    expect(ApiKeyListSchema.parse(JSON.parse(text)).keys.map(withoutLastUse)).toEqual([
      {
        id: expect.stringMatching(/^key_/) as string,
        tenant: "acme",
        prefix: KEY_ACME.slice(0, 6),
        source: "env",
        createdAt: "2026-01-01T00:00:00.000Z",
      },
      {
        id: expect.stringMatching(/^key_/) as string,
        tenant: "other",
        prefix: KEY_OTHER.slice(0, 6),
        source: "env",
        createdAt: "2026-01-01T00:00:00.000Z",
      },
    ]);
    expect((await list("?tenant=other")).map((k) => k.tenant)).toEqual(["other"]);
    await expectProblem(await h.request("/v1/keys?tenant=a%20b"), 422, "invalid_request");
    await expectProblem(await h.request("/v1/keys?includeRevoked=yes"), 422, "invalid_request");
  });

  it("create a key, shown once with its id, that works at once and is listed without it", async () => {
    await h.clock.advance(1_000);
    const res = await create({ tenant: "newco", name: "billing service" });
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const created = CreatedApiKeySchema.parse(await res.json());
    expect(res.headers.get("location")).toBe(`/v1/keys/${created.id}`);
    expect(created).toMatchObject({
      tenant: "newco",
      name: "billing service",
      source: "api",
      prefix: created.key.slice(0, 8),
    });
    expect((await h.request("/v1/calls", { key: created.key })).status).toBe(200);

    const shown = await h.request(`/v1/keys/${created.id}`);
    const { key: _key, ...view } = created;
    expect(withoutLastUse(ApiKeyViewSchema.parse(await shown.json()))).toEqual(view);
    expect((await list()).map((k) => k.tenant)).toEqual(["acme", "other", "newco"]);
    const cli = CreatedApiKeySchema.parse(
      await (await create({ tenant: "newco", source: "cli" })).json(),
    );
    expect(cli.source).toBe("cli");
  });

  it("refuse a bad body with 422 naming the field, and malformed JSON with 400", async () => {
    const cases: [unknown, string][] = [
      [{}, "tenant"],
      [{ tenant: "a b" }, "tenant"],
      [{ tenant: "x".repeat(65) }, "tenant"],
      [{ tenant: "acme", name: "" }, "name"],
      [{ tenant: "acme", name: "line\nbreak" }, "name"],
      [{ tenant: "acme", source: "env" }, "source"],
      [{ tenant: "acme", key: "sf_chosen" }, "key"],
    ];
    for (const [body, field] of cases) {
      const problem = await expectProblem(await create(body), 422, "invalid_request");
      expect(problem.errors?.map((e) => e.field)).toEqual([field]);
    }
    await expectProblem(
      await h.request("/v1/keys", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{",
      }),
      400,
      "invalid_json",
    );
    expect(await list()).toHaveLength(2);
  });

  it("revoke a key: refused at once, listed only with includeRevoked, revoking again changes nothing", async () => {
    const created = CreatedApiKeySchema.parse(await (await create({ tenant: "acme" })).json());
    expect((await h.request("/v1/calls", { key: created.key })).status).toBe(200);
    await h.clock.advance(1_000);
    const res = await h.request(`/v1/keys/${created.id}/revoke`, { method: "POST" });
    expect(res.status).toBe(200);
    const revoked = ApiKeyViewSchema.parse(await res.json());
    expect(revoked).toMatchObject({ id: created.id, revokedAt: "2026-01-01T00:00:01.000Z" });

    await expectProblem(await h.request("/v1/calls", { key: created.key }), 401, "unauthorized");
    expect((await list()).map((k) => k.id)).not.toContain(created.id);
    const listed = (await list("?includeRevoked=true")).find((k) => k.id === created.id);
    expect(withoutLastUse(listed!)).toEqual(withoutLastUse(revoked));
    await h.clock.advance(1_000);
    const again = await h.request(`/v1/keys/${created.id}/revoke`, { method: "POST" });
    expect(withoutLastUse(ApiKeyViewSchema.parse(await again.json()))).toEqual(
      withoutLastUse(revoked),
    );
  });

  it("refuse to revoke the last operator key (409), and answer 404 for an unknown key", async () => {
    const [acme] = await list("?tenant=acme");
    const problem = await expectProblem(
      await h.request(`/v1/keys/${acme!.id}/revoke`, { method: "POST" }),
      409,
      "invalid_state",
    );
    expect(problem.detail).toContain("steadfast keys create --tenant acme");
    expect((await h.request("/v1/calls")).status).toBe(200);

    await expectProblem(
      await h.request("/v1/keys/key_00000000000000000000000000/revoke", { method: "POST" }),
      404,
      "not_found",
    );
    const pasted = await expectProblem(await h.request(`/v1/keys/${KEY_OTHER}`), 404, "not_found");
    expect(pasted.detail).not.toContain(KEY_OTHER);
  });
});

describe("operator-only routes (issue 10, item 6)", () => {
  it("answer 403 to other tenants, naming no tenant, and change nothing", async () => {
    const routes: [string, RequestInit][] = [
      ["/v1/keys", {}],
      ["/v1/keys", { method: "POST", body: JSON.stringify({ tenant: "other" }) }],
      ["/v1/keys/key_00000000000000000000000000", {}],
      ["/v1/keys/key_00000000000000000000000000/revoke", { method: "POST" }],
      ["/v1/destinations", {}],
    ];
    for (const [path, init] of routes) {
      const problem = await expectProblem(
        await h.request(path, {
          ...init,
          headers: { "content-type": "application/json" },
          key: KEY_OTHER,
        }),
        403,
        "forbidden",
      );
      expect(problem.detail).toContain("operator tenants (STEADFAST_OPERATOR_TENANTS)");
      expect(problem.detail).not.toMatch(/acme/);
    }
    expect(await list()).toHaveLength(2);
  });
});
