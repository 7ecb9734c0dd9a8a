/**
 * Human-readable output of the `steadfast runs` and `steadfast events` commands: the runs table,
 * a run's detail with its steps table (each step, then its attempts indented under it), and
 * one-line summaries. Everything from a run (values, messages) passes through `printable`.
 */
import type {
  RunErrorView,
  RunSummaryView,
  RunView,
  StepAttemptView,
  StepView,
  StepWaitView,
} from "../core/run-view.ts";
import { duration, printable, shortTime, table } from "./format.ts";

/** `TypeError (card_declined): declined`. */
export function runErrorText(error: RunErrorView, max = Number.POSITIVE_INFINITY): string {
  const code = error.code === undefined ? "" : ` (${error.code})`;
  return printable(`${error.name}${code}: ${error.message}`, max);
}

/** A projected value on one line, cut to `max` characters. */
function valueText(value: unknown, max: number): string {
  return printable(JSON.stringify(value) ?? "undefined", max);
}

/** The status with what it waits on or why it failed: `waiting (event)`, `failed (diverged)`. */
function statusText(run: RunSummaryView): string {
  if (run.waitCode !== undefined) return `${run.status} (${run.waitCode})`;
  if (run.failReason === "diverged") return `${run.status} (diverged)`;
  return run.status;
}

/** The table of `steadfast runs list`. */
export function runsTable(runs: readonly RunSummaryView[]): string {
  return table(
    ["ID", "WORKFLOW", "STATUS", "CREATED", "UPDATED", "ERROR"],
    runs.map((run) => [
      printable(run.id, 40),
      printable(run.workflow, 30),
      statusText(run),
      shortTime(run.createdAt),
      shortTime(run.updatedAt),
      run.error === undefined ? "" : runErrorText(run.error, 60),
    ]),
  );
}

/** One line about a run: `order-42  cancelled`, with its error or when it is due. */
export function runSummary(run: RunSummaryView): string {
  const parts = [printable(run.id), statusText(run)];
  if (run.error !== undefined) parts.push(runErrorText(run.error, 200));
  if (run.runAt !== undefined) parts.push(`due ${shortTime(run.runAt)}`);
  return parts.join("  ") + "\n";
}

function waitText(wait: StepWaitView): string {
  switch (wait.type) {
    case "sleep":
      return `sleep until ${shortTime(wait.until)}`;
    case "event": {
      const match = wait.match === undefined ? "" : ` matching ${valueText(wait.match, 60)}`;
      const until = wait.timeoutAt === undefined ? "" : ` until ${shortTime(wait.timeoutAt)}`;
      return `event ${printable(wait.event, 60)}${match}${until}`;
    }
    case "child_run":
      return `child run ${printable(wait.runId, 60)} (${printable(wait.workflow, 30)})`;
    case "child_call":
      return `call ${wait.callId ?? "(not created yet)"}: ${printable(wait.method, 10)} ${printable(wait.url, 60)}`;
  }
}

function stepDetail(step: StepView): string {
  switch (step.status) {
    case "completed":
      return step.output === undefined ? "" : `-> ${valueText(step.output, 80)}`;
    case "failed":
      return step.error === undefined ? "" : runErrorText(step.error, 120);
    case "retrying":
      return `next attempt ${shortTime(step.retryAt)}${step.error === undefined ? "" : `; ${runErrorText(step.error, 100)}`}`;
    case "waiting":
      return step.wait === undefined ? "" : waitText(step.wait);
  }
}

function attemptDetail(attempt: StepAttemptView): string {
  const { decision } = attempt;
  const decided =
    decision.type === "retry"
      ? `retry in ${duration(decision.delayMs)} (${printable(decision.reason, 60)})`
      : decision.type === "fail"
        ? `fail: ${decision.code} (${printable(decision.reason, 60)})`
        : "succeed";
  return attempt.outcome.type === "failed"
    ? `${runErrorText(attempt.outcome.error, 80)}; ${decided}`
    : decided;
}

/**
 * The steps table of `steadfast runs show`: one row per step, each followed by its attempts
 * (`#1`, `#2`...) indented under it.
 */
export function stepsTable(steps: readonly StepView[]): string {
  const rows: string[][] = [];
  for (const step of steps) {
    rows.push([
      printable(step.id, 40),
      step.kind,
      step.status,
      String(step.attempts),
      shortTime(step.startedAt),
      step.completedAt === undefined
        ? ""
        : duration(Date.parse(step.completedAt) - Date.parse(step.startedAt)),
      stepDetail(step),
    ]);
    for (const attempt of step.attemptLog) {
      rows.push([
        `  #${attempt.number}`,
        "",
        attempt.outcome.type,
        "",
        shortTime(attempt.startedAt),
        duration(attempt.durationMs),
        attemptDetail(attempt),
      ]);
    }
  }
  return table(["STEP", "KIND", "STATUS", "ATTEMPTS", "STARTED", "TOOK", "DETAIL"], rows);
}

/** The detail view of `steadfast runs show`: the run's fields, then its steps table. */
export function runDetail(run: RunView): string {
  const rows: [string, string][] = [
    ["id", printable(run.id)],
    ["workflow", printable(run.workflow)],
    ["status", statusText(run)],
  ];
  if (run.phase === "compensating") rows.push(["phase", run.phase]);
  if (run.runAt !== undefined) rows.push(["due", shortTime(run.runAt)]);
  if (run.input !== undefined) rows.push(["input", valueText(run.input, 200)]);
  if (run.output !== undefined) rows.push(["output", valueText(run.output, 200)]);
  if (run.error !== undefined) rows.push(["error", runErrorText(run.error)]);
  for (const outcome of run.compensation ?? []) {
    const error = outcome.error === undefined ? "" : `: ${runErrorText(outcome.error, 120)}`;
    rows.push(["compensation", `${printable(outcome.stepId)} ${outcome.status}${error}`]);
  }
  if (run.parent !== undefined) {
    rows.push(["parent", `${printable(run.parent.id)} (step ${printable(run.parent.stepId)})`]);
  }
  for (const value of run.unreadable ?? []) {
    rows.push(["unreadable", printable(`${value.field}: ${value.message}`, 200)]);
  }
  rows.push(
    ["invocations", String(run.invocations)],
    ["created", shortTime(run.createdAt)],
    ["updated", shortTime(run.updatedAt)],
  );
  if (run.endedAt !== undefined) rows.push(["ended", shortTime(run.endedAt)]);
  if (run.status === "failed" && run.compensation === undefined && run.phase === "forward") {
    rows.push(["retry", `steadfast runs retry ${printable(run.id)}`]);
  }
  const width = Math.max(...rows.map(([label]) => label.length));
  const head = rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join("\n") + "\n";
  return `${head}\n${run.steps.length === 0 ? "no steps yet\n" : stepsTable(run.steps)}`;
}
