/**
 * Human-readable output of the client commands: tables, one-line summaries, durations. Everything
 * that came from an upstream or a user passes through `printable`, so a response body cannot
 * send escape sequences to the terminal.
 */
import type { AttemptView, CallView, WaitingForView } from "../core/call-view.ts";
import type { CallbackView } from "../core/callback-view.ts";

/**
 * `text` with control characters shown as escapes (`\n`, `\x1b`) and cut to `max` characters
 * with an ellipsis.
 */
export function printable(text: string, max = Number.POSITIVE_INFINITY): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  const escaped = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => {
    if (c === "\n") return "\\n";
    if (c === "\r") return "\\r";
    if (c === "\t") return "\\t";
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
  });
  return escaped.length > max ? `${escaped.slice(0, Math.max(0, max - 1))}…` : escaped;
}

/**
 * A plain-text table: a header row, then one row per entry, columns padded to the widest cell and
 * separated by two spaces. The last column is not padded.
 */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? "").length)),
  );
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, column) =>
        column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? cell.length),
      )
      .join("  ")
      .trimEnd();
  return [line(headers), ...rows.map(line)].join("\n") + "\n";
}

/** An ISO timestamp to the second, in UTC: `2025-06-01T12:04:31Z`. */
export function shortTime(iso: string | undefined): string {
  if (iso === undefined) return "-";
  return iso.replace(/\.\d+Z$/, "Z");
}

