// `steadfast serve` without its engine, in a child process, for the accept benchmark: what is
// measured is a POST /v1/fetch committed and answered 202.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startServer } from "../../src/server/start-server.ts";

const dir = mkdtempSync(join(tmpdir(), "steadfast-bench-http-"));
const server = await startServer({
  port: 0,
  host: "127.0.0.1",
  db: `sqlite:${join(dir, "steadfast.db")}`,
  dataDir: dir,
  apiKeys: `bench:${process.env.BENCH_API_KEY ?? ""}`,
  allowPrivateNetworks: true,
  allowedCidrs: [],
  concurrency: 256,
  maxBodyBytes: 1_048_576,
  logLevel: "silent",
  startEngine: false,
});
process.send?.({ type: "listening", url: server.url });
process.on("disconnect", () => {
  void server.close().then(() => process.exit(0));
});
