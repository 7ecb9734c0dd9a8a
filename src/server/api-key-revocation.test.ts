// Issue 10, item 4: a key revoked through one server is refused by every other server sharing
// the database within the authentication cache's lifetime. Two real servers on one PostgreSQL
// schema; each has its own FakeClock, so "within 5 s" is checked exactly, without sleeping.
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import {
  dropSchema,
  TEST_DATABASE_URL,
  testSchemaName,
} from "../store/postgres/test-database.test-support.ts";
import { FakeClock } from "../testing/fake-clock.ts";
import { CreatedApiKeySchema } from "./api-key-schemas.ts";
import { startServer, type RunningServer } from "./start-server.ts";

const OPERATOR_KEY = "ops_key_0123456789abcdef";
const T0 = Date.parse("2026-01-01T00:00:00Z");

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function start(schema: string, clock: FakeClock): Promise<RunningServer> {
  const url = new URL(TEST_DATABASE_URL);
  url.searchParams.set("schema", schema);
  const server = await startServer(
    {
      port: 0,
      host: "127.0.0.1",
      db: url.toString(),
      dataDir: "/nonexistent/steadfast-data",
      apiKeys: `ops:${OPERATOR_KEY}`,
      operatorTenants: ["ops"],
      allowPrivateNetworks: false,
      allowedCidrs: [],
      concurrency: 4,
      maxBodyBytes: 65_536,
      logLevel: "silent",
      shutdownGraceMs: 1_000,
    },
    { clock, logger: pino({ level: "silent" }), print: () => undefined },
  );
  cleanups.push(() => server.close());
  return server;
}

function get(server: RunningServer, path: string, key: string): Promise<Response> {
  return fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${key}` } });
}

describe("revoking a key across servers on one PostgreSQL schema", () => {
  it("is refused by the revoking server at once and by the other within its 5 s cache", async () => {
    const schema = testSchemaName();
    cleanups.push(() => dropSchema(schema));
    const clockA = new FakeClock(T0);
    const clockB = new FakeClock(T0);
    const a = await start(schema, clockA);
    const b = await start(schema, clockB);

    const res = await fetch(`${a.url}/v1/keys`, {
      method: "POST",
      headers: { authorization: `Bearer ${OPERATOR_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ tenant: "acme" }),
    });
    expect(res.status).toBe(201);
    const created = CreatedApiKeySchema.parse(await res.json());
    // Server B checks the new key once and caches the answer.
    expect((await get(b, "/v1/calls", created.key)).status).toBe(200);

    const revoke = await fetch(`${a.url}/v1/keys/${created.id}/revoke`, {
      method: "POST",
      headers: { authorization: `Bearer ${OPERATOR_KEY}` },
    });
    expect(revoke.status).toBe(200);
    expect((await get(a, "/v1/calls", created.key)).status).toBe(401);

    // B still trusts its cached answer, for at most 5 s of its clock...
    await clockB.advance(4_999);
    expect((await get(b, "/v1/calls", created.key)).status).toBe(200);
    // ...and refuses the key once they have passed.
    await clockB.advance(1);
    const refused = await get(b, "/v1/calls", created.key);
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { detail: string }).detail).toMatch(/^Unknown or revoked/);
    expect((await get(b, "/v1/calls", OPERATOR_KEY)).status).toBe(200);
  });
});
