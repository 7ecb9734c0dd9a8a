// The `steadfast` command with crash windows armed, for crash tests only (issue 10, item 6):
// `node test/steadfast-with-faults.ts <faults> <command> [args...]`, where <faults> is a list such
// as `after-request-sent@20` (see `parseFaults`). The real `steadfast` never arms faults, and no
// environment variable does, so a production process cannot be made to kill itself.
import { main } from "../src/cli/main.ts";
import { processIo } from "../src/cli/cli-io.ts";
import { parseFaults } from "../src/engine/fault-points.ts";

const [node = "node", script = "steadfast", faults, ...args] = process.argv;
const injector = parseFaults(faults);
if (injector === undefined) {
  process.stderr.write(
    "usage: node test/steadfast-with-faults.ts <point>@<count>[,...] <command> ...\n",
  );
  process.exitCode = 2;
} else {
  process.exitCode = await main([node, script, ...args], processIo(), { faults: injector });
}
