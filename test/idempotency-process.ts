// A server process for the idempotency crash test (issue 13, "Tests"):
// `node test/idempotency-process.ts --db <file> --effects <file> --label <name> [--lease-ms n] [--hold]`.
//
// node:http behind `nodeIdempotency` on the SQLite store `--db` (keys required, every client the
// same principal). `POST /orders` appends `started <label>` to the `--effects` file, then, with
// `--hold`, never answers (the test kills the process there); without it, appends
// `completed <label>` and answers 201 `{ by: <label> }`. Prints `ready <port>`; runs until killed.
import { appendFileSync } from "node:fs";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import { createIdempotency, nodeIdempotency } from "../src/idempotency/index.ts";

const { values } = parseArgs({
  options: {
    db: { type: "string" },
    effects: { type: "string" },
    label: { type: "string", default: "process" },
    "lease-ms": { type: "string", default: "3000" },
    hold: { type: "boolean", default: false },
  },
});
const { db, effects, label } = values;
if (db === undefined || effects === undefined) {
  process.stderr.write("usage: node test/idempotency-process.ts --db <file> --effects <file>\n");
  process.exit(2);
}

const idempotency = await createIdempotency({
  store: `sqlite:${db}`,
  principal: () => "the-client",
  required: true,
  leaseMs: Number(values["lease-ms"]),
  purgeIntervalMs: 0,
});

const server = createServer(
  nodeIdempotency(idempotency, async (req, res) => {
    for await (const _chunk of req);
    appendFileSync(effects, `started ${label}\n`);
    if (values.hold) return;
    appendFileSync(effects, `completed ${label}\n`);
    res.writeHead(201, { "content-type": "application/json" });
    res.end(JSON.stringify({ by: label }));
  }),
);
server.listen(0, "127.0.0.1");
await once(server, "listening");
process.stdout.write(`ready ${(server.address() as AddressInfo).port}\n`);
