// Issue 10, items 4 to 6, with real `steadfast serve` processes: STEADFAST_API_KEYS is
// authoritative across restarts, a throwaway server never touches the real server's key file, a
// generated key goes to standard error (not the log stream), and STEADFAST_FAULTS arms nothing.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startFlakyUpstream, type FlakyUpstream } from "../src/testing/flaky-upstream.ts";
import { apiClient, startServerProcess, until, type ServerProcess } from "./process-harness.ts";

let dir: string;
let upstream: FlakyUpstream | undefined;
let servers: ServerProcess[] = [];

afterEach(async () => {
  for (const server of servers) await server.terminate();
  servers = [];
  await upstream?.close();
  upstream = undefined;
  rmSync(dir, { recursive: true, force: true });
});

async function start(
  env: Record<string, string>,
  options: { allowFaultsVariable?: boolean } = {},
): Promise<ServerProcess> {
  const server = await startServerProcess(env, options);
  servers.push(server);
  return server;
}

/** The key a server printed as generated, once it has printed it. */
async function generatedKey(server: ServerProcess): Promise<string> {
  const pattern = /^Steadfast API key for tenant default \(shown once; (.*)\): (sf_\S+)$/m;
  await until(() => Promise.resolve(pattern.test(server.stderr())), 10_000, 20);
  return pattern.exec(server.stderr())![2]!;
}

async function status(server: ServerProcess, key: string): Promise<number> {
  const client = apiClient(server.url, key);
  try {
    return (await client.call("GET", "/v1/calls")).status;
  } finally {
    await client.close();
  }
}

describe("STEADFAST_API_KEYS", () => {
  it("is authoritative: a key removed from it is refused after a restart, and says so", async () => {
    dir = mkdtempSync(join(tmpdir(), "steadfast-env-keys-"));
    const kept = "kept-key-0123456789abcdef";
    const removed = "removed-key-0123456789abcdef";
    const first = await start({
      STEADFAST_DATA_DIR: dir,
      STEADFAST_API_KEYS: `a:${kept},b:${removed}`,
    });
    expect(await status(first, removed)).toBe(200);
    expect(await first.terminate()).toBe(0);

    const second = await start({ STEADFAST_DATA_DIR: dir, STEADFAST_API_KEYS: `a:${kept}` });
    expect(await status(second, kept)).toBe(200);
    expect(await status(second, removed)).toBe(401);
    expect(second.stderr()).toMatch(
      /^Steadfast: revoked key key_[0-9A-Z]{26} \(tenant b, removed\.\.\.\): STEADFAST_API_KEYS no longer lists it$/m,
    );
  });
});

describe("the generated API key", () => {
  it("is printed on standard error, and a throwaway server (--db :memory:) leaves the real key file alone", async () => {
    dir = mkdtempSync(join(tmpdir(), "steadfast-key-file-"));
    const env = { STEADFAST_DATA_DIR: dir, STEADFAST_LOG_LEVEL: "info" };
    const real = await start(env);
    const realKey = await generatedKey(real);
    const file = join(dir, "api-key");
    expect(readFileSync(file, "utf8")).toBe(`${realKey}\n`);
    expect(real.stderr()).toContain(`also saved to ${file}, mode 0600`);
    // The log stream (pino JSON on standard output) never carries a key.
    await until(
      () => Promise.resolve(real.stdout().includes('"msg":"steadfast listening"')),
      10_000,
      20,
    );
    expect(real.stdout()).not.toContain(realKey);

    const throwaway = await start({ ...env, STEADFAST_DB: ":memory:" });
    const throwawayKey = await generatedKey(throwaway);
    expect(throwaway.stderr()).toContain(
      "not saved: the database is in memory and ends with this process",
    );
    expect(throwaway.stdout()).not.toContain(throwawayKey);
    expect(readFileSync(file, "utf8")).toBe(`${realKey}\n`);

    expect(await status(real, realKey)).toBe(200);
    expect(await status(throwaway, throwawayKey)).toBe(200);
    expect(await status(throwaway, realKey)).toBe(401);
  });
});

describe("STEADFAST_FAULTS", () => {
  it("arms nothing in steadfast serve: the process runs the call instead of killing itself", async () => {
    dir = mkdtempSync(join(tmpdir(), "steadfast-no-faults-"));
    upstream = await startFlakyUpstream(() => ({ status: 200, body: "ok" }));
    const key = "faults-test-key-0123456789";
    const server = await start(
      {
        STEADFAST_DATA_DIR: dir,
        STEADFAST_API_KEYS: `t:${key}`,
        STEADFAST_ALLOW_PRIVATE_NETWORKS: "true",
        STEADFAST_FAULTS: "after-claim@1,after-request-sent@1,after-attempt-commit@1",
      },
      { allowFaultsVariable: true },
    );
    const client = apiClient(server.url, key);
    try {
      const res = await client.call(
        "POST",
        "/v1/fetch",
        { url: `${upstream.url}/x` },
        {
          prefer: "wait=20",
        },
      );
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ status: "succeeded", response: { status: 200 } });
    } finally {
      await client.close();
    }
    expect(server.child.exitCode).toBeNull();
    expect(server.child.signalCode).toBeNull();
    expect(await server.terminate()).toBe(0);
  });
});
