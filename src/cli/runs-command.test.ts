import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, isSteadfastApiError } from "../client/index.ts";
import { tenantId } from "../core/ids.ts";
import { seedRun, type SeededState } from "../engine/workflows/run-fixtures.test-support.ts";
import { startServer, type RunningServer } from "../server/start-server.ts";
import { SeededRandom } from "../testing/seeded-random.ts";
import type { CliIo } from "./cli-io.ts";
import { main } from "./main.ts";
import { KEY_ONE, KEY_TWO } from "./test-harness.test-support.ts";

// A real server over SQLite in a temp directory; runs are written into its store as its engine
// would write them.
let dir: string;
let server: RunningServer;
const random = new SeededRandom(5);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "steadfast-runs-cli-"));
  server = await startServer(
    {
      port: 0,
      host: "127.0.0.1",
      db: `sqlite:${join(dir, "db")}`,
      dataDir: dir,
      apiKeys: `t1:${KEY_ONE},t2:${KEY_TWO}`,
      operatorTenants: ["t1"],
      allowPrivateNetworks: true,
      allowedCidrs: [],
      concurrency: 4,
      maxBodyBytes: 1_048_576,
      logLevel: "silent",
      shutdownGraceMs: 1_000,
    },
    { print: () => undefined },
  );
});
afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

// Real time: the server (its SystemClock) wakes and retries runs at its own now.
let clockMs = Date.now();
const seed = (id: string, state: SeededState, tenant = "t1") =>
  seedRun({
    store: server.steadfast.store,
    random,
    now: ++clockMs,
    tenantId: tenantId(tenant),
    id,
    state,
    workflow: "checkout",
  });

/** Runs `steadfast ...args` in this process with tenant t1's key, capturing output. */
async function steadfast(
  args: string[],
  key = KEY_ONE,
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const io: CliIo = {
    env: { STEADFAST_URL: server.url, STEADFAST_API_KEY: key },
    cwd: dir,
    out: (text) => void (stdout += text),
    err: (text) => void (stderr += text),
    readFile: () => {
      throw Object.assign(new Error("no files here"), { code: "ENOENT" });
    },
    exit: () => undefined as never,
    onSignal: () => () => undefined,
    now: () => 0,
  };
  const code = await main(["node", "steadfast", ...args], io);
  return { code, stdout, stderr };
}

