import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KEY_ONE, startHarness, type Harness } from "./test-harness.test-support.ts";

const bin = join(import.meta.dirname, "../../bin/steadfast.js");

let harness: Harness;
let cwd: string;

beforeAll(async () => {
  harness = await startHarness();
  // Commands run in an empty directory, so no ./.steadfast/api-key of the repository is found.
  cwd = await mkdtemp(join(tmpdir(), "steadfast-cli-"));
});

afterAll(async () => {
  await harness.close();
  await rm(cwd, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment without any STEADFAST_* variable of the machine running the tests. */
function cleanEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith("STEADFAST_") && value !== undefined) env[name] = value;
  }
  return { ...env, ...extra };
}

/**
 * Runs `node bin/steadfast.js ...args` against the test server (asynchronously: the server lives in
 * this process and must keep answering).
 */
function steadfast(
  args: string[],
  env: Record<string, string> = {},
  node = process.execPath,
): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      node,
      [bin, ...args],
      {
        cwd,
        env: cleanEnv({ STEADFAST_URL: harness.serverUrl, STEADFAST_API_KEY: KEY_ONE, ...env }),
        timeout: 20_000,
      },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Asserts a failed run printed exactly one line, `steadfast: ...`, and no stack trace. */
function expectOneLineError(run: Run, text: string | RegExp): void {
  expect(run.code).toBe(1);
  expect(run.stdout).toBe("");
  const lines = run.stderr.split("\n").filter((line) => line !== "");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^steadfast: /);
  expect(lines[0]).toMatch(text);
  expect(run.stderr).not.toMatch(/\n\s+at /);
}

function callIdOf(run: Run): string {
  const id = /^(call_[0-9A-Z]{26})\s/.exec(run.stdout)?.[1];
  if (id === undefined) throw new Error(`no call id in ${JSON.stringify(run)}`);
  return id;
}

