// What every side-by-side benchmark does first: pick the contenders `--only` names (exit 2 naming
// the choices when one is unknown) and print the line that dates the run and says how loaded the
// machine was before it.
import { loadavg } from "node:os";

/** The machine's load averages (1, 5, 15 min), as printed before and after a run. */
export function formatLoad(): string {
  return loadavg()
    .map((load) => load.toFixed(2))
    .join(" ");
}

/**
 * The contenders `only` names (a comma-separated `--only`), all when it is absent. An unknown name
 * ends the process (exit 2) with a line naming the contenders there are.
 */
export function selectContenders<T extends { name: string }>(
  all: readonly T[],
  only: string | undefined,
): T[] {
  const names = only?.split(",").map((name) => name.trim());
  const unknown = names?.filter((name) => !all.some((contender) => contender.name === name)) ?? [];
  if (unknown.length > 0) {
    console.error(
      `--only: no contender named ${unknown.join(", ")}; the contenders are ${all.map((contender) => contender.name).join(", ")}`,
    );
    process.exit(2);
  }
  return names === undefined ? [...all] : all.filter((contender) => names.includes(contender.name));
}

/** Prints the run's first line: Node's version, the time, and the load average before it. */
export function printRunHeader(): void {
  console.log(
    `Node ${process.version}, ${new Date().toISOString()}; load average before: ${formatLoad()}`,
  );
}
