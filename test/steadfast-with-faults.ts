// The `steadfast` command with test-only engine settings, for process-level tests only (issue 10,
// item 6): `node test/steadfast-with-faults.ts [--faults <list>] [--destinations <json>] <command>
// [args...]`. `--faults` arms crash windows, a list such as `after-request-sent@20` (see
// `parseFaults`); `--destinations` sets per-destination protection (`DestinationSettings`, the
// numeric fields), such as `{"openDurationMs":200}` for breaker open periods short enough for a
// test to watch. The real `steadfast` takes neither, and no environment variable sets them, so a
// production process cannot be made to kill itself.
import { main } from "../src/cli/main.ts";
import { processIo } from "../src/cli/cli-io.ts";
import type { DestinationSettings } from "../src/engine/destinations/destination-settings.ts";
import { parseFaults } from "../src/engine/fault-points.ts";
import type { EngineOverrides } from "../src/server/start-worker.ts";

const USAGE =
  "usage: node test/steadfast-with-faults.ts [--faults <point>@<count>[,...]] [--destinations <json>] <command> ...\n";

const [node = "node", script = "steadfast", ...rest] = process.argv;
const engine: EngineOverrides = {};
let usable = true;
while (rest[0] === "--faults" || rest[0] === "--destinations") {
  const [option, value] = rest.splice(0, 2);
  if (value === undefined) usable = false;
  else if (option === "--faults") {
    const faults = parseFaults(value);
    if (faults === undefined) usable = false;
    else engine.faults = faults;
  } else engine.destinations = JSON.parse(value) as Partial<DestinationSettings>;
}
if (!usable || rest.length === 0) {
  process.stderr.write(USAGE);
  process.exitCode = 2;
} else {
  process.exitCode = await main([node, script, ...rest], processIo(), { engine });
}