describe("steadfast runs", () => {
  it("is listed in the help with its commands, and events send too", async () => {
    const help = await steadfast(["--help"]);
    expect(help.stdout).toMatch(/^\s+runs\s/m);
    expect(help.stdout).toMatch(/^\s+events\s/m);
    const runsHelp = await steadfast(["runs", "--help"]);
    for (const command of ["list", "show", "cancel", "retry"])
      expect(runsHelp.stdout).toMatch(new RegExp(`^\\s+${command}\\s`, "m"));
  });

  it("list shows the tenant's runs newest first, filtered, with a next-page hint", async () => {
    await seed("list-a", "succeeded");
    await seed("list-b", "failed");
    await seed("list-c", "waiting_event");
    await seed("list-theirs", "queued", "t2");
    const all = await steadfast(["runs", "list"]);
    expect(all.code).toBe(0);
    const [header, ...rows] = all.stdout.trimEnd().split("\n");
    expect(header).toMatch(/^ID\s+WORKFLOW\s+STATUS\s+CREATED\s+UPDATED\s+ERROR$/);
    const ids = rows.map((row) => row.split(/\s+/)[0]);
    expect(ids.slice(0, 3)).toEqual(["list-c", "list-b", "list-a"]);
    expect(ids).not.toContain("list-theirs");
    expect(rows[0]).toMatch(/^list-c\s+checkout\s+waiting \(event\)\s/);
    expect(rows[1]).toContain("StepFailedError (step_failed)");

    const failed = await steadfast([
      "runs",
      "list",
      "--status",
      "FAILED",
      "--workflow",
      "checkout",
    ]);
    expect(
      failed.stdout
        .trimEnd()
        .split("\n")
        .slice(1)
        .map((r) => r.split(/\s+/)[0]),
    ).toEqual(["list-b"]);
    const page = await steadfast(["runs", "list", "--limit", "1"]);
    expect(page.stdout).toMatch(/^more: steadfast runs list --limit 1 --cursor run_[0-9A-Z]{26}$/m);
    const json = await steadfast(["runs", "list", "--limit", "1", "--json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({ runs: [{ id: "list-c" }] });

    const bad = await steadfast(["runs", "list", "--status", "done"]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('--status "done" is not valid: expected one of queued, running');
  });

  it("show prints the run and its steps table with each step's attempts", async () => {
    await seed("show-1", "failed");
    const shown = await steadfast(["runs", "show", "show-1"]);
    expect(shown.code).toBe(0);
    const text = shown.stdout;
    expect(text).toMatch(/^id\s+show-1$/m);
    expect(text).toMatch(/^status\s+failed$/m);
    expect(text).toMatch(/^input\s+\{"orderId":"o-42","at":"[^"]+","big":"42"\}$/m);
    expect(text).toMatch(/^error\s+StepFailedError \(step_failed\): Step "notify" failed/m);
    expect(text).toMatch(/^retry\s+steadfast runs retry show-1$/m);
    expect(text).toMatch(/^STEP\s+KIND\s+STATUS\s+ATTEMPTS\s+STARTED\s+TOOK\s+DETAIL$/m);
    expect(text).toMatch(
      /^charge\s+run\s+completed\s+2\s+\S+Z\s+0ms\s+-> \{"id":"ch_1","amount":"42"\}$/m,
    );
    expect(text).toMatch(
      /^ {2}#1\s+failed\s+\S+Z\s+12ms\s+Error: 503 from \S+; retry in 0ms \(retry 1 of 3\)$/m,
    );
    expect(text).not.toContain("pw@");
    expect(text).toMatch(/^ {2}#2\s+succeeded\s+\S+Z\s+8ms\s+succeed$/m);
    expect(text).toMatch(/^notify\s+run\s+failed\s+1\s.*TypeError \(crm_down\): crm down$/m);
    expect(text).toMatch(/^ {2}#1\s+failed\s.*fail: terminal \(terminal error \(crm_down\)\)$/m);

    await seed("show-2", "waiting_event");
    expect((await steadfast(["runs", "show", "show-2"])).stdout).toMatch(
      /^approval\s+waitForEvent\s+waiting\s+0\s+\S+Z\s+event order\.approved matching \{"orderId":"o-42"\} until \S+Z$/m,
    );
    const json = await steadfast(["runs", "show", "show-2", "--json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({ id: "show-2", status: "waiting" });

    const missing = await steadfast(["runs", "show", "nope"]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('No run "nope" for this API key');
    expect((await steadfast(["runs", "show", "show-1"], KEY_TWO)).code).not.toBe(0);
  });

  it("cancel and retry print the run in one line, and refuse what cannot be done", async () => {
    await seed("ctl-sleep", "sleeping");
    await seed("ctl-failed", "failed");
    const cancelled = await steadfast(["runs", "cancel", "ctl-sleep"]);
    expect(cancelled).toMatchObject({ code: 0, stdout: "ctl-sleep  cancelled\n" });
    const again = await steadfast(["runs", "cancel", "ctl-sleep"]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain("Run ctl-sleep is cancelled and can no longer be cancelled");
    const retried = await steadfast(["runs", "retry", "ctl-failed"]);
    expect(retried.code).toBe(0);
    expect(retried.stdout).toMatch(/^ctl-failed {2}queued {2}due \S+Z\n$/);
    const notFailed = await steadfast(["runs", "retry", "ctl-failed"]);
    expect(notFailed.stderr).toContain("only a failed run can be retried");
  });
});

describe("steadfast events send", () => {
  it("sends an event with JSON data and an id; the same again records nothing; other data is refused", async () => {
    await seed("evt-wait", "waiting_event");
    const sent = await steadfast([
      "events",
      "send",
      "order.approved",
      "--data",
      '{"orderId":"o-42"}',
      "--id",
      "approval-o-42",
    ]);
    expect(sent).toMatchObject({ code: 0, stdout: "approval-o-42  sent\n" });
    const run = await createClient({ baseUrl: server.url, apiKey: KEY_ONE }).run("evt-wait");
    expect(Date.parse(run.runAt!)).toBeLessThan(Date.now() + 1_000);

    const repeat = await steadfast([
      "events",
      "send",
      "order.approved",
      "--data",
      '{ "orderId": "o-42" }',
      "--id",
      "approval-o-42",
    ]);
    expect(repeat.stdout).toContain("already sent");
    const reused = await steadfast([
      "events",
      "send",
      "order.approved",
      "--data",
      '{"orderId":"o-43"}',
      "--id",
      "approval-o-42",
    ]);
    expect(reused.code).not.toBe(0);
    expect(reused.stderr).toContain('Event id "approval-o-42" was already used');

    const made = await steadfast(["events", "send", "ping", "--json"]);
    expect(JSON.parse(made.stdout)).toMatchObject({ name: "ping", created: true });
    expect((JSON.parse(made.stdout) as { id: string }).id).toMatch(/^evt_/);

    const notJson = await steadfast(["events", "send", "ping", "--data", "{oops"]);
    expect(notJson.code).not.toBe(0);
    expect(notJson.stderr).toContain("--data is not JSON");
  });
});

describe("the client's run methods", () => {
  it("reads, lists, cancels, retries and sends, with typed errors", async () => {
    const client = createClient({ baseUrl: server.url, apiKey: KEY_TWO });
    await seed("client-1", "failed", "t2");
    await seed("client/2", "sleeping", "t2");
    expect((await client.run("client/2")).status).toBe("sleeping");
    const page = await client.runs({ workflow: "checkout", limit: 1 });
    expect(page.runs.map((r) => r.id)).toEqual(["client/2"]);
    expect(page.nextCursor).toBeDefined();
    expect((await client.runs({ status: "failed" })).runs.map((r) => r.id)).toContain("client-1");
    expect((await client.cancelRun("client/2")).status).toBe("cancelled");
    expect((await client.retryRun("client-1")).status).toBe("queued");
    expect(await client.sendEvent({ name: "n", data: [1], id: "c-1" })).toMatchObject({
      id: "c-1",
      created: true,
    });
    const refused = await client.retryRun("client/2").catch((error: unknown) => error);
    expect(isSteadfastApiError(refused) && [refused.status, refused.code]).toEqual([
      409,
      "invalid_state",
    ]);
  });
});
