import { describe, expect, it } from "vitest";
import { CliError } from "./cli-error.ts";
import {
  parseIntegerFlag,
  parseStatus,
  resolveClientConfig,
  resolveServeConfig,
  type Env,
  type ServeFlags,
} from "./config.ts";

const cwd = "/srv/app";

function serveError(flags: ServeFlags, env: Env = {}): string {
  try {
    resolveServeConfig(flags, env, cwd);
  } catch (error) {
    expect(error).toBeInstanceOf(CliError);
    const message = (error as CliError).message;
    expect(message).not.toContain("\n");
    return message;
  }
  throw new Error("expected resolveServeConfig to throw");
}

describe("resolveServeConfig", () => {
  it("applies every default", () => {
    expect(resolveServeConfig({}, {}, cwd)).toEqual({
      port: 7480,
      host: "127.0.0.1",
      db: "sqlite:/srv/app/.steadfast/steadfast.db",
      dataDir: "/srv/app/.steadfast",
      allowPrivateNetworks: false,
      allowedCidrs: [],
      operatorTenants: ["default"],
      concurrency: 256,
      maxBodyBytes: 1_048_576,
      leaseMs: 30_000,
      logLevel: "info",
      retentionMs: 7 * 86_400_000,
    });
  });

  it("reads every environment variable", () => {
    const config = resolveServeConfig(
      {},
      {
        STEADFAST_PORT: "8080",
        STEADFAST_HOST: "0.0.0.0",
        STEADFAST_DB: "sqlite:data/x.db",
        STEADFAST_DATA_DIR: "/var/lib/steadfast",
        STEADFAST_API_KEYS: "acme:k1, beta:k2",
        STEADFAST_ALLOW_PRIVATE_NETWORKS: "true",
        STEADFAST_ALLOWED_CIDRS: "10.0.0.0/8, fd00::/8",
        STEADFAST_OPERATOR_TENANTS: "acme, ops",
        STEADFAST_CONCURRENCY: "32",
        STEADFAST_MAX_BODY_BYTES: "2_097_152",
        STEADFAST_LEASE_MS: "10000",
        STEADFAST_LOG_LEVEL: "DEBUG",
        STEADFAST_RETENTION: "30d",
      },
      cwd,
    );
    expect(config).toEqual({
      port: 8080,
      host: "0.0.0.0",
      db: "sqlite:/srv/app/data/x.db",
      dataDir: "/var/lib/steadfast",
      apiKeys: "acme:k1,beta:k2",
      allowPrivateNetworks: true,
      allowedCidrs: ["10.0.0.0/8", "fd00::/8"],
      operatorTenants: ["acme", "ops"],
      concurrency: 32,
      maxBodyBytes: 2_097_152,
      leaseMs: 10_000,
      logLevel: "debug",
      retentionMs: 30 * 86_400_000,
    });
  });

  it("lets flags win over the environment", () => {
    const env: Env = {
      STEADFAST_PORT: "8080",
      STEADFAST_HOST: "0.0.0.0",
      STEADFAST_DATA_DIR: "/env-dir",
      STEADFAST_ALLOW_PRIVATE_NETWORKS: "true",
      STEADFAST_ALLOWED_CIDRS: "10.0.0.0/8",
      STEADFAST_OPERATOR_TENANTS: "acme",
      STEADFAST_CONCURRENCY: "32",
      STEADFAST_MAX_BODY_BYTES: "2048",
      STEADFAST_LEASE_MS: "5000",
      STEADFAST_LOG_LEVEL: "warn",
      STEADFAST_DB: "sqlite:/env.db",
      STEADFAST_RETENTION: "30d",
    };
    const config = resolveServeConfig(
      {
        port: "0",
        host: "::1",
        dataDir: "flag-dir",
        allowPrivateNetworks: false,
        allowedCidrs: "192.168.0.0/16",
        operatorTenants: "ops",
        concurrency: "8",
        maxBodyBytes: "4096",
        leaseMs: "2000",
        logLevel: "silent",
        db: "sqlite::memory:",
        retention: "off",
      },
      env,
      cwd,
    );
    expect(config).toEqual({
      port: 0,
      host: "::1",
      db: ":memory:",
      dataDir: "/srv/app/flag-dir",
      allowPrivateNetworks: false,
      allowedCidrs: ["192.168.0.0/16"],
      operatorTenants: ["ops"],
      concurrency: 8,
      maxBodyBytes: 4096,
      leaseMs: 2000,
      logLevel: "silent",
      retentionMs: 0,
    });
  });

  it("reads the retention as a duration, or off", () => {
    const retention = (value: string) =>
      resolveServeConfig({}, { STEADFAST_RETENTION: value }, cwd).retentionMs;
    expect(retention("12h")).toBe(12 * 3_600_000);
    expect(retention("2 weeks")).toBe(14 * 86_400_000);
    expect(retention("1y")).toBe(365.25 * 86_400_000);
    expect(retention("off")).toBe(0);
    expect(retention("0")).toBe(0);
    expect(serveError({ retention: "7" })).toBe(
      '--retention "7" is not valid: expected a duration such as 7d, 12h or 30d (at most 10 years), or off',
    );
    expect(serveError({}, { STEADFAST_RETENTION: "forever" })).toBe(
      'STEADFAST_RETENTION="forever" is not valid: expected a duration such as 7d, 12h or 30d (at most 10 years), or off',
    );
    expect(serveError({ retention: "11y" })).toMatch(/at most 10 years/);
    expect(serveError({ retention: "-1d" })).toMatch(/^--retention "-1d" is not valid/);
  });

  it("takes a PostgreSQL URL as it is", () => {
    const url = "postgres://postgres@127.0.0.1:5432/test";
    expect(resolveServeConfig({}, { STEADFAST_DB: url }, cwd).db).toBe(url);
  });

  it("puts the default database in the configured data directory", () => {
    expect(resolveServeConfig({ dataDir: "/data" }, {}, cwd).db).toBe("sqlite:/data/steadfast.db");
    expect(resolveServeConfig({}, { STEADFAST_DATA_DIR: "rel" }, cwd).db).toBe(
      "sqlite:/srv/app/rel/steadfast.db",
    );
  });

  it("reads the tenants' rate limit: off by default, <limit>/<window>, its burst and store", () => {
    expect(resolveServeConfig({}, {}, cwd).rateLimit).toBeUndefined();
    expect(resolveServeConfig({}, { STEADFAST_RATE_LIMIT: "off" }, cwd).rateLimit).toBeUndefined();
    expect(
      resolveServeConfig(
        {},
        {
          STEADFAST_RATE_LIMIT: "1_200 / 1 minute",
          STEADFAST_RATE_LIMIT_BURST: "50",
          STEADFAST_RATE_LIMIT_STORE: "sqlite:data/rl.db",
        },
        cwd,
      ).rateLimit,
    ).toEqual({ limit: 1_200, window: "1 minute", burst: 50, store: "sqlite:/srv/app/data/rl.db" });
    expect(
      resolveServeConfig(
        { rateLimit: "10/1s", rateLimitStore: "redis://cache:6379?prefix=rl:" },
        { STEADFAST_RATE_LIMIT: "600/1m" },
        cwd,
      ).rateLimit,
    ).toEqual({ limit: 10, window: "1s", store: "redis://cache:6379?prefix=rl:" });
  });

  it("treats an empty variable as unset", () => {
    expect(
      resolveServeConfig({}, { STEADFAST_PORT: "", STEADFAST_LOG_LEVEL: " " }, cwd),
    ).toMatchObject({
      port: 7480,
      logLevel: "info",
    });
  });

  it("accepts the boolean spellings", () => {
    for (const value of ["true", "TRUE", "1", "yes", "on"]) {
      expect(
        resolveServeConfig({}, { STEADFAST_ALLOW_PRIVATE_NETWORKS: value }, cwd)
          .allowPrivateNetworks,
      ).toBe(true);
    }
    for (const value of ["false", "0", "no", "off"]) {
      expect(
        resolveServeConfig({}, { STEADFAST_ALLOW_PRIVATE_NETWORKS: value }, cwd)
          .allowPrivateNetworks,
      ).toBe(false);
    }
    expect(
      resolveServeConfig(
        { allowPrivateNetworks: true },
        { STEADFAST_ALLOW_PRIVATE_NETWORKS: "false" },
        cwd,
      ).allowPrivateNetworks,
    ).toBe(true);
  });

  it("strips brackets from an IPv6 host", () => {
    expect(resolveServeConfig({ host: "[::1]" }, {}, cwd).host).toBe("::1");
    expect(resolveServeConfig({ host: "localhost" }, {}, cwd).host).toBe("localhost");
  });

  describe("names the flag or variable, the bad value and what is expected", () => {
    it.each([
      [
        { port: "abc" },
        {},
        '--port "abc" is not valid: expected a port from 0 to 65535 (0 picks a free port)',
      ],
      [{ port: "65536" }, {}, '--port "65536" is not valid: expected a port from 0 to 65535'],
      [{ port: "-1" }, {}, '--port "-1" is not valid'],
      [{ port: "80.5" }, {}, '--port "80.5" is not valid'],
      [{}, { STEADFAST_PORT: "http" }, 'STEADFAST_PORT="http" is not valid: expected a port'],
      [
        { host: "http://x" },
        {},
        '--host "http://x" is not valid: expected an IP address or host name',
      ],
      [{}, { STEADFAST_HOST: "a b" }, 'STEADFAST_HOST="a b" is not valid'],
      [
        {},
        { STEADFAST_OPERATOR_TENANTS: "ops team" },
        'STEADFAST_OPERATOR_TENANTS="ops team" is not valid: expected a comma-separated list of tenant names',
      ],
      [{ db: "mysql://x" }, {}, '--db "mysql://x" is not valid: expected sqlite:<path>'],
      [
        {},
        { STEADFAST_DB: "sqlite:" },
        'STEADFAST_DB="sqlite:" is not valid: expected sqlite:<path>',
      ],
      [
        { db: "postgres://u:hunter2@[::1/steadfast" },
        {},
        '--db "postgres://[redacted]@[::1/steadfast" is not valid: expected postgres://',
      ],
      [
        {},
        { STEADFAST_ALLOW_PRIVATE_NETWORKS: "maybe" },
        'STEADFAST_ALLOW_PRIVATE_NETWORKS="maybe" is not valid: expected true or false',
      ],
      [
        { allowedCidrs: "10.0.0.0" },
        {},
        '--allowed-cidrs "10.0.0.0" is not valid: "10.0.0.0" is not a CIDR',
      ],
      [{}, { STEADFAST_ALLOWED_CIDRS: "10.0.0.0/8,10.0.0.0/33" }, '"10.0.0.0/33" is not a CIDR'],
      [{}, { STEADFAST_ALLOWED_CIDRS: "fd00::/129" }, '"fd00::/129" is not a CIDR'],
      [{}, { STEADFAST_ALLOWED_CIDRS: "example.com/8" }, '"example.com/8" is not a CIDR'],
      [
        { concurrency: "0" },
        {},
        '--concurrency "0" is not valid: expected a whole number from 1 to 100000',
      ],
      [{}, { STEADFAST_CONCURRENCY: "many" }, 'STEADFAST_CONCURRENCY="many" is not valid'],
      [
        { maxBodyBytes: "1mb" },
        {},
        '--max-body-bytes "1mb" is not valid: expected a number of bytes from 1024',
      ],
      [{}, { STEADFAST_MAX_BODY_BYTES: "10" }, 'STEADFAST_MAX_BODY_BYTES="10" is not valid'],
      [
        { leaseMs: "30s" },
        {},
        '--lease-ms "30s" is not valid: expected milliseconds from 1000 to 3600000',
      ],
      [{}, { STEADFAST_LEASE_MS: "999" }, 'STEADFAST_LEASE_MS="999" is not valid'],
      [
        { logLevel: "verbose" },
        {},
        '--log-level "verbose" is not valid: expected one of trace, debug, info, warn, error, fatal, silent',
      ],
      [{}, { STEADFAST_LOG_LEVEL: "loud" }, 'STEADFAST_LOG_LEVEL="loud" is not valid'],
    ] as [ServeFlags, Env, string][])("%o %o", (flags, env, expected) => {
      expect(serveError(flags, env)).toContain(expected);
    });

    it.each([
      [
        {},
        { STEADFAST_RATE_LIMIT: "600" },
        'STEADFAST_RATE_LIMIT="600" is not valid: expected <limit>/<window>, such as 600/1m or 10/1s, or off',
      ],
      [
        { rateLimit: "0/1m" },
        {},
        '--rate-limit "0/1m" is not valid: expected <limit>/<window> with a limit from 1',
      ],
      [
        { rateLimit: "10/1.5s" },
        {},
        '--rate-limit "10/1.5s" is not valid: window must be a whole number of seconds',
      ],
      [{ rateLimit: "10/10" }, {}, '--rate-limit "10/10" is not valid: window needs a unit'],
      [
        { rateLimit: "1/1h", rateLimitBurst: "1000000000" },
        {},
        '--rate-limit-burst "1000000000" is not valid: burst 1000000000 at 1 per 3600 s takes more than 366 days',
      ],
      [
        { rateLimit: "10/1s", rateLimitStore: "mysql://u:hunter2@db/x" },
        {},
        '--rate-limit-store "mysql://[redacted]@db/x" is not valid: expected memory, sqlite:<path>',
      ],
      [
        {},
        { STEADFAST_RATE_LIMIT_BURST: "20" },
        'STEADFAST_RATE_LIMIT_BURST="20" has no effect without a rate limit: set --rate-limit or STEADFAST_RATE_LIMIT too',
      ],
    ] as [ServeFlags, Env, string][])("rate limit: %o %o", (flags, env, expected) => {
      expect(serveError(flags, env)).toContain(expected);
    });

    it("refuses a STEADFAST_API_KEYS without entries", () => {
      expect(serveError({}, { STEADFAST_API_KEYS: " , " })).toBe(
        "STEADFAST_API_KEYS is not valid: expected tenant:key,tenant:key (got no entries)",
      );
    });

    it("reports the flag, not the variable, when the flag is bad", () => {
      expect(serveError({ port: "x" }, { STEADFAST_PORT: "8080" })).toMatch(/^--port "x"/);
    });
  });
});