/** A duration in ms as `850ms`, `1.2s`, `3m05s` or `2h10m`. */
export function duration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(ms < 10_000 ? 1 : 0)}s`;
  const totalSeconds = Math.round(ms / 1_000);
  if (totalSeconds < 3_600) {
    return `${Math.floor(totalSeconds / 60)}m${String(totalSeconds % 60).padStart(2, "0")}s`;
  }
  const totalMinutes = Math.round(totalSeconds / 60);
  return `${Math.floor(totalMinutes / 60)}h${String(totalMinutes % 60).padStart(2, "0")}m`;
}

/**
 * One line about a call: `call_01J...  succeeded  HTTP 200`, with the error that ended it, or when
 * a waiting (or delayed) call is due. `nowMs` decides whether a queued call is delayed.
 */
export function callSummary(call: CallView, nowMs: number = Date.now()): string {
  const parts = [call.id, call.status];
  if (call.response !== undefined) parts.push(`HTTP ${call.response.status}`);
  if (call.error !== undefined)
    parts.push(printable(`${call.error.code}: ${call.error.message}`, 200));
  if (call.waitingFor !== undefined) parts.push(waitingText(call.waitingFor, 120));
  else if (call.nextAttemptAt !== undefined && isLater(call.nextAttemptAt, nowMs)) {
    parts.push(`next attempt ${shortTime(call.nextAttemptAt)}`);
  }
  return parts.join("  ") + "\n";
}

/**
 * Why a call waits, in one phrase: the message of a retry backoff with its time
 * (`retry after attempt 1: status 503 until 2025-06-01T12:00:02Z`), or the code and message of a
 * hold by the call's destination (`circuit_open: circuit open for api.example.com:443 until ...`).
 */
export function waitingText(waiting: WaitingForView, max = Number.POSITIVE_INFINITY): string {
  return waiting.reason === "retry_scheduled"
    ? `${printable(waiting.message, max)} until ${shortTime(waiting.until)}`
    : printable(`${waiting.reason}: ${waiting.message}`, max);
}

// A queued call is due "now" unless it was delayed; a second of slack absorbs clock skew.
function isLater(iso: string, nowMs: number): boolean {
  return Date.parse(iso) > nowMs + 1_000;
}

/** The table of `steadfast calls list`. */
export function callsTable(calls: readonly CallView[]): string {
  return table(
    ["ID", "STATUS", "ATTEMPTS", "METHOD", "URL", "UPDATED"],
    calls.map((call) => [
      call.id,
      call.status,
      String(call.attempts),
      printable(call.request.method, 10),
      printable(call.request.url, 60),
      shortTime(call.updatedAt),
    ]),
  );
}

/**
 * The outcome of an attempt as a short phrase: `HTTP 503`, `connect_refused`, or
 * `interrupted (process_ended)` for an attempt cut off by the end of its process.
 */
export function outcomeText(outcome: AttemptView["outcome"]): string {
  switch (outcome.type) {
    case "response":
      return `HTTP ${outcome.status}`;
    case "error":
      return outcome.code;
    case "interrupted":
      return `interrupted (${outcome.code})`;
  }
}

/** The decision after an attempt: `retry in 1.2s (HTTP 503)`, `succeed`, `fail (not retryable)`. */
export function decisionText(decision: AttemptView["decision"]): string {
  switch (decision.type) {
    case "retry":
      return `retry in ${duration(decision.delayMs)} (${printable(decision.reason, 80)})`;
    case "succeed":
      return "succeed";
    case "fail":
      return `fail (${printable(decision.reason, 80)})`;
  }
}

/** Whether an attempt's request may have reached the upstream: `yes`, `no` or `unknown`. */
export function sentText(sent: AttemptView["sent"]): string {
  if (sent === "unknown") return "unknown";
  return sent ? "yes" : "no";
}

/** The table of `steadfast calls attempts`. */
export function attemptsTable(attempts: readonly AttemptView[]): string {
  return table(
    ["#", "STARTED", "DURATION", "OUTCOME", "SENT", "DECISION"],
    attempts.map((attempt) => [
      String(attempt.number),
      shortTime(attempt.startedAt),
      duration(attempt.durationMs),
      outcomeText(attempt.outcome),
      sentText(attempt.sent),
      decisionText(attempt.decision),
    ]),
  );
}

/** The detail view of `steadfast calls show`: one `label  value` line per known field. */
export function callDetail(call: CallView): string {
  const rows: [string, string][] = [
    ["id", call.id],
    ["status", call.status],
    ["request", `${printable(call.request.method)} ${printable(call.request.url)}`],
  ];
  for (const [name, value] of Object.entries(call.request.headers)) {
    rows.push(["  header", printable(`${name}: ${value}`, 200)]);
  }
  if (call.request.body !== undefined) rows.push(["  body", printable(call.request.body, 200)]);
  rows.push(["attempts", String(call.attempts)]);
  if (call.waitingFor !== undefined) {
    rows.push(["waiting", waitingText(call.waitingFor)]);
  } else if (call.nextAttemptAt !== undefined) {
    rows.push(["next attempt", shortTime(call.nextAttemptAt)]);
  }
  if (call.response !== undefined) {
    const { response } = call;
    const notes = [`${response.bodyBytes} bytes`];
    if (response.bodyEncoding === "base64") notes.push("base64");
    if (response.bodyTruncated === true) notes.push("truncated");
    rows.push(["response", `HTTP ${response.status} (${notes.join(", ")})`]);
    if (response.body !== "") rows.push(["  body", printable(response.body, 200)]);
  }
  if (call.error !== undefined)
    rows.push(["error", printable(`${call.error.code}: ${call.error.message}`)]);
  if (call.idempotencyKey !== undefined)
    rows.push(["idempotency key", printable(call.idempotencyKey)]);
  if (call.callback !== undefined) rows.push(...callbackRows(call.id, call.callback));
  else if (call.callbackUrl !== undefined) rows.push(["callback", printable(call.callbackUrl)]);
  rows.push(["created", shortTime(call.createdAt)], ["updated", shortTime(call.updatedAt)]);
  if (call.completedAt !== undefined) rows.push(["completed", shortTime(call.completedAt)]);
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join("\n") + "\n";
}

/**
 * The lines of `steadfast calls show` about a call's callback: its status and URL, then the last
 * attempt's error and what to do about a failed one.
 */
export function callbackRows(id: string, callback: CallbackView): [string, string][] {
  const attempts = `${callback.attempts} attempt${callback.attempts === 1 ? "" : "s"}`;
  let status: string;
  switch (callback.status) {
    case "pending":
      status = "pending (sent when the call ends)";
      break;
    case "skipped":
      status = "skipped (a cancelled call sends no callback)";
      break;
    case "delivered":
      status = `delivered ${shortTime(callback.deliveredAt)} (${attempts})`;
      break;
    case "failed":
      status = `failed after ${attempts}`;
      break;
    case "delivering":
    case "retrying":
      status =
        callback.nextAttemptAt === undefined
          ? `${callback.status} (${attempts} so far)`
          : `${callback.status} (${attempts} so far, next ${shortTime(callback.nextAttemptAt)})`;
      break;
  }
  const rows: [string, string][] = [["callback", `${status}  ${printable(callback.url)}`]];
  if (callback.lastError !== undefined) {
    // The message names the cause already: `status 500; ...`, `connect_refused: ...; ...`.
    const when =
      callback.lastAttemptAt === undefined ? "" : ` (${shortTime(callback.lastAttemptAt)})`;
    rows.push(["  last error", `${printable(callback.lastError.message, 200)}${when}`]);
  }
  if (callback.webhookId !== undefined) rows.push(["  webhook-id", callback.webhookId]);
  if (callback.status === "failed")
    rows.push(["  send again", `steadfast calls retry ${id} --callback`]);
  return rows;
}

/** One line about a call's callback: `call_01J...  callback delivering (3 attempts so far, ...)`. */
export function callbackSummary(call: CallView): string {
  if (call.callback === undefined) return callSummary(call);
  const [first] = callbackRows(call.id, call.callback);
  return `${call.id}  callback ${first?.[1] ?? call.callback.status}\n`;
}

/** Pretty JSON with a trailing newline, for `--json`. */
export function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