describe("steadfast (process)", () => {
  it("prints help listing the commands", async () => {
    const run = await steadfast(["--help"]);
    expect(run.code).toBe(0);
    for (const command of ["serve", "fetch", "calls", "destinations"])
      expect(run.stdout).toContain(command);
    const destinations = await steadfast(["destinations", "--help"]);
    for (const command of ["list", "show", "set", "reset"])
      expect(destinations.stdout).toContain(command);
    const calls = await steadfast(["calls", "--help"]);
    for (const command of ["list", "show", "attempts", "cancel", "retry"])
      expect(calls.stdout).toContain(command);
    const fetchHelp = await steadfast(["fetch", "--help"]);
    expect(fetchHelp.stdout.replace(/\s+/g, " ")).toContain(
      "API key (env STEADFAST_API_KEY; else read from <data-dir>/api-key if that file exists)",
    );
  });

  it("ends quietly when its reader goes away (steadfast --help | head -0)", async () => {
    const child = spawn(process.execPath, [bin, "--help"], {
      cwd,
      env: cleanEnv({}),
      stdio: ["ignore", "pipe", "pipe"],
    });
    // The reader closes before the command writes: its write fails with EPIPE.
    child.stdout.destroy();
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    const [code] = (await once(child, "exit")) as [number | null];
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
  });

  const oldNode = "/usr/bin/node";
  it.runIf(existsSync(oldNode))(
    "explains plainly that it needs Node.js 24 when run on an older Node",
    async () => {
      const version = await new Promise<string>((resolve) =>
        execFile(oldNode, ["-p", "process.versions.node"], (_error, stdout) =>
          resolve(stdout.trim()),
        ),
      );
      if (Number(version.split(".")[0]) >= 24) return;
      const run = await steadfast(["--help"], {}, oldNode);
      expect(run.code).toBe(1);
      expect(run.stderr).toBe(
        `steadfast needs Node.js 24 or newer; this is Node.js ${version}. Run it through npm (npm start), which uses the project's Node 24, or install Node 24.\n`,
      );
    },
  );

  it("fetch --wait prints the id and the final status", async () => {
    const run = await steadfast(["fetch", `${harness.upstreamUrl}/ok`, "--wait", "10"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^call_[0-9A-Z]{26} {2}succeeded {2}HTTP 200\n$/);
  });

  it("fetch sends -d as JSON, -H headers, -X and --retries, and --json prints the call", async () => {
    const body = join(cwd, "body.json");
    await writeFile(body, '{"sku":"A-1"}');
    const run = await steadfast([
      "fetch",
      `${harness.upstreamUrl}/echo`,
      "-X",
      "put",
      "-d",
      `@${body}`,
      "-H",
      "X-Team: core",
      "-H",
      "Accept: application/json",
      "--retries",
      "2",
      "--wait",
      "--json",
    ]);
    expect(run.code).toBe(0);
    const call = JSON.parse(run.stdout) as { status: string; response: { body: string } };
    expect(call.status).toBe("succeeded");
    const echoed = JSON.parse(call.response.body) as {
      method: string;
      body: string;
      headers: Record<string, string>;
    };
    expect(echoed.method).toBe("PUT");
    expect(echoed.body).toBe('{"sku":"A-1"}');
    expect(echoed.headers).toMatchObject({
      "x-team": "core",
      accept: "application/json",
      "content-type": "application/json",
    });
  });

  it("fetch with -d and no -X posts, and a body that is not JSON goes as text", async () => {
    const run = await steadfast([
      "fetch",
      `${harness.upstreamUrl}/echo`,
      "-d",
      "a=1&b=2",
      "--wait",
      "--json",
    ]);
    const call = JSON.parse(run.stdout) as { response: { body: string } };
    const echoed = JSON.parse(call.response.body) as {
      method: string;
      body: string;
      headers: Record<string, string>;
    };
    expect(echoed).toMatchObject({ method: "POST", body: "a=1&b=2" });
    expect(echoed.headers["content-type"]).toBeUndefined();
  });

  it("fetch --idempotency-key returns the same call twice", async () => {
    const args = ["fetch", `${harness.upstreamUrl}/ok?k=cli`, "--idempotency-key", "cli-key-1"];
    const first = await steadfast(args);
    const second = await steadfast(args);
    expect(callIdOf(second)).toBe(callIdOf(first));
  });

  it("calls list, show and attempts print a failed call", async () => {
    const failed = await steadfast([
      "fetch",
      `${harness.upstreamUrl}/status/500`,
      "--retries",
      "0",
      "--wait",
      "10",
    ]);
    expect(failed.stdout).toMatch(/ {2}failed {2}HTTP 500/);
    const id = callIdOf(failed);

    const list = await steadfast(["calls", "list", "--status", "failed"]);
    expect(list.code).toBe(0);
    const [header, ...rows] = list.stdout.trimEnd().split("\n");
    expect(header).toMatch(/^ID\s+STATUS\s+ATTEMPTS\s+METHOD\s+URL\s+UPDATED$/);
    const row = rows.find((line) => line.startsWith(id));
    expect(row).toMatch(
      new RegExp(
        `^${id}\\s+failed\\s+1\\s+GET\\s+${harness.upstreamUrl}/status/500\\s+\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ$`,
      ),
    );
    expect(rows.every((line) => /\sfailed\s/.test(line))).toBe(true);

    const json = await steadfast(["calls", "list", "--limit", "1", "--json"]);
    const page = JSON.parse(json.stdout) as { calls: { id: string }[]; nextCursor?: string };
    expect(page.calls).toHaveLength(1);
    expect(page.nextCursor).toEqual(expect.any(String));

    const show = await steadfast(["calls", "show", id]);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(new RegExp(`^id +${id}\n`));
    expect(show.stdout).toMatch(/^status +failed$/m);
    expect(show.stdout).toMatch(/^response +HTTP 500 \(10 bytes\)$/m);

    const attempts = await steadfast(["calls", "attempts", id]);
    expect(attempts.code).toBe(0);
    const lines = attempts.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^#\s+STARTED\s+DURATION\s+OUTCOME\s+SENT\s+DECISION$/);
    expect(lines[1]).toMatch(/^1\s+\S+Z\s+\d+(ms|\.\ds)\s+HTTP 500\s+yes\s+fail \(.+\)$/);
  });

  it("fetch --callback, then calls show, attempts --callback and retry --callback", async () => {
    // The receiver refuses the callback for good (400): one attempt, then failed.
    const hook = `${harness.upstreamUrl}/status/400`;
    const id = callIdOf(
      await steadfast(["fetch", `${harness.upstreamUrl}/ok`, "--callback", hook, "--wait", "10"]),
    );
    let view: { callback?: { status: string } } = {};
    for (let tries = 0; view.callback?.status !== "failed"; tries++) {
      if (tries === 200) throw new Error(`the callback never failed: ${JSON.stringify(view)}`);
      view = JSON.parse((await steadfast(["calls", "show", id, "--json"])).stdout) as typeof view;
    }
    const show = await steadfast(["calls", "show", id]);
    expect(show.stdout).toMatch(new RegExp(`^callback +failed after 1 attempt {2}${hook}$`, "m"));
    expect(show.stdout).toMatch(/^ {2}last error +status 400 is not retryable \(/m);
    expect(show.stdout).toMatch(/^ {2}webhook-id +msg_[0-9A-Z]{26}$/m);
    expect(show.stdout).toMatch(
      new RegExp(`^ {2}send again +steadfast calls retry ${id} --callback$`, "m"),
    );

    const attempts = await steadfast(["calls", "attempts", id, "--callback"]);
    expect(attempts.code).toBe(0);
    expect(attempts.stdout.trimEnd().split("\n")[1]).toMatch(
      /^1\s+\S+Z\s+\S+\s+HTTP 400\s+yes\s+fail \(status 400 is not retryable\)$/,
    );

    const resent = await steadfast(["calls", "retry", id, "--callback"]);
    expect(resent.code).toBe(0);
    expect(resent.stdout).toBe(
      `${id}  callback delivering (1 attempt so far, next ${
        /next (\S+)\)/.exec(resent.stdout)?.[1] ?? "?"
      })  ${hook}\n`,
    );
    const requests = harness.upstreamRequests.filter((r) => r.path === "/status/400");
    expect(new Set(requests.map((r) => r.headers["webhook-id"])).size).toBe(1);

    const plain = callIdOf(await steadfast(["fetch", `${harness.upstreamUrl}/ok`, "--wait", "10"]));
    expectOneLineError(
      await steadfast(["calls", "retry", plain, "--callback"]),
      /has no callback: it was submitted without callback\.url \(HTTP 404 not_found\)/,
    );
  });

  it("calls retry redrives a failed call and calls cancel cancels a waiting one", async () => {
    const failed = callIdOf(
      await steadfast(["fetch", `${harness.upstreamUrl}/status/400`, "--wait", "10"]),
    );
    const retried = await steadfast(["calls", "retry", failed]);
    expect(retried.code).toBe(0);
    expect(retried.stdout).toMatch(new RegExp(`^${failed} {2}(queued|running|failed)`));

    const waiting = callIdOf(
      await steadfast(["fetch", `${harness.upstreamUrl}/status/503`, "--retries", "3"]),
    );
    const cancelled = await steadfast(["calls", "cancel", waiting]);
    expect(cancelled.code).toBe(0);
    expect(cancelled.stdout).toMatch(new RegExp(`^${waiting} {2}cancelled`));
    expectOneLineError(
      await steadfast(["calls", "cancel", waiting]),
      /can no longer be cancelled \(HTTP 409 invalid_state\)$/,
    );
  });

  it("destinations list, set, show and reset", async () => {
    await steadfast(["fetch", `${harness.upstreamUrl}/ok?d=1`, "--wait", "10"]);
    const origin = harness.upstreamUrl;
    const list = await steadfast(["destinations", "list"]);
    expect(list.code).toBe(0);
    const [header, ...rows] = list.stdout.trimEnd().split("\n");
    expect(header).toMatch(
      /^DESTINATION\s+BREAKER\s+ERRORS\s+REQUESTS\s+P50\/P95\/P99 MS\s+LIMITS$/,
    );
    expect(rows.find((row) => row.startsWith(origin))).toMatch(
      /\s+closed\s+[\d.]+%\s+\d+\s+[\d.]+\/[\d.]+\/[\d.]+\s+-$/,
    );

    const set = await steadfast([
      "destinations",
      "set",
      origin,
      "--rate",
      "2.5",
      "--concurrency",
      "4",
    ]);
    expect(set.stderr).toBe("");
    expect(set.stdout).toMatch(/^destination\s+http:\/\/127\.0\.0\.1:\d+\n/);
    expect(set.stdout).toMatch(/^limits\s+2\.5\/s, 4 at once$/m);
    const shown = await steadfast(["destinations", "show", origin, "--json"]);
    expect(JSON.parse(shown.stdout)).toMatchObject({
      destination: origin,
      limits: { rateLimitPerSecond: 2.5, maxConcurrency: 4 },
    });
    const cleared = await steadfast(["destinations", "set", origin, "--no-rate", "--json"]);
    expect(JSON.parse(cleared.stdout)).toMatchObject({
      limits: { rateLimitPerSecond: null, maxConcurrency: 4 },
    });
    await steadfast(["destinations", "set", origin, "--no-concurrency"]);
    const reset = await steadfast(["destinations", "reset", origin]);
    expect(reset.code).toBe(0);
    expect(reset.stdout).toMatch(/^breaker\s+closed$/m);

    const byHost = await steadfast([
      "destinations",
      "set",
      "api.example.com",
      "--concurrency",
      "2",
      "--json",
    ]);
    expect(JSON.parse(byHost.stdout)).toMatchObject({ destination: "https://api.example.com" });
  });

  it("destinations explain bad input in one line", async () => {
    expectOneLineError(
      await steadfast(["destinations", "set", "api.example.com", "--rate", "fast"]),
      /--rate "fast" is not valid: expected requests per second/,
    );
    expectOneLineError(
      await steadfast(["destinations", "set", "api.example.com"]),
      /nothing to set: give --rate <n>, --no-rate, --concurrency <n> or --no-concurrency/,
    );
    expectOneLineError(
      await steadfast(["destinations", "show", "https://unknown.example"]),
      /No destination https:\/\/unknown\.example.*\(HTTP 404 not_found\)$/,
    );
    expectOneLineError(
      await steadfast(["destinations", "show", "https://a.example/path"]),
      /only scheme, host and port.*\(HTTP 422 invalid_request\)$/,
    );
  });

  it("reads the key from <data-dir>/api-key when no other is given", async () => {
    const dataDir = join(cwd, "data");
    await mkdir(dataDir, { recursive: true });
    await writeFile(join(dataDir, "api-key"), `${KEY_ONE}\n`, { mode: 0o600 });
    const run = await steadfast(["calls", "list", "--limit", "1", "--data-dir", dataDir], {
      STEADFAST_API_KEY: "",
    });
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
  });

  describe("fails with one line and exit code 1", () => {
    it("for an unknown call id", async () => {
      expectOneLineError(
        await steadfast(["calls", "show", "call_00000000000000000000000000"]),
        "steadfast: No call call_00000000000000000000000000 for this API key (HTTP 404 not_found)",
      );
      expectOneLineError(
        await steadfast(["calls", "attempts", "nope"]),
        /No call nope for this API key/,
      );
    });

    it("for a bad --port value, naming the flag, the value and what is expected", async () => {
      expectOneLineError(
        await steadfast(["serve", "--port", "http"]),
        'steadfast: --port "http" is not valid: expected a port from 0 to 65535 (0 picks a free port)',
      );
      expectOneLineError(
        await steadfast(["serve"], { STEADFAST_CONCURRENCY: "lots" }),
        /STEADFAST_CONCURRENCY="lots" is not valid/,
      );
    });

    it("for a STEADFAST_API_KEYS entry the server would refuse, without showing the key", async () => {
      const run = await steadfast(["serve", "--port", "0", "--data-dir", join(cwd, "never")], {
        STEADFAST_API_KEYS: "acme:short",
      });
      expectOneLineError(run, /STEADFAST_API_KEYS entry 1 .*at least 16/);
      expect(run.stderr).not.toContain("short");
      expect(existsSync(join(cwd, "never"))).toBe(false);
    });

    it("for unknown options and commands, with a suggestion", async () => {
      expectOneLineError(
        await steadfast(["serve", "--prot", "1"]),
        "steadfast: unknown option '--prot' (did you mean --port?)",
      );
      expectOneLineError(await steadfast(["cals"]), /unknown command 'cals'/);
      expectOneLineError(
        await steadfast(["calls", "list", "--status", "done"]),
        /--status "done" is not valid: expected one of queued/,
      );
      expectOneLineError(
        await steadfast(["fetch", `${harness.upstreamUrl}/ok`, "-H", "nocolon"]),
        /-H "nocolon" is not valid/,
      );
    });

    it("for an invalid call, naming the field", async () => {
      expectOneLineError(await steadfast(["fetch", "not-a-url"]), /url.*\(HTTP 422 \w+\)$/);
    });

    it("for a wrong API key, saying where the key came from", async () => {
      expectOneLineError(
        await steadfast(["calls", "list"], { STEADFAST_API_KEY: "wrong-key-0123456789" }),
        /\(HTTP 401 unauthorized\); the key used came from STEADFAST_API_KEY$/,
      );
    });

    it("without an API key", async () => {
      expectOneLineError(
        await steadfast(["calls", "list"], { STEADFAST_API_KEY: "" }),
        /^steadfast: no API key: pass --api-key, set STEADFAST_API_KEY, or run this where `steadfast serve` wrote .*\/\.steadfast\/api-key/,
      );
    });

    it("when the server is unreachable", async () => {
      expectOneLineError(
        await steadfast(["calls", "list", "--url", "http://127.0.0.1:9"]),
        /^steadfast: cannot reach Steadfast at http:\/\/127\.0\.0\.1:9 \(.+\): is `steadfast serve` running/,
      );
    });
  });
});

describe("steadfast serve (process)", () => {
  it("prints the URL, serves, and exits 0 on SIGTERM", async () => {
    const dataDir = join(cwd, "serve-data");
    const child = spawn(
      process.execPath,
      [bin, "serve", "--port", "0", "--data-dir", dataDir, "--log-level", "silent"],
      {
        cwd,
        env: cleanEnv({}),
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stdout = "";
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) =>
      child.once("exit", (code) => resolve(code)),
    );
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString();
        const match = /^listening on (http:\/\/\S+)$/m.exec(stdout);
        if (match?.[1] !== undefined) resolve(match[1]);
      });
      void exited.then((code) =>
        reject(new Error(`serve exited with ${code}: ${stdout}${stderr}`)),
      );
    });
    try {
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      // No STEADFAST_API_KEYS: the server generated a key and a client command finds it in the file.
      const list = await steadfast(["calls", "list", "--data-dir", dataDir], {
        STEADFAST_URL: url,
        STEADFAST_API_KEY: "",
      });
      expect(list).toMatchObject({ code: 0, stdout: "no calls\n" });
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
    expect(stderr).toContain("steadfast: SIGTERM, shutting down");
  });
});
