// Test support for durable endpoint tests: the stores they run on (a SQLite file, a fresh
// PostgreSQL schema), endpoints served over node:http on 127.0.0.1 port 0, and the cleanup of
// both after each test (`afterEach(closeEndpointBed)`).
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { toNodeHandler } from "../../endpoints/node-adapter.ts";
import {
  dropSchema,
  TEST_DATABASE_URL,
  testSchemaName,
} from "../../store/postgres/test-database.test-support.ts";
import { harness, type Harness, type HarnessOptions } from "../engine-harness.test-support.ts";
import type { DurableEndpoint } from "./durable-endpoint.ts";

const harnesses: Harness[] = [];
const servers: Server[] = [];
const schemas: string[] = [];

/** Opens a harness on a store; closed by `closeEndpointBed`. */
export type OpenHarness = (options?: HarnessOptions) => Promise<Harness>;

async function tracked(opened: Promise<Harness>): Promise<Harness> {
  const h = await opened;
  harnesses.push(h);
  return h;
}

/** The stores endpoint tests run on, for `describe.each`: SQLite (a temp file), PostgreSQL. */
export const ENDPOINT_STORES: [string, OpenHarness][] = [
  ["SQLite", (options = {}) => tracked(harness([], options))],
  [
    "PostgreSQL",
    (options = {}) => {
      const schema = testSchemaName();
      schemas.push(schema);
      return tracked(harness([], { ...options, db: `${TEST_DATABASE_URL}?schema=${schema}` }));
    },
  ],
];

/** Serves `endpoint` over node:http on 127.0.0.1, port 0; its base URL (`http://127.0.0.1:<port>`). */
export async function serveEndpoint(endpoint: DurableEndpoint): Promise<string> {
  return (await serveEndpointServer(endpoint)).base;
}

/** `serveEndpoint`, with the server (for a test that watches its requests). */
export async function serveEndpointServer(
  endpoint: DurableEndpoint,
): Promise<{ base: string; server: Server }> {
  const server = createServer(toNodeHandler(endpoint));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/** Closes what the test opened: its servers, its harnesses, its PostgreSQL schemas. */
export async function closeEndpointBed(): Promise<void> {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  for (const h of harnesses.splice(0)) await h.cleanup();
  for (const schema of schemas.splice(0)) await dropSchema(schema);
}
