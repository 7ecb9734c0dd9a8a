// A throwaway PostgreSQL cluster owned by one test file, so that the test may stop, crash and
// restart it without touching the shared server other test files use. The binaries must be
// installed: without them the test fails, naming how to point it at them, rather than skipping.
import { execFile } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * How `pg_ctl` stops the server (its `-m`): `fast` disconnects clients and shuts down cleanly;
 * `immediate` kills every server process without a checkpoint (the `kill -9` of PostgreSQL), so
 * the next start runs crash recovery.
 */
export type PostgresStopMode = "fast" | "immediate";

/** A private cluster started by `startPrivatePostgres`. */
export interface PrivatePostgres {
  /** `postgres://postgres@127.0.0.1:<port>/postgres`. */
  readonly url: string;
  readonly port: number;
  /** `pg_ctl restart -m <mode>`: stops, starts again on the same port, resolves once it accepts connections. */
  restart(mode: PostgresStopMode): Promise<void>;
  /** Stops the server (an outage that lasts until `start`). */
  halt(mode: PostgresStopMode): Promise<void>;
  /** Starts a halted server again on the same port; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Stops the server (`-m immediate`) if it runs and removes its directory. Idempotent. */
  stop(): Promise<void>;
  /** The server's log so far (`postgres.log` in its directory). */
  log(): Promise<string>;
}

/**
 * `initdb` into a fresh temporary directory (trust authentication, user `postgres`), then starts
 * the cluster on a free loopback port with `fsync=on` and its socket in that directory. Run as
 * root, every PostgreSQL command runs as the `postgres` user (`initdb` refuses root). The
 * binaries come from `STEADFAST_PG_BIN`, else the newest `/usr/lib/postgresql/<n>/bin`, else
 * `PATH`.
 *
 * @example
 * const pg = await startPrivatePostgres();
 * try {
 *   await pg.restart("immediate");
 * } finally {
 *   await pg.stop();
 * }
 */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = await postgresBinDir();
  const dir = mkdtempSync(join(tmpdir(), "steadfast-pg-"));
  const data = join(dir, "data");
  const logFile = join(dir, "postgres.log");
  const asRoot = process.getuid?.() === 0;
  if (asRoot) chownSync(dir, ...(await postgresIds()));
  const pg = (tool: string, args: string[]) =>
    asRoot
      ? run("runuser", ["-u", "postgres", "--", join(bin, tool), ...args])
      : run(join(bin, tool), args);
  let removed = false;
  const stop = async (): Promise<void> => {
    if (removed) return;
    removed = true;
    try {
      // Whatever state a failed test left it in: stop it if its postmaster still runs.
      if (existsSync(join(data, "postmaster.pid")))
        await pg("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]).catch(() => {});
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  try {
    await pg("initdb", [
      "-D",
      data,
      "-A",
      "trust",
      "-U",
      "postgres",
      "-E",
      "UTF8",
      "--no-sync",
      "--no-instructions",
    ]);
    const port = await freePort();
    const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=on`;
    const start = async (): Promise<void> => {
      // -l: without a log file the server would keep pg_ctl's stdout open, and execFile with it.
      await pg("pg_ctl", ["-D", data, "-l", logFile, "-o", options, "-w", "-t", "30", "start"]);
    };
    await start();
    return {
      url: `postgres://postgres@127.0.0.1:${port}/postgres`,
      port,
      async restart(mode) {
        await pg("pg_ctl", ["-D", data, "-l", logFile, "-m", mode, "-w", "-t", "30", "restart"]);
      },
      async halt(mode) {
        await pg("pg_ctl", ["-D", data, "-m", mode, "-w", "stop"]);
      },
      start,
      stop,
      log: () => readFile(logFile, "utf8").catch(() => ""),
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function postgresBinDir(): Promise<string> {
  const candidates: string[] = [];
  if (process.env.STEADFAST_PG_BIN !== undefined) candidates.push(process.env.STEADFAST_PG_BIN);
  const versions = existsSync("/usr/lib/postgresql")
    ? readdirSync("/usr/lib/postgresql").sort((a, b) => Number(b) - Number(a))
    : [];
  candidates.push(...versions.map((v) => join("/usr/lib/postgresql", v, "bin")));
  for (const dir of candidates) if (existsSync(join(dir, "pg_ctl"))) return dir;
  const onPath = await run("sh", ["-c", "command -v pg_ctl"]).then(
    ({ stdout }) => stdout.trim(),
    () => "",
  );
  if (onPath !== "") return join(onPath, "..");
  throw new Error(
    "This test starts its own PostgreSQL and needs its server binaries (initdb, pg_ctl), found " +
      `in none of ${candidates.join(", ") || "/usr/lib/postgresql/<version>/bin"} nor on PATH. ` +
      "Install the PostgreSQL server package, or set STEADFAST_PG_BIN to the directory holding pg_ctl.",
  );
}

async function postgresIds(): Promise<[number, number]> {
  const ids = async (flag: string) => Number((await run("id", [flag, "postgres"])).stdout.trim());
  try {
    return [await ids("-u"), await ids("-g")];
  } catch (error) {
    throw new Error(
      "Run as root, this test starts PostgreSQL as the user `postgres`, which does not exist. " +
        "Create it, or run the tests as an unprivileged user.",
      { cause: error },
    );
  }
}

/** A port free on 127.0.0.1 now: bound on port 0, then released. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