describe("resolveClientConfig", () => {
  const noFile = (): undefined => undefined;

  it("defaults the URL and takes the key from --api-key first", () => {
    expect(
      resolveClientConfig({ apiKey: "flag-key" }, { STEADFAST_API_KEY: "env-key" }, cwd, noFile),
    ).toEqual({
      baseUrl: "http://127.0.0.1:7480",
      apiKey: "flag-key",
      apiKeySource: "--api-key",
    });
  });

  it("takes the key from STEADFAST_API_KEY before the key file", () => {
    const config = resolveClientConfig(
      {},
      { STEADFAST_API_KEY: "env-key" },
      cwd,
      () => "file-key\n",
    );
    expect(config).toMatchObject({ apiKey: "env-key", apiKeySource: "STEADFAST_API_KEY" });
  });

  it("reads <data-dir>/api-key last, from --data-dir or STEADFAST_DATA_DIR", () => {
    const read: string[] = [];
    const reader = (path: string): string => {
      read.push(path);
      return "# written by steadfast serve\n\n  file-key  \n";
    };
    expect(resolveClientConfig({}, {}, cwd, reader)).toMatchObject({
      apiKey: "file-key",
      apiKeySource: "/srv/app/.steadfast/api-key",
    });
    resolveClientConfig({}, { STEADFAST_DATA_DIR: "/env" }, cwd, reader);
    resolveClientConfig({ dataDir: "flag" }, { STEADFAST_DATA_DIR: "/env" }, cwd, reader);
    expect(read).toEqual(["/srv/app/.steadfast/api-key", "/env/api-key", "/srv/app/flag/api-key"]);
  });

  it("lets --url win over STEADFAST_URL and drops a trailing slash", () => {
    const env = { STEADFAST_URL: "http://env:1/", STEADFAST_API_KEY: "k" };
    expect(resolveClientConfig({}, env, cwd, noFile).baseUrl).toBe("http://env:1");
    expect(resolveClientConfig({ url: "https://flag/base/" }, env, cwd, noFile).baseUrl).toBe(
      "https://flag/base",
    );
  });

  it.each([
    [
      { url: "localhost:7480", apiKey: "k" },
      {},
      '--url "localhost:7480" is not valid: expected an http(s) URL',
    ],
    [
      { apiKey: "k" },
      { STEADFAST_URL: "ftp://x" },
      'STEADFAST_URL="ftp://x" is not valid: expected an http(s) URL',
    ],
    [{ url: "http://x/?a=1", apiKey: "k" }, {}, "without query or fragment"],
    [{ apiKey: " " }, {}, "--api-key is empty"],
    [
      { dataDir: "/nowhere" },
      {},
      "no API key: pass --api-key, set STEADFAST_API_KEY, or run this where `steadfast serve` wrote /nowhere/api-key",
    ],
  ] as [Parameters<typeof resolveClientConfig>[0], Env, string][])(
    "rejects %o %o",
    (flags, env, expected) => {
      expect(() => resolveClientConfig(flags, env, cwd, noFile)).toThrow(expected);
    },
  );

  it("explains an unreadable or empty key file", () => {
    const denied = (): string => {
      throw Object.assign(new Error("EACCES: permission denied"), { code: "EACCES" });
    };
    expect(() => resolveClientConfig({}, {}, cwd, denied)).toThrow(
      "cannot read the API key file /srv/app/.steadfast/api-key (EACCES): check its permissions, or pass --api-key",
    );
    expect(() => resolveClientConfig({}, {}, cwd, () => "\n\n")).toThrow(
      "the API key file /srv/app/.steadfast/api-key is empty",
    );
  });
});

describe("flag parsers", () => {
  it("parses --status", () => {
    expect(parseStatus("FAILED")).toBe("failed");
    expect(() => parseStatus("done")).toThrow(
      '--status "done" is not valid: expected one of queued, running, waiting, succeeded, failed, cancelled',
    );
  });

  it("parses whole-number flags within bounds", () => {
    expect(parseIntegerFlag("--limit", "20", 1, 500)).toBe(20);
    expect(() => parseIntegerFlag("--limit", "0", 1, 500)).toThrow(
      '--limit "0" is not valid: expected a whole number from 1 to 500',
    );
    expect(() => parseIntegerFlag("--limit", "ten", 1, 500)).toThrow('--limit "ten" is not valid');
  });
});
